// What the NVIDIA kernel driver publishes under /proc, read without NVML.
//
// /proc/driver/nvidia/gpus/<bus id>/information names each GPU the driver has bound (model,
// UUID, /dev/nvidia<minor>); /proc/driver/nvidia-caps/mig-minors maps MIG capabilities to the
// minors of /dev/nvidia-caps/nvidia-cap<minor>, which a sandbox needs to use a MIG instance.
// Every reader takes the proc root ("/proc" in production, a temp dir in tests) so it can be
// pointed at a fake tree. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "gpu/pci_address.h"

namespace paddock::gpu {

// One GPU from <proc_root>/driver/nvidia/gpus/<bus id>/information.
struct ProcDriverGpu {
  PciAddress pci;     // "Bus Location", else the directory name
  std::string model;  // "NVIDIA H100 80GB HBM3"; "" when absent
  // "GPU-..."; "" when absent or not yet known (the driver prints question marks until the GPU
  // has been initialised once).
  std::string uuid;
  int minor = -1;  // "Device Minor"; -1 when absent
};

// All GPUs the driver lists, sorted by PCI address. No <proc_root>/driver/nvidia/gpus directory
// (no driver loaded) is an empty list. An entry whose information file cannot be read, or has
// neither a usable "Bus Location" nor a bus id as its name, or a bad "Device Minor", is an error
// naming the file.
Result<std::vector<ProcDriverGpu>> ReadProcDriverGpus(const std::string& proc_root);

// <proc_root>/driver/nvidia-caps/mig-minors as capability name -> minor ("config" -> 1,
// "gpu0/gi1/ci0/access" -> 13). No such file (a driver without MIG capabilities) is an empty
// map; a malformed line is an error.
Result<std::map<std::string, int>> ReadMigMinors(const std::string& proc_root);

// The nvidia-cap minors a sandbox needs to run on one MIG instance of the GPU with minor
// `gpu_minor`: its GPU instance's access capability, then its compute instance's. Empty unless
// both are in `minors`, so a caller cannot hand out half of what the instance needs.
std::vector<int> MigCapMinors(const std::map<std::string, int>& minors, int gpu_minor, uint32_t gi,
                              uint32_t ci);

}  // namespace paddock::gpu
