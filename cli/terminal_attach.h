// Attaching the user's terminal to a sandbox's terminal (`sandbox run --tty`, `sandbox attach`).
//
// The sandbox's output arrives through GET .../logs?follow=true (a terminal has one stream, kept
// as stdout); keystrokes go to POST .../stdin as they are typed, and window size changes to
// POST .../resize. While attached, our terminal is in raw mode, so Ctrl-C, Ctrl-Z and the like
// reach the sandbox's terminal as bytes and act there; Ctrl-P Ctrl-Q detaches and leaves the
// sandbox running. When stdin is not a terminal its bytes are sent as they come and its end as
// Ctrl-D (end of input for the program reading the sandbox's terminal), and Ctrl-C (SIGINT) is
// passed on as the byte a terminal would send.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/interrupt.h"

namespace paddock::cli {

enum class AttachOutcome {
  kExited,    // the sandbox ended and all its output was written
  kDetached,  // the user pressed Ctrl-P Ctrl-Q
};

// Attaches until the sandbox ends or the user detaches. `from_start`: print the sandbox's output
// from its beginning (a sandbox just created) rather than from now on (attaching later).
// `interrupts` must be installed by the caller. A failure is reported before its exit code is
// returned.
std::variant<AttachOutcome, ExitCode> AttachTerminal(const CommandContext& context,
                                                     const std::string& id, bool from_start,
                                                     InterruptGuard& interrupts);

struct TerminalDimensions {
  int rows = 0;
  int cols = 0;
};
// The size of the terminal on our stdin (or stdout), when there is one.
std::optional<TerminalDimensions> LocalTerminalSize();

}  // namespace paddock::cli
