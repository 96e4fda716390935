// SandboxScope: on a systemd host with cgroup v2, the scope unit whose delegated cgroup holds the
// sandboxes.
//
// Why not the daemon's own unit (paddock.service has Delegate=yes too): systemd 252 (Debian 12)
// starts a service's new main process in the unit's top cgroup, and the kernel refuses that
// (EBUSY) while controllers are enabled there for the children, which running sandboxes keep.
// A crashed, restarted or upgraded daemon could then not start again until every sandbox was
// killed. So the sandboxes live in `paddock-sandboxes.scope` (Delegate=yes, TasksMax=infinity),
// which the daemon creates over D-Bus around a holder process (`paddock-init --hold`, moved into
// a leaf of the scope) that keeps the scope alive while no sandbox runs. Restarts of the daemon
// never touch the scope; a restarted daemon finds it by name.
//
// Elsewhere (no systemd, cgroup v1 or hybrid, a daemon started by hand) there is no scope and the
// cgroup driver uses the daemon's own cgroup, as before.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"

namespace paddock {

inline constexpr char kSandboxScopeUnit[] = "paddock-sandboxes.scope";
// The leaf of the scope that the holder process is moved into.
inline constexpr char kSandboxScopeHolderLeaf[] = "holder";

// True when the daemon runs as a systemd unit on a cgroup v2 host (sd_booted, INVOCATION_ID set,
// cgroup2 mounted at /sys/fs/cgroup).
bool WantsSandboxScope();

// The scope's cgroup (a path in the cgroup2 hierarchy, e.g.
// "/system.slice/paddock-sandboxes.scope"), created with a holder started from `init_path` when
// it does not exist or has no process left. kUnavailable when systemd cannot be reached or
// refuses the unit; the message says why.
Result<std::string> EnsureSandboxScope(const std::string& init_path);

}  // namespace paddock
