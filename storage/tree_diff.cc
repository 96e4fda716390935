#include "storage/tree_diff.h"

#include <algorithm>
#include <map>
#include <utility>

#include "storage/tree_loader.h"

namespace paddock::storage {
namespace {

std::string JoinPath(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  std::string path(prefix);
  path += '/';
  path += name;
  return path;
}

bool IsRegular(EntryKind kind) {
  return kind == EntryKind::kFile || kind == EntryKind::kExecutable;
}

// Leaves whose types differ are a type change; regular files of either mode are one type.
int TypeClass(EntryKind kind) { return IsRegular(kind) ? 0 : static_cast<int>(kind); }

// A leaf is anything but a directory with entries.
bool IsLeaf(const TreeEntry& entry) {
  return entry.kind != EntryKind::kDirectory || TreeLoader::IsEmptyTree(entry.id);
}

// Walks two trees in step and collects the leaf changes (renames are paired afterwards).
class TreeDiffer {
 public:
  explicit TreeDiffer(const PackStore& store) : loader_(store) {}

  Status DiffTrees(const std::string& prefix, const ObjectId& old_id, const ObjectId& new_id) {
    if (old_id == new_id) return Status::Ok();
    Result<Tree> old_tree = loader_.ReadTree(old_id, prefix);
    if (!old_tree.ok()) return old_tree.status();
    Result<Tree> new_tree = loader_.ReadTree(new_id, prefix);
    if (!new_tree.ok()) return new_tree.status();
    // Both entry lists are sorted by name: walk them like a merge.
    const std::vector<TreeEntry>& olds = old_tree->entries;
    const std::vector<TreeEntry>& news = new_tree->entries;
    size_t i = 0, j = 0;
    while (i < olds.size() || j < news.size()) {
      const TreeEntry* old_entry = i < olds.size() ? &olds[i] : nullptr;
      const TreeEntry* new_entry = j < news.size() ? &news[j] : nullptr;
      if (old_entry != nullptr && new_entry != nullptr) {
        if (old_entry->name < new_entry->name) new_entry = nullptr;
        if (new_entry != nullptr && new_entry->name < old_entry->name) old_entry = nullptr;
      }
      if (old_entry != nullptr) ++i;
      if (new_entry != nullptr) ++j;
      const std::string& name = old_entry != nullptr ? old_entry->name : new_entry->name;
      PADDOCK_RETURN_IF_ERROR(DiffEntries(JoinPath(prefix, name), old_entry, new_entry));
    }
    return Status::Ok();
  }

  std::vector<TreeChange> TakeChanges() { return std::move(changes_); }

 private:
  // The entries named `path` in the old and new tree; either may be absent, not both.
  Status DiffEntries(const std::string& path, const TreeEntry* old_entry,
                     const TreeEntry* new_entry) {
    if (old_entry != nullptr && new_entry != nullptr) {
      if (*old_entry == *new_entry) return Status::Ok();
      if (IsLeaf(*old_entry) && IsLeaf(*new_entry)) {
        const bool same_type = TypeClass(old_entry->kind) == TypeClass(new_entry->kind);
        Emit(same_type ? ChangeKind::kModified : ChangeKind::kTypeChanged, path, old_entry,
             new_entry);
        return Status::Ok();
      }
      if (!IsLeaf(*old_entry) && !IsLeaf(*new_entry)) {
        return DiffTrees(path, old_entry->id, new_entry->id);
      }
    }
    // One side is missing, or a leaf faces a directory with entries: nothing pairs up.
    if (old_entry != nullptr) PADDOCK_RETURN_IF_ERROR(EmitLeaves(path, *old_entry, false));
    if (new_entry != nullptr) PADDOCK_RETURN_IF_ERROR(EmitLeaves(path, *new_entry, true));
    return Status::Ok();
  }

  // Reports every leaf at or under `path` as added (or deleted).
  Status EmitLeaves(const std::string& path, const TreeEntry& entry, bool added) {
    if (IsLeaf(entry)) {
      Emit(added ? ChangeKind::kAdded : ChangeKind::kDeleted, path, added ? nullptr : &entry,
           added ? &entry : nullptr);
      return Status::Ok();
    }
    Result<Tree> tree = loader_.ReadTree(entry.id, path);
    if (!tree.ok()) return tree.status();
    for (const TreeEntry& child : tree->entries) {
      PADDOCK_RETURN_IF_ERROR(EmitLeaves(JoinPath(path, child.name), child, added));
    }
    return Status::Ok();
  }

  void Emit(ChangeKind kind, const std::string& path, const TreeEntry* old_entry,
            const TreeEntry* new_entry) {
    TreeChange change;
    change.kind = kind;
    change.path = path;
    if (old_entry != nullptr) change.old_entry = *old_entry;
    if (new_entry != nullptr) change.new_entry = *new_entry;
    changes_.push_back(std::move(change));
  }

  TreeLoader loader_;
  std::vector<TreeChange> changes_;
};

// Turns pairs of a deletion and an addition of the same non-empty file into renames. `changes`
// is sorted by path, so pairing in list order pairs in path order.
void PairRenames(std::vector<TreeChange>* changes) {
  using Key = std::pair<EntryKind, ObjectId>;
  std::map<Key, std::vector<size_t>> deleted;
  for (size_t i = 0; i < changes->size(); ++i) {
    const TreeChange& c = (*changes)[i];
    if (c.kind == ChangeKind::kDeleted && IsRegular(c.old_entry->kind) &&
        c.old_entry->id != EmptyFileId()) {
      deleted[{c.old_entry->kind, c.old_entry->id}].push_back(i);
    }
  }
  std::map<Key, size_t> used;  // how many deletions of each key are paired already
  std::vector<bool> consumed(changes->size(), false);
  for (TreeChange& c : *changes) {
    if (c.kind != ChangeKind::kAdded || !IsRegular(c.new_entry->kind)) continue;
    const Key key{c.new_entry->kind, c.new_entry->id};
    auto it = deleted.find(key);
    if (it == deleted.end() || used[key] == it->second.size()) continue;
    const size_t source = it->second[used[key]++];
    c.kind = ChangeKind::kRenamed;
    c.old_path = (*changes)[source].path;
    c.old_entry = (*changes)[source].old_entry;
    consumed[source] = true;
  }
  size_t kept = 0;
  for (size_t i = 0; i < changes->size(); ++i) {
    if (consumed[i]) continue;
    if (kept != i) (*changes)[kept] = std::move((*changes)[i]);  // never self-move
    ++kept;
  }
  changes->resize(kept);
}

}  // namespace

std::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded:
      return "added";
    case ChangeKind::kModified:
      return "modified";
    case ChangeKind::kDeleted:
      return "deleted";
    case ChangeKind::kRenamed:
      return "renamed";
    case ChangeKind::kTypeChanged:
      return "type_changed";
  }
  return "unknown";
}

Result<std::vector<TreeChange>> DiffTrees(const PackStore& store, const ObjectId& old_tree,
                                          const ObjectId& new_tree) {
  TreeDiffer differ(store);
  // A null id and the empty tree's id are the same empty directory.
  const ObjectId& old_id = TreeLoader::IsEmptyTree(old_tree) ? ObjectId() : old_tree;
  const ObjectId& new_id = TreeLoader::IsEmptyTree(new_tree) ? ObjectId() : new_tree;
  PADDOCK_RETURN_IF_ERROR(differ.DiffTrees("", old_id, new_id));
  std::vector<TreeChange> changes = differ.TakeChanges();
  // Tree order is by name, which is not path order ("a.b" < "a/x" but "a" < "a.b").
  auto by_path = [](const TreeChange& a, const TreeChange& b) { return a.path < b.path; };
  std::sort(changes.begin(), changes.end(), by_path);
  PairRenames(&changes);
  return changes;
}

}  // namespace paddock::storage
