// GPU discovery, telemetry and MIG layout changes through NVML.
//
// DiscoverNvmlGpus() reads everything NVML knows about each GPU once (identity, locality, MIG
// profiles and instances, a first telemetry reading, processes) and how GPU pairs connect. A GPU
// that fails part-way (fallen off the bus, driver error) is still listed, with what could be read
// and telemetry.state "lost" or "error"; only a failure to enumerate GPUs at all is an error.
// SampleGpu() is the daemon's cheap periodic reading of one GPU. ApplyMigLayout() replaces a
// GPU's MIG instances. All functions are safe to call concurrently from different threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gpu/gpu_info.h"
#include "gpu/nvml_library.h"

namespace paddock::gpu {

struct NvmlSnapshot {
  std::string driver_version;  // "550.54.15"
  std::string nvml_version;    // "12.550.54.15"
  std::vector<GpuInfo> gpus;   // by NVML index; every field marked from_nvml
  // links[i][j]: how GPU i reaches GPU j (kSelf on the diagonal; symmetric).
  std::vector<std::vector<LinkKind>> links;
};

Result<NvmlSnapshot> DiscoverNvmlGpus(const NvmlLibrary& nvml);

// One periodic reading: telemetry (state "ok", "lost" or "error") and the processes on the GPU.
struct GpuSample {
  Telemetry telemetry;
  std::vector<GpuProcess> processes;
};

// Reads GPU `index`. Never fails: failures show in telemetry.state and telemetry.message.
// XID errors come from an event set shared by all GPUs (NvmlLibrary::TakeXidErrors), so each XID
// appears in exactly one sample of its GPU.
GpuSample SampleGpu(const NvmlLibrary& nvml, uint32_t index);

// Replaces the MIG instances of GPU `index` by `layout`: destroys every compute and GPU
// instance, then creates each GPU instance at its placement with one compute instance covering
// it. kFailedPrecondition when MIG mode is off, MIG is unsupported or any process uses the GPU
// (nothing is changed then); kInvalidArgument for a profile id the GPU lacks. A failure part-way
// names the instance that failed; the GPU then holds what was created so far (re-discover).
Status ApplyMigLayout(const NvmlLibrary& nvml, uint32_t index,
                      const std::vector<MigPlacement>& layout);

}  // namespace paddock::gpu
