// The legacy (cgroup v1) and hybrid backends.
//
// A sandbox is one directory per mounted controller hierarchy (co-mounted controllers such as
// cpu,cpuacct share one), under <mount>/<daemon's own path there>/<parent>. Device access is the v1
// devices controller: "a" denied, then each rule allowed, then devices.list read back to confirm
// nothing beyond the rules is open.
//
// Hybrid adds a tracking cgroup in the cgroup2 mount (<root>/unified). It carries the BPF device
// program as a second, independent device check (the kernel consults both on every open and
// mknod), gives cgroup.kill and cgroup.events "populated", and is where the processes are moved
// first. Both device layers must install, or the sandbox is not created.
#pragma once

#include <memory>

#include "base/status.h"
#include "sandbox/cgroup.h"

namespace paddock::sandbox {

// `mode` is kLegacy or kHybrid. Fails (kFailedPrecondition) when no device control is possible:
// legacy without the devices hierarchy.
Result<std::unique_ptr<CgroupDriver>> CreateV1Driver(const CgroupDriverOptions& options,
                                                     CgroupMode mode);

}  // namespace paddock::sandbox
