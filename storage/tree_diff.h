// Tree diff: what changed between two trees of a PackStore.
//
// A tree is compared as the set of its leaves: the paths of its files, executables, symlinks and
// empty directories (a non-empty directory is only the leaves under it, and appears in no change
// of its own). For every leaf path whose entry differs there is one change:
//
//   kAdded        the path is a leaf only in the new tree
//   kDeleted      the path is a leaf only in the old tree
//   kModified     both are regular files (file or executable) with different contents or mode
//                 (file <-> executable is a modification), or both are symlinks with different
//                 targets
//   kTypeChanged  both are leaves of different types: regular file, symlink, empty directory
//   kRenamed      a deleted and an added regular file of the same kind with the same file id
//                 (exact renames only: a moved file that was also edited is a deletion and an
//                 addition). Empty files never pair (all share one id). When several deleted and
//                 added files share an id, they pair in path order.
//
// So a file replaced by a non-empty directory is a deletion plus additions under it, and an empty
// directory that gains entries is a deletion of the empty directory plus the additions.
//
// Subtrees with equal ids on both sides are skipped without being read (Merkle trees: equal ids,
// equal contents), so the cost is proportional to what changed, not to the size of the trees.
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

enum class ChangeKind { kAdded, kModified, kDeleted, kRenamed, kTypeChanged };
// "added", "modified", "deleted", "renamed", "type_changed".
std::string_view ChangeKindName(ChangeKind kind);

struct TreeChange {
  ChangeKind kind = ChangeKind::kModified;
  // '/'-separated, relative to the root; for a rename the new path.
  std::string path;
  // For kRenamed only: the path the file had in the old tree.
  std::string old_path;
  // The leaf's entry in the old tree (absent for kAdded) and in the new tree (absent for
  // kDeleted); `name` is the last component of its path. An empty directory is a kDirectory
  // entry whose id is the empty tree's.
  std::optional<TreeEntry> old_entry;
  std::optional<TreeEntry> new_entry;
  friend bool operator==(const TreeChange&, const TreeChange&) = default;
};

// The changes from `old_tree` to `new_tree`, sorted by path (bytewise). A null id (ObjectId())
// on either side is the empty tree. Errors: kNotFound when a tree that must be read is absent,
// kInternal when one is corrupt; the message names the tree's id and path. Thread-safe.
Result<std::vector<TreeChange>> DiffTrees(const PackStore& store, const ObjectId& old_tree,
                                          const ObjectId& new_tree);

}  // namespace paddock::storage
