// Paths inside a stored tree: looking an entry up by its path and listing directories, for the
// read side of the store facade (store.h: List, Stat, Cat).
//
// A path is '/'-separated and relative to the tree's root: "" (or "/") is the root, a leading or
// trailing '/' is ignored, and an empty, "." or ".." component is kInvalidArgument (a stored name
// can be neither, so such a path could only be a mistake). Names are compared as bytes.
//
// Thread-safety: pure functions over a TreeLoader; as thread-safe as the PackStore under it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/object_id.h"
#include "storage/objects.h"
#include "storage/tree_loader.h"

namespace paddock::storage {

// One entry of a tree listing.
struct ListEntry {
  std::string path;  // relative to the tree's root, '/'-separated
  TreeEntry entry;
  friend bool operator==(const ListEntry&, const ListEntry&) = default;
};

// The components of `path`; empty for the root.
Result<std::vector<std::string>> SplitTreePath(std::string_view path);

// The entry at `path` below the root tree `root`. The root itself is a kDirectory entry named ""
// with id `root`. kNotFound (naming the path) when a component is missing or a non-directory is
// in the way; TreeLoader's errors for trees that cannot be read.
Result<TreeEntry> LookupTreePath(const TreeLoader& loader, const ObjectId& root,
                                 std::string_view path);

// The entries of directory `tree`, found at `path` (canonical: no leading or trailing '/'; "" for
// the root), with paths relative to the root, sorted bytewise by path. With `recursive`, every
// leaf below instead: files, symlinks and empty directories. The walk keeps its own stack, so
// depth is not limited by the thread's stack.
Result<std::vector<ListEntry>> ListTreeDirectory(const TreeLoader& loader, const ObjectId& tree,
                                                 const std::string& path, bool recursive);

// "a/b" from {"a", "b"}: the canonical form of a split path.
std::string JoinTreePath(const std::vector<std::string>& components);

}  // namespace paddock::storage
