// Internal to the cgroup drivers: reading and writing cgroup interface files, creating and removing
// cgroup directories, and parsing what the kernel prints. Every step that fails logs why, with the
// file and the value, and returns a Status that says the same.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "sandbox/cgroup.h"

namespace paddock::sandbox {

// An O_DIRECTORY descriptor of a cgroup directory (for clone3's CLONE_INTO_CGROUP).
Result<UniqueFd> OpenCgroupDirectory(const std::string& dir);
// A cgroup interface file opened for writing (a v1 `tasks` file a new process joins through).
Result<UniqueFd> OpenForWriting(const std::string& path);

// File access for the drivers, with the test seams of CgroupTestHooks.
class CgroupFs {
 public:
  explicit CgroupFs(CgroupTestHooks hooks) : hooks_(std::move(hooks)) {}

  // mkdir; an existing directory sets *created to false instead of failing.
  Status MakeDir(const std::string& dir, bool* created) const;
  // rmdir; a missing directory is fine. EBUSY (processes left) is kFailedPrecondition.
  Status RemoveDir(const std::string& dir) const;

  // Writes `value` plus a newline in one write(2), as the kernel parses one value per write.
  // Opened O_APPEND so that on a plain-directory fake tree successive writes to one file (device
  // rules, pids) all stay visible; cgroupfs ignores the file position.
  Status Write(const std::string& dir, std::string_view file, std::string_view value) const;
  Result<std::string> Read(const std::string& dir, std::string_view file) const;
  // A single unsigned number ("max" reads as UINT64_MAX).
  Result<uint64_t> ReadUint(const std::string& dir, std::string_view file) const;
  // The value of `key` in a "key value" per line file (cpu.stat, memory.events, oom_control).
  Result<uint64_t> ReadKey(const std::string& dir, std::string_view file,
                           std::string_view key) const;
  Result<std::vector<pid_t>> ReadProcs(const std::string& dir) const;
  // Like ReadUint and ReadKey, but a missing file (its controller is off) leaves *out alone.
  Status ReadUintIfPresent(const std::string& dir, std::string_view file, uint64_t* out) const;
  Status ReadKeyIfPresent(const std::string& dir, std::string_view file, std::string_view key,
                          uint64_t* out) const;
  bool Exists(const std::string& dir, std::string_view file) const;
  bool IsDir(const std::string& dir) const;

  // Sub-directories of `dir` (the sandbox cgroups under a parent).
  Result<std::vector<std::string>> ListDirs(const std::string& dir) const;

  // The BPF device program on a cgroup2 directory (sandbox/device_filter.h), or the test hooks.
  Status InstallDeviceFilter(const std::string& dir, const std::vector<DeviceRule>& rules) const;
  Result<uint32_t> CountDeviceFilters(const std::string& dir) const;

 private:
  CgroupTestHooks hooks_;
};

// A cgroup directory this process just created, removed again when the guard goes out of scope
// unless Release()d. Makes CreateCgroup all-or-nothing.
class ScopedCgroupDir {
 public:
  ScopedCgroupDir(const CgroupFs* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  ScopedCgroupDir(ScopedCgroupDir&& other) noexcept
      : fs_(other.fs_), dir_(std::exchange(other.dir_, std::string())) {}
  ScopedCgroupDir(const ScopedCgroupDir&) = delete;
  ScopedCgroupDir& operator=(const ScopedCgroupDir&) = delete;
  ScopedCgroupDir& operator=(ScopedCgroupDir&&) = delete;
  ~ScopedCgroupDir();

  const std::string& dir() const { return dir_; }
  std::string Release() { return std::exchange(dir_, std::string()); }

 private:
  const CgroupFs* fs_;
  std::string dir_;
};

// Sends SIGKILL to every process listed in the cgroup.procs of `dirs`, and again to any that
// shows up afterwards, until a pass finds no process it has not signalled. A process with SIGKILL
// pending can no longer fork, so a pass that finds nothing new means nothing escaped. Processes
// may still be exiting on return.
Status KillListedProcesses(const CgroupFs& fs, const std::vector<std::string>& dirs);

// Where /proc/self/cgroup places this process: the cgroup2 path ("0::/x") and one path per v1
// controller ("4:memory:/x", "1:cpu,cpuacct:/y" gives both controllers "/y").
struct SelfCgroup {
  std::optional<std::string> unified;
  std::map<std::string, std::string> v1;
};
Result<SelfCgroup> ParseSelfCgroup(std::string_view contents);
Result<SelfCgroup> ReadSelfCgroup(const std::string& proc_file);

// A cpuset list ("0-3,8") as a set of numbers. kInvalidArgument on bad syntax.
Result<std::set<unsigned>> ParseCpuList(std::string_view list);

// Sandbox and parent names: 1..64 of [A-Za-z0-9_-]. They become directory names, and cgroup
// interface files all contain a '.', so these can never collide with one.
Status ValidateCgroupName(std::string_view name, std::string_view what);

// "<a>/<b>" where b may be "/" or start with '/'.
std::string CgroupJoin(std::string_view a, std::string_view b);

}  // namespace paddock::sandbox
