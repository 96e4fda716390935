// The steps that turn a child of paddock-init into the workload, in the order RunWorkload()
// applies them. Each does one thing and says what failed. They run in the forked child of a
// single-threaded process, so allocation is safe; nothing here is called from the daemon.
#pragma once

#include <sys/types.h>

#include "base/status.h"
#include "sandbox/spec.h"

namespace paddock::sandbox {

// Supplementary groups inherited from the daemon must never reach the workload.
Status ClearSupplementaryGroups();
// Removes every capability from the bounding set and the ambient set, so nothing exec'd later
// can regain one. Needs CAP_SETPCAP (held until SwitchIdentity).
Status DropBoundingAndAmbientCapabilities();
// setrlimit for NOFILE, CORE and (when set) MEMLOCK. Done while still privileged, since raising
// a hard limit needs CAP_SYS_RESOURCE.
Status ApplyProcessLimits(const ProcessLimits& limits);
// setresgid + setresuid to the spec's ids.
Status SwitchIdentity(uid_t uid, gid_t gid);
// Clears the effective, permitted and inheritable sets (a uid-0-in-namespace workload keeps
// them otherwise).
Status ClearCapabilitySets();
// PR_SET_NO_NEW_PRIVS: setuid binaries and file capabilities no longer elevate.
Status SetNoNewPrivileges();
// Closes every descriptor above stderr (close_range).
Status CloseInheritedDescriptors();

// Writes the id maps of `pid` (which has just unshared a user namespace): `inside` -> `host`,
// one id each, and denies setgroups. Called by paddock-init, which is root outside.
Status WriteIdMaps(pid_t pid, uid_t inside_uid, uid_t host_uid, gid_t inside_gid, gid_t host_gid);

}  // namespace paddock::sandbox
