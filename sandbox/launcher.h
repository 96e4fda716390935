// Launcher: the daemon's side of starting a sandbox.
//
// Launch() validates the spec, prepares <state_dir>, clone3()s a child in new pid, mount, ipc, uts
// and network namespaces and in the sandbox's cgroup (when one is given: born into the cgroup2
// directory, then joining the v1 directories itself), and lets it exec paddock-init, which builds
// the sandbox and starts the workload (see init_main.cc). It returns once the workload has exec'd,
// or with the step that failed. The returned pidfd refers to paddock-init; the caller reaps it (it
// is our child) and reads the outcome from <state_dir>/exit.json. Thread-safe: it touches no shared
// state.
//
// What travels to paddock-init on fd 3 is one JSON object:
//   {"spec": <SandboxSpec>, "seccomp_program": "<hex of the BPF program>"}
#pragma once

#include <sys/types.h>

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/spec.h"

namespace paddock::sandbox {

struct LaunchOptions {
  std::string init_path;  // the paddock-init binary
  std::string state_dir;  // created if missing; holds root/, stdout.log, stderr.log, exit.json
  // The sandbox's cgroup: the new process is born into its cgroup2 directory and joins its v1
  // directories itself before it execs anything (see CgroupEntry). Null: no cgroup (tests).
  const Cgroup* cgroup = nullptr;
  // The compiled seccomp program (SeccompProgram::ToBytes()), built once by the caller (building
  // costs milliseconds). Required: paddock-init refuses to start a workload without one.
  std::string seccomp_program;
};

struct LaunchedSandbox {
  pid_t init_pid = -1;           // in our pid namespace
  uint64_t init_start_time = 0;  // to find it again after a restart (init_process.h)
  UniqueFd pidfd;
};

Result<LaunchedSandbox> Launch(const SandboxSpec& spec, const LaunchOptions& options);

// Reads <state_dir>/exit.json, once paddock-init has written it.
Result<ExitRecord> ReadExitRecord(const std::string& state_dir);

}  // namespace paddock::sandbox
