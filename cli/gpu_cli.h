// `paddock gpus` on the command line: the machine's GPUs and who holds them, and the recent
// telemetry of one GPU.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/exit_code.h"

namespace paddock::cli {

// Where CLI11 stores the arguments of the gpus commands while parsing.
struct GpuArgs {
  std::string uuid;  // history
};

// Adds `gpus` and `gpus history`; parsing one stores what to run in `command`.
void AddGpuCommands(CLI::App& app, GpuArgs& args, Command& command);

// GET /api/v1/gpus as a table (FormatGpuList).
ExitCode RunGpuList(const CommandContext& context);
// GET /api/v1/gpus/{uuid}/history as a table (FormatGpuHistory).
ExitCode RunGpuHistory(const CommandContext& context, const std::string& uuid);

}  // namespace paddock::cli
