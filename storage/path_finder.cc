#include "storage/path_finder.h"

#include <utility>

namespace paddock::storage {
namespace {

// Commits are named by the first 12 hex digits, as people quote them; the full id of the
// damaged object is in the problem itself.
std::string CommitLabel(const ObjectId& commit) { return "commit " + commit.ToHex().substr(0, 12); }

bool IsFileEntry(const TreeEntry& e) {
  return e.kind == EntryKind::kFile || e.kind == EntryKind::kExecutable;
}

}  // namespace

PathFinder::PathFinder(const PackStore& store, const std::vector<ObjectId>& targets,
                       size_t max_paths)
    : store_(store), max_paths_(max_paths) {
  for (const ObjectId& id : targets) found_.try_emplace(id);
  if (max_paths_ == 0) saturated_ = found_.size();
}

const PathFinder::Found& PathFinder::PathsOf(const ObjectId& target) const {
  static const Found kNone;
  const auto it = found_.find(target);
  return it == found_.end() ? kNone : it->second;
}

void PathFinder::Add(const ObjectId& target, std::string path) {
  Found& f = found_.at(target);
  if (f.paths.size() >= max_paths_) {
    f.truncated = true;
    return;
  }
  f.paths.push_back(std::move(path));
  if (f.paths.size() == max_paths_) ++saturated_;
}

void PathFinder::SearchCommit(const ObjectId& commit) {
  const std::string label = CommitLabel(commit);
  if (IsTarget(commit)) Add(commit, label);
  Result<StoredObject> object = store_.Get(commit);
  if (!object.ok()) return;
  Result<Commit> decoded = DecodeCommit(object->data);
  if (!decoded.ok()) return;
  if (IsTarget(decoded->tree)) Add(decoded->tree, label + ": /");
  if (TreeLeadsToTarget(decoded->tree, 0)) Walk(decoded->tree, label + ": ", "", 0);
}

void PathFinder::Walk(const ObjectId& tree, const std::string& prefix, const std::string& path,
                      int depth) {
  Result<StoredObject> object = store_.Get(tree);
  if (!object.ok()) return;
  Result<Tree> decoded = DecodeTree(object->data);
  if (!decoded.ok()) return;
  for (const TreeEntry& e : decoded->entries) {
    if (e.kind == EntryKind::kSymlink) continue;
    const bool directory = e.kind == EntryKind::kDirectory;
    const std::string entry_path = path + e.name + (directory ? "/" : "");
    if (IsTarget(e.id)) Add(e.id, prefix + entry_path);
    if (IsFileEntry(e)) {
      for (const ObjectId& chunk : TargetChunks(e.id)) Add(chunk, prefix + entry_path);
    } else if (TreeLeadsToTarget(e.id, depth + 1)) {
      Walk(e.id, prefix, entry_path, depth + 1);
    }
  }
}

bool PathFinder::TreeLeadsToTarget(const ObjectId& tree, int depth) {
  if (depth > kMaxDepth) return false;
  if (const auto it = tree_leads_.find(tree); it != tree_leads_.end()) return it->second;
  bool leads = false;
  Result<StoredObject> object = store_.Get(tree);
  Result<Tree> decoded = object.ok() ? DecodeTree(object->data) : Result<Tree>(object.status());
  if (decoded.ok()) {
    for (const TreeEntry& e : decoded->entries) {
      if (e.kind == EntryKind::kSymlink) continue;
      leads = IsTarget(e.id) ||
              (IsFileEntry(e) ? !TargetChunks(e.id).empty() : TreeLeadsToTarget(e.id, depth + 1));
      if (leads) break;
    }
  }
  tree_leads_[tree] = leads;
  return leads;
}

const std::vector<ObjectId>& PathFinder::TargetChunks(const ObjectId& file) {
  if (const auto it = file_targets_.find(file); it != file_targets_.end()) return it->second;
  std::vector<ObjectId> chunks;
  Result<StoredObject> object = store_.Get(file);
  if (object.ok()) {
    Result<FileObject> decoded = DecodeFile(object->data);
    if (decoded.ok()) {
      for (const ChunkRef& c : decoded->chunks) {
        if (IsTarget(c.id)) chunks.push_back(c.id);
      }
    }
  }
  return file_targets_[file] = std::move(chunks);
}

}  // namespace paddock::storage
