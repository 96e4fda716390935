// `paddock sandbox ...` on the command line: the sub-commands, their flags, and the checks that
// turn flag values into SandboxRunArgs before anything is sent (bad values exit 2).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/sandbox_commands.h"

namespace paddock::cli {

// Where CLI11 stores the arguments of the sandbox commands while parsing.
struct SandboxArgs {
  // The flags of `sandbox run` as typed; converted into `run` once parsing is done, so that each
  // bad value is a usage error naming its flag.
  struct RunFlags {
    std::string cpus;
    std::string memory;
    std::string pids;
    std::string timeout;
    std::string workspace;
    std::string root;
    std::string gpus;
    std::vector<std::string> binds;
    std::vector<std::string> env;
    std::vector<std::string> mounts;
    std::string output;
  };

  RunFlags run_flags;
  SandboxRunArgs run;
  SandboxLogsArgs logs;
  std::string id;  // inspect, stop, rm
  bool force = false;
};

// Adds `sandbox` and its sub-commands to `app`; parsing one stores what to run in `command`.
void AddSandboxCommands(CLI::App& app, SandboxArgs& args, Command& command);

// A line to print after a parse error of `sandbox run` that words were left over, empty for any
// other error: the usual cause is a command with options of its own and no -- before it.
std::string SandboxRunHint(const CLI::App& app, const CLI::ParseError& error);

}  // namespace paddock::cli
