#include "storage/tree_loader.h"

#include <string>

namespace paddock::storage {
namespace {

std::string Where(std::string_view path) {
  return path.empty() ? std::string("the root") : "'" + std::string(path) + "'";
}

}  // namespace

Result<Tree> TreeLoader::ReadTree(const ObjectId& id, std::string_view path) const {
  if (IsEmptyTree(id)) return Tree{};
  Result<StoredObject> object = store_.Get(id);
  if (!object.ok()) {
    return object.status().WithContext("tree " + id.ToHex() + " at " + Where(path));
  }
  Result<Tree> tree = DecodeTree(object->data);
  if (!tree.ok()) {
    return Status::Internal("tree " + id.ToHex() + " at " + Where(path) +
                            " is not a valid tree: " + tree.status().message());
  }
  return tree;
}

Result<Commit> TreeLoader::ReadCommit(const ObjectId& id) const {
  Result<StoredObject> object = store_.Get(id);
  if (!object.ok()) return object.status().WithContext("commit " + id.ToHex());
  Result<Commit> commit = DecodeCommit(object->data);
  if (!commit.ok()) {
    return Status::Internal("commit " + id.ToHex() +
                            " is not a valid commit: " + commit.status().message());
  }
  return commit;
}

const ObjectId& TreeLoader::EmptyTreeId() {
  static const ObjectId kEmptyTree = ObjectId::Hash(*EncodeTree(Tree{}));
  return kEmptyTree;
}

bool TreeLoader::IsEmptyTree(const ObjectId& id) { return id == ObjectId() || id == EmptyTreeId(); }

}  // namespace paddock::storage
