// What Paddock knows about one GPU: identity, locality, MIG state, telemetry and users.
//
// Filled by discovery (gpu/nvml_discovery.h from the driver, gpu/topology.h from hwloc, merged
// by gpu/inventory.h) and read by the allocator (gpu/allocator.h) and the daemon. Plain values,
// copyable, no references into libraries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gpu/pci_address.h"

namespace paddock::gpu {

// How two GPUs reach each other, best first. Values are ordered: a smaller kind is closer.
enum class LinkKind {
  kSelf = 0,
  kNvlink = 1,      // NVLink, directly (bridge) or through NVSwitch
  kPcieSwitch = 2,  // below a common PCIe switch (no host bridge crossed)
  kHostBridge = 3,  // below a common host bridge (root complex)
  kNumaNode = 4,    // same NUMA node / package, different host bridges
  kSystem = 5,      // across sockets (the inter-socket link)
};
// "self", "nvlink", "pcie_switch", "host_bridge", "numa_node", "system".
const char* LinkKindName(LinkKind kind);

// One MIG GPU-instance profile the GPU supports (NVML's GPU instance profile info).
struct MigProfile {
  std::string name;        // "1g.10gb"
  uint32_t id = 0;         // NVML profile id (19 for H100 1g.10gb), what creation takes
  uint32_t slices = 0;     // compute slices ("1g" -> 1)
  uint32_t max_count = 0;  // instances of this profile alone that fit the GPU
  uint64_t memory_bytes = 0;
  uint32_t sm_count = 0;
  // Valid placements: start slice and size in memory slices (3g starts at 0 or 4, size 4).
  std::vector<uint32_t> placement_starts;
  uint32_t placement_size = 0;
};

// One MIG instance that exists on the GPU (a GPU instance with its compute instance).
struct MigInstance {
  std::string uuid;     // "MIG-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
  std::string profile;  // "1g.10gb"
  uint32_t gpu_instance_id = 0;
  uint32_t compute_instance_id = 0;
  uint32_t placement_start = 0;
  uint32_t placement_size = 0;
  uint64_t memory_bytes = 0;
  uint32_t sm_count = 0;
};

// Where one MIG instance of a layout goes (gpu/mig_layout.h computes these; NVML creates them).
struct MigPlacement {
  std::string profile;      // "3g.40gb"
  uint32_t profile_id = 0;  // NVML GPU-instance profile id
  uint32_t start = 0;       // first memory slice
  uint32_t size = 0;        // memory slices
  friend bool operator==(const MigPlacement&, const MigPlacement&) = default;
};

// A process using the GPU, as the driver reports it (pid in the host's pid namespace).
struct GpuProcess {
  int64_t pid = 0;
  uint64_t used_memory_bytes = 0;
  std::string mig_uuid;  // the MIG instance it runs on; "" for the whole GPU
};

// One telemetry reading. Unset optionals: the driver does not report that value.
struct Telemetry {
  // "ok"; "no_telemetry" (found without NVML); "lost" (fell off the bus); "error" (see message).
  std::string state = "no_telemetry";
  std::string message;
  int64_t sampled_at_ms = 0;  // wall clock
  std::optional<uint64_t> memory_used_bytes;
  std::optional<uint32_t> power_mw;
  std::optional<uint32_t> power_limit_mw;
  std::optional<uint32_t> temperature_c;
  std::optional<uint32_t> utilization_gpu_percent;
  std::optional<uint32_t> utilization_memory_percent;
  std::optional<bool> ecc_enabled;
  std::optional<uint64_t> ecc_uncorrected_errors;  // volatile (since boot), aggregate
  std::vector<uint64_t> xid_errors;                // XIDs seen since the last reading
};

struct GpuInfo {
  uint32_t index = 0;  // NVML index; without NVML, order of PCI address
  int minor = -1;      // /dev/nvidia<minor>; -1 when unknown (no NVML, no /proc/driver/nvidia)
  std::string uuid;    // "GPU-..."; without NVML a stable id derived from the PCI address
  std::string name;    // "NVIDIA H100 80GB HBM3"; without NVML the PCI device name or id
  PciAddress pci;
  uint32_t pci_device_id = 0;       // NVML's form: device << 16 | vendor (0x233010DE)
  uint64_t memory_total_bytes = 0;  // 0 when unknown
  int cuda_cc_major = -1;           // compute capability; -1 when unknown
  int cuda_cc_minor = -1;
  bool from_nvml = false;  // false: found through hwloc/sysfs only, whole-unit use, no telemetry
  bool mig_capable = false;
  bool mig_enabled = false;  // current MIG mode
  std::vector<MigProfile> mig_profiles;
  std::vector<MigInstance> mig_instances;
  std::vector<uint32_t> nvlink_peers;  // indexes of GPUs reachable over NVLink
  std::vector<int> numa_nodes;         // OS indexes; empty when unknown
  std::string local_cpus;              // cpulist of OS cpu ids ("0-7,16-23"); "" when none
  Telemetry telemetry;
  std::vector<GpuProcess> processes;
};

}  // namespace paddock::gpu
