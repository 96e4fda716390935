#include "sandbox/cgroup_limits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <set>

#include "sandbox/cgroup_fs.h"

namespace paddock::sandbox {
namespace {

constexpr double kMinCpus = 0.01;  // 1 ms per 100 ms period, the kernel's smallest quota
constexpr uint64_t kPageSize = 4096;

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string JoinIds(const std::set<unsigned>& ids) {
  std::string out;
  for (unsigned id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

// The requested cpuset list, checked for syntax and against what the parent may use.
Result<std::set<unsigned>> CheckCpuset(std::string_view field, std::string_view what,
                                       const std::string& requested, bool controller,
                                       const std::string& available) {
  Result<std::set<unsigned>> ids = ParseCpuList(requested);
  if (!ids.ok()) {
    return Status::InvalidArgument(std::string(field) + ": " + ids.status().message());
  }
  if (!controller) {
    return Status::FailedPrecondition(std::string(field) +
                                      ": the cpuset controller is not available to the daemon");
  }
  if (available.empty()) return ids;
  Result<std::set<unsigned>> have = ParseCpuList(available);
  if (!have.ok()) return ids;  // an unreadable parent list is the kernel's to judge
  std::set<unsigned> missing;
  std::set_difference(ids->begin(), ids->end(), have->begin(), have->end(),
                      std::inserter(missing, missing.end()));
  if (!missing.empty()) {
    return Status::FailedPrecondition(std::string(field) + ": " + std::string(what) + " " +
                                      JoinIds(missing) + " not available (the daemon may use " +
                                      available + ")");
  }
  return ids;
}

}  // namespace

Status CheckLimits(const CgroupLimits& limits, const CgroupCapabilities& caps) {
  size_t cpus_in_set = 0;
  if (!limits.cpuset_cpus.empty()) {
    Result<std::set<unsigned>> ids =
        CheckCpuset("cpuset_cpus", "CPUs", limits.cpuset_cpus, caps.cpuset, caps.cpus_available);
    if (!ids.ok()) return ids.status();
    cpus_in_set = ids->size();
  } else if (!caps.cpus_available.empty()) {
    Result<std::set<unsigned>> ids = ParseCpuList(caps.cpus_available);
    if (ids.ok()) cpus_in_set = ids->size();
  }
  if (!limits.cpuset_mems.empty()) {
    Result<std::set<unsigned>> ids = CheckCpuset("cpuset_mems", "memory nodes", limits.cpuset_mems,
                                                 caps.cpuset, caps.mems_available);
    if (!ids.ok()) return ids.status();
  }

  if (limits.cpus) {
    const double cpus = *limits.cpus;
    if (!std::isfinite(cpus) || cpus < kMinCpus || cpus > 65536) {
      return Status::InvalidArgument("cpus: must be a number from 0.01 up (got " + Number(cpus) +
                                     ")");
    }
    if (!caps.cpu) {
      return Status::FailedPrecondition("cpus: the cpu controller is not available to the daemon");
    }
    const size_t usable = cpus_in_set != 0 ? cpus_in_set : caps.online_cpus;
    if (usable != 0 && cpus > static_cast<double>(usable)) {
      return Status::FailedPrecondition("cpus: " + Number(cpus) + " exceeds the " +
                                        std::to_string(usable) + " CPUs the sandbox may run on");
    }
  }

  if (limits.memory_max_bytes) {
    if (*limits.memory_max_bytes < kPageSize) {
      return Status::InvalidArgument("memory_max_bytes: must be at least one page (4096)");
    }
    if (!caps.memory) {
      return Status::FailedPrecondition(
          "memory_max_bytes: the memory controller is not available to the daemon");
    }
  }

  if (limits.pids_max) {
    if (*limits.pids_max == 0) return Status::InvalidArgument("pids_max: must be at least 1");
    if (!caps.pids) {
      return Status::FailedPrecondition(
          "pids_max: the pids controller is not available to the daemon");
    }
  }

  if (limits.io_weight && (*limits.io_weight == 0 || *limits.io_weight > 10000)) {
    return Status::InvalidArgument("io_weight: must be 1 to 10000 (got " +
                                   std::to_string(*limits.io_weight) + ")");
  }
  return Status::Ok();
}

uint64_t CpuQuotaUs(double cpus) {
  return static_cast<uint64_t>(std::llround(cpus * static_cast<double>(kCpuPeriodUs)));
}

uint64_t ScaleIoWeight(uint16_t io_weight, uint64_t default_weight, uint64_t min, uint64_t max) {
  const uint64_t scaled = static_cast<uint64_t>(io_weight) * default_weight / 100;
  return std::clamp(scaled, min, max);
}

Status SetPids(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits) {
  if (!limits.pids_max) return Status::Ok();
  return fs.Write(dir, "pids.max", std::to_string(*limits.pids_max)).WithContext("pids_max");
}

}  // namespace paddock::sandbox
