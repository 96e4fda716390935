// The unified (cgroup v2) backend, and the cgroup2 steps the hybrid backend shares with it.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_fs.h"

namespace paddock::sandbox {

// Unified hosts: the daemon's own cgroup (from options.proc_self_cgroup) is the delegated one.
// Unless it is the hierarchy's root, every process in it moves into options.daemon_leaf, because
// v2 refuses controllers to the children of a cgroup that holds processes. Then cpu, cpuset, io,
// memory and pids are enabled, where offered, for the parent and for the sandboxes below it.
Result<std::unique_ptr<CgroupDriver>> CreateUnifiedDriver(const CgroupDriverOptions& options);

// Kills every process in the cgroup2 directory `dir`: cgroup.kill (Linux 5.14) does it atomically,
// including processes forking at that moment; older kernels freeze with cgroup.freeze, signal
// each process, and thaw.
Status KillUnifiedCgroup(const CgroupFs& fs, const std::string& dir);

// cgroup.events "populated": whether a live process is left in `dir` or below.
Result<bool> UnifiedCgroupPopulated(const CgroupFs& fs, const std::string& dir);

}  // namespace paddock::sandbox
