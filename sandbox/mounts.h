// The sandbox's file system view. Runs in paddock-init (PID 1 of the sandbox, real root, in the
// sandbox's fresh mount namespace) before the workload starts.
//
// The new root is a tmpfs that ends up read-only. Each top-level entry of the source root (the
// host's / or a root file system directory) is bind-mounted into it recursively, read-only,
// nosuid and nodev; top-level symlinks are recreated (merged-/usr). /proc, /sys, /dev, /tmp, /run
// and /var/tmp are never taken from the source: fresh proc (nosuid,nodev,noexec) with the usual
// paths masked or read-only, read-only sysfs, a minimal /dev tmpfs with the granted device nodes,
// and private writable tmpfs for the scratch directories. New mount points for the workspace and
// binds can be created at the top level or anywhere that already exists in the source root.
#pragma once

#include <string>

#include "base/status.h"
#include "sandbox/spec.h"

namespace paddock::sandbox {

// Builds the view under `new_root` (an empty directory on the host) and pivots into it.
// On return the process's root and cwd are the sandbox's /. Each failing step says which.
Status EnterSandboxFilesystem(const SandboxSpec& spec, const std::string& new_root);

}  // namespace paddock::sandbox
