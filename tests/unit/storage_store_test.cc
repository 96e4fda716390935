// The store facade as its users rely on it: what is committed checks out identical (writable and
// read-only views), diffs say exactly what changed, history, listings, ranges and revisions are
// right, merges and reverts do what they say, and tar archives go in and out.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "storage/chunker.h"
#include "storage/file_io.h"
#include "storage/store.h"
#include "tests/unit/storage_fsio_test_util.h"
#include "tests/unit/storage_store_fixture.h"

namespace paddock::storage {
namespace {

using testing::BuildTar;
using testing::FileMap;
using testing::MakeTestDir;
using testing::RandomBytes;
using testing::RandomTreeBuilder;
using testing::StoreTest;
using testing::TarFromString;
using testing::TarItem;
using testing::WalkedEntry;
using testing::WalkedTree;
using testing::WalkTree;
using testing::WriteFileMap;
using testing::WriteTestFile;

// --- An independent statement of what a diff must say, from two walks of the file system.

// The leaves of a walked tree (tree_diff.h): files, symlinks and empty directories.
WalkedTree Leaves(const WalkedTree& tree) {
  WalkedTree leaves;
  for (const auto& [path, entry] : tree) {
    if (entry.type == 'd') {
      // Paths below it sort right after "<path>/", contiguously.
      const auto below = tree.lower_bound(path + "/");
      if (below != tree.end() && below->first.starts_with(path + "/")) continue;
    }
    leaves[path] = entry;
  }
  return leaves;
}

bool IsExec(const WalkedEntry& e) { return (e.mode & 0100) != 0; }

struct Change {
  ChangeKind kind;
  std::string path;
  std::string old_path;
  friend bool operator==(const Change&, const Change&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Change& c) {
    return os << ChangeKindName(c.kind) << " " << c.path << (c.old_path.empty() ? "" : " <- ")
              << c.old_path;
  }
};

std::vector<Change> ExpectedChanges(const WalkedTree& before_walk, const WalkedTree& after_walk) {
  const WalkedTree before = Leaves(before_walk), after = Leaves(after_walk);
  std::vector<Change> changes;
  // Renames pair deleted and added non-empty files of the same content and kind, in path order.
  std::map<std::pair<std::string, bool>, std::vector<std::string>> deleted, added;
  for (const auto& [path, e] : before) {
    const auto it = after.find(path);
    if (it == after.end()) {
      if (e.type == 'f' && !e.data.empty()) {
        deleted[{e.data, IsExec(e)}].push_back(path);
      } else {
        changes.push_back({ChangeKind::kDeleted, path, ""});
      }
    } else if (it->second.type != e.type) {
      changes.push_back({ChangeKind::kTypeChanged, path, ""});
    } else if (e.type != 'd' && (e.data != it->second.data || IsExec(e) != IsExec(it->second))) {
      changes.push_back({ChangeKind::kModified, path, ""});
    }
  }
  for (const auto& [path, e] : after) {
    if (before.contains(path)) continue;
    if (e.type == 'f' && !e.data.empty()) {
      added[{e.data, IsExec(e)}].push_back(path);
    } else {
      changes.push_back({ChangeKind::kAdded, path, ""});
    }
  }
  for (auto& [key, olds] : deleted) {
    std::vector<std::string> news = added[key];
    size_t i = 0;
    for (; i < olds.size() && i < news.size(); ++i) {
      changes.push_back({ChangeKind::kRenamed, news[i], olds[i]});
    }
    for (size_t j = i; j < olds.size(); ++j) changes.push_back({ChangeKind::kDeleted, olds[j], ""});
    for (size_t j = i; j < news.size(); ++j) changes.push_back({ChangeKind::kAdded, news[j], ""});
    added.erase(key);
  }
  for (const auto& [key, news] : added) {
    for (const std::string& path : news) changes.push_back({ChangeKind::kAdded, path, ""});
  }
  std::sort(changes.begin(), changes.end(),
            [](const Change& a, const Change& b) { return a.path < b.path; });
  return changes;
}

std::vector<Change> Simplified(const std::vector<TreeChange>& changes) {
  std::vector<Change> out;
  for (const TreeChange& c : changes) out.push_back({c.kind, c.path, c.old_path});
  return out;
}

// Random edits of every kind a diff distinguishes: content, mode, deletion, addition, rename,
// file to symlink, new empty directory.
void MutateTree(const std::string& root, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int step = 0; step < 8; ++step) {
    const WalkedTree tree = WalkTree(root);
    std::vector<std::string> files, dirs = {""};
    for (const auto& [path, e] : tree) {
      if (e.type == 'f') files.push_back(path);
      if (e.type == 'd') dirs.push_back(path);
    }
    const std::string dir = dirs[rng() % dirs.size()];
    const std::string in_dir = (dir.empty() ? root : root + "/" + dir) + "/";
    const std::string name = "new" + std::to_string(step);
    const int op = static_cast<int>(rng() % 7);
    if (op >= 5 || files.empty()) {
      if (op == 6) {
        MakeTestDir(in_dir + "empty" + std::to_string(step));
      } else {
        WriteTestFile(in_dir + name, RandomBytes(1 + rng() % 100'000, rng()));
      }
      continue;
    }
    const std::string file = root + "/" + files[rng() % files.size()];
    const WalkedEntry& e = tree.at(file.substr(root.size() + 1));
    switch (op) {
      case 0:
        WriteTestFile(file, RandomBytes(1 + rng() % 200'000, rng()), e.mode);
        break;
      case 1:
        ASSERT_EQ(::chmod(file.c_str(), e.mode ^ 0111), 0);
        break;
      case 2:
        ASSERT_EQ(::unlink(file.c_str()), 0);
        break;
      case 3:
        ASSERT_EQ(::rename(file.c_str(), (file.substr(0, file.rfind('/') + 1) + name).c_str()), 0);
        break;
      default:
        ASSERT_EQ(::unlink(file.c_str()), 0);
        ASSERT_EQ(::symlink("somewhere", file.c_str()), 0);
        break;
    }
  }
}

// What a read-only view shows of a walked source tree: files read-only, directories as they are.
WalkedTree AsReadOnlyView(WalkedTree tree) {
  for (auto& [path, e] : tree) {
    if (e.type == 'f') e.mode = IsExec(e) ? 0555 : 0444;
  }
  return tree;
}

char WalkedType(EntryKind kind) {
  switch (kind) {
    case EntryKind::kSymlink:
      return 'l';
    case EntryKind::kDirectory:
      return 'd';
    default:
      return 'f';
  }
}

// List (recursive) and Stat agree with the leaves of the walked source.
void ExpectListingMatches(Store& store, const std::string& rev, const WalkedTree& source) {
  const WalkedTree leaves = Leaves(source);
  Result<std::vector<ListEntry>> listed = store.List("data", rev, "", true);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::vector<std::string> paths;
  for (const ListEntry& item : *listed) {
    paths.push_back(item.path);
    ASSERT_TRUE(leaves.contains(item.path)) << item.path;
    const WalkedEntry& want = leaves.at(item.path);
    EXPECT_EQ(WalkedType(item.entry.kind), want.type) << item.path;
    if (want.type == 'f') {
      EXPECT_EQ(item.entry.size, want.data.size()) << item.path;
      EXPECT_EQ(item.entry.kind == EntryKind::kExecutable, IsExec(want)) << item.path;
    }
    if (want.type == 'l') {
      EXPECT_EQ(item.entry.target, want.data) << item.path;
    }
    Result<TreeEntry> stat = store.Stat("data", rev, item.path);
    ASSERT_TRUE(stat.ok()) << stat.status().ToString();
    EXPECT_EQ(*stat, item.entry);
  }
  EXPECT_EQ(paths.size(), leaves.size());
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  // Not recursive: the root's own entries.
  Result<std::vector<ListEntry>> top = store.List("data", rev, "/", false);
  ASSERT_TRUE(top.ok()) << top.status().ToString();
  std::vector<std::string> top_paths, want_top;
  for (const ListEntry& item : *top) top_paths.push_back(item.path);
  for (const auto& [path, e] : source) {
    if (path.find('/') == std::string::npos) want_top.push_back(path);
  }
  EXPECT_EQ(top_paths, want_top);
}

TEST_F(StoreTest, RandomTreesRoundTripAndDiffsSayExactlyWhatChanged) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const std::string branch = "tree" + std::to_string(seed);
    const std::string src = tmp_.Join("src" + std::to_string(seed));
    MakeTestDir(src);
    RandomTreeBuilder(seed).Build(src, 3);
    const WalkedTree before = WalkTree(src);
    const CommitOutcome first = MustCommit(src, "first", branch);
    EXPECT_TRUE(first.changed);
    EXPECT_EQ(CheckoutAndWalk(branch), before);
    EXPECT_EQ(CheckoutAndWalk(branch, /*read_only_view=*/true), AsReadOnlyView(before));

    MutateTree(src, seed * 1000);
    const WalkedTree after = WalkTree(src);
    const CommitOutcome second = MustCommit(src, "second", branch);
    EXPECT_EQ(CheckoutAndWalk(branch), after);
    EXPECT_EQ(CheckoutAndWalk(branch, true), AsReadOnlyView(after));

    Result<std::vector<TreeChange>> diff = store_->Diff(kRepo, branch + "~1", branch);
    ASSERT_TRUE(diff.ok()) << diff.status().ToString();
    EXPECT_EQ(Simplified(*diff), ExpectedChanges(before, after));
    Result<std::vector<TreeChange>> against_dir =
        store_->DiffDirectory(kRepo, first.commit.ToHex(), src, nullptr);
    ASSERT_TRUE(against_dir.ok()) << against_dir.status().ToString();
    EXPECT_EQ(*against_dir, *diff);
    Result<std::vector<TreeChange>> nothing = store_->DiffDirectory(kRepo, branch, src, nullptr);
    ASSERT_TRUE(nothing.ok());
    EXPECT_TRUE(nothing->empty());

    ExpectListingMatches(*store_, branch, after);
    ExpectListingMatches(*store_, first.commit.ToHex(), before);
    EXPECT_EQ(MustResolve(branch + "^"), first.commit);
    EXPECT_EQ(MustResolve(branch), second.commit);
  }
}

TEST_F(StoreTest, UnchangedTreeReturnsTheParentUnlessEmptyCommitsAreAllowed) {
  const std::string dir = tmp_.Join("same");
  WriteFileMap(dir, {{"a", "alpha"}});
  // A file written in the same clock tick as a snapshot is always read again (racily clean).
  testing::SetMtimeSecondsAgo(dir + "/a", 10);
  const CommitOutcome first = MustCommit(dir, "one");
  const CommitOutcome again = MustCommit(dir, "two");
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.commit, first.commit);
  EXPECT_EQ(again.tree, first.tree);
  EXPECT_EQ(again.snapshot.files_hashed, 0u);  // the stat cache answered

  CommitRequest request = Request("empty on purpose");
  request.allow_empty = true;
  Result<CommitOutcome> forced = store_->CommitDirectory(request, dir, nullptr);
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_TRUE(forced->changed);
  EXPECT_EQ(forced->tree, first.tree);
  EXPECT_EQ(store_->Show(kRepo, "main")->commit.parents, std::vector<ObjectId>{first.commit});
}

TEST_F(StoreTest, BadRequestsFailBeforeAnythingIsCommitted) {
  const std::string dir = tmp_.Join("d");
  WriteFileMap(dir, {{"a", "alpha"}});
  CommitRequest request = Request("x");
  request.repo = "nosuch";
  EXPECT_EQ(store_->CommitDirectory(request, dir, nullptr).status().code(), StatusCode::kNotFound);
  request = Request("x", "bad..name");
  EXPECT_EQ(store_->CommitDirectory(request, dir, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  request = Request("x");
  request.metadata_json = "not json";
  EXPECT_EQ(store_->CommitDirectory(request, dir, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CommitDirectory(Request("x"), tmp_.Join("absent"), nullptr).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->Resolve(kRepo, "main").status().code(), StatusCode::kNotFound);

  request = Request("with metadata");
  request.metadata_json = R"({"sandbox":"sb-1"})";
  Result<CommitOutcome> ok = store_->CommitDirectory(request, dir, nullptr);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(store_->Show(kRepo, "main")->commit.metadata_json, request.metadata_json);
}

TEST_F(StoreTest, SecondOpenOfTheSameDirectoryIsRefused) {
  Result<std::unique_ptr<Store>> second = Store::Open(StoreDir(), SmallOptions());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, LogShowAndRevisionsFollowHistory) {
  const ObjectId c1 = CommitFiles({{"a", "1"}});
  const ObjectId c2 = CommitFiles({{"a", "2"}});
  const ObjectId c3 = CommitFiles({{"a", "3"}, {"b", "new"}});

  Result<std::vector<CommitInfo>> log = store_->Log(kRepo, "main", 0);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  std::vector<ObjectId> ids;
  for (const CommitInfo& info : *log) ids.push_back(info.id);
  EXPECT_EQ(ids, (std::vector<ObjectId>{c3, c2, c1}));
  EXPECT_EQ((*log)[0].commit.message, "version 3");
  EXPECT_GT((*log)[0].commit.time_ms, (*log)[1].commit.time_ms);
  EXPECT_EQ(store_->Log(kRepo, "main", 2)->size(), 2u);

  Result<CommitInfo> shown = store_->Show(kRepo, "main~1");
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->id, c2);
  EXPECT_EQ(shown->commit.parents, std::vector<ObjectId>{c1});
  EXPECT_EQ(shown->commit.author, "tester <tester@example.org>");

  EXPECT_EQ(MustResolve("main~0"), c3);
  EXPECT_EQ(MustResolve("main^"), c2);
  EXPECT_EQ(MustResolve("main^^"), c1);
  EXPECT_EQ(MustResolve("main~2"), c1);
  EXPECT_EQ(MustResolve(c1.ToHex().substr(0, 8)), c1);
  EXPECT_EQ(MustResolve(c3.ToHex() + "~1"), c2);
  EXPECT_EQ(store_->Resolve(kRepo, "main~3").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Resolve(kRepo, "nosuch").status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->CreateTag(kRepo, "v1", "main~1").ok());
  EXPECT_EQ(MustResolve("v1"), c2);
  EXPECT_EQ(store_->CreateTag(kRepo, "v1", "main").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Log(kRepo, "v1", 0)->size(), 2u);
  ASSERT_TRUE(store_->CreateBranch(kRepo, "old", "v1^").ok());
  EXPECT_EQ(MustResolve("old"), c1);
  EXPECT_EQ(store_->ListBranches(kRepo)->size(), 2u);
  EXPECT_EQ(store_->CreateBranch(kRepo, "x", "nosuch").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->DeleteBranch(kRepo, "old").ok());
  ASSERT_TRUE(store_->DeleteTag(kRepo, "v1").ok());
  EXPECT_EQ(store_->ListBranches(kRepo)->size(), 1u);
  EXPECT_TRUE(store_->ListTags(kRepo)->empty());
}

TEST_F(StoreTest, ListAndStatAddressPathsInsideTheTree) {
  CommitFiles({{"top.txt", "t"}, {"d/one", "1"}, {"d/sub/two", "22"}, {"empty/", ""}});
  Result<std::vector<ListEntry>> d = store_->List(kRepo, "main", "d/", false);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[0].path, "d/one");
  EXPECT_EQ((*d)[1].path, "d/sub");
  EXPECT_EQ((*d)[1].entry.kind, EntryKind::kDirectory);
  Result<std::vector<ListEntry>> all = store_->List(kRepo, "main", "", true);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> paths;
  for (const ListEntry& e : *all) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"d/one", "d/sub/two", "empty", "top.txt"}));

  Result<TreeEntry> root = store_->Stat(kRepo, "main", "");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->kind, EntryKind::kDirectory);
  EXPECT_EQ(store_->Stat(kRepo, "main", "d/sub/two")->size, 2u);
  EXPECT_EQ(store_->Stat(kRepo, "main", "d/nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Stat(kRepo, "main", "top.txt/x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Stat(kRepo, "main", "d/../top.txt").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List(kRepo, "main", "top.txt", false).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, CatReadsRangesAcrossChunkBoundaries) {
  const std::string content = RandomBytes(1 << 20, 7);
  CommitFiles({{"data.raw", content}, {"empty", ""}, {"dir/x", "x"}});
  Result<std::vector<uint64_t>> ends =
      ChunkEnds(ChooseChunkerParams("data.raw", content.size()), content);
  ASSERT_TRUE(ends.ok());
  ASSERT_GT(ends->size(), 4u);
  auto cat = [&](uint64_t offset, uint64_t length) {
    std::string out;
    Result<uint64_t> n =
        store_->Cat(kRepo, "main", "data.raw", offset, length, [&](std::string_view piece) {
          out.append(piece);
          return Status::Ok();
        });
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(n.ok() ? *n : 0, out.size());
    return out;
  };
  uint64_t start = 0;
  for (uint64_t end : *ends) {
    EXPECT_EQ(cat(start, end - start), content.substr(start, end - start));  // exactly one chunk
    if (end < content.size()) {
      EXPECT_EQ(cat(end - 1, 2), content.substr(end - 1, 2));  // across a boundary
    }
    start = end;
  }
  EXPECT_EQ(cat(0, UINT64_MAX), content);
  EXPECT_EQ(cat(content.size() - 10, 100), content.substr(content.size() - 10));  // short
  EXPECT_EQ(cat(content.size(), 5), "");
  auto sink = [](std::string_view) { return Status::Ok(); };
  EXPECT_EQ(store_->Cat(kRepo, "main", "data.raw", content.size() + 1, 1, sink).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Cat(kRepo, "main", "dir", 0, 1, sink).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Cat(kRepo, "main", "missing", 0, 1, sink).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(CatAll("main", "empty"), "");
}

// --- Merge and revert.

class StoreMergeTest : public StoreTest {
 protected:
  // main: base; feature: base + `theirs`; main then: base + `ours`.
  void Diverge(const FileMap& base, const FileMap& ours, const FileMap& theirs) {
    base_ = CommitFiles(base);
    ASSERT_TRUE(store_->CreateBranch(kRepo, "feature", "main").ok());
    theirs_ = CommitFiles(theirs, "feature");
    ours_ = CommitFiles(ours, "main");
  }
  ObjectId base_, ours_, theirs_;
};

TEST_F(StoreMergeTest, FastForwardAndUpToDate) {
  const ObjectId base = CommitFiles({{"a", "1"}});
  ASSERT_TRUE(store_->CreateBranch(kRepo, "feature", "main").ok());
  const ObjectId ahead = CommitFiles({{"a", "1"}, {"b", "2"}}, "feature");

  Result<MergeOutcome> ff = store_->Merge(kRepo, "main", "feature", "", "tester");
  ASSERT_TRUE(ff.ok()) << ff.status().ToString();
  EXPECT_TRUE(ff->fast_forward);
  EXPECT_EQ(ff->commit, ahead);
  EXPECT_EQ(MustResolve("main"), ahead);

  Result<MergeOutcome> again = store_->Merge(kRepo, "main", base.ToHex(), "", "tester");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->up_to_date);
  EXPECT_EQ(again->commit, ahead);
  EXPECT_EQ(MustResolve("main"), ahead);
}

TEST_F(StoreMergeTest, CleanThreeWayMergeMakesATwoParentCommit) {
  Diverge({{"a", "1"}, {"b", "1"}}, {{"a", "ours"}, {"b", "1"}}, {{"a", "1"}, {"b", "theirs"}});
  Result<MergeOutcome> merged = store_->Merge(kRepo, "main", "feature", "merge it", "tester");
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_FALSE(merged->fast_forward || merged->up_to_date);
  EXPECT_TRUE(merged->conflicts.empty());
  Result<CommitInfo> head = store_->Show(kRepo, "main");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->id, merged->commit);
  EXPECT_EQ(head->commit.parents, (std::vector<ObjectId>{ours_, theirs_}));
  EXPECT_EQ(head->commit.message, "merge it");
  EXPECT_EQ(MustResolve("main^2"), theirs_);
  EXPECT_EQ(MustResolve("main^1"), ours_);
  EXPECT_EQ(CatAll("main", "a"), "ours");
  EXPECT_EQ(CatAll("main", "b"), "theirs");
}

TEST_F(StoreMergeTest, ConflictsAreListedAndNothingIsCommitted) {
  Diverge({{"a", "1"}, {"c", "1"}}, {{"a", "ours"}, {"c", "1"}}, {{"a", "theirs"}});
  Result<MergeOutcome> merged = store_->Merge(kRepo, "main", "feature", "", "tester");
  EXPECT_EQ(merged.status().code(), StatusCode::kConflict);
  EXPECT_NE(merged.status().message().find("a (both_modified)"), std::string::npos)
      << merged.status().message();
  EXPECT_EQ(MustResolve("main"), ours_);

  Result<MergeOutcome> tried = store_->TryMerge(kRepo, "main", "feature", "", "tester");
  ASSERT_TRUE(tried.ok()) << tried.status().ToString();
  ASSERT_EQ(tried->conflicts.size(), 1u);
  EXPECT_EQ(tried->conflicts[0].path, "a");
  EXPECT_EQ(tried->conflicts[0].kind, ConflictKind::kBothModified);
  EXPECT_EQ(tried->commit, ours_);
  EXPECT_EQ(MustResolve("main"), ours_);
}

TEST_F(StoreMergeTest, RevertUndoesOneCommitAndRefusesConflicts) {
  CommitFiles({{"a", "1"}, {"b", "1"}});
  const ObjectId change_b = CommitFiles({{"a", "1"}, {"b", "2"}});
  const ObjectId change_a = CommitFiles({{"a", "2"}, {"b", "2"}});

  Result<CommitOutcome> reverted = store_->Revert(kRepo, "main", change_b.ToHex(), "tester");
  ASSERT_TRUE(reverted.ok()) << reverted.status().ToString();
  EXPECT_TRUE(reverted->changed);
  EXPECT_EQ(CatAll("main", "a"), "2");
  EXPECT_EQ(CatAll("main", "b"), "1");
  Result<CommitInfo> head = store_->Show(kRepo, "main");
  EXPECT_EQ(head->commit.parents, std::vector<ObjectId>{change_a});
  EXPECT_NE(head->commit.message.find(change_b.ToHex()), std::string::npos);

  // "a" changed again after change_a: undoing change_a now conflicts.
  const ObjectId later = CommitFiles({{"a", "3"}, {"b", "1"}});
  Result<CommitOutcome> refused = store_->Revert(kRepo, "main", change_a.ToHex(), "tester");
  EXPECT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_NE(refused.status().message().find("a ("), std::string::npos);
  EXPECT_EQ(MustResolve("main"), later);
}

// --- Tar archives.

TEST_F(StoreTest, CommitTarImportsAnArchive) {
  const std::string weights = RandomBytes(300'000, 3);
  const std::string tar = BuildTar({
      {"d", AE_IFDIR, 0755, "", ""},
      {"d/x", AE_IFREG, 0644, "hello", ""},
      {"run.sh", AE_IFREG, 0755, "#!/bin/sh\n", ""},
      {"w.raw", AE_IFREG, 0644, weights, ""},
      {"link", AE_IFLNK, 0777, "", "d/x"},
  });
  Result<CommitOutcome> outcome = store_->CommitTar(Request("from tar"), TarFromString(tar));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(outcome->changed);
  EXPECT_EQ(outcome->snapshot.files, 3u);
  EXPECT_EQ(outcome->snapshot.symlinks, 1u);
  EXPECT_EQ(CatAll("main", "d/x"), "hello");
  EXPECT_EQ(CatAll("main", "w.raw"), weights);
  EXPECT_EQ(store_->Stat(kRepo, "main", "run.sh")->kind, EntryKind::kExecutable);
  EXPECT_EQ(store_->Stat(kRepo, "main", "link")->target, "d/x");
}

TEST_F(StoreTest, HostileArchiveIsRefusedAndTheBranchStays) {
  const ObjectId before = CommitFiles({{"a", "1"}});
  for (const std::vector<TarItem>& items : std::vector<std::vector<TarItem>>{
           {{"ok", AE_IFREG, 0644, "fine", ""}, {"../escape", AE_IFREG, 0644, "x", ""}},
           {{"/etc/cron.d/x", AE_IFREG, 0644, "x", ""}},
           {{"up", AE_IFLNK, 0777, "", "../../etc"}},
       }) {
    const std::string tar = BuildTar(items);
    Result<CommitOutcome> outcome = store_->CommitTar(Request("evil"), TarFromString(tar));
    EXPECT_EQ(outcome.status().code(), StatusCode::kInvalidArgument) << outcome.status().ToString();
    EXPECT_EQ(MustResolve("main"), before);
  }
}

TEST_F(StoreTest, ExportThenCommitTarGivesTheSameTree) {
  const std::string src = tmp_.Join("src");
  MakeTestDir(src);
  RandomTreeBuilder(11, /*inside_symlinks_only=*/true).Build(src, 3);
  const CommitOutcome committed = MustCommit(src, "original");

  const std::string path = tmp_.Join("export.tar");
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd);
    const Status exported = store_->Export(kRepo, "main", fd.get());
    ASSERT_TRUE(exported.ok()) << exported.ToString();
  }
  const std::string tar = ReadFileToString(path).value();
  Result<CommitOutcome> back = store_->CommitTar(Request("round trip", "back"), TarFromString(tar));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->tree, committed.tree);
  Result<std::vector<TreeChange>> diff = store_->Diff(kRepo, "main", "back");
  ASSERT_TRUE(diff.ok());
  EXPECT_TRUE(diff->empty());
}

}  // namespace
}  // namespace paddock::storage
