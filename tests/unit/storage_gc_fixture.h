// Helpers for the garbage collection and fsck tests: commits built the way the repository layer
// builds them (chunks, file objects, trees, a commit, each Put into a PackStore), and packs made
// to look old.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/file_util.h"
#include "storage/objects.h"
#include "storage/pack_format.h"
#include "storage/pack_store.h"

namespace paddock::storage::testing {

inline std::unique_ptr<PackStore> OpenStore(const std::string& dir, PackStoreOptions options = {}) {
  Result<std::unique_ptr<PackStore>> store = PackStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store.value()) : nullptr;
}

inline ObjectId MustPut(PackStore& store, ObjectType type, std::string_view data) {
  Result<PutResult> r = store.Put(type, data);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->id : ObjectId();
}

// A file's contents, given as its chunks.
using Chunks = std::vector<std::string>;
// Path ("data/train/x.csv") -> contents. Directories are implied by the paths.
using Snapshot = std::map<std::string, Chunks>;

// Puts commits into a store and remembers every id each commit reaches.
class CommitWriter {
 public:
  explicit CommitWriter(PackStore* store) : store_(store) {}

  // Stores `files` as a tree and a commit with `parents`; returns the commit's id. Every object
  // the commit reaches by itself (not through its parents) is added to *reached when given.
  ObjectId Commit(const Snapshot& files, const std::vector<ObjectId>& parents,
                  std::set<ObjectId>* reached = nullptr, const std::string& message = "c") {
    std::set<ObjectId> mine;
    storage::Commit c;
    c.tree = PutTree(files, "", &mine);
    c.parents = parents;
    c.time_ms = 1700000000000 + static_cast<int64_t>(++count_);
    c.author = "test";
    c.message = message;
    const ObjectId id = MustPut(*store_, ObjectType::kCommit, EncodeCommit(c).value());
    mine.insert(id);
    if (reached != nullptr) reached->insert(mine.begin(), mine.end());
    return id;
  }

  ObjectId PutFile(const Chunks& chunks, std::set<ObjectId>* reached) {
    FileObject file;
    for (const std::string& c : chunks) {
      const ObjectId id = MustPut(*store_, ObjectType::kChunk, c);
      reached->insert(id);
      file.chunks.push_back({id, static_cast<uint32_t>(c.size())});
    }
    const ObjectId id = MustPut(*store_, ObjectType::kFile, EncodeFile(file).value());
    reached->insert(id);
    return id;
  }

 private:
  // The tree of the paths in `files` below `prefix` (which ends in '/' unless empty).
  ObjectId PutTree(const Snapshot& files, const std::string& prefix, std::set<ObjectId>* reached) {
    Tree tree;
    std::set<std::string> directories;
    for (auto it = files.lower_bound(prefix); it != files.end() && it->first.starts_with(prefix);
         ++it) {
      const std::string rest = it->first.substr(prefix.size());
      const size_t slash = rest.find('/');
      if (slash != std::string::npos) {
        directories.insert(rest.substr(0, slash));
        continue;
      }
      TreeEntry e;
      e.name = rest;
      e.kind = EntryKind::kFile;
      e.id = PutFile(it->second, reached);
      for (const std::string& c : it->second) e.size += c.size();
      tree.entries.push_back(std::move(e));
    }
    for (const std::string& dir : directories) {
      TreeEntry e;
      e.name = dir;
      e.kind = EntryKind::kDirectory;
      e.id = PutTree(files, prefix + dir + "/", reached);
      tree.entries.push_back(std::move(e));
    }
    const ObjectId id = MustPut(*store_, ObjectType::kTree, EncodeTree(tree).value());
    reached->insert(id);
    return id;
  }

  PackStore* store_;
  uint64_t count_ = 0;
};

// Sets the modification time of every file in `dir` to `age_seconds` ago, as if the packs had
// been written then. The store must be closed: PackStore reads the times at Open().
inline void AgeFiles(const std::string& dir, int age_seconds) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const timespec then{now.tv_sec - age_seconds, 0};
  const timespec times[2] = {then, then};
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ASSERT_EQ(::utimensat(AT_FDCWD, entry.path().c_str(), times, 0), 0) << entry.path();
  }
}

// Name -> size of every pack and index file in `dir`.
inline std::map<std::string, uintmax_t> PackFiles(const std::string& dir) {
  std::map<std::string, uintmax_t> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (name.starts_with("pack-")) files[name] = entry.file_size();
  }
  return files;
}

// Rewrites the index that lists `id` without it, as if the object had never been stored (the
// bytes stay in the pack, unindexed). The store must be closed.
inline void DropFromIndex(const std::string& dir, const ObjectId& id) {
  for (const auto& [name, size] : PackFiles(dir)) {
    uint64_t sequence = 0;
    if (!ParsePackFileName(name, /*index=*/true, &sequence)) continue;
    const std::string path = JoinPath(dir, name);
    Result<std::string> bytes = ReadFileToString(path);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    Result<PackIndex> index = DecodePackIndex(*bytes);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    const size_t before = index->entries.size();
    std::erase_if(index->entries, [&id](const IndexEntry& e) { return e.id == id; });
    if (index->entries.size() == before) continue;
    ASSERT_TRUE(WriteFileAtomically(path, EncodePackIndex(*index), 0640).ok());
    return;
  }
  FAIL() << "no index lists " << id.ToHex();
}

// Sum of the sizes of the *.pack files in `dir`.
inline uint64_t PackBytesOnDisk(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& [name, size] : PackFiles(dir)) {
    if (name.ends_with(".pack")) total += size;
  }
  return total;
}

}  // namespace paddock::storage::testing
