// fsck of the pack store: a clean store passes; damaged, missing and inconsistent objects are
// named with their pack, offset and the paths of the commits that use them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "storage/fsck.h"
#include "tests/unit/storage_gc_fixture.h"
#include "tests/unit/storage_test_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

using testing::CommitWriter;
using testing::OpenStore;
using testing::RandomBytes;

std::string Short(const ObjectId& commit) { return "commit " + commit.ToHex().substr(0, 12); }

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string Describe(const FsckReport& report) {
  std::string out;
  for (const FsckProblem& p : report.problems) out += p.ToString() + "\n";
  return out;
}

void FlipByteAt(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// Two commits; the second copies the first's x.csv to copy/x.csv. `shared` is a chunk of x.csv.
struct History {
  ObjectId first, second;
  std::string shared;
  ObjectId x_file;  // the file object of data/train/x.csv
};

History WriteHistory(const std::string& dir, bool seal_between = false) {
  History h;
  h.shared = RandomBytes(3000, 1);
  auto store = OpenStore(dir);
  CommitWriter writer(store.get());
  const testing::Chunks x = {RandomBytes(3000, 2), h.shared};
  h.first = writer.Commit({{"data/train/x.csv", x}, {"readme", {"v1"}}}, {});
  if (seal_between) {
    EXPECT_TRUE(store->SealActivePackIfUnused(std::numeric_limits<int64_t>::max()).ok());
  }
  h.second =
      writer.Commit({{"data/train/x.csv", x}, {"copy/x.csv", x}, {"readme", {"v2"}}}, {h.first});
  std::set<ObjectId> file;
  h.x_file = writer.PutFile(x, &file);
  return h;
}

TEST(FsckTest, CleanStoreIsOk) {
  TempDir tmp;
  const History h = WriteHistory(tmp.path());
  const FsckReport report = CheckStoreDirectory(tmp.path(), std::vector<ObjectId>{h.second});
  EXPECT_TRUE(report.ok()) << Describe(report);
  EXPECT_EQ(report.packs_checked, 1u);
  EXPECT_EQ(report.commits_reachable, 2u);
  auto store = OpenStore(tmp.path());
  EXPECT_EQ(report.objects_checked, store->stats().objects);
  EXPECT_EQ(report.objects_reachable, store->stats().objects);
  // Also on a store open for writing.
  EXPECT_TRUE(CheckStore(*store, std::vector<ObjectId>{h.second}).ok());
}

TEST(FsckTest, FlippedByteInAChunkIsNamedWithPackOffsetAndPaths) {
  TempDir tmp;
  const History h = WriteHistory(tmp.path());
  const ObjectId chunk = ObjectId::Hash(h.shared);
  ObjectLocation where;
  {
    auto store = OpenStore(tmp.path());
    where = store->Locate(chunk).value();
  }
  FlipByteAt(JoinPath(tmp.path(), PackFileName(where.pack_sequence)),
             where.entry.offset + kEntryHeaderSize + where.entry.stored_length - 1);
  const FsckReport report = CheckStoreDirectory(tmp.path(), std::vector<ObjectId>{h.second});
  EXPECT_FALSE(report.ok());
  ASSERT_EQ(report.problems.size(), 1u) << Describe(report);
  const FsckProblem& p = report.problems[0];
  EXPECT_EQ(p.kind, FsckProblem::Kind::kCorrupt);
  EXPECT_EQ(p.id, chunk);
  EXPECT_EQ(p.type, "chunk");
  EXPECT_EQ(p.pack, PackFileName(1));
  EXPECT_EQ(p.offset, where.entry.offset);
  EXPECT_NE(p.detail.find("does not hash to its id"), std::string::npos) << p.detail;
  EXPECT_TRUE(Contains(p.paths, Short(h.second) + ": data/train/x.csv")) << p.ToString();
  EXPECT_TRUE(Contains(p.paths, Short(h.second) + ": copy/x.csv")) << p.ToString();
  EXPECT_TRUE(Contains(p.paths, Short(h.first) + ": data/train/x.csv")) << p.ToString();
  EXPECT_EQ(p.paths.size(), 3u);
  EXPECT_FALSE(p.more_paths);
  const std::string line = p.ToString();
  EXPECT_NE(line.find("corrupt chunk " + chunk.ToHex() + " in pack " + PackFileName(1) +
                      " at offset " + std::to_string(where.entry.offset)),
            std::string::npos)
      << line;
}

TEST(FsckTest, DamagedEntryHeaderOfAnUnusedObjectIsReportedWithoutPaths) {
  TempDir tmp;
  ObjectId stray;
  {
    auto store = OpenStore(tmp.path());
    stray = testing::MustPut(*store, ObjectType::kChunk, "nobody uses this");
  }
  auto store = OpenStore(tmp.path());
  const uint64_t offset = store->Locate(stray)->entry.offset;
  store.reset();
  FlipByteAt(JoinPath(tmp.path(), PackFileName(1)), offset + 40);  // the stored length
  const FsckReport report = CheckStoreDirectory(tmp.path(), {});
  ASSERT_EQ(report.problems.size(), 1u) << Describe(report);
  EXPECT_EQ(report.problems[0].id, stray);
  EXPECT_EQ(report.problems[0].offset, offset);
  EXPECT_TRUE(report.problems[0].paths.empty());
}

TEST(FsckTest, MissingObjectIsReportedWithThePathsThatNeedIt) {
  TempDir tmp;
  const History h = WriteHistory(tmp.path());
  testing::DropFromIndex(tmp.path(), h.x_file);
  const FsckReport report = CheckStoreDirectory(tmp.path(), std::vector<ObjectId>{h.second});
  ASSERT_EQ(report.problems.size(), 1u) << Describe(report);
  const FsckProblem& p = report.problems[0];
  EXPECT_EQ(p.kind, FsckProblem::Kind::kMissing);
  EXPECT_EQ(p.id, h.x_file);
  EXPECT_EQ(p.type, "file");
  EXPECT_TRUE(p.pack.empty());
  EXPECT_TRUE(Contains(p.paths, Short(h.second) + ": data/train/x.csv")) << p.ToString();
  EXPECT_TRUE(Contains(p.paths, Short(h.second) + ": copy/x.csv")) << p.ToString();
  EXPECT_TRUE(Contains(p.paths, Short(h.first) + ": data/train/x.csv")) << p.ToString();
  EXPECT_NE(p.ToString().find("missing file " + h.x_file.ToHex()), std::string::npos);
}

TEST(FsckTest, TruncatedIndexIsReportedAndTheRestStillChecked) {
  TempDir tmp;
  const History h = WriteHistory(tmp.path(), /*seal_between=*/true);
  const std::string index = JoinPath(tmp.path(), IndexFileName(1));
  ASSERT_EQ(::truncate(index.c_str(), 100), 0);
  const FsckReport report = CheckStoreDirectory(tmp.path(), std::vector<ObjectId>{h.second});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.packs_checked, 1u);  // pack 2 is still verified
  ASSERT_FALSE(report.problems.empty());
  const FsckProblem& damaged = report.problems[0];
  EXPECT_EQ(damaged.kind, FsckProblem::Kind::kDamagedPack);
  EXPECT_EQ(damaged.pack, PackFileName(1));
  EXPECT_NE(damaged.detail.find(IndexFileName(1)), std::string::npos) << damaged.detail;
  EXPECT_NE(damaged.detail.find("truncated: 100 bytes"), std::string::npos) << damaged.detail;
  // What the first commit wrote is now missing, and named by path: the first commit itself,
  // and the trees the second one shares with it (copy/ has the same content as data/train/).
  bool commit_missing = false, tree_missing = false;
  for (const FsckProblem& p : report.problems) {
    if (p.kind != FsckProblem::Kind::kMissing) continue;
    commit_missing |= p.id == h.first && Contains(p.paths, Short(h.first));
    tree_missing |= p.type == "tree" && Contains(p.paths, Short(h.second) + ": copy/");
  }
  EXPECT_TRUE(commit_missing) << Describe(report);
  EXPECT_TRUE(tree_missing) << Describe(report);
}

TEST(FsckTest, PathsPerObjectAreCapped) {
  TempDir tmp;
  const std::string shared = RandomBytes(2000, 7);
  ObjectId root;
  {
    auto store = OpenStore(tmp.path());
    testing::Snapshot files;
    for (int i = 0; i < 25; ++i) files["copies/" + std::to_string(100 + i)] = {shared};
    root = CommitWriter(store.get()).Commit(files, {});
  }
  testing::DropFromIndex(tmp.path(), ObjectId::Hash(shared));
  FsckOptions options;
  options.max_paths_per_object = 4;
  const FsckReport report = CheckStoreDirectory(tmp.path(), std::vector<ObjectId>{root}, options);
  ASSERT_EQ(report.problems.size(), 1u) << Describe(report);
  EXPECT_EQ(report.problems[0].paths.size(), 4u);
  EXPECT_TRUE(report.problems[0].more_paths);
  EXPECT_EQ(report.problems[0].paths[0], Short(root) + ": copies/100");
}

TEST(FsckTest, WrongSizesAndTypesAreReported) {
  TempDir tmp;
  auto store = OpenStore(tmp.path());
  const ObjectId chunk = testing::MustPut(*store, ObjectType::kChunk, "12345");
  FileObject file{{{chunk, 5}}};
  const ObjectId file_id = testing::MustPut(*store, ObjectType::kFile, EncodeFile(file).value());
  FileObject lying{{{chunk, 6}}};  // the chunk has 5 bytes
  const ObjectId lying_id = testing::MustPut(*store, ObjectType::kFile, EncodeFile(lying).value());
  const ObjectId chunk2 = testing::MustPut(*store, ObjectType::kChunk, "67890");
  FileObject file2{{{chunk2, 5}}};
  const ObjectId file2_id = testing::MustPut(*store, ObjectType::kFile, EncodeFile(file2).value());
  Tree tree;
  tree.entries.push_back({"dir", EntryKind::kDirectory, file_id, 0, ""});  // a file, not a tree
  tree.entries.push_back({"lying", EntryKind::kFile, lying_id, 6, ""});
  tree.entries.push_back({"wrong", EntryKind::kFile, file2_id, 7, ""});  // the file has 5 bytes
  const ObjectId tree_id = testing::MustPut(*store, ObjectType::kTree, EncodeTree(tree).value());
  Commit commit;
  commit.tree = tree_id;
  const ObjectId root = testing::MustPut(*store, ObjectType::kCommit, EncodeCommit(commit).value());
  const FsckReport report = CheckStore(*store, std::vector<ObjectId>{root});
  ASSERT_EQ(report.problems.size(), 3u) << Describe(report);
  std::map<FsckProblem::Kind, const FsckProblem*> by_kind;
  for (const FsckProblem& p : report.problems) {
    if (p.kind == FsckProblem::Kind::kSizeMismatch && p.id == lying_id) {
      EXPECT_TRUE(Contains(p.paths, Short(root) + ": lying")) << p.ToString();
      continue;
    }
    by_kind[p.kind] = &p;
  }
  ASSERT_TRUE(by_kind.contains(FsckProblem::Kind::kMalformed)) << Describe(report);
  EXPECT_EQ(by_kind[FsckProblem::Kind::kMalformed]->id, file_id);
  EXPECT_TRUE(Contains(by_kind[FsckProblem::Kind::kMalformed]->paths, Short(root) + ": dir/"));
  ASSERT_TRUE(by_kind.contains(FsckProblem::Kind::kSizeMismatch)) << Describe(report);
  EXPECT_EQ(by_kind[FsckProblem::Kind::kSizeMismatch]->id, tree_id);
  EXPECT_NE(by_kind[FsckProblem::Kind::kSizeMismatch]->detail.find("\"wrong\" states 7 bytes"),
            std::string::npos);
  EXPECT_TRUE(Contains(by_kind[FsckProblem::Kind::kSizeMismatch]->paths, Short(root) + ": /"));
}

TEST(FsckTest, MissingRootIsReported) {
  TempDir tmp;
  { OpenStore(tmp.path()); }
  const ObjectId absent = ObjectId::Hash("no such commit");
  const FsckReport report = CheckStoreDirectory(tmp.path(), std::vector<ObjectId>{absent});
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].kind, FsckProblem::Kind::kMissing);
  EXPECT_EQ(report.problems[0].detail, "root commit is not in the store");
  EXPECT_TRUE(Contains(report.problems[0].paths, Short(absent)));
}

}  // namespace
}  // namespace paddock::storage
