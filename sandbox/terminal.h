// Terminal: the pseudo-terminal of a sandbox whose spec asks for one (SandboxSpec::tty), and the
// control socket through which the daemon types into it and resizes it.
//
// paddock-init opens the pair inside the sandbox, from the sandbox's own devpts instance (so the
// workload sees /dev/pts/0 and no host terminal), keeps the master and gives the workload the
// slave as stdin, stdout, stderr and controlling terminal. The supervisor copies what the
// workload writes into stdout.log and writes what arrives on the control socket into the master.
//
// Control socket: <state_dir>/tty.sock, a SOCK_SEQPACKET unix socket that paddock-init binds
// before it pivots into the sandbox's root, so it lies in the host's state directory (mode 0600,
// in a directory only root may enter), out of the workload's reach. Each packet is one message,
// a type byte and a payload:
//   'i' <bytes>                          input for the terminal, 1..kMaxTerminalInput bytes
//   'w' <rows: u16 BE> <cols: u16 BE>    the window's new size (the workload gets SIGWINCH)
// Anything else is ignored. Connections carry any number of messages; the supervisor reads at
// most kMaxTerminalClients connections at a time and stops reading them while it holds more than
// kMaxPendingTerminalInput bytes the workload has not consumed, so a writer waits rather than
// filling the supervisor's memory.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/unique_fd.h"
#include "sandbox/spec.h"

namespace paddock::sandbox {

inline constexpr size_t kMaxTerminalInput = 16 * 1024;
inline constexpr size_t kMaxPendingTerminalInput = 64 * 1024;
inline constexpr size_t kMaxTerminalClients = 8;
inline constexpr char kTerminalSocketName[] = "tty.sock";

struct TerminalPair {
  UniqueFd master;  // close-on-exec
  UniqueFd slave;   // close-on-exec; dup2 it into place
};

// Opens a new pseudo-terminal from /dev/ptmx of the caller's mount namespace, sized `size`, its
// slave owned by `owner`:`group` (so the workload may reopen its /dev/pts/N).
Result<TerminalPair> OpenTerminal(const TerminalSize& size, uid_t owner, gid_t group);

// Resizes the terminal whose master is `master`; its foreground process group gets SIGWINCH.
Status SetTerminalSize(int master, const TerminalSize& size);

// Binds and listens on <state_dir>/tty.sock (replacing a stale socket), mode 0600. The
// descriptor is close-on-exec and non-blocking.
Result<UniqueFd> ListenTerminalControl(int state_dir);

// One control message, parsed.
struct TerminalMessage {
  enum class Kind { kInput, kResize };
  Kind kind = Kind::kInput;
  std::string input;  // kInput
  TerminalSize size;  // kResize
};

// kInvalidArgument for a packet that is not one of the messages above.
Result<TerminalMessage> ParseTerminalMessage(std::string_view packet);

// The daemon's side: deliver one message to the supervisor of the sandbox whose state directory
// is `state_dir`. kUnavailable when nobody listens (the sandbox has ended, or has no terminal);
// kInvalidArgument for empty or oversized input or a size outside 1..4096. Waits at most
// `timeout_ms` for a supervisor that is not reading (its workload is not consuming input).
Status SendTerminalInput(const std::string& state_dir, std::string_view bytes,
                         int timeout_ms = 5000);
Status ResizeTerminal(const std::string& state_dir, const TerminalSize& size,
                      int timeout_ms = 5000);

}  // namespace paddock::sandbox
