#include "storage/checkout.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <vector>

#include "base/file_util.h"
#include "base/unique_fd.h"
#include "storage/file_io.h"
#include "storage/fs_identity.h"
#include "storage/objects.h"
#include "storage/work_queue.h"

namespace paddock::storage {
namespace {

constexpr size_t kMaxQueuedFiles = 64;
constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::string_view kExecutableSuffix = ".x";
constexpr mode_t kCacheFileMode = 0444;
constexpr mode_t kCacheExecutableMode = 0555;
constexpr mode_t kDirectoryMode = 0755;

using SharedFd = std::shared_ptr<const UniqueFd>;

bool IsExecutable(const TreeEntry& e) { return e.kind == EntryKind::kExecutable; }
bool IsFile(const TreeEntry& e) { return e.kind == EntryKind::kFile || IsExecutable(e); }

mode_t FileMode(bool executable, bool read_only_view) {
  if (read_only_view) return executable ? kCacheExecutableMode : kCacheFileMode;
  return executable ? 0755 : 0644;
}

std::string CacheName(const ObjectId& id, bool executable) {
  return executable ? id.ToHex() + std::string(kExecutableSuffix) : id.ToHex();
}

// errno values by which FICLONE says "not here" (file system, or pair of them, cannot clone)
// rather than "failed".
bool ReflinkUnsupported(int err) {
  return err == EOPNOTSUPP || err == ENOTTY || err == EXDEV || err == ENOSYS || err == EINVAL ||
         err == EBADF;
}

// Copies the rest of `src` into `dst` (both at their current offsets).
Status CopyContents(int src, int dst) {
  bool kernel_copy = true;
  for (;;) {
    if (kernel_copy) {
      const ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, 1u << 30, 0);
      if (n > 0) continue;
      if (n == 0) return Status::Ok();
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
        return Status::FromErrno("copy_file_range");
      }
      kernel_copy = false;  // not between these files: copy through user space
    }
    char buffer[1 << 16];
    const ssize_t n = ::read(src, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read");
    }
    if (n == 0) return Status::Ok();
    PADDOCK_RETURN_IF_ERROR(WriteAll(dst, std::string_view(buffer, static_cast<size_t>(n))));
  }
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (!d) return Status::FromErrno("open directory " + dir);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return Status::FromErrno("read directory " + dir);
  return names;
}

// Creates `target`, or checks that it is an empty directory, and opens it, as `identity`.
Result<UniqueFd> OpenEmptyTarget(const std::string& target, const FsIdentity* identity,
                                 uint64_t* created) {
  ScopedFsIdentity as_identity;
  PADDOCK_RETURN_IF_ERROR(as_identity.Apply(identity));
  if (::mkdir(target.c_str(), kDirectoryMode) == 0) {
    UniqueFd fd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Status::FromErrno("open " + target);
    if (::fchmod(fd.get(), kDirectoryMode) != 0) return Status::FromErrno("chmod " + target);
    ++*created;
    return fd;
  }
  if (errno != EEXIST) return Status::FromErrno("create " + target);
  UniqueFd fd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOTDIR || errno == ELOOP) {
      return Status::FailedPrecondition("checkout target " + target + " is not a directory");
    }
    return Status::FromErrno("open " + target);
  }
  Result<std::vector<std::string>> names = ListNames(target);
  if (!names.ok()) return names.status();
  if (!names->empty()) {
    return Status::FailedPrecondition("checkout target " + target + " is not empty");
  }
  return fd;
}

class CheckoutRun {
 public:
  CheckoutRun(const PackStore& store, const CheckoutOptions& options)
      : store_(store), options_(options) {}

  Result<CheckoutResult> Run(const ObjectId& root, const std::string& target);

 private:
  struct NeededFile {
    uint64_t size = 0;
    bool executable_link = false;  // a read-only view hardlinks an executable to it
  };
  struct DirToCreate {
    SharedFd parent_fd;
    const TreeEntry* entry;  // null for the target itself
    std::string path;
  };

  Status LoadTrees(const ObjectId& root);
  Status FillCache();
  bool CacheHas(const std::string& name, uint64_t size) const;
  Status AddToCache(const ObjectId& id, uint64_t size);
  Status AddExecutableToCache(const ObjectId& id);
  Status PlaceTreeAsIdentity(const ObjectId& root, UniqueFd target_fd, const std::string& target);
  Status PlaceTree(const ObjectId& root, UniqueFd target_fd, const std::string& target);
  Result<SharedFd> CreateDirectory(const DirToCreate& dir);
  Status CreateEntry(const SharedFd& dir_fd, const TreeEntry& e, const std::string& path);
  Status PlaceFile(const SharedFd& dir_fd, const TreeEntry& e, const std::string& path);
  Status OpenCacheFile(const ObjectId& id, UniqueFd* src) const;
  Result<bool> LinkAsIdentity(const UniqueFd& src, int dir_fd, const TreeEntry& e, UniqueFd* dst);
  Result<bool> TryReflink(int src_fd, int dir_fd, const TreeEntry& e, UniqueFd* dst);
  Result<bool> TryHardlink(int dir_fd, const TreeEntry& e);

  const PackStore& store_;
  const CheckoutOptions& options_;
  UniqueFd cache_fd_;
  std::map<ObjectId, Tree> trees_;
  std::map<ObjectId, NeededFile> files_;
  std::unique_ptr<WorkQueue> workers_;
  std::atomic<bool> reflink_possible_{true};
  std::atomic<bool> hardlink_possible_{true};

  CheckoutResult result_;  // counted by the walking thread
  std::atomic<uint64_t> reflinked_{0}, hardlinked_{0}, copied_{0};
  std::atomic<uint64_t> cache_files_added_{0}, cache_bytes_added_{0};
};

Result<CheckoutResult> CheckoutRun::Run(const ObjectId& root, const std::string& target) {
  if (options_.file_cache_dir.empty()) return Status::InvalidArgument("no file cache directory");
  Result<UniqueFd> target_fd = OpenEmptyTarget(target, options_.identity, &result_.directories);
  if (!target_fd.ok()) return target_fd.status();
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(options_.file_cache_dir, 0750));
  cache_fd_.reset(::open(options_.file_cache_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cache_fd_) return Status::FromErrno("open " + options_.file_cache_dir);
  PADDOCK_RETURN_IF_ERROR(LoadTrees(root));
  workers_ = std::make_unique<WorkQueue>(options_.threads, kMaxQueuedFiles);
  PADDOCK_RETURN_IF_ERROR(FillCache());
  Status placed = PlaceTreeAsIdentity(root, std::move(target_fd.value()), target);
  const Status waited = workers_->Wait();
  PADDOCK_RETURN_IF_ERROR(placed);
  PADDOCK_RETURN_IF_ERROR(waited);
  result_.reflinked = reflinked_;
  result_.hardlinked = hardlinked_;
  result_.copied = copied_;
  result_.cache_files_added = cache_files_added_;
  result_.cache_bytes_added = cache_bytes_added_;
  return result_;
}

// Decodes every tree once (equal subtrees share an id) and lists the distinct files needed, so
// that a missing or corrupt object fails the checkout before the cache is filled.
Status CheckoutRun::LoadTrees(const ObjectId& root) {
  std::vector<ObjectId> pending = {root};
  while (!pending.empty()) {
    const ObjectId id = pending.back();
    pending.pop_back();
    if (trees_.contains(id)) continue;
    Result<StoredObject> object = store_.Get(id);
    if (!object.ok()) return object.status();
    Result<Tree> tree = DecodeTree(object->data);
    if (!tree.ok()) {
      return Status(id == root ? StatusCode::kInvalidArgument : StatusCode::kInternal,
                    "object " + id.ToHex() + " is not a tree: " + tree.status().message());
    }
    for (const TreeEntry& e : tree->entries) {
      if (e.kind == EntryKind::kDirectory) pending.push_back(e.id);
      if (!IsFile(e) || e.size == 0) continue;
      NeededFile& need = files_[e.id];
      need.size = e.size;
      if (IsExecutable(e) && options_.read_only_view) need.executable_link = true;
    }
    trees_.emplace(id, std::move(tree.value()));
  }
  return Status::Ok();
}

bool CheckoutRun::CacheHas(const std::string& name, uint64_t size) const {
  struct stat st;
  return ::fstatat(cache_fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == size;
}

Status CheckoutRun::FillCache() {
  for (const auto& [id, need] : files_) {
    if (CacheHas(CacheName(id, false), need.size)) continue;
    workers_->Submit([this, id, size = need.size] { return AddToCache(id, size); });
  }
  PADDOCK_RETURN_IF_ERROR(workers_->Wait());
  // Executable variants are made from the plain cache files, so only once those all exist.
  for (const auto& [id, need] : files_) {
    if (!need.executable_link || CacheHas(CacheName(id, true), need.size)) continue;
    workers_->Submit([this, id] { return AddExecutableToCache(id); });
  }
  return workers_->Wait();
}

// Writes a temporary file in the cache with `fill`, makes it durable and renames it to `name`.
template <typename Fill>
Status WriteCacheFile(int cache_fd, const std::string& cache_dir, const std::string& name,
                      mode_t mode, Fill fill) {
  std::string tmp = JoinPath(cache_dir, std::string(kTempPrefix) + name + "-XXXXXX");
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return Status::FromErrno("create " + tmp);
  Status s = fill(fd.get()).WithContext(tmp);
  if (s.ok() && ::fchmod(fd.get(), mode) != 0) s = Status::FromErrno("chmod " + tmp);
  if (s.ok() && ::fdatasync(fd.get()) != 0) s = Status::FromErrno("fdatasync " + tmp);
  fd.reset();
  const std::string tmp_name = tmp.substr(tmp.find_last_of('/') + 1);
  if (s.ok() && ::renameat(cache_fd, tmp_name.c_str(), cache_fd, name.c_str()) != 0) {
    s = Status::FromErrno("rename " + tmp);
  }
  if (!s.ok()) ::unlinkat(cache_fd, tmp_name.c_str(), 0);
  return s;
}

Status CheckoutRun::AddToCache(const ObjectId& id, uint64_t size) {
  PADDOCK_RETURN_IF_ERROR(WriteCacheFile(
      cache_fd_.get(), options_.file_cache_dir, CacheName(id, false), kCacheFileMode,
      [&](int fd) -> Status {
        PADDOCK_RETURN_IF_ERROR(ReadFileObject(store_, id, fd));
        struct stat st;
        if (::fstat(fd, &st) != 0) return Status::FromErrno("stat");
        if (static_cast<uint64_t>(st.st_size) != size) {
          return Status::Internal("file " + id.ToHex() + " has " + std::to_string(st.st_size) +
                                  " bytes, its tree entry says " + std::to_string(size));
        }
        return Status::Ok();
      }));
  cache_files_added_.fetch_add(1, std::memory_order_relaxed);
  cache_bytes_added_.fetch_add(size, std::memory_order_relaxed);
  return Status::Ok();
}

Status CheckoutRun::AddExecutableToCache(const ObjectId& id) {
  const std::string plain = CacheName(id, false);
  UniqueFd src(::openat(cache_fd_.get(), plain.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!src) return Status::FromErrno("open " + JoinPath(options_.file_cache_dir, plain));
  return WriteCacheFile(cache_fd_.get(), options_.file_cache_dir, CacheName(id, true),
                        kCacheExecutableMode, [&](int fd) -> Status {
                          if (::ioctl(fd, FICLONE, src.get()) == 0) return Status::Ok();
                          return CopyContents(src.get(), fd);
                        });
}

// The walk only creates entries in the target (files are placed by the workers), so this thread
// keeps the identity for all of it.
Status CheckoutRun::PlaceTreeAsIdentity(const ObjectId& root, UniqueFd target_fd,
                                        const std::string& target) {
  ScopedFsIdentity as_identity;
  PADDOCK_RETURN_IF_ERROR(as_identity.Apply(options_.identity));
  return PlaceTree(root, std::move(target_fd), target);
}

Status CheckoutRun::PlaceTree(const ObjectId& root, UniqueFd target_fd, const std::string& target) {
  // Depth first, each directory opened only when its turn comes, so open directory fds stay
  // proportional to the depth (plus those held by queued files).
  std::vector<std::pair<DirToCreate, const Tree*>> pending;
  pending.push_back(
      {DirToCreate{std::make_shared<const UniqueFd>(std::move(target_fd)), nullptr, target},
       &trees_.at(root)});
  while (!pending.empty() && !workers_->failed()) {
    auto [dir, tree] = std::move(pending.back());
    pending.pop_back();
    Result<SharedFd> fd = CreateDirectory(dir);
    if (!fd.ok()) return fd.status();
    for (const TreeEntry& e : tree->entries) {
      const std::string path = JoinPath(dir.path, e.name);
      if (e.kind == EntryKind::kDirectory) {
        pending.push_back({DirToCreate{*fd, &e, path}, &trees_.at(e.id)});
      } else {
        PADDOCK_RETURN_IF_ERROR(CreateEntry(*fd, e, path));
      }
    }
  }
  return Status::Ok();
}

Result<SharedFd> CheckoutRun::CreateDirectory(const DirToCreate& dir) {
  if (dir.entry == nullptr) return dir.parent_fd;  // the target, created already
  const int parent = dir.parent_fd->get();
  const char* name = dir.entry->name.c_str();
  if (::mkdirat(parent, name, kDirectoryMode) != 0) return Status::FromErrno("mkdir " + dir.path);
  UniqueFd fd(::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Status::FromErrno("open " + dir.path);
  if (::fchmod(fd.get(), kDirectoryMode) != 0) return Status::FromErrno("chmod " + dir.path);
  ++result_.directories;
  return std::make_shared<const UniqueFd>(std::move(fd));
}

Status CheckoutRun::CreateEntry(const SharedFd& dir_fd, const TreeEntry& e,
                                const std::string& path) {
  if (e.kind == EntryKind::kSymlink) {
    if (::symlinkat(e.target.c_str(), dir_fd->get(), e.name.c_str()) != 0) {
      return Status::FromErrno("symlink " + path);
    }
    ++result_.symlinks;
    return Status::Ok();
  }
  ++result_.files;
  result_.bytes += e.size;
  if (e.size > 0) {
    workers_->Submit([this, dir_fd, &e, path] { return PlaceFile(dir_fd, e, path); });
    return Status::Ok();
  }
  UniqueFd fd(::openat(dir_fd->get(), e.name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Status::FromErrno("create " + path);
  if (::fchmod(fd.get(), FileMode(IsExecutable(e), options_.read_only_view)) != 0) {
    return Status::FromErrno("chmod " + path);
  }
  return Status::Ok();
}

Status CheckoutRun::PlaceFile(const SharedFd& dir_fd, const TreeEntry& e, const std::string& path) {
  UniqueFd src;
  if (reflink_possible_.load(std::memory_order_relaxed)) {
    PADDOCK_RETURN_IF_ERROR(OpenCacheFile(e.id, &src));
  }
  UniqueFd dst;
  Result<bool> linked = LinkAsIdentity(src, dir_fd->get(), e, &dst);
  if (!linked.ok()) return linked.status().WithContext(path);
  if (*linked) return Status::Ok();
  // Copying and chmod work on open fds: no permission check, so no identity needed any more.
  if (!src) PADDOCK_RETURN_IF_ERROR(OpenCacheFile(e.id, &src));
  PADDOCK_RETURN_IF_ERROR(CopyContents(src.get(), dst.get()).WithContext(path));
  if (::fchmod(dst.get(), FileMode(IsExecutable(e), options_.read_only_view)) != 0) {
    return Status::FromErrno("chmod " + path);
  }
  copied_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

// Opened with this thread's own identity: the cache belongs to the store, not to the identity.
Status CheckoutRun::OpenCacheFile(const ObjectId& id, UniqueFd* src) const {
  const std::string cache_name = CacheName(id, false);
  src->reset(::openat(cache_fd_.get(), cache_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!*src) return Status::FromErrno("open " + JoinPath(options_.file_cache_dir, cache_name));
  return Status::Ok();
}

// Places the file by reflink (from `src`, when open) or, in a read-only view, by hardlink, as the
// identity. True when one worked; false otherwise, leaving in *dst the created (empty)
// destination for a copy.
Result<bool> CheckoutRun::LinkAsIdentity(const UniqueFd& src, int dir_fd, const TreeEntry& e,
                                         UniqueFd* dst) {
  ScopedFsIdentity as_identity;
  PADDOCK_RETURN_IF_ERROR(as_identity.Apply(options_.identity));
  if (src) {
    Result<bool> done = TryReflink(src.get(), dir_fd, e, dst);
    if (!done.ok()) return done;
    if (*done) {
      reflinked_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  if (options_.read_only_view && hardlink_possible_.load(std::memory_order_relaxed)) {
    // A destination left by a failed reflink attempt goes: the link takes its name.
    if (*dst && ::unlinkat(dir_fd, e.name.c_str(), 0) != 0) return Status::FromErrno("unlink");
    dst->reset();
    Result<bool> done = TryHardlink(dir_fd, e);
    if (!done.ok()) return done;
    if (*done) {
      hardlinked_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  if (!*dst) {
    dst->reset(::openat(dir_fd, e.name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!*dst) return Status::FromErrno("create");
  }
  return false;
}

// True when the file was cloned. False when cloning is not possible, leaving in *dst the created
// (empty) destination, if any, for the next method.
Result<bool> CheckoutRun::TryReflink(int src_fd, int dir_fd, const TreeEntry& e, UniqueFd* dst) {
  if (!reflink_possible_.load(std::memory_order_relaxed)) return false;
  dst->reset(
      ::openat(dir_fd, e.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!*dst) return Status::FromErrno("create");
  if (::ioctl(dst->get(), FICLONE, src_fd) != 0) {
    if (!ReflinkUnsupported(errno)) return Status::FromErrno("clone");
    reflink_possible_.store(false, std::memory_order_relaxed);
    return false;
  }
  if (::fchmod(dst->get(), FileMode(IsExecutable(e), options_.read_only_view)) != 0) {
    return Status::FromErrno("chmod");
  }
  return true;
}

Result<bool> CheckoutRun::TryHardlink(int dir_fd, const TreeEntry& e) {
  const std::string cache_name = CacheName(e.id, IsExecutable(e));
  if (::linkat(cache_fd_.get(), cache_name.c_str(), dir_fd, e.name.c_str(), 0) == 0) return true;
  // EMLINK: this cache file has the most links the file system allows; others may still link.
  if (errno == EMLINK) return false;
  // EXDEV: another file system. EPERM: fs.protected_hardlinks refuses linking a file the caller
  // does not own. EACCES: the identity may not search the cache directory (or write the target
  // directory, which the copy that follows then reports). Either way no link will work in this
  // checkout.
  if (errno == EXDEV || errno == EPERM || errno == EACCES || errno == EOPNOTSUPP) {
    hardlink_possible_.store(false, std::memory_order_relaxed);
    return false;
  }
  return Status::FromErrno("link");
}

// Parses a cache file name: 64 hex digits, optionally followed by the executable suffix.
bool ParseCacheName(std::string_view name, ObjectId* id) {
  if (name.ends_with(kExecutableSuffix)) name.remove_suffix(kExecutableSuffix.size());
  if (name.size() != 2 * ObjectId::kSize) return false;
  Result<ObjectId> parsed = ObjectId::FromHex(name);
  if (!parsed.ok()) return false;
  *id = *parsed;
  return true;
}

}  // namespace

Result<CheckoutResult> CheckoutTree(const PackStore& store, const ObjectId& tree,
                                    const std::string& target, const CheckoutOptions& options) {
  CheckoutRun run(store, options);
  return run.Run(tree, target);
}

Result<uint64_t> EvictFileCache(const std::string& file_cache_dir, const std::set<ObjectId>& keep) {
  Result<std::vector<std::string>> names = ListNames(file_cache_dir);
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) return uint64_t{0};
    return names.status();
  }
  uint64_t removed = 0;
  for (const std::string& name : *names) {
    ObjectId id;
    const bool evict =
        name.starts_with(kTempPrefix) || (ParseCacheName(name, &id) && !keep.contains(id));
    if (!evict) continue;
    const std::string path = JoinPath(file_cache_dir, name);
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;
      return Status::FromErrno("unlink " + path);
    }
    ++removed;
  }
  return removed;
}

}  // namespace paddock::storage
