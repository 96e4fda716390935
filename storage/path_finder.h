// PathFinder: where given objects are used, as paths people recognise, for fsck's report:
//   "commit 0123456789ab"                    the object is that commit
//   "commit 0123456789ab: /"                 the commit's root tree
//   "commit 0123456789ab: data/train/"       a directory's tree
//   "commit 0123456789ab: data/train/x.csv"  a file, or one of its chunks
//
// Only subtrees that lead to a target are walked; whether a tree or file leads to one is
// computed once per object and remembered, so many commits sharing the same damaged file cost
// little. At most `max_paths` are kept per target; the others are counted as truncated.
// Objects that cannot be read are not descended into (they are fsck's problems themselves).
//
// Thread-safety: one search per object; reads the store concurrently with other users of it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/object_id.h"
#include "storage/objects.h"
#include "storage/pack_store.h"
#include "storage/reachability.h"

namespace paddock::storage {

class PathFinder {
 public:
  struct Found {
    std::vector<std::string> paths;
    bool truncated = false;  // more paths exist than max_paths
  };

  // `store` must outlive this object.
  PathFinder(const PackStore& store, const std::vector<ObjectId>& targets, size_t max_paths);
  PathFinder(const PathFinder&) = delete;
  PathFinder& operator=(const PathFinder&) = delete;

  // Records the paths of targets within `commit` (not its parents: pass each commit).
  void SearchCommit(const ObjectId& commit);
  // True once every target has max_paths paths: further searching cannot add any.
  bool Done() const { return saturated_ == found_.size(); }
  // The paths found for `target` (empty for an id that is not a target).
  const Found& PathsOf(const ObjectId& target) const;

 private:
  // Deeper trees than this are not walked: no file system nests so deep, and the walk recurses.
  static constexpr int kMaxDepth = 2048;

  void Walk(const ObjectId& tree, const std::string& prefix, const std::string& path, int depth);
  bool TreeLeadsToTarget(const ObjectId& tree, int depth);
  // The targets among the file's chunks (empty when none, or when it cannot be read).
  const std::vector<ObjectId>& TargetChunks(const ObjectId& file);
  bool IsTarget(const ObjectId& id) const { return found_.contains(id); }
  void Add(const ObjectId& target, std::string path);

  const PackStore& store_;
  const size_t max_paths_;
  std::unordered_map<ObjectId, Found, ObjectIdHash> found_;
  size_t saturated_ = 0;  // targets with max_paths paths
  std::unordered_map<ObjectId, bool, ObjectIdHash> tree_leads_;
  std::unordered_map<ObjectId, std::vector<ObjectId>, ObjectIdHash> file_targets_;
};

}  // namespace paddock::storage
