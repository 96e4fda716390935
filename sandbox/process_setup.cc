#include "sandbox/process_setup.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

#include "base/file_util.h"

namespace paddock::sandbox {
namespace {

Status SetLimit(int resource, uint64_t value, const char* name) {
  rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  if (::setrlimit(resource, &limit) == 0) return Status::Ok();
  // Raising a hard limit needs CAP_SYS_RESOURCE, which a restricted host (paddockd itself in a
  // container) may not grant: then the workload gets as much as the host allows.
  rlimit current{};
  if (errno == EPERM && ::getrlimit(resource, &current) == 0 && current.rlim_max < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max = current.rlim_max;
    if (::setrlimit(resource, &limit) == 0) return Status::Ok();
  }
  return Status::FromErrno(std::string("setrlimit ") + name + " " + std::to_string(value));
}

Status WriteProcFile(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path);
  const ssize_t n = ::write(fd, content.data(), content.size());
  const int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size())) return Status::FromErrno("write " + path, saved);
  return Status::Ok();
}

}  // namespace

Status ClearSupplementaryGroups() {
  if (::setgroups(0, nullptr) != 0) return Status::FromErrno("setgroups");
  return Status::Ok();
}

Status DropBoundingAndAmbientCapabilities() {
  // cap_max_bits() asks the running kernel, which may know more capabilities than our headers.
  for (cap_value_t cap = 0; cap < static_cast<cap_value_t>(cap_max_bits()); ++cap) {
    if (cap_drop_bound(cap) != 0) {
      return Status::FromErrno("drop capability " + std::to_string(cap) + " from the bounding set");
    }
  }
  if (cap_reset_ambient() != 0) return Status::FromErrno("clear ambient capabilities");
  return Status::Ok();
}

Status ApplyProcessLimits(const ProcessLimits& limits) {
  PADDOCK_RETURN_IF_ERROR(SetLimit(RLIMIT_NOFILE, limits.nofile, "NOFILE"));
  PADDOCK_RETURN_IF_ERROR(SetLimit(RLIMIT_CORE, limits.core, "CORE"));
  if (limits.memlock) PADDOCK_RETURN_IF_ERROR(SetLimit(RLIMIT_MEMLOCK, *limits.memlock, "MEMLOCK"));
  return Status::Ok();
}

Status SwitchIdentity(uid_t uid, gid_t gid) {
  if (::setresgid(gid, gid, gid) != 0) return Status::FromErrno("setresgid " + std::to_string(gid));
  if (::setresuid(uid, uid, uid) != 0) return Status::FromErrno("setresuid " + std::to_string(uid));
  return Status::Ok();
}

Status ClearCapabilitySets() {
  cap_t empty = cap_init();
  if (empty == nullptr) return Status::FromErrno("cap_init");
  const int rc = cap_set_proc(empty);
  const int saved = errno;
  cap_free(empty);
  if (rc != 0) return Status::FromErrno("clear capability sets", saved);
  return Status::Ok();
}

Status SetNoNewPrivileges() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Status::FromErrno("PR_SET_NO_NEW_PRIVS");
  return Status::Ok();
}

Status CloseInheritedDescriptors() {
  if (::close_range(3, ~0U, 0) != 0) return Status::FromErrno("close_range");
  return Status::Ok();
}

Status WriteIdMaps(pid_t pid, uid_t inside_uid, uid_t host_uid, gid_t inside_gid, gid_t host_gid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  PADDOCK_RETURN_IF_ERROR(WriteProcFile(proc + "/setgroups", "deny"));
  PADDOCK_RETURN_IF_ERROR(WriteProcFile(
      proc + "/uid_map", std::to_string(inside_uid) + " " + std::to_string(host_uid) + " 1\n"));
  return WriteProcFile(proc + "/gid_map",
                       std::to_string(inside_gid) + " " + std::to_string(host_gid) + " 1\n");
}

}  // namespace paddock::sandbox
