// Helpers for the tree diff and merge tests: describe a tree as a map from leaf path to entry,
// write it into a PackStore as nested tree objects, and read a stored tree back the same way.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "storage/objects.h"
#include "storage/pack_store.h"
#include "storage/tree_loader.h"

namespace paddock::storage::testing {

// Leaf path ('/'-separated) -> entry. Directories with entries are implied by the paths; an
// empty directory is a kDirectory leaf. An entry's `name` is the path's last component.
using LeafMap = std::map<std::string, TreeEntry>;

inline std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A file entry whose (fake) file object lists `chunks` random chunk ids; the file object is
// stored, the chunks are not (diff and merge never read them). `chunks` 0 is the empty file.
inline TreeEntry MakeFile(PackStore& store, const std::string& path, uint64_t seed,
                          EntryKind kind = EntryKind::kFile, int chunks = 2) {
  std::mt19937_64 rng(seed);
  FileObject file;
  for (int i = 0; i < chunks; ++i) {
    file.chunks.push_back({ObjectId::Hash(std::to_string(rng())), 1 + uint32_t(rng() % 65536)});
  }
  Result<std::string> bytes = EncodeFile(file);
  EXPECT_TRUE(bytes.ok());
  Result<PutResult> put = store.Put(ObjectType::kFile, *bytes);
  EXPECT_TRUE(put.ok()) << put.status().ToString();
  return TreeEntry{BaseName(path), kind, put->id, file.size(), ""};
}

inline TreeEntry MakeSymlink(const std::string& path, const std::string& target) {
  return TreeEntry{BaseName(path), EntryKind::kSymlink, ObjectId(), 0, target};
}

inline TreeEntry MakeEmptyDirectory(const std::string& path) {
  return TreeEntry{BaseName(path), EntryKind::kDirectory, TreeLoader::EmptyTreeId(), 0, ""};
}

// Writes the tree that `leaves` describe (prefix "" is the root) and returns its id.
inline ObjectId WriteLeaves(PackStore& store, const LeafMap& leaves) {
  std::map<std::string, LeafMap> children;  // first component -> leaves below it
  Tree tree;
  for (const auto& [path, entry] : leaves) {
    const size_t slash = path.find('/');
    if (slash == std::string::npos) {
      tree.entries.push_back(entry);
    } else {
      children[path.substr(0, slash)][path.substr(slash + 1)] = entry;
    }
  }
  for (const auto& [name, below] : children) {
    tree.entries.push_back({name, EntryKind::kDirectory, WriteLeaves(store, below), 0, ""});
  }
  Result<std::string> bytes = EncodeTree(tree);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<PutResult> put = store.Put(ObjectType::kTree, *bytes);
  EXPECT_TRUE(put.ok()) << put.status().ToString();
  return put->id;
}

// The leaves of the stored tree `id`.
inline LeafMap ReadLeaves(const PackStore& store, const ObjectId& id,
                          const std::string& prefix = "") {
  LeafMap leaves;
  Result<Tree> tree = TreeLoader(store).ReadTree(id, prefix);
  EXPECT_TRUE(tree.ok()) << tree.status().ToString();
  if (!tree.ok()) return leaves;
  for (const TreeEntry& entry : tree->entries) {
    const std::string path = prefix.empty() ? entry.name : prefix + "/" + entry.name;
    if (entry.kind == EntryKind::kDirectory && !TreeLoader::IsEmptyTree(entry.id)) {
      leaves.merge(ReadLeaves(store, entry.id, path));
    } else {
      leaves[path] = entry;
    }
  }
  return leaves;
}

}  // namespace paddock::storage::testing
