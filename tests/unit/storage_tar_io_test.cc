// Tar import and export: round trips, reproducible exports, tar extraction semantics (later
// entries win, hardlinks, implicit directories) and refusal of hostile archives.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "storage/checkout.h"
#include "storage/file_io.h"
#include "storage/objects.h"
#include "storage/snapshot.h"
#include "storage/tar_io.h"
#include "tests/unit/storage_fsio_test_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

using testing::MakeTestDir;
using testing::OpenTestStore;
using testing::RandomBytes;
using testing::RandomTreeBuilder;
using testing::WriteTestFile;

// One entry of an archive built by a test.
struct TarEntry {
  std::string name;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string content;   // regular files
  std::string symlink;   // symlinks
  std::string hardlink;  // hardlinks (type AE_IFREG)
};

TarEntry File(std::string name, std::string content = "", mode_t perm = 0644) {
  TarEntry t;
  t.name = std::move(name);
  t.content = std::move(content);
  t.perm = perm;
  return t;
}
TarEntry Dir(std::string name) {
  TarEntry t;
  t.name = std::move(name);
  t.type = AE_IFDIR;
  t.perm = 0755;
  return t;
}
TarEntry Symlink(std::string name, std::string target) {
  TarEntry t;
  t.name = std::move(name);
  t.type = AE_IFLNK;
  t.perm = 0777;
  t.symlink = std::move(target);
  return t;
}
TarEntry Hardlink(std::string name, std::string target) {
  TarEntry t;
  t.name = std::move(name);
  t.hardlink = std::move(target);
  return t;
}
TarEntry Special(std::string name, mode_t type) {
  TarEntry t;
  t.name = std::move(name);
  t.type = type;
  return t;
}

la_ssize_t AppendToString(archive*, void* context, const void* data, size_t size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

// Writes `entries` as they are (libarchive's writer does not sanitize names) in `format`.
std::string BuildTar(const std::vector<TarEntry>& entries, bool gzip = false) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, AppendToString, nullptr), ARCHIVE_OK);
  for (const TarEntry& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_copy_pathname(e, t.name.c_str());
    archive_entry_set_filetype(e, t.type);
    archive_entry_set_perm(e, t.perm);
    if (!t.symlink.empty()) archive_entry_copy_symlink(e, t.symlink.c_str());
    if (!t.hardlink.empty()) archive_entry_copy_hardlink(e, t.hardlink.c_str());
    if (t.type == AE_IFCHR) archive_entry_set_rdev(e, 0x0103);
    archive_entry_set_size(e, static_cast<la_int64_t>(t.content.size()));
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (!t.content.empty()) archive_write_data(a, t.content.data(), t.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TarSource FromString(const std::string& bytes) {
  auto offset = std::make_shared<size_t>(0);
  return [&bytes, offset](char* buffer, size_t capacity) -> Result<size_t> {
    const size_t n = std::min(capacity, bytes.size() - *offset);
    std::memcpy(buffer, bytes.data() + *offset, n);
    *offset += n;
    return n;
  };
}

class TarIoTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenTestStore(dir_.Join("packs")); }

  Result<TarImportResult> Import(const std::string& bytes) {
    return ImportTar(store_.get(), FromString(bytes));
  }

  Tree MustImportTree(const std::string& bytes) {
    Result<TarImportResult> r = Import(bytes);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return Tree{};
    return DecodeTree(store_->Get(r->root)->data).value();
  }

  std::string Export(const ObjectId& root, int64_t time_ms) {
    const std::string path = dir_.Join("export.tar");
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    const Status s = ExportTar(*store_, root, fd.get(), time_ms);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ReadFileToString(path).value();
  }

  TempDir dir_;
  std::unique_ptr<PackStore> store_;
};

TEST_F(TarIoTest, ExportThenImportGivesTheSameTreeForRandomTrees) {
  for (uint64_t seed = 100; seed < 108; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const std::string source = dir_.Join("src" + std::to_string(seed));
    MakeTestDir(source);
    RandomTreeBuilder(seed, /*inside_symlinks_only=*/true).Build(source, 4);
    Result<SnapshotResult> snap = SnapshotDirectory(store_.get(), source, {});
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    const std::string tar = Export(snap->root, 1'700'000'000'000);
    Result<TarImportResult> imported = Import(tar);
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    EXPECT_EQ(imported->root, snap->root);
    EXPECT_EQ(imported->files, snap->files);
    EXPECT_EQ(imported->bytes, snap->bytes);
  }
}

TEST_F(TarIoTest, ExportIsReproducibleAndUsesTheCommitTime) {
  const std::string source = dir_.Join("src");
  MakeTestDir(source);
  RandomTreeBuilder(7, /*inside_symlinks_only=*/true).Build(source, 3);
  const ObjectId root = SnapshotDirectory(store_.get(), source, {})->root;
  const std::string first = Export(root, 1'000'000'123);
  EXPECT_EQ(Export(root, 1'000'000'999), first);  // same second
  EXPECT_NE(Export(root, 2'000'000'000), first);

  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, first.data(), first.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  int entries = 0;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    ++entries;
    EXPECT_EQ(archive_entry_mtime(e), 1'000'000);
    EXPECT_EQ(archive_entry_uid(e), 0);
  }
  archive_read_free(a);
  EXPECT_GT(entries, 0);
}

TEST_F(TarIoTest, ImportedTreeChecksOutToTheArchivedContent) {
  const std::string big = RandomBytes(300'000, 1);
  const Tree tree = MustImportTree(BuildTar({
      Dir("./"),
      File("bin/tool", "#!/bin/sh\n", 0755),
      File("data/big.bin", big),
      File("data/empty"),
      Dir("data/emptydir/"),
      Symlink("data/link", "../bin/tool"),
  }));
  ASSERT_EQ(tree.entries.size(), 2u);
  EXPECT_EQ(tree.entries[0].name, "bin");  // created implicitly
  const ObjectId root = store_->Put(ObjectType::kTree, EncodeTree(tree).value())->id;
  CheckoutOptions options;
  options.file_cache_dir = dir_.Join("files");
  ASSERT_TRUE(CheckoutTree(*store_, root, dir_.Join("out"), options).ok());
  const testing::WalkedTree walked = testing::WalkTree(dir_.Join("out"));
  EXPECT_EQ(walked.at("bin/tool").mode, 0755u);
  EXPECT_EQ(walked.at("data/big.bin").data, big);
  EXPECT_EQ(walked.at("data/empty").data, "");
  EXPECT_EQ(walked.at("data/emptydir").type, 'd');
  EXPECT_EQ(walked.at("data/link").data, "../bin/tool");
}

TEST_F(TarIoTest, LaterDuplicateEntryWins) {
  const Tree tree = MustImportTree(BuildTar({
      File("a", "first"),
      File("d/x", "inside"),
      File("a", "second", 0755),
      Dir("d/"),  // keeps d/x
      Symlink("s", "a"),
      File("s", "now a file"),
  }));
  ASSERT_EQ(tree.entries.size(), 3u);
  EXPECT_EQ(tree.entries[0].kind, EntryKind::kExecutable);
  EXPECT_EQ(
      tree.entries[0].id,
      ObjectId::Hash(EncodeFile(FileObject{{ChunkRef{ObjectId::Hash("second"), 6}}}).value()));
  EXPECT_EQ(DecodeTree(store_->Get(tree.entries[1].id)->data)->entries.size(), 1u);
  EXPECT_EQ(tree.entries[2].kind, EntryKind::kFile);
}

TEST_F(TarIoTest, HardlinkToAnEarlierFileSharesItsContent) {
  const Tree tree = MustImportTree(BuildTar({
      File("dir/original", "shared bytes", 0755),
      Hardlink("copy", "dir/original"),
  }));
  ASSERT_EQ(tree.entries.size(), 2u);
  const Tree dir = DecodeTree(store_->Get(tree.entries[1].id)->data).value();
  EXPECT_EQ(tree.entries[0].id, dir.entries[0].id);
  EXPECT_EQ(tree.entries[0].kind, EntryKind::kExecutable);
}

TEST_F(TarIoTest, SymlinksThatStayInsideAreAccepted) {
  const Tree tree = MustImportTree(BuildTar({
      Symlink("a/b/up", "../../c"),
      Symlink("a/self", "./././x/../y"),
      Symlink("top", "a/.."),
  }));
  EXPECT_EQ(tree.entries.size(), 2u);
}

TEST_F(TarIoTest, GzipCompressedArchivesAreRead) {
  const Tree tree = MustImportTree(BuildTar({File("f", "zipped")}, /*gzip=*/true));
  ASSERT_EQ(tree.entries.size(), 1u);
  EXPECT_EQ(tree.entries[0].size, 6u);
}

struct HostileCase {
  std::string label;
  std::vector<TarEntry> entries;
  std::string named;  // what the error message must name
};

class HostileTarTest : public TarIoTest, public ::testing::WithParamInterface<HostileCase> {};

TEST_P(HostileTarTest, IsRefusedNamingTheEntryWithNoRoot) {
  const HostileCase& c = GetParam();
  std::vector<TarEntry> entries = {File("fine.txt", "harmless")};
  entries.insert(entries.end(), c.entries.begin(), c.entries.end());
  entries.push_back(File("after.txt", "after"));
  Result<TarImportResult> r = Import(BuildTar(entries));
  ASSERT_FALSE(r.ok()) << c.label << " was accepted";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find("\"" + c.named + "\""), std::string::npos)
      << r.status().ToString();
  EXPECT_FALSE(store_->Contains(ObjectId::Hash("after")));  // stopped at the bad entry
}

INSTANTIATE_TEST_SUITE_P(
    Archives, HostileTarTest,
    ::testing::Values(
        HostileCase{"absolute", {File("/etc/cron.d/x", "evil")}, "/etc/cron.d/x"},
        HostileCase{"dotdot", {File("../x", "evil")}, "../x"},
        HostileCase{"inner dotdot", {File("a/../../x", "evil")}, "a/../../x"},
        HostileCase{"device", {Special("dev/null", AE_IFCHR)}, "dev/null"},
        HostileCase{"fifo", {Special("pipe", AE_IFIFO)}, "pipe"},
        HostileCase{"absolute symlink", {Symlink("passwd", "/etc/passwd")}, "passwd"},
        HostileCase{"escaping symlink", {Symlink("a", "../..")}, "a"},
        HostileCase{"deep escaping symlink", {Symlink("x/y/z", "../../../etc")}, "x/y/z"},
        HostileCase{"hardlink outside", {Hardlink("h", "../../etc/shadow")}, "h"},
        HostileCase{"hardlink absolute", {Hardlink("h", "/etc/shadow")}, "h"},
        HostileCase{"hardlink to nothing", {Hardlink("h", "later.txt")}, "h"},
        HostileCase{"hardlink to a directory", {Dir("d/"), Hardlink("h", "d")}, "h"},
        HostileCase{
            "write through a symlink", {Symlink("link", "."), File("link/x", "evil")}, "link/x"}),
    [](const ::testing::TestParamInfo<HostileCase>& info) {
      std::string name;
      for (char c : info.param.label) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST_F(TarIoTest, GarbageIsNotAnArchive) {
  Result<TarImportResult> r = Import(std::string(10000, 'x'));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
}

TEST_F(TarIoTest, TruncatedArchiveFails) {
  std::string tar = BuildTar({File("f", RandomBytes(100'000, 3))});
  tar.resize(50'000);
  EXPECT_FALSE(Import(tar).ok());
}

TEST_F(TarIoTest, SourceErrorsComeBackUnchanged) {
  Result<TarImportResult> r = ImportTar(store_.get(), [](char*, size_t) -> Result<size_t> {
    return Status::Unavailable("client went away");
  });
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST_F(TarIoTest, ImportFromAFileDescriptor) {
  const std::string path = dir_.Join("in.tar");
  WriteTestFile(path, BuildTar({File("f", "from a file")}));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  Result<TarImportResult> r = ImportTar(store_.get(), fd.get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 1u);
  EXPECT_EQ(r->bytes, 11u);
}

}  // namespace
}  // namespace paddock::storage
