#include "sandbox/workload.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/pipe.h"
#include "sandbox/process_setup.h"
#include "sandbox/terminal.h"

namespace paddock::sandbox {
namespace {

constexpr int kReportFd = 3;  // the close-on-exec pipe to paddock-init

// Reports `status` to paddock-init and ends the child. Never returns.
[[noreturn]] void Fail(const Status& status) {
  const std::string& m = status.message();
  (void)!::write(kReportFd, m.data(), m.size());
  ::_exit(126);
}

void Check(const Status& status) {
  if (!status.ok()) Fail(status);
}

// PATH lookup in the workload's own environment, as execvp would do with it.
std::string ResolveCommand(const SandboxSpec& spec) {
  const std::string& name = spec.argv[0];
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& e : spec.env) {
    if (e.starts_with("PATH=")) path = e.substr(5);
  }
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find(':', start), path.size());
    const std::string candidate = path.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

void WaitForByte(int fd, const char* what) {
  char byte;
  if (::read(fd, &byte, 1) != 1) Fail(Status::FromErrno(what));
}

// Moves `fd` above the low numbers that are about to be assigned (0-3).
int Lift(int fd) {
  const int lifted = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (lifted < 0) ::_exit(126);
  return lifted;
}

// Where the workload's stdio goes: `in` is -1 for /dev/null. With a terminal all three are its
// slave, which also becomes the controlling terminal.
struct Stdio {
  int in = -1;
  int out = -1;
  int err = -1;
  bool terminal = false;
};

void ConnectStdio(Stdio stdio) {
  const int null = stdio.in < 0 ? ::open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
  const int in = stdio.in < 0 ? null : stdio.in;
  if (in < 0 || ::dup2(in, 0) != 0 || ::dup2(stdio.out, 1) != 1 || ::dup2(stdio.err, 2) != 2) {
    Fail(Status::FromErrno("stdio"));
  }
  if (stdio.terminal && ::ioctl(0, TIOCSCTTY, 0) != 0) {
    Fail(Status::FromErrno("make the terminal the controlling one"));
  }
}

[[noreturn]] void BecomeWorkload(const SandboxSpec& spec, const LastStep& last_step, int report,
                                 Stdio stdio, int map_request, int map_done) {
  report = Lift(report);
  if (stdio.in >= 0) stdio.in = Lift(stdio.in);
  stdio.out = Lift(stdio.out);
  stdio.err = Lift(stdio.err);
  if (::dup2(report, kReportFd) != kReportFd) ::_exit(126);
  ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
  // paddock-init blocks signals for its signalfd and inherits ignored ones (SIGPIPE) from the
  // daemon; the workload starts with the defaults a shell would give it.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  if (::setsid() < 0) Fail(Status::FromErrno("setsid"));
  // If paddock-init dies, so does the workload (the pid namespace would end anyway).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail(Status::FromErrno("PR_SET_PDEATHSIG"));
  ConnectStdio(stdio);
  Check(ClearSupplementaryGroups());
  Check(ApplyProcessLimits(spec.limits));
  if (spec.user_namespace) {
    if (::unshare(CLONE_NEWUSER) != 0) Fail(Status::FromErrno("unshare user namespace"));
    if (::write(map_request, "u", 1) != 1) Fail(Status::FromErrno("request id maps"));
    WaitForByte(map_done, "wait for id maps");
  }
  Check(DropBoundingAndAmbientCapabilities());
  Check(SwitchIdentity(spec.uid, spec.gid));
  Check(ClearCapabilitySets());
  Check(SetNoNewPrivileges());
  if (::chdir(spec.cwd.c_str()) != 0) Fail(Status::FromErrno("chdir " + spec.cwd));
  const std::string command = ResolveCommand(spec);
  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(spec.env);
  if (::close_range(kReportFd + 1, ~0U, 0) != 0) Fail(Status::FromErrno("close_range"));
  if (last_step) {
    const int rc = last_step();
    if (rc != 0) Fail(Status::FromErrno("seccomp", -rc));
  }
  ::execve(command.c_str(), argv.data(), envp.data());
  Fail(Status::FromErrno("exec " + command));
}

}  // namespace

Result<Workload> StartWorkload(const SandboxSpec& spec, const LastStep& last_step) {
  auto report = MakePipe();
  auto out = MakePipe();
  auto err = MakePipe();
  auto map_request = MakePipe();
  auto map_done = MakePipe();
  for (const auto* p : {&report, &out, &err, &map_request, &map_done}) {
    if (!p->ok()) return p->status();
  }
  TerminalPair terminal;
  Stdio stdio{-1, out->write.get(), err->write.get(), false};
  if (spec.tty) {
    // The slave belongs to whoever the workload is on the host.
    auto opened = OpenTerminal(*spec.tty, spec.user_namespace ? spec.host_uid : spec.uid,
                               spec.user_namespace ? spec.host_gid : spec.gid);
    if (!opened.ok()) return opened.status().WithContext("terminal");
    terminal = std::move(opened).value();
    const int slave = terminal.slave.get();
    stdio = {slave, slave, slave, true};
  }
  const pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno("fork workload");
  if (pid == 0) {
    BecomeWorkload(spec, last_step, report->write.get(), stdio, map_request->write.get(),
                   map_done->read.get());
  }
  report->write.reset();
  out->write.reset();
  err->write.reset();
  terminal.slave.reset();
  map_request->write.reset();
  map_done->read.reset();
  if (spec.user_namespace) {
    char byte;
    if (::read(map_request->read.get(), &byte, 1) == 1) {
      Status mapped = WriteIdMaps(pid, spec.uid, spec.host_uid, spec.gid, spec.host_gid);
      if (!mapped.ok()) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return mapped.WithContext("user namespace");
      }
      (void)!::write(map_done->write.get(), "m", 1);
    }
  }
  std::string failure;
  char buf[512];
  for (ssize_t n; (n = ::read(report->read.get(), buf, sizeof buf)) > 0;) failure.append(buf, n);
  if (!failure.empty()) {
    ::waitpid(pid, nullptr, 0);
    return Status::FailedPrecondition("starting the workload: " + failure);
  }
  if (terminal.master) {
    ::fcntl(terminal.master.get(), F_SETFL, O_NONBLOCK);
    return Workload{pid, UniqueFd(), UniqueFd(), std::move(terminal.master)};
  }
  return Workload{pid, std::move(out->read), std::move(err->read), UniqueFd()};
}

}  // namespace paddock::sandbox
