#include "sandbox/init_process.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include "base/file_util.h"

namespace paddock::sandbox {

Result<uint64_t> ProcessStartTime(pid_t pid) {
  auto stat = ReadFileToString("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return Status::NotFound("no process " + std::to_string(pid));
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const auto close = stat->rfind(')');
  if (close == std::string::npos)
    return Status::Internal("unreadable /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat->substr(close + 2));
  std::string field;
  for (int index = 3; fields >> field; ++index) {
    if (index == 22) return static_cast<uint64_t>(std::stoull(field));
  }
  return Status::Internal("short /proc/" + std::to_string(pid) + "/stat");
}

Result<UniqueFd> OpenInitProcess(pid_t pid, uint64_t start_time) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) {
    if (errno == ESRCH) return Status::NotFound("process " + std::to_string(pid) + " has ended");
    return Status::FromErrno("pidfd_open " + std::to_string(pid));
  }
  // Checked after opening the pidfd: had the pid been reused before, the start time differs; if
  // it is reused after, the pidfd still refers to the process we checked.
  auto started = ProcessStartTime(pid);
  if (!started.ok() || *started != start_time) {
    return Status::NotFound("process " + std::to_string(pid) + " has ended (pid reused)");
  }
  return fd;
}

bool ProcessEnded(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

}  // namespace paddock::sandbox
