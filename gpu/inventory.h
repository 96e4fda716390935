// Inventory: the one list of GPUs the daemon works with, merged from what discovery found.
//
// Sources, best first: NVML (identity, MIG, telemetry, NVLink), hwloc (PCI tree and locality)
// and the NVIDIA driver's /proc files (UUID and minor without NVML). Rules:
//   - With NVML, the GPUs are NVML's. Each is matched to hwloc by PCI address; when hwloc knows
//     it, hwloc's NUMA nodes and local CPUs replace NVML's. Links are NVML's, except that a pair
//     that is not NVLink-connected and that hwloc knows both ends of takes hwloc's PCIe link.
//   - Without NVML, the GPUs are hwloc's NVIDIA compute GPUs in PCI order (from_nvml = false,
//     telemetry "no_telemetry"), with UUID, minor and model from /proc/driver/nvidia where the
//     driver lists the bus id (else UUID "PCI-<bus id>" and minor -1). GPUs the driver lists
//     but hwloc does not are added with unknown locality. Links come from hwloc's PCIe tree.
//   - With neither NVML nor hwloc, the GPUs are the driver's, with unknown locality and links.
// BuildInventory never fails: what does not fit is recorded in `warnings` for people to read.
// Pure function of its inputs; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "gpu/gpu_info.h"
#include "gpu/proc_driver.h"
#include "gpu/topology.h"

namespace paddock::gpu {

// What NVML discovery found (gpu/nvml_discovery.h fills it).
struct NvmlGpuList {
  std::vector<GpuInfo> gpus;                 // by NVML index
  std::vector<std::vector<LinkKind>> links;  // links[i][j] between gpus[i] and gpus[j]
};

struct InventorySources {
  const NvmlGpuList* nvml = nullptr;     // null: NVML unavailable
  const Topology* topology = nullptr;    // null: hwloc unavailable
  std::vector<ProcDriverGpu> proc_gpus;  // from ReadProcDriverGpus(); may be empty
  std::string nvml_status;  // why NVML is unavailable (shown to people); "" when it is there
};

struct Inventory {
  std::vector<GpuInfo> gpus;                 // NVML index order; without NVML, PCI order
  std::vector<std::vector<LinkKind>> links;  // square, gpus.size() on each side, kSelf diagonal
  bool nvml = false;                         // the GPUs and their telemetry come from NVML
  std::string nvml_status;                   // "ok", or why NVML is not used
  std::vector<std::string> warnings;
};

Inventory BuildInventory(const InventorySources& sources);

}  // namespace paddock::gpu
