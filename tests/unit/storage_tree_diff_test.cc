// Tree diff: each change kind, path order, renames, the Merkle shortcut, and a property test
// that applies random change sets to random trees and expects exactly them back.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "storage/tree_diff.h"
#include "tests/unit/storage_tree_builder.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {

// Readable failure output for gtest (found by argument-dependent lookup).
void PrintTo(const TreeChange& c, std::ostream* os) {
  *os << ChangeKindName(c.kind) << " " << c.path;
  if (!c.old_path.empty()) *os << " from " << c.old_path;
  for (const auto* entry : {&c.old_entry, &c.new_entry}) {
    if (!entry->has_value()) continue;
    *os << " [" << (*entry)->name << " kind " << static_cast<int>((*entry)->kind) << " "
        << (*entry)->id.ToHex().substr(0, 8) << " " << (*entry)->size << " '" << (*entry)->target
        << "']";
  }
}

namespace {

using testing::LeafMap;
using testing::MakeEmptyDirectory;
using testing::MakeFile;
using testing::MakeSymlink;
using testing::ReadLeaves;
using testing::WriteLeaves;

std::string Describe(const TreeChange& c) {
  std::string s = std::string(ChangeKindName(c.kind)) + " " + c.path;
  if (!c.old_path.empty()) s += " from " + c.old_path;
  return s;
}

std::string Describe(const std::vector<TreeChange>& changes) {
  std::string s;
  for (const TreeChange& c : changes) s += Describe(c) + "\n";
  return s;
}

TreeChange Added(const std::string& path, const TreeEntry& entry) {
  return TreeChange{ChangeKind::kAdded, path, "", std::nullopt, entry};
}
TreeChange Deleted(const std::string& path, const TreeEntry& entry) {
  return TreeChange{ChangeKind::kDeleted, path, "", entry, std::nullopt};
}
TreeChange Changed(ChangeKind kind, const std::string& path, const TreeEntry& before,
                   const TreeEntry& after) {
  return TreeChange{kind, path, "", before, after};
}
TreeChange Renamed(const std::string& from, const std::string& to, const TreeEntry& before,
                   const TreeEntry& after) {
  return TreeChange{ChangeKind::kRenamed, to, from, before, after};
}

class TreeDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = PackStore::Open(dir_.path(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  std::vector<TreeChange> Diff(const ObjectId& a, const ObjectId& b) {
    Result<std::vector<TreeChange>> changes = DiffTrees(*store_, a, b);
    EXPECT_TRUE(changes.ok()) << changes.status().ToString();
    return changes.ok() ? *changes : std::vector<TreeChange>{};
  }

  TempDir dir_;
  std::unique_ptr<PackStore> store_;
};

TEST_F(TreeDiffTest, EqualTreesHaveNoChanges) {
  LeafMap leaves{{"a", MakeFile(*store_, "a", 1)}, {"d/b", MakeFile(*store_, "d/b", 2)}};
  const ObjectId tree = WriteLeaves(*store_, leaves);
  EXPECT_TRUE(Diff(tree, tree).empty());
  EXPECT_TRUE(Diff(ObjectId(), ObjectId()).empty());
  EXPECT_TRUE(Diff(ObjectId(), WriteLeaves(*store_, {})).empty());
}

TEST_F(TreeDiffTest, NullTreeIsEmptyOnEitherSide) {
  const TreeEntry a = MakeFile(*store_, "a", 1);
  const TreeEntry b = MakeFile(*store_, "d/b", 2);
  const TreeEntry e = MakeEmptyDirectory("d/e");
  const ObjectId tree = WriteLeaves(*store_, {{"a", a}, {"d/b", b}, {"d/e", e}});
  EXPECT_EQ(Diff(ObjectId(), tree),
            (std::vector<TreeChange>{Added("a", a), Added("d/b", b), Added("d/e", e)}));
  EXPECT_EQ(Diff(tree, ObjectId()),
            (std::vector<TreeChange>{Deleted("a", a), Deleted("d/b", b), Deleted("d/e", e)}));
}

TEST_F(TreeDiffTest, ReportsEachKindOfChange) {
  const TreeEntry content_old = MakeFile(*store_, "d/content", 1);
  const TreeEntry content_new = MakeFile(*store_, "d/content", 2);
  const TreeEntry mode_old = MakeFile(*store_, "run.sh", 3);
  TreeEntry mode_new = mode_old;
  mode_new.kind = EntryKind::kExecutable;
  const TreeEntry link_old = MakeSymlink("latest", "ckpt/1");
  const TreeEntry link_new = MakeSymlink("latest", "ckpt/2");
  const TreeEntry gone = MakeFile(*store_, "d/gone", 4);
  const TreeEntry added = MakeFile(*store_, "d/e/new", 5);
  const TreeEntry type_old = MakeFile(*store_, "t", 6);
  const TreeEntry type_new = MakeSymlink("t", "elsewhere");
  const TreeEntry moved = MakeFile(*store_, "m/n/deep", 7);
  TreeEntry moved_new = moved;
  moved_new.name = "deep2";
  const TreeEntry same = MakeFile(*store_, "same", 8);

  const ObjectId before = WriteLeaves(*store_, {{"d/content", content_old},
                                                {"run.sh", mode_old},
                                                {"latest", link_old},
                                                {"d/gone", gone},
                                                {"t", type_old},
                                                {"m/n/deep", moved},
                                                {"same", same}});
  const ObjectId after = WriteLeaves(*store_, {{"d/content", content_new},
                                               {"run.sh", mode_new},
                                               {"latest", link_new},
                                               {"d/e/new", added},
                                               {"t", type_new},
                                               {"r/deep2", moved_new},
                                               {"same", same}});
  const std::vector<TreeChange> expected{
      Changed(ChangeKind::kModified, "d/content", content_old, content_new),
      Added("d/e/new", added),
      Deleted("d/gone", gone),
      Changed(ChangeKind::kModified, "latest", link_old, link_new),
      Renamed("m/n/deep", "r/deep2", moved, moved_new),
      Changed(ChangeKind::kModified, "run.sh", mode_old, mode_new),
      Changed(ChangeKind::kTypeChanged, "t", type_old, type_new),
  };
  const std::vector<TreeChange> actual = Diff(before, after);
  EXPECT_EQ(actual, expected) << Describe(actual);
}

TEST_F(TreeDiffTest, PathsAreSortedBytewiseNotInTreeOrder) {
  // In a tree "a" (a directory) sorts before "a.b"; as paths "a.b" < "a/x" ('.' < '/').
  const TreeEntry x = MakeFile(*store_, "a/x", 1);
  const TreeEntry ab = MakeFile(*store_, "a.b", 2);
  const std::vector<TreeChange> actual =
      Diff(ObjectId(), WriteLeaves(*store_, {{"a/x", x}, {"a.b", ab}}));
  EXPECT_EQ(actual, (std::vector<TreeChange>{Added("a.b", ab), Added("a/x", x)}))
      << Describe(actual);
}

TEST_F(TreeDiffTest, FileReplacedByDirectoryIsDeletionPlusAdditions) {
  const TreeEntry file = MakeFile(*store_, "a", 1);
  const TreeEntry inner = MakeFile(*store_, "a/x", 2);
  const TreeEntry empty = MakeEmptyDirectory("e");
  const TreeEntry filled = MakeFile(*store_, "e/y", 3);
  const ObjectId before = WriteLeaves(*store_, {{"a", file}, {"e", empty}});
  const ObjectId after = WriteLeaves(*store_, {{"a/x", inner}, {"e/y", filled}});
  EXPECT_EQ(Diff(before, after),
            (std::vector<TreeChange>{Deleted("a", file), Added("a/x", inner), Deleted("e", empty),
                                     Added("e/y", filled)}));
  // An empty directory facing a file is a type change.
  const TreeEntry e_file = MakeFile(*store_, "e", 4);
  EXPECT_EQ(Diff(before, WriteLeaves(*store_, {{"a", file}, {"e", e_file}})),
            (std::vector<TreeChange>{Changed(ChangeKind::kTypeChanged, "e", empty, e_file)}));
}

TEST_F(TreeDiffTest, RenamesPairOnlyNonEmptyFilesOfTheSameKind) {
  const TreeEntry one = MakeFile(*store_, "one", 1);
  const TreeEntry empty = MakeFile(*store_, "empty", 2, EntryKind::kFile, 0);
  const TreeEntry script = MakeFile(*store_, "script", 3);
  auto at = [](TreeEntry e, const std::string& name, EntryKind kind) {
    e.name = name;
    e.kind = kind;
    return e;
  };
  const ObjectId before =
      WriteLeaves(*store_, {{"one", one}, {"empty", empty}, {"script", script}});
  const ObjectId after =
      WriteLeaves(*store_, {{"dir/one", at(one, "one", EntryKind::kFile)},
                            {"empty2", at(empty, "empty2", EntryKind::kFile)},
                            {"script2", at(script, "script2", EntryKind::kExecutable)}});
  const std::vector<TreeChange> actual = Diff(before, after);
  EXPECT_EQ(actual, (std::vector<TreeChange>{
                        Renamed("one", "dir/one", one, at(one, "one", EntryKind::kFile)),
                        Deleted("empty", empty),
                        Added("empty2", at(empty, "empty2", EntryKind::kFile)),
                        Deleted("script", script),
                        Added("script2", at(script, "script2", EntryKind::kExecutable)),
                    }))
      << Describe(actual);
}

TEST_F(TreeDiffTest, CopiesOfOneFilePairInPathOrder) {
  const TreeEntry f = MakeFile(*store_, "a", 1);
  auto named = [&](const std::string& name) {
    TreeEntry e = f;
    e.name = name;
    return e;
  };
  const ObjectId before = WriteLeaves(*store_, {{"a", named("a")}, {"b", named("b")}});
  const ObjectId after =
      WriteLeaves(*store_, {{"x", named("x")}, {"y", named("y")}, {"z", named("z")}});
  const std::vector<TreeChange> actual = Diff(before, after);
  EXPECT_EQ(actual, (std::vector<TreeChange>{Renamed("a", "x", named("a"), named("x")),
                                             Renamed("b", "y", named("b"), named("y")),
                                             Added("z", named("z"))}))
      << Describe(actual);
}

TEST_F(TreeDiffTest, SubtreesWithEqualIdsAreNotRead) {
  // "big" names a tree that is not in the store at all: a diff that tried to read it would fail.
  const TreeEntry big{"big", EntryKind::kDirectory, ObjectId::Hash("never stored"), 0, ""};
  const TreeEntry f1 = MakeFile(*store_, "f", 1);
  const TreeEntry f2 = MakeFile(*store_, "f", 2);
  auto root = [&](const TreeEntry& f) {
    Tree tree{{big, f}};
    return store_->Put(ObjectType::kTree, *EncodeTree(tree))->id;
  };
  EXPECT_EQ(Diff(root(f1), root(f2)),
            (std::vector<TreeChange>{Changed(ChangeKind::kModified, "f", f1, f2)}));
  // The same missing tree compared with something else must be read, and its absence reported.
  Result<std::vector<TreeChange>> failed = DiffTrees(*store_, root(f1), ObjectId());
  ASSERT_EQ(failed.status().code(), StatusCode::kNotFound);
  EXPECT_NE(failed.status().message().find("'big'"), std::string::npos)
      << failed.status().message();
}

TEST_F(TreeDiffTest, CorruptTreeIsInternalError) {
  const ObjectId bogus = store_->Put(ObjectType::kTree, "not a tree")->id;
  const TreeEntry dir{"d", EntryKind::kDirectory, bogus, 0, ""};
  const ObjectId root = store_->Put(ObjectType::kTree, *EncodeTree(Tree{{dir}}))->id;
  EXPECT_EQ(DiffTrees(*store_, root, ObjectId()).status().code(), StatusCode::kInternal);
}

// --- Property test: random trees, random change sets applied to them, diff must give back
// exactly the change set.

class ChangeSetGenerator {
 public:
  ChangeSetGenerator(PackStore& store, uint64_t seed) : store_(store), rng_(seed) {}

  LeafMap RandomTree() {
    LeafMap leaves;
    const int count = 1 + Below(40);
    for (int i = 0; i < count; ++i) {
      const std::string path = RandomPath();
      if (CanPlace(leaves, path)) leaves[path] = RandomLeaf(path);
    }
    return leaves;
  }

  // Applies up to `ops` random changes to `leaves`, each to paths no earlier change touched,
  // and returns the changes the diff must report, sorted by path.
  std::vector<TreeChange> ApplyRandomChanges(LeafMap* leaves, int ops) {
    std::vector<TreeChange> expected;
    const LeafMap original = *leaves;
    for (int i = 0; i < ops; ++i) {
      const std::string victim = PickUntouched(original);
      switch (Below(6)) {
        case 0:
          Add(leaves, &expected);
          break;
        case 1:
          if (!victim.empty()) Delete(leaves, victim, &expected);
          break;
        case 2:
          if (!victim.empty()) Modify(leaves, victim, &expected);
          break;
        case 3:
          if (!victim.empty()) ChangeType(leaves, victim, &expected);
          break;
        case 4:
          if (!victim.empty()) Rename(leaves, victim, &expected);
          break;
        case 5:
          if (!victim.empty()) ReplaceWithDirectory(leaves, victim, &expected);
          break;
      }
    }
    std::sort(expected.begin(), expected.end(),
              [](const TreeChange& a, const TreeChange& b) { return a.path < b.path; });
    return expected;
  }

 private:
  int Below(int n) { return static_cast<int>(rng_() % n); }

  std::string RandomPath() {
    std::string path;
    const int depth = Below(4);
    for (int i = 0; i < depth; ++i) path += "d" + std::to_string(Below(3)) + "/";
    // Leaf names overlap the directory names, so that new paths run into existing leaves
    // ("d0" a file, "d0/f1" wanted) and the generator has to respect the tree's shape.
    if (Below(4) == 0) return path + "d" + std::to_string(Below(3));
    return path + (Below(2) ? "f" : "f.") + std::to_string(Below(6));
  }

  // A new leaf of a random type; files get fresh contents, so their ids are unique (except the
  // empty file's), which keeps renames unambiguous.
  TreeEntry RandomLeaf(const std::string& path) {
    const int pick = Below(20);
    if (pick < 2) return MakeFile(store_, path, next_seed_++, EntryKind::kFile, 0);
    if (pick < 11) return MakeFile(store_, path, next_seed_++, EntryKind::kFile, 1 + Below(3));
    if (pick < 14) return MakeFile(store_, path, next_seed_++, EntryKind::kExecutable);
    if (pick < 18) return MakeSymlink(path, "target-" + std::to_string(next_seed_++));
    return MakeEmptyDirectory(path);
  }

  static int TypeOf(const TreeEntry& e) {
    return e.kind == EntryKind::kExecutable ? static_cast<int>(EntryKind::kFile)
                                            : static_cast<int>(e.kind);
  }

  // Whether `path` can become a leaf: not a leaf already, no leaf above it, none below it.
  static bool CanPlace(const LeafMap& leaves, const std::string& path) {
    if (leaves.contains(path)) return false;
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      if (leaves.contains(path.substr(0, slash))) return false;
    }
    auto below = leaves.lower_bound(path + "/");
    return below == leaves.end() || !below->first.starts_with(path + "/");
  }

  // A path that may be used by a new change: free in the tree and in no earlier change.
  std::string FreshPath(const LeafMap& leaves) {
    for (int tries = 0; tries < 20; ++tries) {
      std::string path = RandomPath();
      if (!touched_.contains(path) && CanPlace(leaves, path)) return path;
    }
    return "";
  }

  std::string PickUntouched(const LeafMap& original) {
    if (original.empty()) return "";
    auto it = original.begin();
    std::advance(it, Below(static_cast<int>(original.size())));
    return touched_.contains(it->first) ? "" : it->first;
  }

  void Add(LeafMap* leaves, std::vector<TreeChange>* expected) {
    const std::string path = FreshPath(*leaves);
    if (path.empty()) return;
    touched_.insert(path);
    (*leaves)[path] = RandomLeaf(path);
    expected->push_back(Added(path, (*leaves)[path]));
  }

  void Delete(LeafMap* leaves, const std::string& path, std::vector<TreeChange>* expected) {
    touched_.insert(path);
    expected->push_back(Deleted(path, (*leaves)[path]));
    leaves->erase(path);
  }

  void Modify(LeafMap* leaves, const std::string& path, std::vector<TreeChange>* expected) {
    const TreeEntry before = (*leaves)[path];
    TreeEntry after = before;
    if (before.kind == EntryKind::kSymlink) {
      after.target = "changed-" + std::to_string(next_seed_++);
    } else if (before.kind == EntryKind::kDirectory) {
      return;  // an empty directory has nothing to modify
    } else if (Below(2)) {
      after.kind = before.kind == EntryKind::kFile ? EntryKind::kExecutable : EntryKind::kFile;
    } else {
      after = MakeFile(store_, path, next_seed_++, before.kind, Below(3));
    }
    if (after == before) return;  // empty file "edited" into the empty file: no change
    touched_.insert(path);
    (*leaves)[path] = after;
    expected->push_back(Changed(ChangeKind::kModified, path, before, after));
  }

  void ChangeType(LeafMap* leaves, const std::string& path, std::vector<TreeChange>* expected) {
    const TreeEntry before = (*leaves)[path];
    TreeEntry after = RandomLeaf(path);
    if (TypeOf(after) == TypeOf(before)) return;
    touched_.insert(path);
    (*leaves)[path] = after;
    expected->push_back(Changed(ChangeKind::kTypeChanged, path, before, after));
  }

  void Rename(LeafMap* leaves, const std::string& from, std::vector<TreeChange>* expected) {
    const TreeEntry before = (*leaves)[from];
    if (before.kind != EntryKind::kFile && before.kind != EntryKind::kExecutable) return;
    LeafMap without = *leaves;
    without.erase(from);
    touched_.insert(from);  // also keeps FreshPath from picking `from` itself
    const std::string to = FreshPath(without);
    if (to.empty()) {
      touched_.erase(from);
      return;
    }
    TreeEntry after = before;
    after.name = testing::BaseName(to);
    touched_.insert(to);
    *leaves = std::move(without);
    (*leaves)[to] = after;
    if (before.id == EmptyFileId()) {  // empty files never pair
      expected->push_back(Deleted(from, before));
      expected->push_back(Added(to, after));
    } else {
      expected->push_back(Renamed(from, to, before, after));
    }
  }

  // The leaf at `path` becomes a directory with one file in it.
  void ReplaceWithDirectory(LeafMap* leaves, const std::string& path,
                            std::vector<TreeChange>* expected) {
    const std::string inner = path + "/inner";
    touched_.insert(path);
    touched_.insert(inner);
    expected->push_back(Deleted(path, (*leaves)[path]));
    leaves->erase(path);
    (*leaves)[inner] = MakeFile(store_, inner, next_seed_++);
    expected->push_back(Added(inner, (*leaves)[inner]));
  }

  PackStore& store_;
  std::mt19937_64 rng_;
  uint64_t next_seed_ = 1;
  std::set<std::string> touched_;
};

TEST_F(TreeDiffTest, RandomChangeSetsComeBackExactly) {
  size_t total_changes = 0;
  for (uint64_t trial = 0; trial < 300; ++trial) {
    ChangeSetGenerator generator(*store_, trial);
    LeafMap leaves = generator.RandomTree();
    const ObjectId before = WriteLeaves(*store_, leaves);
    const std::vector<TreeChange> expected =
        generator.ApplyRandomChanges(&leaves, 1 + static_cast<int>(trial % 12));
    const ObjectId after = WriteLeaves(*store_, leaves);
    ASSERT_EQ(ReadLeaves(*store_, after), leaves) << "trial " << trial;
    const std::vector<TreeChange> actual = Diff(before, after);
    ASSERT_EQ(actual, expected) << "trial " << trial << "\nexpected:\n"
                                << Describe(expected) << "actual:\n"
                                << Describe(actual);
    total_changes += expected.size();
  }
  // The generator must actually exercise the diff, not produce empty change sets.
  EXPECT_GT(total_changes, 900u);
}

}  // namespace
}  // namespace paddock::storage
