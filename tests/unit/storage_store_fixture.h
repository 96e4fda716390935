// Helpers for the store facade tests: a fixture owning a temporary store with one repository,
// commits of small described directories, checkouts compared by walking, and tar archives.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/file_util.h"
#include "storage/store.h"
#include "tests/unit/storage_fsio_test_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage::testing {

// Relative path -> content of the regular files of a small directory ("dir/" for an empty one).
using FileMap = std::map<std::string, std::string>;

// Creates `root` (absent) holding exactly `files`, with parent directories as needed.
inline void WriteFileMap(const std::string& root, const FileMap& files) {
  ASSERT_TRUE(MakeDirectories(root, 0755).ok()) << root;
  for (const auto& [path, content] : files) {
    const std::string full = root + "/" + path;
    if (path.ends_with("/")) {
      ASSERT_TRUE(MakeDirectories(full, 0755).ok()) << full;
      continue;
    }
    const size_t slash = full.rfind('/');
    ASSERT_TRUE(MakeDirectories(full.substr(0, slash), 0755).ok()) << full;
    WriteTestFile(full, content);
  }
}

// A TarSource reading `bytes`, which must outlive it.
inline TarSource TarFromString(const std::string& bytes) {
  auto offset = std::make_shared<size_t>(0);
  return [&bytes, offset](char* buffer, size_t capacity) -> Result<size_t> {
    const size_t n = std::min(capacity, bytes.size() - *offset);
    std::memcpy(buffer, bytes.data() + *offset, n);
    *offset += n;
    return n;
  };
}

// One entry of an archive a test builds.
struct TarItem {
  std::string name;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string content;  // regular files
  std::string target;   // symlinks
};

inline la_ssize_t AppendArchiveBytes(archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

// A pax archive of `items`, names written as given (libarchive does not sanitize them).
inline std::string BuildTar(const std::vector<TarItem>& items) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, AppendArchiveBytes, nullptr), ARCHIVE_OK);
  for (const TarItem& item : items) {
    archive_entry* e = archive_entry_new();
    archive_entry_copy_pathname(e, item.name.c_str());
    archive_entry_set_filetype(e, item.type);
    archive_entry_set_perm(e, item.perm);
    if (!item.target.empty()) archive_entry_copy_symlink(e, item.target.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(item.content.size()));
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (!item.content.empty()) archive_write_data(a, item.content.data(), item.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// The fixture: a store in a temporary directory with repository "data".
class StoreTest : public ::testing::Test {
 protected:
  static constexpr const char* kRepo = "data";

  void SetUp() override {
    OpenStore();
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->CreateRepo(kRepo).ok());
  }

  std::string StoreDir() const { return tmp_.Join("store"); }

  void OpenStore(const StoreOptions& options = SmallOptions()) {
    store_.reset();
    Result<std::unique_ptr<Store>> opened = Store::Open(StoreDir(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened.value());
  }

  static StoreOptions SmallOptions() {
    StoreOptions options;
    options.threads = 2;
    return options;
  }

  static CommitRequest Request(const std::string& message, const std::string& branch = "main") {
    CommitRequest request;
    request.repo = kRepo;
    request.branch = branch;
    request.message = message;
    request.author = "tester <tester@example.org>";
    return request;
  }

  // Commits `dir` onto `branch`; fails the test unless it worked.
  CommitOutcome MustCommit(const std::string& dir, const std::string& message,
                           const std::string& branch = "main") {
    Result<CommitOutcome> outcome = store_->CommitDirectory(Request(message, branch), dir, nullptr);
    EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
    return outcome.ok() ? outcome.value() : CommitOutcome{};
  }

  // Writes `files` to a fresh directory and commits it onto `branch`.
  ObjectId CommitFiles(const FileMap& files, const std::string& branch = "main") {
    const std::string dir = tmp_.Join("v" + std::to_string(++versions_));
    WriteFileMap(dir, files);
    return MustCommit(dir, "version " + std::to_string(versions_), branch).commit;
  }

  // Checks `rev` out into a fresh directory and walks it.
  WalkedTree CheckoutAndWalk(const std::string& rev, bool read_only_view = false) {
    const std::string target = tmp_.Join("co" + std::to_string(++checkouts_));
    Result<CheckoutResult> done = store_->Checkout(kRepo, rev, target, read_only_view, nullptr);
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    return done.ok() ? WalkTree(target) : WalkedTree{};
  }

  std::string CatAll(const std::string& rev, const std::string& path) {
    std::string out;
    Result<uint64_t> n = store_->Cat(kRepo, rev, path, 0, UINT64_MAX, [&](std::string_view piece) {
      out.append(piece);
      return Status::Ok();
    });
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return out;
  }

  ObjectId MustResolve(const std::string& rev) {
    Result<ObjectId> id = store_->Resolve(kRepo, rev);
    EXPECT_TRUE(id.ok()) << rev << ": " << id.status().ToString();
    return id.ok() ? *id : ObjectId();
  }

  TempDir tmp_;
  std::unique_ptr<Store> store_;
  int versions_ = 0;
  int checkouts_ = 0;
};

}  // namespace paddock::storage::testing
