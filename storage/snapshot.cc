#include "storage/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <mutex>

#include "base/file_util.h"
#include "base/unique_fd.h"
#include "storage/file_io.h"
#include "storage/fs_identity.h"
#include "storage/objects.h"
#include "storage/stat_cache.h"
#include "storage/work_queue.h"

namespace paddock::storage {
namespace {

// Jobs waiting for a reader thread; each holds its directory's fd, so this bounds open fds.
constexpr size_t kMaxQueuedFiles = 64;

using SharedFd = std::shared_ptr<const UniqueFd>;

// One directory being committed. Nodes live in a flat vector owned by the walk (never in each
// other), so neither the walk nor the destruction recurses however deep the tree is.
struct DirNode {
  std::string path;  // relative to the committed directory; "" for it
  DirNode* parent = nullptr;
  size_t index_in_parent = 0;
  std::vector<TreeEntry> entries;
  // Per entry, written by reader threads (each its own slot, so no lock): 1 when the entry is
  // left out (vanished or changed type), and the stat data of a regular file once its id is known.
  std::vector<uint8_t> dropped;
  std::vector<StatCacheEntry> file_stats;
};

struct DirToOpen {
  DirNode* node;
  SharedFd parent_fd;
};

TreeEntry NamedEntry(const std::string& name, EntryKind kind) {
  TreeEntry e;
  e.name = name;
  e.kind = kind;
  return e;
}

std::string JoinRelative(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

std::string_view SpecialFileKind(mode_t mode) {
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  return "special file";
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// The names in directory `fd`, sorted, without "." and "..".
Result<std::vector<std::string>> ListNames(int fd, const std::string& full_path) {
  // fdopendir takes over the fd it is given; a duplicate keeps `fd` usable for openat.
  UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dup) return Status::FromErrno("dup " + full_path);
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(dup.get()));
  if (!d) return Status::FromErrno("opendir " + full_path);
  dup.release();
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return Status::FromErrno("read directory " + full_path);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> ReadSymlink(int dir_fd, const std::string& name, const std::string& full_path) {
  // One byte more than the longest target a tree may hold, to tell "too long" from "fits".
  std::string target(4096, '\0');
  const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
  if (n < 0) return Status::FromErrno("readlink " + full_path);
  target.resize(static_cast<size_t>(n));
  return target;
}

class SnapshotWalk {
 public:
  SnapshotWalk(PackStore* store, std::string root, const SnapshotOptions& options)
      : store_(store), root_(std::move(root)), options_(options) {}

  Result<SnapshotResult> Run();

 private:
  std::string FullPath(const std::string& rel) const { return JoinPath(root_, rel); }
  void Warn(std::string message);

  Status WalkAsIdentity();
  Status Walk(UniqueFd root_fd);
  Status OpenAndRead(const DirToOpen& dir);
  Status ReadDirectory(DirNode* node, SharedFd fd);
  Status AddEntry(DirNode* node, int fd, const std::string& name, std::vector<size_t>* to_read);
  void AddFile(DirNode* node, const std::string& name, const struct stat& st,
               std::vector<size_t>* to_read);
  Status ReadFile(DirNode* node, size_t index, const SharedFd& dir_fd);
  void Drop(DirNode* node, size_t index, std::string_view why);
  Status BuildTrees();
  void WriteStatCache();

  PackStore* const store_;
  const std::string root_;  // absolute
  const SnapshotOptions options_;
  const int64_t start_ns_ = StatCache::StartTimeNow();
  StatCache cache_;

  std::vector<std::unique_ptr<DirNode>> nodes_;  // parents before children
  std::vector<DirToOpen> to_open_;               // depth first: the last one is opened next
  std::unique_ptr<WorkQueue> readers_;
  std::vector<StatCacheEntry> new_cache_;

  std::mutex mu_;  // guards result_.warnings
  SnapshotResult result_;
  std::atomic<uint64_t> files_hashed_{0};
  std::atomic<uint64_t> bytes_stored_{0};
};

void SnapshotWalk::Warn(std::string message) {
  std::lock_guard lock(mu_);
  result_.warnings.push_back(std::move(message));
}

void SnapshotWalk::Drop(DirNode* node, size_t index, std::string_view why) {
  node->dropped[index] = 1;
  Warn("skipped " + JoinRelative(node->path, node->entries[index].name) + ": " + std::string(why));
}

Result<SnapshotResult> SnapshotWalk::Run() {
  if (!options_.stat_cache_dir.empty()) {
    cache_ = StatCache::Load(StatCache::PathFor(options_.stat_cache_dir, root_));
  }
  readers_ = std::make_unique<WorkQueue>(options_.threads, kMaxQueuedFiles);
  Status walked = WalkAsIdentity();
  const Status read = readers_->Wait();  // even after a walk error: jobs use the nodes
  readers_.reset();
  PADDOCK_RETURN_IF_ERROR(walked);
  PADDOCK_RETURN_IF_ERROR(read);
  PADDOCK_RETURN_IF_ERROR(BuildTrees());
  if (!options_.stat_cache_dir.empty()) WriteStatCache();
  result_.files_hashed = files_hashed_.load();
  result_.bytes_stored += bytes_stored_.load();
  return std::move(result_);
}

// The walk only lists, stats and opens host paths (the store is written by the readers and by
// BuildTrees), so this thread keeps the identity for all of it.
Status SnapshotWalk::WalkAsIdentity() {
  ScopedFsIdentity as_identity;
  PADDOCK_RETURN_IF_ERROR(as_identity.Apply(options_.identity));
  UniqueFd root_fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return Status::FromErrno("open " + root_);
  return Walk(std::move(root_fd));
}

Status SnapshotWalk::Walk(UniqueFd root_fd) {
  nodes_.push_back(std::make_unique<DirNode>());
  PADDOCK_RETURN_IF_ERROR(
      ReadDirectory(nodes_.back().get(), std::make_shared<const UniqueFd>(std::move(root_fd))));
  while (!to_open_.empty()) {
    const DirToOpen next = std::move(to_open_.back());
    to_open_.pop_back();
    PADDOCK_RETURN_IF_ERROR(OpenAndRead(next));
    if (readers_->failed()) return Status::Ok();  // Wait() reports the reader's error
  }
  return Status::Ok();
}

Status SnapshotWalk::OpenAndRead(const DirToOpen& dir) {
  DirNode* parent = dir.node->parent;
  const std::string& name = parent->entries[dir.node->index_in_parent].name;
  UniqueFd fd(::openat(dir.parent_fd->get(), name.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
      Drop(parent, dir.node->index_in_parent, "vanished or changed type during the snapshot");
      return Status::Ok();
    }
    return Status::FromErrno("open " + FullPath(dir.node->path));
  }
  return ReadDirectory(dir.node, std::make_shared<const UniqueFd>(std::move(fd)));
}

Status SnapshotWalk::ReadDirectory(DirNode* node, SharedFd fd) {
  Result<std::vector<std::string>> names = ListNames(fd->get(), FullPath(node->path));
  if (!names.ok()) return names.status();
  std::vector<size_t> to_read;
  node->entries.reserve(names->size());
  for (const std::string& name : *names) {
    PADDOCK_RETURN_IF_ERROR(AddEntry(node, fd->get(), name, &to_read));
  }
  // The per-entry slots get their final size before any reader or child refers to them.
  node->dropped.assign(node->entries.size(), 0);
  node->file_stats.resize(node->entries.size());
  for (size_t i : to_read) {
    node->file_stats[i].path = JoinRelative(node->path, node->entries[i].name);
  }
  for (size_t i = 0; i < node->entries.size(); ++i) {
    const TreeEntry& e = node->entries[i];
    if (e.kind != EntryKind::kDirectory) continue;
    auto child = std::make_unique<DirNode>();
    child->path = JoinRelative(node->path, e.name);
    child->parent = node;
    child->index_in_parent = i;
    to_open_.push_back(DirToOpen{child.get(), fd});
    nodes_.push_back(std::move(child));
  }
  for (size_t i : to_read) {
    readers_->Submit([this, node, i, fd] { return ReadFile(node, i, fd); });
  }
  return Status::Ok();
}

Status SnapshotWalk::AddEntry(DirNode* node, int fd, const std::string& name,
                              std::vector<size_t>* to_read) {
  const std::string rel = JoinRelative(node->path, name);
  struct stat st;
  if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      Warn("skipped " + rel + ": vanished during the snapshot");
      return Status::Ok();
    }
    return Status::FromErrno("stat " + FullPath(rel));
  }
  if (S_ISREG(st.st_mode)) {
    AddFile(node, name, st, to_read);
  } else if (S_ISDIR(st.st_mode)) {
    node->entries.push_back(NamedEntry(name, EntryKind::kDirectory));
  } else if (S_ISLNK(st.st_mode)) {
    Result<std::string> target = ReadSymlink(fd, name, FullPath(rel));
    if (!target.ok()) {
      if (target.status().code() != StatusCode::kNotFound) return target.status();
      Warn("skipped " + rel + ": vanished during the snapshot");
      return Status::Ok();
    }
    node->entries.push_back(NamedEntry(name, EntryKind::kSymlink));
    node->entries.back().target = std::move(*target);
  } else {
    Warn("skipped " + rel + ": " + std::string(SpecialFileKind(st.st_mode)));
  }
  return Status::Ok();
}

void SnapshotWalk::AddFile(DirNode* node, const std::string& name, const struct stat& st,
                           std::vector<size_t>* to_read) {
  const std::string rel = JoinRelative(node->path, name);
  const StatCacheEntry now = StatCacheEntryFromStat(rel, st);
  TreeEntry entry = NamedEntry(name, now.kind);
  const StatCacheEntry* known = cache_.FindUnchanged(rel, now);
  // The cache is only a hint: the store may have lost the object (GC, crash before a flush).
  if (known != nullptr && store_->Contains(known->file_id)) {
    entry.id = known->file_id;
    entry.size = known->size;
    new_cache_.push_back(*known);
  } else {
    to_read->push_back(node->entries.size());
  }
  node->entries.push_back(std::move(entry));
}

Status SnapshotWalk::ReadFile(DirNode* node, size_t index, const SharedFd& dir_fd) {
  TreeEntry& entry = node->entries[index];
  StatCacheEntry& stats = node->file_stats[index];
  const std::string full = FullPath(stats.path);
  // Only the open needs the identity: reading an open fd checks nothing, and the store must be
  // written as this thread's own identity.
  ScopedFsIdentity as_identity;
  PADDOCK_RETURN_IF_ERROR(as_identity.Apply(options_.identity));
  // O_NONBLOCK: should the file have been replaced by a FIFO, open must not wait for a writer.
  UniqueFd fd(::openat(dir_fd->get(), entry.name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  as_identity.Restore();  // keeps errno
  if (!fd) {
    if (errno == ENOENT || errno == ELOOP) {
      Drop(node, index, "vanished or changed type during the snapshot");
      return Status::Ok();
    }
    return Status::FromErrno("open " + full);
  }
  // Stat before reading: a change made while reading then shows as a stat mismatch next time.
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("stat " + full);
  if (!S_ISREG(st.st_mode)) {
    Drop(node, index, "changed type during the snapshot");
    return Status::Ok();
  }
  StatCacheEntry opened = StatCacheEntryFromStat(std::move(stats.path), st);
  Result<WrittenFile> written =
      WriteFileObject(store_, fd.get(), ChooseChunkerParams(entry.name, opened.size));
  if (!written.ok()) return written.status().WithContext(full);
  entry.kind = opened.kind;
  entry.id = written->id;
  entry.size = written->size;
  opened.file_id = written->id;
  stats = std::move(opened);
  files_hashed_.fetch_add(1, std::memory_order_relaxed);
  bytes_stored_.fetch_add(written->bytes_stored, std::memory_order_relaxed);
  return Status::Ok();
}

Status SnapshotWalk::BuildTrees() {
  // Children come after their parents in nodes_, so going backwards builds every child tree
  // before the tree that names it.
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    DirNode* node = it->get();
    if (node->parent != nullptr && node->parent->dropped[node->index_in_parent]) continue;
    Tree tree;
    tree.entries.reserve(node->entries.size());
    for (size_t i = 0; i < node->entries.size(); ++i) {
      if (node->dropped[i]) continue;
      TreeEntry& e = node->entries[i];
      if (e.kind == EntryKind::kSymlink) ++result_.symlinks;
      if (e.kind == EntryKind::kFile || e.kind == EntryKind::kExecutable) {
        ++result_.files;
        result_.bytes += e.size;
        if (!node->file_stats[i].path.empty()) new_cache_.push_back(std::move(node->file_stats[i]));
      }
      tree.entries.push_back(std::move(e));
    }
    Result<std::string> encoded = EncodeTree(tree);
    if (!encoded.ok()) return encoded.status().WithContext(FullPath(node->path));
    Result<PutResult> put = store_->Put(ObjectType::kTree, *encoded);
    if (!put.ok()) return put.status();
    result_.bytes_stored += put->stored_length;
    ++result_.directories;
    if (node->parent != nullptr) {
      node->parent->entries[node->index_in_parent].id = put->id;
    } else {
      result_.root = put->id;
    }
    node->entries = {};
    node->file_stats = {};
  }
  return Status::Ok();
}

void SnapshotWalk::WriteStatCache() {
  const std::string path = StatCache::PathFor(options_.stat_cache_dir, root_);
  const Status s = StatCache::Write(path, start_ns_, std::move(new_cache_));
  // Not fatal: the snapshot is complete; the next one just reads more files.
  if (!s.ok()) Warn("stat cache not written: " + s.ToString());
}

// "/a/b/" -> "/a/b": one spelling per directory, so one stat cache per directory.
std::string NormalizeRoot(const std::string& dir) {
  std::string abs = AbsolutePath(dir);
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs;
}

}  // namespace

Result<SnapshotResult> SnapshotDirectory(PackStore* store, const std::string& dir,
                                         const SnapshotOptions& options) {
  if (dir.empty()) return Status::InvalidArgument("no directory to snapshot");
  SnapshotWalk walk(store, NormalizeRoot(dir), options);
  return walk.Run();
}

}  // namespace paddock::storage
