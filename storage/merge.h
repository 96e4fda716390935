// Three-way merge of trees, and revert, at file level.
//
// MergeTrees combines the changes that `ours` and `theirs` each made relative to `base`. It
// decides path by path, reading only subtrees whose ids differ:
//   - a path that only one side changed takes that side's version (a deletion included);
//   - a path both sides changed identically (same entry, or both deleted) is not a conflict;
//   - a regular file (file or executable) whose mode one side changed and whose contents the
//     other side changed takes both changes;
//   - directories on both sides (or a directory against a deletion) merge recursively; a
//     directory that one side deleted and the merge leaves empty stays deleted;
//   - anything else is a conflict (see ConflictKind).
// There is no rename detection and no merging inside files: a file edited on both sides is a
// conflict even when the edits are in different places.
//
// Writes: when there is no conflict, the merged tree and the new subtrees under it are written
// with PackStore::Put and not flushed (the caller flushes, typically together with the commit
// that uses the tree). When there is any conflict, nothing at all is written.
//
// A null id (ObjectId()) stands for the empty tree wherever a tree id is taken. Errors (the
// Result's status): kNotFound when a tree or commit that must be read is absent, kInternal when
// one is corrupt, and PackStore::Put's errors. Thread-safe as PackStore is; concurrent merges
// into one store are fine.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/object_id.h"
#include "storage/objects.h"
#include "storage/pack_store.h"

namespace paddock::storage {

enum class ConflictKind {
  kBothModified,   // both sides changed an existing leaf, differently
  kModifyDelete,   // one side deleted what the other changed
  kAddAdd,         // both sides added a leaf at a new path, differently
  kFileDirectory,  // one side has a directory where the other has a file or symlink
};
// "both_modified", "modify_delete", "add_add", "file_directory".
std::string_view ConflictKindName(ConflictKind kind);

struct MergeConflict {
  std::string path;  // '/'-separated, relative to the root
  ConflictKind kind = ConflictKind::kBothModified;
  // The entry at `path` in each tree, absent where the path does not exist.
  std::optional<TreeEntry> base, ours, theirs;
  friend bool operator==(const MergeConflict&, const MergeConflict&) = default;
};

struct MergeResult {
  // The merged tree, written to the store; meaningful only when `conflicts` is empty.
  ObjectId tree;
  // Sorted by path; empty for a clean merge.
  std::vector<MergeConflict> conflicts;
  bool clean() const { return conflicts.empty(); }
};

Result<MergeResult> MergeTrees(PackStore& store, const ObjectId& base, const ObjectId& ours,
                               const ObjectId& theirs);

// The tree `onto` with commit `commit`'s changes (relative to its first parent, or to the empty
// tree for a root commit) undone: MergeTrees(base = the commit's tree, ours = onto, theirs = the
// parent's tree). Conflicts are where `onto` changed what the commit changed. Reads the commit
// and its first parent from the store (kNotFound when absent).
Result<MergeResult> Revert(PackStore& store, const ObjectId& commit, const ObjectId& onto);

}  // namespace paddock::storage
