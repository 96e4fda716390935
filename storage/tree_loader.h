// TreeLoader: reads trees and commits back from a PackStore, for code that walks histories
// (tree diff, merge, revert).
//
// A null id (ObjectId(), all zero bytes) stands for the empty tree, so callers can diff or merge
// against "no tree" (a root commit's parent, unrelated histories) without storing anything.
// Objects are validated by decoding (the pack's type byte is only a hint): bytes that do not
// decode as the expected object fail with kInternal, naming the object and where it was met.
//
// Thread-safety: as the PackStore's const methods (safe from any thread). The store must
// outlive the loader.
#pragma once

#include <string_view>

#include "base/status.h"
#include "storage/object_id.h"
#include "storage/objects.h"
#include "storage/pack_store.h"

namespace paddock::storage {

class TreeLoader {
 public:
  explicit TreeLoader(const PackStore& store) : store_(store) {}

  // The tree `id` (empty for a null id). `path` says where it was met ("" for a root), for
  // messages. kNotFound when the object is absent, kInternal when it is not a valid tree.
  Result<Tree> ReadTree(const ObjectId& id, std::string_view path) const;
  // kNotFound when absent, kInternal when not a valid commit.
  Result<Commit> ReadCommit(const ObjectId& id) const;

  // The id of the tree with no entries.
  static const ObjectId& EmptyTreeId();
  // True for a null id and for EmptyTreeId(): both are a directory with nothing in it.
  static bool IsEmptyTree(const ObjectId& id);

 private:
  const PackStore& store_;
};

}  // namespace paddock::storage
