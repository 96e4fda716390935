// `paddock sandbox ...`: run a command in a sandbox of paddockd and manage the sandboxes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/sandbox_options.h"

namespace paddock::cli {

// What `paddock sandbox run` asks for, already checked and converted by the command line: sizes
// and durations are integers, host paths are absolute. Unset limits are left to the daemon.
struct SandboxRunArgs {
  std::vector<std::string> command;
  std::optional<double> cpus;
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> pids;
  std::optional<int64_t> timeout_seconds;
  std::optional<std::string> workspace;
  std::vector<BindArg> binds;
  std::optional<std::string> root;     // "host" or an absolute directory
  std::optional<nlohmann::json> gpus;  // the API's GpuRequest, from ParseGpuSpec
  std::vector<EnvAssignment> env;
  std::vector<DataArg> mounts;    // repository revisions mounted read-only
  std::optional<DataArg> output;  // directory committed to a repository branch at the end
  bool tty = false;
  bool detach = false;
};

struct SandboxLogsArgs {
  std::string id;
  bool follow = false;
  std::string stream;  // "stdout", "stderr", or empty for both
};

// POST /api/v1/sandboxes. Detached: prints the new id and exits 0. In the foreground: streams the
// sandbox's stdout and stderr to ours until it has exited, and returns its exit status (128 +
// signal when killed, 137 for "oom"); Ctrl-C asks the daemon to stop it. With a terminal (tty)
// our terminal is attached to the sandbox's instead (terminal_attach.h).
ExitCode RunSandboxRun(const CommandContext& context, const SandboxRunArgs& args);
// Attaches our terminal to a running sandbox's terminal (see terminal_attach.h); returns its exit
// status once it ends, or 0 when the user detaches.
ExitCode RunSandboxAttach(const CommandContext& context, const std::string& id);
// GET /api/v1/sandboxes as a table.
ExitCode RunSandboxList(const CommandContext& context);
// GET /api/v1/sandboxes/{id} as a key/value listing.
ExitCode RunSandboxInspect(const CommandContext& context, const std::string& id);
// GET /api/v1/sandboxes/{id}/logs for one or both streams, optionally following them.
ExitCode RunSandboxLogs(const CommandContext& context, const SandboxLogsArgs& args);
// POST /api/v1/sandboxes/{id}/stop, then waits until the sandbox has exited.
ExitCode RunSandboxStop(const CommandContext& context, const std::string& id);
// DELETE /api/v1/sandboxes/{id}; with `force`, a running sandbox is stopped first.
ExitCode RunSandboxRemove(const CommandContext& context, const std::string& id, bool force);

}  // namespace paddock::cli
