// Kernel cpulists: the "0-7,16-23" form of a set of CPU (or NUMA node) ids.
//
// This is the format of /sys/devices/system/cpu/online, of a PCI device's local_cpulist, of
// cpuset.cpus in cgroup v2 and of `taskset -c`. Paddock keeps GPU locality in this form
// (GpuInfo::local_cpus) so it can be written to a cgroup or shown to people as is.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace paddock::gpu {

// Formats ids as a cpulist: ascending, runs of two or more consecutive ids as "a-b", separated by
// commas ("0-3,8,10-11"). Input order and duplicates do not matter; negative ids are ignored.
// An empty set gives "".
std::string FormatCpulist(const std::vector<int>& ids);

// Parses a cpulist into ascending, de-duplicated ids. Accepts what the kernel writes: ids and
// "a-b" ranges separated by commas, surrounding white space and a trailing newline; "" (or only
// white space) is the empty set. Rejects anything else (reversed ranges, signs, "a-b:stride"
// groups) with kInvalidArgument.
Result<std::vector<int>> ParseCpulist(std::string_view text);

}  // namespace paddock::gpu
