// Finding a sandbox's paddock-init again after the daemon restarted.
//
// paddock-init outlives the daemon (it is re-parented when the daemon dies), so the daemon keeps
// its pid and start time in SQLite. A pid alone may have been reused by an unrelated process;
// the kernel's start time of the process (field 22 of /proc/<pid>/stat, in clock ticks since
// boot) tells them apart. A pidfd then refers to that process for good: it becomes readable when
// the process ends and signals sent through it cannot reach a pid reused later.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "base/status.h"
#include "base/unique_fd.h"

namespace paddock::sandbox {

// The start time of `pid`, or kNotFound when there is no such process.
Result<uint64_t> ProcessStartTime(pid_t pid);

// A pidfd for `pid` if it is still the process that started at `start_time`; kNotFound when it
// has ended (or the pid now belongs to another process).
Result<UniqueFd> OpenInitProcess(pid_t pid, uint64_t start_time);

// True once the process behind `pidfd` has ended (it may still await reaping by its parent).
bool ProcessEnded(int pidfd);

}  // namespace paddock::sandbox
