// How sandboxes read on a terminal: the `sandbox ls` table, the `sandbox inspect` listing, and
// the exit status a finished sandbox stands for.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "cli/output.h"

namespace paddock::cli {

// True once the daemon reports the sandbox as "exited".
bool HasExited(const Json& sandbox);

// The status a shell would report for the sandbox's main process, which `sandbox run` exits
// with: its exit code, 128 + signal when a signal killed it, and 137 when the reason is "oom"
// (as docker run does). Empty while it runs.
std::optional<int> SandboxExitStatus(const Json& sandbox);

// SandboxExitStatus with the reason when it is not a plain exit: "0", "137 (oom)",
// "143 (stopped)", "139 (SIGSEGV)"; "-" while it runs.
std::string DescribeExit(const Json& sandbox);

// The command as one line a shell would read back: words that need it are single-quoted.
std::string FormatCommandLine(const Json& command);

// `sandbox ls`: ID, STATE, COMMAND (truncated), CREATED, EXIT; with GPUS (units granted) after
// STATE when any listed sandbox asked for GPUs.
void PrintSandboxTable(std::ostream& out, const Json& sandboxes);

// `sandbox inspect`: one field per line; the granted GPUs among them when there are any.
void PrintSandboxDetails(std::ostream& out, const Json& sandbox);

}  // namespace paddock::cli
