// Internal to the cgroup drivers: checking CgroupLimits against what the host offers, and the
// conversions both cgroup versions share.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_fs.h"

namespace paddock::sandbox {

// What the parent cgroup offers its sandboxes, as the driver found it.
struct CgroupCapabilities {
  bool cpu = false;  // CFS quota
  bool cpuset = false;
  bool memory = false;
  bool pids = false;
  // The parent's effective cpuset lists; "" where unknown.
  std::string cpus_available;
  std::string mems_available;
  // CPUs online, for hosts without a cpuset to compare `cpus` with.
  unsigned online_cpus = 0;
};

// kInvalidArgument for values wrong on any host, kFailedPrecondition for values this host cannot
// honour; the message starts with the field name. io_weight is never a precondition failure: it
// applies "where available".
Status CheckLimits(const CgroupLimits& limits, const CgroupCapabilities& caps);

// The CFS period both versions use, in microseconds: 100 ms, the kernel's default, keeps the
// throttling granularity the scheduler is tuned for.
inline constexpr uint64_t kCpuPeriodUs = 100000;
// The quota for `cpus` CPUs per kCpuPeriodUs (cpus already checked).
uint64_t CpuQuotaUs(double cpus);

// io_weight (v2 scale 1..10000, default 100) on a scale whose default is `default_weight`,
// clamped to [min, max]: v1 blkio.weight is 10..1000 with default 500, BFQ weights 1..1000
// with default 100.
uint64_t ScaleIoWeight(uint16_t io_weight, uint64_t default_weight, uint64_t min, uint64_t max);

// Writes pids.max (the same file on v1 and v2) when the limits set it.
Status SetPids(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits);

}  // namespace paddock::sandbox
