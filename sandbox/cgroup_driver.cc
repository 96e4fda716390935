// CgroupDriver::Create (picks the backend from the layout) and what all backends share.
#include <thread>

#include "base/log.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_fs.h"
#include "sandbox/cgroup_v1.h"
#include "sandbox/cgroup_v2.h"

namespace paddock::sandbox {
namespace {

constexpr int64_t kMaxMajor = 4095;           // 12 bits in dev_t's major
constexpr int64_t kMaxMinor = (1 << 20) - 1;  // 20 bits in dev_t's minor

}  // namespace

std::vector<DeviceRule> BaseDeviceRules() {
  return {
      {'c', 1, 3, "rw"},            // /dev/null
      {'c', 1, 5, "rw"},            // /dev/zero
      {'c', 1, 7, "rw"},            // /dev/full
      {'c', 1, 8, "rw"},            // /dev/random
      {'c', 1, 9, "rw"},            // /dev/urandom
      {'c', 5, 0, "rw"},            // /dev/tty
      {'c', 5, 2, "rw"},            // /dev/ptmx
      {'c', 136, kAnyMinor, "rw"},  // /dev/pts/N
  };
}

Status ValidateDeviceRules(const std::vector<DeviceRule>& rules) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const DeviceRule& r = rules[i];
    const std::string field = "devices[" + std::to_string(i) + "]";
    if (r.type != 'c' && r.type != 'b') {
      return Status::InvalidArgument(field + ".type: must be 'c' or 'b'");
    }
    if (r.major < 0 || r.major > kMaxMajor) {
      return Status::InvalidArgument(field +
                                     ".major: must be 0 to 4095 (a wildcard major would grant a "
                                     "whole class of host devices)");
    }
    if (r.minor != kAnyMinor && (r.minor < 0 || r.minor > kMaxMinor)) {
      return Status::InvalidArgument(field + ".minor: must be 0 to 1048575, or any (-1)");
    }
    if (r.access.empty()) return Status::InvalidArgument(field + ".access: must not be empty");
    for (char c : r.access) {
      if (c == 'm') {
        return Status::InvalidArgument(field +
                                       ".access: mknod ('m') is never granted to a sandbox");
      }
      if (c != 'r' && c != 'w') {
        return Status::InvalidArgument(field + ".access: only 'r' and 'w' are allowed");
      }
    }
  }
  return Status::Ok();
}

Cgroup::~Cgroup() = default;

Status Cgroup::WaitEmpty(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Result<bool> empty = Empty();
    if (!empty.ok()) return empty.status();
    if (*empty) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("cgroup " + name() + " still has processes after " +
                                 std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

CgroupDriver::~CgroupDriver() = default;

Result<std::unique_ptr<CgroupDriver>> CgroupDriver::Create(const CgroupDriverOptions& options) {
  PADDOCK_RETURN_IF_ERROR(ValidateCgroupName(options.parent, "cgroup parent"));
  PADDOCK_RETURN_IF_ERROR(ValidateCgroupName(options.daemon_leaf, "daemon leaf"));
  if (options.parent == options.daemon_leaf) {
    return Status::InvalidArgument("cgroup parent: must differ from the daemon leaf");
  }
  CgroupMode mode;
  if (options.mode) {
    mode = *options.mode;
  } else {
    Result<CgroupMode> detected = DetectCgroupMode(options.root);
    if (!detected.ok()) return detected.status();
    mode = *detected;
  }
  Result<std::unique_ptr<CgroupDriver>> driver =
      mode == CgroupMode::kUnified ? CreateUnifiedDriver(options) : CreateV1Driver(options, mode);
  if (!driver.ok()) {
    LogWarning("cgroup: the driver could not prepare its parent cgroup",
               {{"CGROUP_MODE", std::string(CgroupModeName(mode))},
                {"ERROR", driver.status().ToString()}});
    return driver.status().WithContext(std::string(CgroupModeName(mode)) + " cgroups");
  }
  LogInfo("cgroup: driver ready", {{"CGROUP_MODE", std::string(CgroupModeName(mode))},
                                   {"CGROUP_ROOT", options.root},
                                   {"CGROUP_PARENT", options.parent}});
  return driver;
}

}  // namespace paddock::sandbox
