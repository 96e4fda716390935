#include "storage/tree_paths.h"

#include <algorithm>
#include <utility>

namespace paddock::storage {
namespace {

std::string Child(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// The entry named `name` in `tree` (entries are sorted bytewise), or null.
const TreeEntry* FindEntry(const Tree& tree, const std::string& name) {
  const auto it = std::lower_bound(
      tree.entries.begin(), tree.entries.end(), name,
      [](const TreeEntry& e, const std::string& n) { return e.name.compare(n) < 0; });
  return it != tree.entries.end() && it->name == name ? &*it : nullptr;
}

}  // namespace

Result<std::vector<std::string>> SplitTreePath(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string> components;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (part.empty() || part == "." || part == "..") {
      return Status::InvalidArgument("bad path component '" + std::string(part) + "'");
    }
    components.emplace_back(part);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return components;
}

std::string JoinTreePath(const std::vector<std::string>& components) {
  std::string joined;
  for (const std::string& c : components) joined = Child(joined, c);
  return joined;
}

Result<TreeEntry> LookupTreePath(const TreeLoader& loader, const ObjectId& root,
                                 std::string_view path) {
  Result<std::vector<std::string>> components = SplitTreePath(path);
  if (!components.ok()) return components.status();
  TreeEntry current{"", EntryKind::kDirectory, root, 0, ""};
  std::string walked;
  for (const std::string& name : *components) {
    if (current.kind != EntryKind::kDirectory) {
      return Status::NotFound("path " + JoinTreePath(*components) + " not found: " + walked +
                              " is not a directory");
    }
    Result<Tree> tree = loader.ReadTree(current.id, walked);
    if (!tree.ok()) return tree.status();
    walked = Child(walked, name);
    const TreeEntry* found = FindEntry(*tree, name);
    if (found == nullptr) return Status::NotFound("path " + walked + " not found");
    current = *found;
  }
  return current;
}

Result<std::vector<ListEntry>> ListTreeDirectory(const TreeLoader& loader, const ObjectId& tree,
                                                 const std::string& path, bool recursive) {
  std::vector<ListEntry> out;
  std::vector<std::pair<ObjectId, std::string>> pending = {{tree, path}};
  while (!pending.empty()) {
    auto [id, dir] = std::move(pending.back());
    pending.pop_back();
    Result<Tree> read = loader.ReadTree(id, dir);
    if (!read.ok()) return read.status();
    for (TreeEntry& e : read->entries) {
      std::string child = Child(dir, e.name);
      const bool descend =
          recursive && e.kind == EntryKind::kDirectory && !TreeLoader::IsEmptyTree(e.id);
      if (descend) {
        pending.emplace_back(e.id, std::move(child));
      } else {
        out.push_back(ListEntry{std::move(child), std::move(e)});
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ListEntry& a, const ListEntry& b) { return a.path < b.path; });
  return out;
}

}  // namespace paddock::storage
