// Loading a compiled SeccompProgram: kept apart from the profile (seccomp_policy.cc) so that
// paddock-init, which only loads the daemon's program, links neither libseccomp nor logging.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandbox/seccomp_policy.h"

namespace paddock::sandbox {

int SeccompProgram::Install() const {
  if (program_.empty() || program_.size() > BPF_MAXINSNS) return -EINVAL;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program_.size());
  prog.filter = const_cast<sock_filter*>(program_.data());  // the kernel copies, never writes
  // TSYNC puts every thread of the process under the filter; in a freshly cloned child there is
  // only the caller, but a thread started behind the launcher's back would otherwise escape it.
  const long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (rc == 0) return 0;
  if (rc > 0) return -ESRCH;  // TSYNC: thread `rc` runs under a filter it cannot be moved from
  if (errno != ENOSYS) return -errno;
  // seccomp(2) is missing (kernels before 3.17); prctl installs the same filter on this thread.
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0) return 0;
  return -errno;
}

std::string SeccompProgram::ToBytes() const {
  return std::string(reinterpret_cast<const char*>(program_.data()),
                     program_.size() * sizeof(sock_filter));
}

Result<SeccompProgram> SeccompProgram::FromBytes(std::string_view bytes) {
  if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0 ||
      bytes.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    return Status::InvalidArgument("seccomp program: " + std::to_string(bytes.size()) +
                                   " bytes is not a whole BPF program");
  }
  std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
  std::memcpy(program.data(), bytes.data(), bytes.size());
  return SeccompProgram(std::move(program));
}

}  // namespace paddock::sandbox
