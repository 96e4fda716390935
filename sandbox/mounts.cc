#include "sandbox/mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/file_util.h"
#include "base/unique_fd.h"

namespace paddock::sandbox {
namespace {

// Directories the sandbox gets fresh instead of from the source root.
constexpr const char* kManagedTopLevel[] = {"proc", "sys", "dev", "tmp", "run"};

// /proc entries that leak host information or control the host: unreadable in the sandbox.
constexpr const char* kMaskedProcFiles[] = {"kcore",       "keys",          "timer_list",
                                            "sched_debug", "latency_stats", "sysrq-trigger"};
constexpr const char* kMaskedProcDirs[] = {"acpi", "scsi"};
// /proc entries that stay visible but cannot be written.
// sysrq-trigger is read-only rather than masked: a /dev/null over it would accept writes.
constexpr const char* kReadOnlyProcPaths[] = {"sys", "irq", "bus", "fs", "sysrq-trigger"};

// Host device nodes every sandbox gets (the device cgroup allows exactly these plus grants).
constexpr const char* kBasicDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};

Status Mount(const std::string& source, const std::string& target, const char* type,
             unsigned long flags, const char* data, const char* step) {
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(), type, flags, data) != 0) {
    return Status::FromErrno(std::string(step) + ": mount " + target);
  }
  return Status::Ok();
}

// Sets attributes on a mount and everything below it (unlike remount, which is per mount).
Status SetTreeAttributes(const std::string& path, uint64_t set, const char* step) {
  mount_attr attr{};
  attr.attr_set = set;
  if (::mount_setattr(AT_FDCWD, path.c_str(), AT_RECURSIVE, &attr, sizeof attr) != 0) {
    return Status::FromErrno(std::string(step) + ": set attributes of " + path);
  }
  return Status::Ok();
}

Status BindReadOnly(const std::string& source, const std::string& target, bool writable,
                    const char* step) {
  PADDOCK_RETURN_IF_ERROR(Mount(source, target, nullptr, MS_BIND | MS_REC, nullptr, step));
  uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (!writable) attrs |= MOUNT_ATTR_RDONLY;
  return SetTreeAttributes(target, attrs, step);
}

// Creates an empty file to bind a file over.
Status Touch(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd && errno != EEXIST) return Status::FromErrno("create mount point " + path);
  return Status::Ok();
}

// Creates the mount point `path` (a directory, or a file when `is_file`) and its parents.
Status MakeMountPoint(const std::string& path, bool is_file) {
  const auto slash = path.find_last_of('/');
  Status s = slash != std::string::npos && slash > 0 ? MakeDirectories(path.substr(0, slash), 0755)
                                                     : Status::Ok();
  if (s.ok()) s = is_file ? Touch(path) : MakeDirectories(path, 0755);
  if (!s.ok() && s.message().find("Read-only file system") != std::string::npos) {
    return Status::FailedPrecondition(
        "cannot create mount point " + path +
        ": its parent is read-only in the sandbox root; use a path that exists there or a new "
        "top-level directory");
  }
  return s;
}

bool IsManaged(const std::string& name) {
  for (const char* m : kManagedTopLevel) {
    if (name == m) return true;
  }
  return false;
}

// Refuses a source root whose /proc or /sys is a symlink: it could point the sandbox's view of
// them (and anything that trusts those paths) somewhere else.
Status CheckNoSymlinkedProcSys(const std::string& source_root) {
  for (const char* name : {"proc", "sys"}) {
    struct stat st;
    const std::string path = JoinPath(source_root, name);
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      return Status::FailedPrecondition(path + " is a symlink; refusing this root");
    }
  }
  return Status::Ok();
}

Status MirrorTopLevel(const std::string& source_root, const std::string& new_root) {
  PADDOCK_RETURN_IF_ERROR(CheckNoSymlinkedProcSys(source_root));
  DIR* dir = ::opendir(source_root.c_str());
  if (dir == nullptr) return Status::FromErrno("open root " + source_root);
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name != "." && name != ".." && !IsManaged(name)) names.push_back(name);
  }
  ::closedir(dir);
  for (const std::string& name : names) {
    const std::string source = JoinPath(source_root, name);
    const std::string target = JoinPath(new_root, name);
    struct stat st;
    if (::lstat(source.c_str(), &st) != 0) continue;  // vanished meanwhile
    if (S_ISLNK(st.st_mode)) {
      char link[4096];
      const ssize_t n = ::readlink(source.c_str(), link, sizeof link - 1);
      if (n < 0) return Status::FromErrno("readlink " + source);
      link[n] = '\0';
      if (::symlink(link, target.c_str()) != 0) return Status::FromErrno("symlink " + target);
    } else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
      PADDOCK_RETURN_IF_ERROR(MakeMountPoint(target, S_ISREG(st.st_mode)));
      PADDOCK_RETURN_IF_ERROR(BindReadOnly(source, target, false, "root"));
    }
  }
  return Status::Ok();
}

Status MountScratch(const std::string& new_root) {
  for (const char* path : {"tmp", "run"}) {
    const std::string target = JoinPath(new_root, path);
    PADDOCK_RETURN_IF_ERROR(MakeMountPoint(target, false));
    PADDOCK_RETURN_IF_ERROR(
        Mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", "scratch"));
  }
  const std::string var_tmp = JoinPath(new_root, "var/tmp");
  struct stat st;
  if (::stat(var_tmp.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    PADDOCK_RETURN_IF_ERROR(
        Mount("tmpfs", var_tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", "scratch"));
  }
  return Status::Ok();
}

Status MountProc(const std::string& new_root) {
  const std::string proc = JoinPath(new_root, "proc");
  PADDOCK_RETURN_IF_ERROR(MakeMountPoint(proc, false));
  PADDOCK_RETURN_IF_ERROR(
      Mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, "proc"));
  for (const char* name : kMaskedProcFiles) {
    const std::string path = JoinPath(proc, name);
    if (::access(path.c_str(), F_OK) != 0) continue;
    PADDOCK_RETURN_IF_ERROR(Mount("/dev/null", path, nullptr, MS_BIND, nullptr, "mask /proc"));
  }
  for (const char* name : kMaskedProcDirs) {
    const std::string path = JoinPath(proc, name);
    if (::access(path.c_str(), F_OK) != 0) continue;
    PADDOCK_RETURN_IF_ERROR(Mount("tmpfs", path, "tmpfs",
                                  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0",
                                  "mask /proc"));
  }
  for (const char* name : kReadOnlyProcPaths) {
    const std::string path = JoinPath(proc, name);
    if (::access(path.c_str(), F_OK) != 0) continue;
    PADDOCK_RETURN_IF_ERROR(BindReadOnly(path, path, false, "read-only /proc"));
  }
  return Status::Ok();
}

Status MountSys(const std::string& new_root) {
  const std::string sys = JoinPath(new_root, "sys");
  PADDOCK_RETURN_IF_ERROR(MakeMountPoint(sys, false));
  // A fresh sysfs needs the mount to happen in a network namespace we own, which we do.
  return Mount("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr,
               "sysfs");
}

Status MountDev(const SandboxSpec& spec, const std::string& new_root) {
  const std::string dev = JoinPath(new_root, "dev");
  PADDOCK_RETURN_IF_ERROR(MakeMountPoint(dev, false));
  PADDOCK_RETURN_IF_ERROR(
      Mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", "/dev"));
  // Device nodes are bind mounts of the host's: mknod is for nobody in a sandbox.
  for (const char* name : kBasicDevices) {
    const std::string target = JoinPath(dev, name);
    PADDOCK_RETURN_IF_ERROR(Touch(target));
    PADDOCK_RETURN_IF_ERROR(
        Mount(JoinPath("/dev", name), target, nullptr, MS_BIND, nullptr, "/dev"));
  }
  for (const DeviceNode& node : spec.devices) {
    const std::string target = JoinPath(new_root, node.target);
    PADDOCK_RETURN_IF_ERROR(MakeMountPoint(target, true));
    PADDOCK_RETURN_IF_ERROR(Mount(node.source, target, nullptr, MS_BIND, nullptr, "device"));
  }
  const std::string pts = JoinPath(dev, "pts");
  PADDOCK_RETURN_IF_ERROR(MakeMountPoint(pts, false));
  PADDOCK_RETURN_IF_ERROR(Mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC,
                                "newinstance,ptmxmode=0666,mode=0620", "/dev/pts"));
  const std::string shm = JoinPath(dev, "shm");
  PADDOCK_RETURN_IF_ERROR(MakeMountPoint(shm, false));
  PADDOCK_RETURN_IF_ERROR(
      Mount("tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", "/dev/shm"));
  const std::string mqueue = JoinPath(dev, "mqueue");
  PADDOCK_RETURN_IF_ERROR(MakeMountPoint(mqueue, false));
  PADDOCK_RETURN_IF_ERROR(
      Mount("mqueue", mqueue, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, "/dev/mqueue"));
  const std::pair<const char*, const char*> links[] = {{"ptmx", "pts/ptmx"},
                                                       {"fd", "/proc/self/fd"},
                                                       {"stdin", "/proc/self/fd/0"},
                                                       {"stdout", "/proc/self/fd/1"},
                                                       {"stderr", "/proc/self/fd/2"}};
  for (const auto& [name, to] : links) {
    if (::symlink(to, JoinPath(dev, name).c_str()) != 0) {
      return Status::FromErrno("/dev: symlink " + std::string(name));
    }
  }
  return Status::Ok();
}

Status MountBinds(const SandboxSpec& spec, const std::string& new_root) {
  std::vector<BindMount> binds = spec.binds;
  if (spec.workspace) {
    BindMount workspace = *spec.workspace;
    workspace.writable = true;
    binds.insert(binds.begin(), workspace);
  }
  for (const BindMount& bind : binds) {
    struct stat st;
    if (::stat(bind.source.c_str(), &st) != 0)
      return Status::FromErrno("bind source " + bind.source);
    const std::string target = JoinPath(new_root, bind.target);
    PADDOCK_RETURN_IF_ERROR(MakeMountPoint(target, !S_ISDIR(st.st_mode)));
    PADDOCK_RETURN_IF_ERROR(BindReadOnly(bind.source, target, bind.writable, "bind"));
  }
  return Status::Ok();
}

// Replaces `dir` by a tmpfs holding only the kept entries, each a bind of the original. The
// originals are reached through O_PATH descriptors opened before the tmpfs hides them.
Status FilterDirectory(const FilteredDir& filter, const std::string& new_root) {
  const std::string dir = JoinPath(new_root, filter.path);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status::Ok();
  std::vector<std::pair<std::string, UniqueFd>> kept;
  for (const std::string& name : filter.keep) {
    UniqueFd fd(::open(JoinPath(dir, name).c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW));
    if (fd) kept.emplace_back(name, std::move(fd));
  }
  PADDOCK_RETURN_IF_ERROR(
      Mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555", "filter"));
  for (const auto& [name, fd] : kept) {
    struct stat entry;
    if (::fstat(fd.get(), &entry) != 0) return Status::FromErrno("filter: stat " + name);
    const std::string target = JoinPath(dir, name);
    PADDOCK_RETURN_IF_ERROR(MakeMountPoint(target, !S_ISDIR(entry.st_mode)));
    const std::string source = "/proc/self/fd/" + std::to_string(fd.get());
    PADDOCK_RETURN_IF_ERROR(Mount(source, target, nullptr, MS_BIND | MS_REC, nullptr, "filter"));
  }
  return Mount("", dir, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr,
               "filter read-only");
}

Status PivotInto(const std::string& new_root) {
  // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only ours.
  if (::chdir(new_root.c_str()) != 0) return Status::FromErrno("chdir " + new_root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return Status::FromErrno("pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return Status::FromErrno("detach the old root");
  if (::chdir("/") != 0) return Status::FromErrno("chdir /");
  return Status::Ok();
}

}  // namespace

Status EnterSandboxFilesystem(const SandboxSpec& spec, const std::string& new_root) {
  // The daemon's umask (027) would make the directories created here (e.g. /dev/nvidia-caps)
  // unreadable to the workload's uid; the workload also starts with the conventional 022.
  ::umask(022);
  // Slave: nothing mounted here propagates to the host, while a disk the host mounts later (a new
  // dataset volume) still shows up in a long-running notebook's view.
  PADDOCK_RETURN_IF_ERROR(Mount("", "/", nullptr, MS_SLAVE | MS_REC, nullptr, "make / slave"));
  PADDOCK_RETURN_IF_ERROR(
      Mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m", "new root"));
  const std::string source_root =
      spec.root == SandboxSpec::RootKind::kHost ? std::string("/") : spec.root_dir;
  PADDOCK_RETURN_IF_ERROR(MirrorTopLevel(source_root, new_root));
  PADDOCK_RETURN_IF_ERROR(MountScratch(new_root));
  PADDOCK_RETURN_IF_ERROR(MountProc(new_root));
  PADDOCK_RETURN_IF_ERROR(MountSys(new_root));
  PADDOCK_RETURN_IF_ERROR(MountDev(spec, new_root));
  PADDOCK_RETURN_IF_ERROR(MountBinds(spec, new_root));
  for (const FilteredDir& filter : spec.filtered_dirs) {
    PADDOCK_RETURN_IF_ERROR(FilterDirectory(filter, new_root));
  }
  // The root tmpfs itself becomes read-only once every mount point exists.
  PADDOCK_RETURN_IF_ERROR(Mount("", new_root, nullptr,
                                MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr,
                                "read-only root"));
  return PivotInto(new_root);
}

}  // namespace paddock::sandbox
