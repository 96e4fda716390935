#include "sandbox/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <tuple>

#include "base/clock.h"

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

Supervisor::Supervisor(const SandboxSpec& spec, int state_dir, Workload workload)
    : spec_(spec), state_dir_(state_dir), workload_(std::move(workload)) {}

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

  ReapChildren();  // the workload may have ended before the signal mask was in place
  while (workload_.stdout_pipe || workload_.stderr_pipe || !main_exited_) {
    if (main_exited_ && drain_until == std::chrono::steady_clock::time_point{}) {
      drain_until = std::chrono::steady_clock::now() + kDrainLimit;
    }
    if (main_exited_ && std::chrono::steady_clock::now() > drain_until) break;
    pollfd fds[6] = {{signals.get(), POLLIN, 0},
                     {workload_.stdout_pipe ? workload_.stdout_pipe.get() : -1, POLLIN, 0},
                     {workload_.stderr_pipe ? workload_.stderr_pipe.get() : -1, POLLIN, 0},
                     {deadline ? deadline.get() : -1, POLLIN, 0},
                     {grace_timer_ ? grace_timer_.get() : -1, POLLIN, 0},
                     {-1, 0, 0}};
    if (::poll(fds, 5, main_exited_ ? 100 : -1) < 0 && errno != EINTR) break;
    char buf[65536];
    for (auto [index, pipe, log] : {std::tuple{1, &workload_.stdout_pipe, &out},
                                    std::tuple{2, &workload_.stderr_pipe, &err}}) {
      if (fds[index].revents == 0) continue;
      const ssize_t n = ::read(pipe->get(), buf, sizeof buf);
      if (n > 0) {
        log->Write(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        pipe->reset();
      }
    }
    if (fds[0].revents != 0) {
      signalfd_siginfo info;
      if (::read(signals.get(), &info, sizeof info) == sizeof info) {
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
    }
    if (fds[3].revents != 0) BeginStop("timeout");
    if (fds[4].revents != 0) {
      grace_timer_.reset();
      ::kill(-1, SIGKILL);
    }
  }
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
  if (file && ::write(file.get(), json.data(), json.size()) == static_cast<ssize_t>(json.size())) {
    ::fsync(file.get());
    ::renameat(state_dir_, "exit.json.tmp", state_dir_, "exit.json");
  }
  return record;
}

}  // namespace paddock::sandbox
