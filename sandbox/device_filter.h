// The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program built from DeviceRules with
// raw instructions (no libbpf), loaded with bpf(2), attached to a sandbox cgroup and verified.
//
// The kernel runs the program on every open and mknod of a device node by a process in the cgroup
// (or below it). Its context is struct bpf_cgroup_dev_ctx: access_type (the requested access bits
// << 16 | the device type), major, minor. The program returns 1 (allow) when some rule matches the
// type, the major, the minor (or the rule's minor is a wildcard), and grants every requested
// access bit; otherwise 0 (deny, the opener sees EPERM).
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "sandbox/cgroup.h"

namespace paddock::sandbox {

// The program for `rules` (checked with ValidateDeviceRules first). No rules: deny everything.
std::vector<struct bpf_insn> BuildDeviceFilter(const std::vector<DeviceRule>& rules);

// Loads the program for `rules`, attaches it to the cgroup2 directory `cgroup_fd` as
// BPF_CGROUP_DEVICE with BPF_F_ALLOW_MULTI, and checks with BPF_PROG_QUERY that the kernel now runs
// it for that cgroup. ALLOW_MULTI because an ancestor may carry its own device program (systemd
// attaches one to units) and the kernel then requires every program on the path to allow; our
// program can only narrow what the host permits. The attachment lives as long as the cgroup; no
// descriptor needs keeping. A load failure carries the verifier's log.
Status InstallDeviceFilter(int cgroup_fd, const std::vector<DeviceRule>& rules);

// How many device programs are attached directly to the cgroup (not inherited).
Result<uint32_t> CountDeviceFilters(int cgroup_fd);

}  // namespace paddock::sandbox
