#include "sandbox/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "sandbox/terminal.h"

namespace paddock::sandbox {
namespace {

constexpr int kForwardedSignals[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

// How long to keep draining the log pipes after everything was killed: a descriptor passed to a
// process outside the sandbox (over a unix socket) must not keep the sandbox from ending.
constexpr auto kDrainLimit = std::chrono::seconds(2);

UniqueFd ArmTimer(int64_t ms) {
  UniqueFd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
  itimerspec spec{};
  spec.it_value.tv_sec = ms / 1000;
  spec.it_value.tv_nsec = (ms % 1000) * 1000000 + 1;  // zero would disarm
  ::timerfd_settime(fd.get(), 0, &spec, nullptr);
  return fd;
}

}  // namespace

// One log stream: appends, and rotates <name> to <name>.1 past the size cap.
class Supervisor::LogFile {
 public:
  LogFile(int dir, std::string name, uint64_t max_bytes)
      : dir_(dir), name_(std::move(name)), max_bytes_(max_bytes) {
    Open();
  }
  // Appends `data`, rotating whenever the file reaches the cap, so no file exceeds it.
  void Write(const char* data, size_t size) {
    while (size > 0 && fd_) {
      if (size_ >= max_bytes_) Rotate();
      const size_t chunk = std::min<uint64_t>(size, max_bytes_ - size_);
      const ssize_t n = ::write(fd_.get(), data, chunk);
      if (n <= 0) return;  // disk full: drop output rather than stall the workload
      data += n;
      size -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
  }

 private:
  void Open() {
    fd_.reset(::openat(dir_, name_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    struct stat st;
    size_ = fd_ && ::fstat(fd_.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  void Rotate() {
    ::renameat(dir_, name_.c_str(), dir_, (name_ + ".1").c_str());
    Open();
  }
  int dir_;
  std::string name_;
  uint64_t max_bytes_;
  UniqueFd fd_;
  uint64_t size_ = 0;
};

Supervisor::Supervisor(const SandboxSpec& spec, int state_dir, Workload workload,
                       UniqueFd terminal_control)
    : spec_(spec),
      state_dir_(state_dir),
      workload_(std::move(workload)),
      control_listener_(std::move(terminal_control)) {}

void Supervisor::BeginStop(const std::string& reason) {
  if (!stop_reason_.empty() || main_exited_) return;
  stop_reason_ = reason;
  ::kill(-1, SIGTERM);  // from PID 1: every process in the sandbox
  grace_timer_ = ArmTimer(spec_.stop_grace_ms);
}

void Supervisor::ReapChildren() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == workload_.pid) {
      main_exited_ = true;
      main_status_ = status;
      ::kill(-1, SIGKILL);  // the sandbox ends with its main process
    }
  }
}

void Supervisor::AcceptControlClient() {
  UniqueFd client(
      ::accept4(control_listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!client) return;
  // Only the daemon can reach the socket; the cap keeps a stuck caller from costing descriptors.
  if (control_clients_.size() < kMaxTerminalClients) control_clients_.push_back(std::move(client));
}

void Supervisor::ReadControlClient(size_t index) {
  char packet[1 + kMaxTerminalInput];
  const ssize_t n = ::recv(control_clients_[index].get(), packet, sizeof packet, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    control_clients_.erase(control_clients_.begin() + static_cast<ptrdiff_t>(index));
    return;
  }
  auto message = ParseTerminalMessage(std::string_view(packet, static_cast<size_t>(n)));
  if (!message.ok() || !workload_.terminal) return;
  if (message->kind == TerminalMessage::Kind::kResize) {
    (void)SetTerminalSize(workload_.terminal.get(), message->size);
  } else {
    pending_input_ += message->input;
    WritePendingInput();
  }
}

void Supervisor::WritePendingInput() {
  while (!pending_input_.empty() && workload_.terminal) {
    const ssize_t n =
        ::write(workload_.terminal.get(), pending_input_.data(), pending_input_.size());
    if (n > 0) {
      pending_input_.erase(0, static_cast<size_t>(n));
    } else {
      if (n < 0 && errno != EAGAIN && errno != EINTR) pending_input_.clear();
      return;
    }
  }
}

void Supervisor::HandleSignal(int signals) {
  signalfd_siginfo info;
  if (::read(signals, &info, sizeof info) != sizeof info) return;
  const int sig = static_cast<int>(info.ssi_signo);
  // ssi_pid is 0 for a sender outside our pid namespace: only those may steer us.
  const bool from_outside = info.ssi_pid == 0;
  if (sig == SIGCHLD) {
    ReapChildren();
  } else if (sig == SIGTERM && from_outside) {
    BeginStop("stopped");
  } else if (from_outside) {
    ::kill(workload_.pid, sig);
  }
}

ExitRecord Supervisor::Run() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGTERM}) sigaddset(&mask, s);
  for (int s : kForwardedSignals) sigaddset(&mask, s);
  UniqueFd signals(::signalfd(-1, &mask, SFD_CLOEXEC));
  UniqueFd deadline = spec_.timeout_ms > 0 ? ArmTimer(spec_.timeout_ms) : UniqueFd();
  LogFile out(state_dir_, "stdout.log", spec_.log_max_bytes);
  LogFile err(state_dir_, "stderr.log", spec_.log_max_bytes);
  std::chrono::steady_clock::time_point drain_until{};
  // What the workload writes, and where it goes; a terminal's output goes to stdout.log.
  const std::tuple<UniqueFd*, LogFile*> outputs[] = {
      {&workload_.stdout_pipe, &out}, {&workload_.stderr_pipe, &err}, {&workload_.terminal, &out}};

  ReapChildren();  // the workload may have ended before the signal mask was in place
  while (workload_.stdout_pipe || workload_.stderr_pipe || workload_.terminal || !main_exited_) {
    if (main_exited_ && drain_until == std::chrono::steady_clock::time_point{}) {
      drain_until = std::chrono::steady_clock::now() + kDrainLimit;
    }
    if (main_exited_ && std::chrono::steady_clock::now() > drain_until) break;
    // Fixed slots first, then one per control client.
    enum { kSignals, kStdout, kStderr, kTerminal, kDeadline, kGrace, kListener, kClients };
    std::vector<pollfd> fds(kClients + control_clients_.size(), pollfd{-1, 0, 0});
    const auto watch = [&fds](size_t slot, const UniqueFd& fd, short events) {
      if (fd) fds[slot] = {fd.get(), events, 0};
    };
    watch(kSignals, signals, POLLIN);
    watch(kStdout, workload_.stdout_pipe, POLLIN);
    watch(kStderr, workload_.stderr_pipe, POLLIN);
    watch(kTerminal, workload_.terminal,
          static_cast<short>(POLLIN | (pending_input_.empty() ? 0 : POLLOUT)));
    watch(kDeadline, deadline, POLLIN);
    watch(kGrace, grace_timer_, POLLIN);
    // Input waits in the clients' sockets while the terminal is not taking it.
    const bool want_input = workload_.terminal && pending_input_.size() < kMaxPendingTerminalInput;
    if (want_input) watch(kListener, control_listener_, POLLIN);
    for (size_t i = 0; i < control_clients_.size() && want_input; ++i) {
      watch(kClients + i, control_clients_[i], POLLIN);
    }
    if (::poll(fds.data(), fds.size(), main_exited_ ? 100 : -1) < 0 && errno != EINTR) break;
    char buf[65536];
    for (size_t slot : {kStdout, kStderr, kTerminal}) {
      if ((fds[slot].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      auto [source, log] = outputs[slot - kStdout];
      const ssize_t n = ::read(source->get(), buf, sizeof buf);
      if (n > 0) {
        log->Write(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        source->reset();  // a terminal reads EIO once no process holds its slave
      }
    }
    if ((fds[kTerminal].revents & POLLOUT) != 0) WritePendingInput();
    if (fds[kSignals].revents != 0) HandleSignal(signals.get());
    if (fds[kDeadline].revents != 0) BeginStop("timeout");
    if (fds[kGrace].revents != 0) {
      grace_timer_.reset();
      ::kill(-1, SIGKILL);
    }
    for (size_t i = control_clients_.size(); i-- > 0;) {
      if (fds[kClients + i].revents != 0) ReadControlClient(i);
    }
    if (fds[kListener].revents != 0) AcceptControlClient();
  }
  if (control_listener_) ::unlinkat(state_dir_, kTerminalSocketName, 0);
  ::kill(-1, SIGKILL);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }

  ExitRecord record;
  if (WIFSIGNALED(main_status_)) {
    record.signal = WTERMSIG(main_status_);
    record.exit_code = 128 + record.signal;
  } else {
    record.exit_code = WEXITSTATUS(main_status_);
  }
  record.reason = stop_reason_.empty() ? "exit" : stop_reason_;
  record.finished_at_ms = UnixNowMs();
  const std::string json = ToJson(record).dump() + "\n";
  UniqueFd file(
      ::openat(state_dir_, "exit.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  // Renamed into place but not fsynced: the record has to outlive the daemon (a process), not
  // the machine. After a power loss every sandbox has ended anyway, and the daemon records one
  // whose exit.json is missing or torn as exit 255 with a warning. An fsync here cost ~0.7 ms of
  // every sandbox's start-to-exit time on ext4.
  if (file && ::write(file.get(), json.data(), json.size()) == static_cast<ssize_t>(json.size())) {
    ::renameat(state_dir_, "exit.json.tmp", state_dir_, "exit.json");
  }
  return record;
}

}  // namespace paddock::sandbox
