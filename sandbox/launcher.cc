#include "sandbox/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/file_util.h"
#include "base/hex.h"
#include "base/pipe.h"
#include "sandbox/init_process.h"

namespace paddock::sandbox {
namespace {

constexpr uint64_t kNamespaces =
    CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;

// A one-way stream like a pipe, but a socket: send(MSG_NOSIGNAL) into it cannot raise SIGPIPE in
// the caller when paddock-init died before reading.
Result<Pipe> MakeStream() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return Status::FromErrno("socketpair");
  }
  ::shutdown(fds[0], SHUT_WR);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// The child between clone3() and execve(): a copy of a multi-threaded process, so only
// async-signal-safe calls. Joins the v1 cgroups (writing its own tid, "0", to each `tasks` file,
// device-restricting ones first), puts the spec and reply pipes at fds 3 and 4, and execs
// paddock-init. On failure it says so on the reply pipe and exits 127.
[[noreturn]] void ExecInit(const char* init_path, char* const argv[], const int* tasks,
                           size_t task_count, int spec, int reply) {
  for (size_t i = 0; i < task_count; ++i) {
    if (::write(tasks[i], "0", 1) != 1) {
      static constexpr char kMessage[] = "error: joining the sandbox's v1 cgroups failed\n";
      (void)!::write(reply, kMessage, sizeof kMessage - 1);
      ::_exit(127);
    }
  }
  // Lift both above 4 first so that placing one cannot overwrite the other.
  spec = ::fcntl(spec, F_DUPFD, 10);
  reply = ::fcntl(reply, F_DUPFD, 10);
  if (spec < 0 || reply < 0 || ::dup2(spec, 3) != 3 || ::dup2(reply, 4) != 4) ::_exit(127);
  const int null = ::open("/dev/null", O_RDWR);
  if (null < 0 || ::dup2(null, 0) != 0 || ::dup2(null, 1) != 1 || ::dup2(null, 2) != 2)
    ::_exit(127);
  ::close_range(5, ~0U, 0);
  // The daemon blocks and ignores some signals; paddock-init starts from the defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  char* const envp[] = {nullptr};
  ::execve(init_path, argv, envp);
  ::_exit(127);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[1024];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
  return out;
}

bool SendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<LaunchedSandbox> Launch(const SandboxSpec& spec, const LaunchOptions& options) {
  PADDOCK_RETURN_IF_ERROR(Validate(spec));
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(JoinPath(options.state_dir, "root"), 0750));
  auto spec_pipe = MakeStream();
  auto reply = MakePipe();
  for (const auto* p : {&spec_pipe, &reply}) {
    if (!p->ok()) return p->status();
  }
  CgroupEntry join;
  if (options.cgroup != nullptr) {
    auto prepared = options.cgroup->PrepareJoin();
    if (!prepared.ok()) return prepared.status().WithContext("join cgroup");
    join = std::move(prepared).value();
  }
  std::vector<int> tasks;
  for (const UniqueFd& fd : join.v1_tasks) tasks.push_back(fd.get());
  // Everything the child needs is prepared before clone3: it may not allocate.
  std::string argv0 = "paddock-init";
  std::string argv1 = options.state_dir;
  char* const argv[] = {argv0.data(), argv1.data(), nullptr};

  int pidfd = -1;
  clone_args args{};
  args.flags = kNamespaces | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (join.unified_dir) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(join.unified_dir.get());
  }
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return Status::FromErrno("clone3 with new namespaces");
  if (pid == 0) {
    ExecInit(options.init_path.c_str(), argv, tasks.data(), tasks.size(), spec_pipe->read.get(),
             reply->write.get());
  }
  LaunchedSandbox launched{static_cast<pid_t>(pid), 0, UniqueFd(pidfd)};
  spec_pipe->read.reset();
  reply->write.reset();
  auto abandon = [&](const Status& why) -> Status {
    ::kill(launched.init_pid, SIGKILL);
    ::waitpid(launched.init_pid, nullptr, 0);
    return why;
  };
  nlohmann::json message = {{"spec", ToJson(spec)}};
  if (!options.seccomp_program.empty()) {
    message["seccomp_program"] =
        HexEncode(reinterpret_cast<const uint8_t*>(options.seccomp_program.data()),
                  options.seccomp_program.size());
  }
  const bool sent = SendAll(spec_pipe->write.get(), message.dump());
  spec_pipe->write.reset();
  std::string answer = ReadAll(reply->read.get());
  while (!answer.empty() && answer.back() == '\n') answer.pop_back();
  if (answer == "ok") {
    // paddock-init cannot be reaped before we do, so its /proc entry is still there.
    launched.init_start_time = ProcessStartTime(launched.init_pid).value();
    return launched;
  }
  if (answer.starts_with("error: ")) {
    return abandon(Status::FailedPrecondition("sandbox " + spec.id + ": " + answer.substr(7)));
  }
  return abandon(Status::Internal("sandbox " + spec.id + ": paddock-init (" + options.init_path +
                                  ") ended without answering" +
                                  (sent ? "" : " or reading its spec")));
}

Result<ExitRecord> ReadExitRecord(const std::string& state_dir) {
  auto text = ReadFileToString(JoinPath(state_dir, "exit.json"));
  if (!text.ok()) return text.status();
  auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Status::Internal("exit.json is not JSON");
  return ExitRecordFromJson(json);
}

}  // namespace paddock::sandbox
