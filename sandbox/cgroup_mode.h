// Which cgroup layout the host runs, decided once at daemon start.
//
//   unified: /sys/fs/cgroup is cgroup2 (Debian 12 under systemd).
//   hybrid:  v1 controllers under /sys/fs/cgroup/<controller> plus a cgroup2 mount at
//            /sys/fs/cgroup/unified, used for tracking and BPF device programs.
//   legacy:  v1 only.
// The sandbox engine picks its cgroup driver from this.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace paddock::sandbox {

enum class CgroupMode { kUnified, kHybrid, kLegacy };

std::string_view CgroupModeName(CgroupMode mode);

// Inspects the mounts at `root` (normally /sys/fs/cgroup). Fails when no cgroup filesystem is
// mounted there at all.
Result<CgroupMode> DetectCgroupMode(const std::string& root = "/sys/fs/cgroup");

}  // namespace paddock::sandbox
