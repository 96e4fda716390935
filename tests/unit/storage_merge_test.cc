// Three-way tree merge and revert: clean merges from both sides, identical changes, each kind of
// conflict (and that nothing is written then), directories, unrelated histories and reverts.
#include <gtest/gtest.h>

#include "storage/merge.h"
#include "tests/unit/storage_tree_builder.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

using testing::LeafMap;
using testing::MakeEmptyDirectory;
using testing::MakeFile;
using testing::MakeSymlink;
using testing::ReadLeaves;
using testing::WriteLeaves;

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = PackStore::Open(dir_.path(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  TreeEntry File(const std::string& path, uint64_t seed, EntryKind kind = EntryKind::kFile) {
    return MakeFile(*store_, path, seed, kind);
  }

  ObjectId Write(const LeafMap& leaves) { return WriteLeaves(*store_, leaves); }

  // Merges and expects a clean result; returns the merged tree's leaves.
  LeafMap MergeClean(const LeafMap& base, const LeafMap& ours, const LeafMap& theirs) {
    Result<MergeResult> merged = MergeTrees(*store_, Write(base), Write(ours), Write(theirs));
    EXPECT_TRUE(merged.ok()) << merged.status().ToString();
    if (!merged.ok()) return {};
    EXPECT_TRUE(merged->clean()) << merged->conflicts.front().path;
    return ReadLeaves(*store_, merged->tree);
  }

  ObjectId PutCommit(const ObjectId& tree, std::vector<ObjectId> parents) {
    Commit commit;
    commit.tree = tree;
    commit.parents = std::move(parents);
    commit.time_ms = 1000 + static_cast<int64_t>(commit.parents.size());
    return store_->Put(ObjectType::kCommit, *EncodeCommit(commit))->id;
  }

  TempDir dir_;
  std::unique_ptr<PackStore> store_;
};

TEST_F(MergeTest, ChangesFromBothSidesCombine) {
  const LeafMap base{{"a", File("a", 1)},     {"b", File("b", 2)},
                     {"c", File("c", 3)},     {"d/x", File("d/x", 4)},
                     {"d/y", File("d/y", 5)}, {"link", MakeSymlink("link", "one")}};
  LeafMap ours = base;
  ours["a"] = File("a", 11);
  ours["new/o"] = File("new/o", 12);
  ours.erase("c");
  ours["d/x"] = File("d/x", 14);
  LeafMap theirs = base;
  theirs["b"] = File("b", 21);
  theirs.erase("c");
  theirs["d/z"] = File("d/z", 22);
  theirs["link"] = MakeSymlink("link", "two");
  theirs["e"] = MakeEmptyDirectory("e");

  const LeafMap expected{{"a", ours["a"]},         {"b", theirs["b"]},      {"d/x", ours["d/x"]},
                         {"d/y", base.at("d/y")},  {"d/z", theirs["d/z"]},  {"e", theirs["e"]},
                         {"link", theirs["link"]}, {"new/o", ours["new/o"]}};
  EXPECT_EQ(MergeClean(base, ours, theirs), expected);
  // The merge is symmetric when there are no conflicts.
  EXPECT_EQ(MergeClean(base, theirs, ours), expected);
}

TEST_F(MergeTest, IdenticalChangesOnBothSidesAreNotConflicts) {
  const LeafMap base{{"a", File("a", 1)}, {"gone", File("gone", 2)}, {"keep", File("keep", 3)}};
  LeafMap side = base;
  side["a"] = File("a", 10);
  side.erase("gone");
  side["added/same"] = File("added/same", 11);
  side["l"] = MakeSymlink("l", "t");
  EXPECT_EQ(MergeClean(base, side, side), side);
}

TEST_F(MergeTest, ModeChangeAndContentChangeCombine) {
  const TreeEntry original = File("run", 1);
  TreeEntry executable = original;
  executable.kind = EntryKind::kExecutable;
  const TreeEntry edited = File("run", 2);
  const LeafMap merged = MergeClean({{"run", original}}, {{"run", executable}}, {{"run", edited}});
  ASSERT_TRUE(merged.contains("run"));
  EXPECT_EQ(merged.at("run").kind, EntryKind::kExecutable);
  EXPECT_EQ(merged.at("run").id, edited.id);
  EXPECT_EQ(merged.at("run").size, edited.size);
}

TEST_F(MergeTest, DirectoryDeletedOnOneSide) {
  const LeafMap base{{"d/x", File("d/x", 1)}, {"d/y", File("d/y", 2)}, {"top", File("top", 3)}};
  const LeafMap ours{{"top", base.at("top")}};  // deleted d
  // Theirs added a file in d: it survives, the rest of d stays deleted.
  LeafMap theirs = base;
  theirs["d/z"] = File("d/z", 4);
  EXPECT_EQ(MergeClean(base, ours, theirs),
            (LeafMap{{"d/z", theirs["d/z"]}, {"top", base.at("top")}}));
  // Theirs deleted one file of d: d stays deleted rather than turning into an empty directory.
  LeafMap shrunk = base;
  shrunk.erase("d/x");
  EXPECT_EQ(MergeClean(base, ours, shrunk), ours);
  // Theirs edited a file in d: that file is a modify/delete conflict, nothing else is.
  LeafMap edited = base;
  edited["d/y"] = File("d/y", 5);
  Result<MergeResult> merged = MergeTrees(*store_, Write(base), Write(ours), Write(edited));
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  ASSERT_EQ(merged->conflicts.size(), 1u);
  EXPECT_EQ(merged->conflicts[0].path, "d/y");
  EXPECT_EQ(merged->conflicts[0].kind, ConflictKind::kModifyDelete);
}

TEST_F(MergeTest, ReportsEachConflictKindAndWritesNothing) {
  const LeafMap base{{"both", File("both", 1)}, {"md", File("md", 2)}, {"dm", File("dm", 3)}};
  LeafMap ours = base;
  ours["both"] = File("both", 11);
  ours["md"] = File("md", 12);
  ours.erase("dm");
  ours["aa"] = File("aa", 13);
  ours["fd/inner"] = File("fd/inner", 14);
  ours["clean"] = File("clean", 15);
  LeafMap theirs = base;
  theirs["both"] = File("both", 21);
  theirs.erase("md");
  theirs["dm"] = MakeSymlink("dm", "elsewhere");
  theirs["aa"] = File("aa", 23);
  theirs["fd"] = File("fd", 24);
  const ObjectId base_id = Write(base), ours_id = Write(ours), theirs_id = Write(theirs);

  const uint64_t objects_before = store_->stats().objects;
  Result<MergeResult> merged = MergeTrees(*store_, base_id, ours_id, theirs_id);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(store_->stats().objects, objects_before);
  EXPECT_FALSE(merged->clean());

  const std::vector<MergeConflict> expected{
      {"aa", ConflictKind::kAddAdd, std::nullopt, ours["aa"], theirs["aa"]},
      {"both", ConflictKind::kBothModified, base.at("both"), ours["both"], theirs["both"]},
      {"dm", ConflictKind::kModifyDelete, base.at("dm"), std::nullopt, theirs["dm"]},
      // Ours has a directory entry at "fd" (its id is checked by kind below).
      {"fd", ConflictKind::kFileDirectory, std::nullopt, std::nullopt, theirs["fd"]},
      {"md", ConflictKind::kModifyDelete, base.at("md"), ours["md"], std::nullopt},
  };
  ASSERT_EQ(merged->conflicts.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const MergeConflict& got = merged->conflicts[i];
    EXPECT_EQ(got.path, expected[i].path);
    EXPECT_EQ(got.kind, expected[i].kind) << got.path;
    EXPECT_EQ(got.base, expected[i].base) << got.path;
    EXPECT_EQ(got.theirs, expected[i].theirs) << got.path;
    if (got.path == "fd") {
      ASSERT_TRUE(got.ours.has_value());
      EXPECT_EQ(got.ours->kind, EntryKind::kDirectory);
    } else {
      EXPECT_EQ(got.ours, expected[i].ours) << got.path;
    }
  }
  EXPECT_EQ(ConflictKindName(merged->conflicts[0].kind), "add_add");
}

TEST_F(MergeTest, UnrelatedHistoriesMergeAgainstTheEmptyTree) {
  const TreeEntry shared = File("shared", 1);
  const LeafMap ours{{"a", File("a", 2)}, {"shared", shared}};
  const LeafMap theirs{{"b", File("b", 3)}, {"shared", shared}};
  Result<MergeResult> merged = MergeTrees(*store_, ObjectId(), Write(ours), Write(theirs));
  ASSERT_TRUE(merged.ok() && merged->clean());
  EXPECT_EQ(ReadLeaves(*store_, merged->tree),
            (LeafMap{{"a", ours.at("a")}, {"b", theirs.at("b")}, {"shared", shared}}));

  const LeafMap different{{"shared", File("shared", 4)}};
  merged = MergeTrees(*store_, ObjectId(), Write(ours), Write(different));
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged->conflicts.size(), 1u);
  EXPECT_EQ(merged->conflicts[0].kind, ConflictKind::kAddAdd);
}

TEST_F(MergeTest, MergedTreeIsReadableFromTheStoreAfterFlush) {
  const LeafMap base{{"d/e/f", File("d/e/f", 1)}};
  LeafMap ours = base;
  ours["d/e/g"] = File("d/e/g", 2);
  LeafMap theirs = base;
  theirs["d/h"] = File("d/h", 3);
  Result<MergeResult> merged = MergeTrees(*store_, Write(base), Write(ours), Write(theirs));
  ASSERT_TRUE(merged.ok() && merged->clean());
  ASSERT_TRUE(store_->Flush().ok());
  store_.reset();
  auto reopened = PackStore::Open(dir_.path(), {});
  ASSERT_TRUE(reopened.ok());
  store_ = std::move(*reopened);
  EXPECT_EQ(
      ReadLeaves(*store_, merged->tree),
      (LeafMap{{"d/e/f", base.at("d/e/f")}, {"d/e/g", ours["d/e/g"]}, {"d/h", theirs["d/h"]}}));
}

TEST_F(MergeTest, RevertUndoesACommitOnTopOfLaterWork) {
  const LeafMap v1{{"a", File("a", 1)}, {"b", File("b", 2)}};
  LeafMap v2 = v1;
  v2["a"] = File("a", 3);
  v2.erase("b");
  v2["c"] = File("c", 4);
  LeafMap v3 = v2;
  v3["d"] = File("d", 5);
  const ObjectId c1 = PutCommit(Write(v1), {});
  const ObjectId c2 = PutCommit(Write(v2), {c1});

  Result<MergeResult> reverted = Revert(*store_, c2, Write(v3));
  ASSERT_TRUE(reverted.ok()) << reverted.status().ToString();
  ASSERT_TRUE(reverted->clean());
  EXPECT_EQ(ReadLeaves(*store_, reverted->tree),
            (LeafMap{{"a", v1.at("a")}, {"b", v1.at("b")}, {"d", v3["d"]}}));

  // Reverting the root commit removes everything it added.
  reverted = Revert(*store_, c1, Write(v1));
  ASSERT_TRUE(reverted.ok() && reverted->clean());
  EXPECT_TRUE(ReadLeaves(*store_, reverted->tree).empty());
}

TEST_F(MergeTest, RevertConflictsWhereLaterWorkChangedTheSamePath) {
  const LeafMap v1{{"a", File("a", 1)}};
  const LeafMap v2{{"a", File("a", 2)}};
  const LeafMap v3{{"a", File("a", 3)}};
  const ObjectId c1 = PutCommit(Write(v1), {});
  const ObjectId c2 = PutCommit(Write(v2), {c1});
  Result<MergeResult> reverted = Revert(*store_, c2, Write(v3));
  ASSERT_TRUE(reverted.ok());
  ASSERT_EQ(reverted->conflicts.size(), 1u);
  EXPECT_EQ(reverted->conflicts[0].path, "a");
  EXPECT_EQ(reverted->conflicts[0].kind, ConflictKind::kBothModified);

  EXPECT_EQ(Revert(*store_, ObjectId::Hash("no such commit"), Write(v3)).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace paddock::storage
