// paddock-init: PID 1 of every sandbox.
//
// The daemon starts it with clone3() in fresh pid, mount, ipc, uts and network namespaces, already
// placed in the sandbox's cgroup, with:
//   argv[1]  the sandbox's state directory on the host
//   fd 3     a pipe carrying the SandboxSpec as JSON, then end of file
//   fd 4     a pipe on which it answers "ok\n" once the workload has exec'd, or "error: ...\n"
// `paddock-init --hold` is something else: a process that only sleeps, which the daemon places in
// the systemd scope holding the sandboxes' cgroups so that the scope lives on while no sandbox
// runs (daemon/sandbox_scope.h). It ends on SIGTERM, SIGINT or SIGHUP, as any process would.
//
// It joins a fresh cgroup namespace (rooted at the sandbox's cgroup), sets the hostname, brings
// up loopback, builds the file system view and pivots into it, makes itself non-dumpable (the
// workload cannot ptrace it or read its memory), starts the workload and supervises it
// (supervisor.h). It is a separate, single-threaded program so that all of this runs in a clean
// process rather than in a fork of the multi-threaded daemon.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/file_util.h"
#include "base/hex.h"
#include "base/unique_fd.h"
#include "sandbox/mounts.h"
#include "sandbox/network.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/supervisor.h"
#include "sandbox/terminal.h"
#include "sandbox/workload.h"

namespace paddock::sandbox {
namespace {

constexpr int kSpecFd = 3;
constexpr int kReplyFd = 4;

void Reply(const std::string& line) {
  const std::string text = line + "\n";
  (void)!::write(kReplyFd, text.data(), text.size());
}

// What the launcher sends on fd 3 (see launcher.h).
struct StartMessage {
  SandboxSpec spec;
  SeccompProgram seccomp;
};

Result<StartMessage> ReadStartMessage() {
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = ::read(kSpecFd, buf, sizeof buf)) > 0;) text.append(buf, n);
  ::close(kSpecFd);
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("spec")) {
    return Status::InvalidArgument("start message is not the launcher's JSON");
  }
  auto spec = SpecFromJson(json["spec"]);
  if (!spec.ok()) return spec.status();
  std::string bytes;
  if (!json.contains("seccomp_program") ||
      !HexDecode(json["seccomp_program"].get<std::string>(), &bytes)) {
    return Status::InvalidArgument("the start message carries no seccomp program");
  }
  auto seccomp = SeccompProgram::FromBytes(bytes);
  if (!seccomp.ok()) return seccomp.status().WithContext("seccomp");
  return StartMessage{std::move(spec).value(), std::move(seccomp).value()};
}

Status PrepareNamespaces(const SandboxSpec& spec) {
  // Joined here, after the daemon placed us in the sandbox's cgroup, so that cgroup is our root.
  if (::unshare(CLONE_NEWCGROUP) != 0) return Status::FromErrno("unshare cgroup namespace");
  const std::string& hostname = spec.hostname.empty() ? spec.id : spec.hostname;
  if (::sethostname(hostname.data(), hostname.size()) != 0) return Status::FromErrno("sethostname");
  return BringUpLoopback();
}

[[noreturn]] void Hold() {
  for (;;) ::pause();
}

int Main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--hold") Hold();
  // First thing: the daemon's SIGTERM must reach the supervisor's signalfd, not kill us early.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) {
    sigaddset(&mask, s);
  }
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  if (argc != 2) {
    Reply("error: usage: paddock-init STATE_DIR (started by paddockd)");
    return 2;
  }
  const std::string state_dir = argv[1];
  UniqueFd state(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto message = ReadStartMessage();
  Status s = !state          ? Status::FromErrno("open " + state_dir)
             : !message.ok() ? message.status()
                             : PrepareNamespaces(message->spec);
  // The terminal's control socket is bound while the host's state directory is still reachable
  // by path; after the pivot only the descriptor is.
  UniqueFd terminal_control;
  if (s.ok() && message->spec.tty) {
    auto listener = ListenTerminalControl(state.get());
    if (listener.ok()) {
      terminal_control = std::move(listener).value();
    } else {
      s = listener.status().WithContext("terminal control socket");
    }
  }
  if (s.ok()) s = EnterSandboxFilesystem(message->spec, JoinPath(state_dir, "root"));
  if (s.ok() && ::prctl(PR_SET_DUMPABLE, 0) != 0) s = Status::FromErrno("PR_SET_DUMPABLE");
  if (!s.ok()) {
    Reply("error: " + s.message());
    return 1;
  }
  const SandboxSpec& spec = message->spec;
  const SeccompProgram& filter = message->seccomp;
  auto workload = StartWorkload(spec, [&filter] { return filter.Install(); });
  if (!workload.ok()) {
    Reply("error: " + workload.status().message());
    return 1;
  }
  Reply("ok");
  ::close(kReplyFd);
  Supervisor supervisor(spec, state.get(), std::move(workload).value(),
                        std::move(terminal_control));
  supervisor.Run();
  return 0;
}

}  // namespace
}  // namespace paddock::sandbox

int main(int argc, char** argv) { return paddock::sandbox::Main(argc, argv); }
