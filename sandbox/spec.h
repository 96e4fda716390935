// SandboxSpec: everything needed to start one sandbox, as the daemon hands it to paddock-init.
//
// The spec travels as JSON over a pipe from the daemon to paddock-init (the sandbox's PID 1),
// so both sides agree on one encoding (ToJson/FromJson). Validate() checks what can be checked
// without touching the system and names the offending field.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace paddock::sandbox {

struct BindMount {
  std::string source;  // host path
  std::string target;  // absolute path inside the sandbox
  bool writable = false;
};

// A host device node exposed in the sandbox's /dev (the device cgroup must allow it too).
struct DeviceNode {
  std::string source;  // host path of a character or block device node
  std::string target;  // path under /dev inside the sandbox, e.g. /dev/nvidia1
};

// A directory inside the sandbox that shows only some of its entries, e.g. the driver's
// /proc/driver/nvidia/gpus listing only the GPUs granted. Applied after every other mount; a
// path that does not exist in the sandbox is left alone (no driver loaded).
struct FilteredDir {
  std::string path;               // absolute path inside the sandbox
  std::vector<std::string> keep;  // entry names (no '/') still visible; missing ones are ignored
};

struct ProcessLimits {
  uint64_t nofile = 65536;
  uint64_t core = 0;                // no core dumps unless asked
  std::optional<uint64_t> memlock;  // CUDA pins host memory; unset keeps the host default
};

// A terminal's size in character cells.
struct TerminalSize {
  uint16_t rows = 24;  // 1..4096
  uint16_t cols = 80;  // 1..4096
  friend bool operator==(const TerminalSize&, const TerminalSize&) = default;
};

struct SandboxSpec {
  std::string id;                 // [a-z0-9-], also the hostname unless `hostname` is set
  std::vector<std::string> argv;  // argv[0] is looked up in PATH of `env` when it has no '/'
  std::vector<std::string> env;   // "KEY=value"
  std::string cwd = "/";
  uid_t uid = 65534;  // the workload's identity (inside the user namespace when one is used)
  gid_t gid = 65534;
  // With a user namespace, `uid`/`gid` inside map to host_uid/host_gid (never host root).
  bool user_namespace = false;
  uid_t host_uid = 65534;
  gid_t host_gid = 65534;
  enum class RootKind { kHost, kDirectory };
  RootKind root = RootKind::kHost;
  std::string root_dir;  // kDirectory: a directory holding a root file system
  std::string hostname;
  std::optional<BindMount> workspace;  // writable
  std::vector<BindMount> binds;        // read-only unless writable
  std::vector<DeviceNode> devices;
  std::vector<FilteredDir> filtered_dirs;
  ProcessLimits limits;
  int64_t timeout_ms = 0;            // 0: no time limit
  int64_t stop_grace_ms = 10000;     // SIGTERM to SIGKILL
  uint64_t log_max_bytes = 8 << 20;  // per stream, before rotating to <name>.1
  // Set: the workload gets a pseudo-terminal of this size as stdin, stdout, stderr and
  // controlling terminal; what it writes lands in stdout.log (stderr.log stays empty), and
  // input and resizes reach it through <state_dir>/tty.sock (terminal.h).
  std::optional<TerminalSize> tty;
};

// Checks the spec's shape; errors are kInvalidArgument whose message starts with the field name.
Status Validate(const SandboxSpec& spec);

nlohmann::json ToJson(const SandboxSpec& spec);
Result<SandboxSpec> SpecFromJson(const nlohmann::json& json);

// How a sandbox ended, as paddock-init records it in <state_dir>/exit.json.
struct ExitRecord {
  int exit_code = 0;   // meaningful when signal == 0
  int signal = 0;      // the signal that ended the main process, or 0
  std::string reason;  // "exit", "timeout", "stopped" (the daemon adds "oom" from cgroup events)
  int64_t finished_at_ms = 0;
};
nlohmann::json ToJson(const ExitRecord& record);
Result<ExitRecord> ExitRecordFromJson(const nlohmann::json& json);

}  // namespace paddock::sandbox
