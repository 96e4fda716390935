// Starting the workload: paddock-init forks, and the child becomes the user's command through the
// steps of process_setup.h, in this order:
//   new session, PDEATHSIG, stdio -> log pipes (or the terminal, which becomes the controlling
//   one), clear groups, rlimits, [unshare user namespace;
//   wait for paddock-init to write the id maps], drop bounding/ambient caps, switch uid/gid,
//   clear capability sets, NO_NEW_PRIVS, cwd, seccomp, close every other fd, execve.
// A failing step is reported back over a close-on-exec pipe, so StartWorkload() knows whether the
// exec happened and, if not, which step failed and why.
#pragma once

#include <sys/types.h>

#include <functional>

#include "base/status.h"
#include "base/unique_fd.h"
#include "sandbox/spec.h"

namespace paddock::sandbox {

struct Workload {
  pid_t pid = -1;
  UniqueFd stdout_pipe;  // read ends of the workload's stdout and stderr (no terminal)
  UniqueFd stderr_pipe;
  UniqueFd terminal;  // the terminal's master (spec.tty), non-blocking; the pipes are then unset
};

// Runs in the child right before execve, after NO_NEW_PRIVS; returns 0 or -errno. Must not
// allocate (installs the seccomp filter).
using LastStep = std::function<int()>;

// Forks and execs the workload. Returns once it has exec'd (or failed to). Caller: paddock-init,
// single-threaded, inside the sandbox's namespaces and file system.
Result<Workload> StartWorkload(const SandboxSpec& spec, const LastStep& last_step);

}  // namespace paddock::sandbox
