// The exit statuses of the `paddock` command, a documented interface that scripts branch on.
//
//   0  success
//   1  unexpected internal error (a bug, or a response the client cannot make sense of)
//   2  usage error (bad flags or arguments, unreadable token file)
//   3  daemon unreachable (no socket, connection refused, timeout)
//   4  the API answered with an error (HTTP 4xx/5xx); its problem details are on stderr
//
// Keep this list and the `--help` footer text (kExitStatusHelp) in sync.
#pragma once

namespace paddock::cli {

enum class ExitCode : int {
  kSuccess = 0,
  kInternalError = 1,
  kUsageError = 2,
  kUnreachable = 3,
  kApiError = 4,
};

inline constexpr char kExitStatusHelp[] =
    "Exit status:\n"
    "  0  success\n"
    "  1  unexpected internal error\n"
    "  2  usage error\n"
    "  3  daemon unreachable (no socket, connection refused, timeout)\n"
    "  4  the API answered with an error (details on stderr)\n";

}  // namespace paddock::cli
