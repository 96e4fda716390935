#include "storage/merge.h"

#include <algorithm>
#include <array>
#include <map>

#include "storage/tree_loader.h"

namespace paddock::storage {
namespace {

enum Side { kBase = 0, kOurs = 1, kTheirs = 2 };
using Entries = std::array<const TreeEntry*, 3>;

std::string JoinPath(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  std::string path(prefix);
  path += '/';
  path += name;
  return path;
}

bool SameEntry(const TreeEntry* a, const TreeEntry* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return *a == *b;
}

bool IsDirectory(const TreeEntry* e) { return e != nullptr && e->kind == EntryKind::kDirectory; }
bool IsRegular(const TreeEntry* e) {
  return e != nullptr && (e->kind == EntryKind::kFile || e->kind == EntryKind::kExecutable);
}
// A file or symlink: something that cannot be merged by recursing.
bool IsLeafEntry(const TreeEntry* e) { return e != nullptr && !IsDirectory(e); }

std::optional<TreeEntry> Copy(const TreeEntry* e) {
  return e != nullptr ? std::optional<TreeEntry>(*e) : std::nullopt;
}

// The three-way rule for one value: take the side that changed, or fail when both changed it
// differently.
template <typename T>
std::optional<T> MergeValue(const T& base, const T& ours, const T& theirs) {
  if (ours == theirs || theirs == base) return ours;
  if (ours == base) return theirs;
  return std::nullopt;
}

// Three regular files: mode and contents merge independently, so that a chmod on one side and an
// edit on the other both survive.
std::optional<TreeEntry> MergeRegularFiles(const TreeEntry& base, const TreeEntry& ours,
                                           const TreeEntry& theirs) {
  std::optional<EntryKind> kind = MergeValue(base.kind, ours.kind, theirs.kind);
  auto content = [](const TreeEntry& e) { return std::make_pair(e.id, e.size); };
  auto merged_content = MergeValue(content(base), content(ours), content(theirs));
  if (!kind || !merged_content) return std::nullopt;
  TreeEntry merged = ours;
  merged.kind = *kind;
  merged.id = merged_content->first;
  merged.size = merged_content->second;
  return merged;
}

ConflictKind ClassifyConflict(const Entries& e) {
  if (e[kOurs] == nullptr || e[kTheirs] == nullptr) return ConflictKind::kModifyDelete;
  if (IsDirectory(e[kOurs]) != IsDirectory(e[kTheirs])) return ConflictKind::kFileDirectory;
  if (e[kBase] == nullptr) return ConflictKind::kAddAdd;
  return ConflictKind::kBothModified;
}

// Merges directory levels, collecting conflicts and the encodings of new trees, which are
// written only once the whole merge turned out clean.
class TreeMerger {
 public:
  explicit TreeMerger(const PackStore& store) : loader_(store) {}

  // The merged contents of the directory at `path` (possibly no entries); conflicts found below
  // it are collected, not returned.
  Result<Tree> MergeDirectories(const std::string& path, const std::array<ObjectId, 3>& ids) {
    std::map<std::string, Entries> by_name;
    std::array<Tree, 3> trees;
    for (int side : {kBase, kOurs, kTheirs}) {
      Result<Tree> tree = loader_.ReadTree(ids[side], path);
      if (!tree.ok()) return tree.status();
      trees[side] = std::move(*tree);
      for (const TreeEntry& entry : trees[side].entries) by_name[entry.name][side] = &entry;
    }
    Tree merged;
    for (const auto& [name, entries] : by_name) {
      Result<std::optional<TreeEntry>> entry = MergeEntry(JoinPath(path, name), entries);
      if (!entry.ok()) return entry.status();
      if (entry->has_value()) merged.entries.push_back(std::move(**entry));
    }
    return merged;
  }

  // Encodes `tree`, remembers it for writing, and returns its id.
  Result<ObjectId> AddTree(const Tree& tree) {
    Result<std::string> encoded = EncodeTree(tree);
    if (!encoded.ok()) return encoded.status();
    const ObjectId id = ObjectId::Hash(*encoded);
    new_trees_.push_back(std::move(*encoded));
    return id;
  }

  std::vector<MergeConflict>& conflicts() { return conflicts_; }
  const std::vector<std::string>& new_trees() const { return new_trees_; }

 private:
  Result<std::optional<TreeEntry>> MergeEntry(const std::string& path, const Entries& e) {
    // Equal entries (equal ids) decide without reading anything below them.
    if (SameEntry(e[kOurs], e[kTheirs]) || SameEntry(e[kTheirs], e[kBase])) return Copy(e[kOurs]);
    if (SameEntry(e[kOurs], e[kBase])) return Copy(e[kTheirs]);
    if (!IsLeafEntry(e[kOurs]) && !IsLeafEntry(e[kTheirs])) return MergeSubdirectory(path, e);
    if (IsRegular(e[kBase]) && IsRegular(e[kOurs]) && IsRegular(e[kTheirs])) {
      std::optional<TreeEntry> merged = MergeRegularFiles(*e[kBase], *e[kOurs], *e[kTheirs]);
      if (merged) return merged;
    }
    conflicts_.push_back(
        MergeConflict{path, ClassifyConflict(e), Copy(e[kBase]), Copy(e[kOurs]), Copy(e[kTheirs])});
    return std::optional<TreeEntry>();
  }

  // Both sides have a directory here, or one has and the other deleted it: merge what is inside.
  // A side without a directory counts as an empty one.
  Result<std::optional<TreeEntry>> MergeSubdirectory(const std::string& path, const Entries& e) {
    std::array<ObjectId, 3> ids;
    for (int side : {kBase, kOurs, kTheirs}) {
      if (IsDirectory(e[side])) ids[side] = e[side]->id;
    }
    Result<Tree> merged = MergeDirectories(path, ids);
    if (!merged.ok()) return merged.status();
    const bool deleted_by_one_side = e[kOurs] == nullptr || e[kTheirs] == nullptr;
    if (merged->entries.empty() && deleted_by_one_side) return std::optional<TreeEntry>();
    Result<ObjectId> id = AddTree(*merged);
    if (!id.ok()) return id.status();
    const TreeEntry* present = e[kOurs] != nullptr ? e[kOurs] : e[kTheirs];
    TreeEntry entry;
    entry.name = present->name;
    entry.kind = EntryKind::kDirectory;
    entry.id = *id;
    return std::optional<TreeEntry>(std::move(entry));
  }

  TreeLoader loader_;
  std::vector<MergeConflict> conflicts_;
  std::vector<std::string> new_trees_;
};

}  // namespace

std::string_view ConflictKindName(ConflictKind kind) {
  switch (kind) {
    case ConflictKind::kBothModified:
      return "both_modified";
    case ConflictKind::kModifyDelete:
      return "modify_delete";
    case ConflictKind::kAddAdd:
      return "add_add";
    case ConflictKind::kFileDirectory:
      return "file_directory";
  }
  return "unknown";
}

Result<MergeResult> MergeTrees(PackStore& store, const ObjectId& base, const ObjectId& ours,
                               const ObjectId& theirs) {
  TreeMerger merger(store);
  Result<Tree> root = merger.MergeDirectories("", {base, ours, theirs});
  if (!root.ok()) return root.status();
  MergeResult result;
  if (!merger.conflicts().empty()) {
    result.conflicts = std::move(merger.conflicts());
    std::sort(result.conflicts.begin(), result.conflicts.end(),
              [](const MergeConflict& a, const MergeConflict& b) { return a.path < b.path; });
    return result;
  }
  Result<ObjectId> root_id = merger.AddTree(*root);
  if (!root_id.ok()) return root_id.status();
  for (const std::string& tree : merger.new_trees()) {
    Result<PutResult> put = store.Put(ObjectType::kTree, tree);
    if (!put.ok()) return put.status().WithContext("writing the merged tree");
  }
  result.tree = *root_id;
  return result;
}

Result<MergeResult> Revert(PackStore& store, const ObjectId& commit, const ObjectId& onto) {
  TreeLoader loader(store);
  Result<Commit> reverted = loader.ReadCommit(commit);
  if (!reverted.ok()) return reverted.status();
  ObjectId parent_tree;  // a root commit is reverted to the empty tree
  if (!reverted->parents.empty()) {
    Result<Commit> parent = loader.ReadCommit(reverted->parents.front());
    if (!parent.ok()) return parent.status();
    parent_tree = parent->tree;
  }
  return MergeTrees(store, reverted->tree, onto, parent_tree);
}

}  // namespace paddock::storage
