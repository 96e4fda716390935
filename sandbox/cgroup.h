// Cgroups for sandboxes: one driver interface, three backends chosen at start from the host's
// layout (sandbox/cgroup_mode.h).
//
//   unified (cgroup v2, Debian 12 under systemd): the unit runs with Delegate=yes. The driver moves
//     the daemon into a leaf of its own cgroup (v2 hands controllers only to children of a cgroup
//     without processes), enables the controllers below it, and creates one cgroup per sandbox
//     under <own cgroup>/<parent>. Device access is a BPF_PROG_TYPE_CGROUP_DEVICE program.
//   legacy (v1 only): one directory per sandbox in every mounted controller hierarchy, under the
//     daemon's own cgroup there. Device access is the v1 devices controller.
//   hybrid (v1 controllers + a cgroup2 mount without controllers): the legacy layout plus a
//     tracking cgroup in the cgroup2 mount. Devices are enforced twice: by the v1 devices
//     controller and by the BPF program on the tracking cgroup (the kernel checks both on every
//     open and mknod), so a mistake in either layer does not open the host's devices. The tracking
//     cgroup also gives atomic cgroup.kill and a reliable "populated" flag.
//
// Every sandbox gets "deny everything" plus the allow list it is created with; device rules that
// cannot be installed and verified fail the creation. Nothing here throws; errors name the limit
// field or the device rule they are about.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "sandbox/cgroup_mode.h"

namespace paddock::sandbox {

// Resource limits of one sandbox. Unset fields leave the kernel's default (no limit).
struct CgroupLimits {
  // CPU time as a number of CPUs, fractional: 0.5 is half of one CPU, 2.5 two and a half. Applied
  // as a CFS quota over a 100 ms period. At least 0.01 (the kernel's 1 ms minimum quota).
  std::optional<double> cpus;
  // cpuset lists in the kernel's syntax ("0-3,8"). Empty: the parent's. Must lie within what the
  // daemon's own cgroup may use.
  std::string cpuset_cpus;
  std::string cpuset_mems;
  // Hard memory limit in bytes (at least one page).
  std::optional<uint64_t> memory_max_bytes;
  // Swap is off unless allowed. Where the kernel does not account swap (v1 without memsw files,
  // v2 without memory.swap.max) the driver can only lower swappiness (v1) or warn (v2).
  bool allow_swap = false;
  // Maximum number of tasks (processes and threads), at least 1.
  std::optional<uint64_t> pids_max;
  // Relative IO weight on the cgroup v2 scale, 1..10000 (100 is the default). Applied where the
  // host has a weight-based IO controller (io.weight, io.bfq.weight, blkio.weight,
  // blkio.bfq.weight), skipped with a debug log where it does not.
  std::optional<uint16_t> io_weight;
};

inline constexpr int64_t kAnyMinor = -1;

// One device the sandbox may open. Wildcard majors and mknod are refused by validation: a
// wildcard major grants a whole class of host devices, and a sandbox never creates device nodes.
struct DeviceRule {
  char type = 'c';     // 'c' (character) or 'b' (block)
  int64_t major = 0;   // 0..4095
  int64_t minor = 0;   // 0..1048575, or kAnyMinor
  std::string access;  // non-empty subset of "rw"
};

// The nodes every sandbox needs: null zero full random urandom tty ptmx and every /dev/pts/N,
// read and write. The launcher adds granted GPU nodes to these.
std::vector<DeviceRule> BaseDeviceRules();

// kInvalidArgument naming the first bad rule ("devices[3].access: ...").
Status ValidateDeviceRules(const std::vector<DeviceRule>& rules);

// Counters of one sandbox. A counter whose controller the host lacks reads 0.
struct CgroupStats {
  uint64_t cpu_usage_ns = 0;
  uint64_t memory_current = 0;
  uint64_t memory_peak = 0;  // high-water mark (v2 needs memory.peak, Linux 5.19)
  uint64_t pids_current = 0;
  uint64_t oom_kills = 0;        // processes the OOM killer killed inside the sandbox
  uint64_t memory_max_hits = 0;  // times usage hit the limit (v1 memory.failcnt, v2 "max" event)
};

// One sandbox's cgroup: a single directory on unified hosts, one per hierarchy on v1 and hybrid.
// The object only names the directories; dropping it leaves the cgroup (and its processes) as they
// are, so a restarted daemon can Open() it again. Call Kill(), wait for Empty(), then Remove().
// What a new process needs to enter a sandbox's cgroup by itself, prepared before it is cloned.
// Moving another process (writing its pid to cgroup.procs) takes a kernel lock that waits for an
// RCU grace period, milliseconds per directory; a process born into the cgroup2 directory
// (clone3 CLONE_INTO_CGROUP) or writing its own tid ("0") to a v1 `tasks` file does not.
struct CgroupEntry {
  UniqueFd unified_dir;            // for CLONE_INTO_CGROUP; invalid on legacy hosts
  std::vector<UniqueFd> v1_tasks;  // open `tasks` files, device-restricting ones first
};

class Cgroup {
 public:
  virtual ~Cgroup();

  const std::string& name() const { return name_; }

  // Moves `pid` (the whole process) into every directory of the sandbox, the device-restricting
  // ones first. Fails with kFailedPrecondition on a cgroup that Open() found incomplete. On failure
  // the process may sit in some of the directories: the caller kills it.
  virtual Status AddProcess(pid_t pid) = 0;
  // The descriptors for a new process to join by itself (see CgroupEntry). Same precondition as
  // AddProcess.
  virtual Result<CgroupEntry> PrepareJoin() const = 0;
  // Sends SIGKILL to every process in the sandbox: atomically with cgroup.kill where the kernel has
  // it, otherwise frozen first (v1 freezer) so nothing forks in between. Returns once the signals
  // are sent; the processes are gone when Empty() says so.
  virtual Status Kill() = 0;
  virtual Result<CgroupStats> Stats() const = 0;
  // True when no process is left (cgroup.events "populated 0", or every cgroup.procs empty).
  virtual Result<bool> Empty() const = 0;
  // Removes the directories. Fails (kFailedPrecondition) while processes remain. Directories that
  // are gone already are fine, so Remove() can be retried.
  virtual Status Remove() = 0;
  // The cgroup2 directory (unified and hybrid), "" on legacy hosts.
  virtual std::string unified_path() const = 0;

  // Polls Empty() until it is true or `timeout` passes (then kUnavailable).
  Status WaitEmpty(std::chrono::milliseconds timeout) const;

 protected:
  explicit Cgroup(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// Seams for tests that point the driver at a plain directory laid out like a cgroup tree. None of
// them is set in the daemon.
struct CgroupTestHooks {
  // The kernel fills a new cgroup directory with its interface files; a plain directory needs them
  // made. Called right after the driver creates a directory.
  std::function<void(const std::string& dir)> after_mkdir;
  // rmdir of a plain directory fails while files are in it. Called right before the driver
  // removes a directory.
  std::function<void(const std::string& dir)> before_rmdir;
  // Replace loading, attaching and verifying the BPF device program, which needs a real cgroup2
  // directory; and counting the programs attached to one.
  std::function<Status(const std::string& dir, const std::vector<DeviceRule>& rules)>
      install_device_filter;
  std::function<Result<uint32_t>(const std::string& dir)> count_device_filters;
};

struct CgroupDriverOptions {
  // Where the cgroup filesystems are mounted.
  std::string root = "/sys/fs/cgroup";
  // Name of the cgroup that holds the sandboxes, created under the daemon's own cgroup in every
  // hierarchy. Letters, digits, '-' and '_'.
  std::string parent = "paddock";
  // The layout; unset means DetectCgroupMode(root). Tests set it for fake trees.
  std::optional<CgroupMode> mode;
  // Where the daemon reads its own cgroup membership.
  std::string proc_self_cgroup = "/proc/self/cgroup";
  // Unified hosts: the leaf, beside `parent`, that the daemon moves itself into.
  std::string daemon_leaf = "daemon";
  // Unified hosts: a cgroup delegated to the daemon for its sandboxes (a path in the cgroup2
  // hierarchy, e.g. "/system.slice/paddock-sandboxes.scope") to use instead of its own cgroup.
  // Its processes are moved into `daemon_leaf` as the daemon's would be; the daemon stays where
  // it is. Empty: the daemon's own cgroup.
  std::string delegated_cgroup;
  CgroupTestHooks test_hooks;
};

class CgroupDriver {
 public:
  // Detects the layout (or takes options.mode) and prepares the parent cgroup(s): on unified hosts
  // it first moves every process of the daemon's cgroup (or of options.delegated_cgroup) into
  // options.daemon_leaf and enables the cpu, cpuset, memory, pids and io controllers it is given.
  // Idempotent, so a restarted daemon finds its sandboxes again. kFailedPrecondition when the host
  // cannot isolate devices at all.
  static Result<std::unique_ptr<CgroupDriver>> Create(const CgroupDriverOptions& options);

  virtual ~CgroupDriver();

  virtual CgroupMode mode() const = 0;

  // Checks limits against the host without creating anything: kInvalidArgument for values that
  // are wrong anywhere, kFailedPrecondition for values this host cannot honour (a controller that
  // is missing, CPUs outside the daemon's cpuset). The message starts with the field name.
  virtual Status ValidateLimits(const CgroupLimits& limits) const = 0;

  // Creates the sandbox cgroup `name` (letters, digits, '-', '_'), applies `limits`, denies every
  // device and allows `devices`. All or nothing: on failure no directory is left behind.
  // kAlreadyExists when a cgroup of that name exists.
  virtual Result<std::unique_ptr<Cgroup>> CreateCgroup(const std::string& name,
                                                       const CgroupLimits& limits,
                                                       const std::vector<DeviceRule>& devices) = 0;

  // Re-adopts an existing sandbox cgroup (after a daemon restart). kNotFound when none of its
  // directories exists. A cgroup missing a directory or its device program is still returned, so
  // it can be killed and removed, but refuses AddProcess.
  virtual Result<std::unique_ptr<Cgroup>> Open(const std::string& name) = 0;

  // Names of the existing sandbox cgroups, sorted (on v1: found in any hierarchy).
  virtual Result<std::vector<std::string>> List() const = 0;

  // Removes the parent cgroup(s) once no sandbox is left in them. The daemon never needs this;
  // tests and uninstall do.
  virtual Status RemoveParent() = 0;
};

}  // namespace paddock::sandbox
