#include "sandbox/cgroup_mode.h"

#include <linux/magic.h>
#include <sys/vfs.h>

#include "base/file_util.h"

namespace paddock::sandbox {
namespace {

// The filesystem magic of `path`, or 0 when it cannot be stat'ed.
long FilesystemType(const std::string& path) {
  struct statfs fs;
  if (::statfs(path.c_str(), &fs) != 0) return 0;
  return static_cast<long>(fs.f_type);
}

}  // namespace

std::string_view CgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kUnified:
      return "unified";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kLegacy:
      return "legacy";
  }
  return "unknown";
}

Result<CgroupMode> DetectCgroupMode(const std::string& root) {
  const long root_type = FilesystemType(root);
  if (root_type == CGROUP2_SUPER_MAGIC) return CgroupMode::kUnified;
  const bool unified_beside = FilesystemType(JoinPath(root, "unified")) == CGROUP2_SUPER_MAGIC;
  // v1 keeps a tmpfs at the root with one mount per controller (or named hierarchy) below it.
  const bool has_v1 = FilesystemType(JoinPath(root, "memory")) == CGROUP_SUPER_MAGIC ||
                      FilesystemType(JoinPath(root, "systemd")) == CGROUP_SUPER_MAGIC ||
                      FilesystemType(JoinPath(root, "cpu")) == CGROUP_SUPER_MAGIC ||
                      FilesystemType(JoinPath(root, "pids")) == CGROUP_SUPER_MAGIC;
  if (has_v1) return unified_beside ? CgroupMode::kHybrid : CgroupMode::kLegacy;
  return Status::FailedPrecondition("no cgroup filesystem is mounted at " + root);
}

}  // namespace paddock::sandbox
