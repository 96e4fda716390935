// NvmlLibrary: the NVIDIA driver's management library, loaded at run time.
//
// Open() dlopen()s libnvidia-ml (Paddock has no link-time dependency on it, so the same package
// runs on machines without a driver), resolves the functions Paddock calls into an NvmlFunctions
// table and initializes NVML. Required functions missing, library missing or nvmlInit_v2 failing
// all give kUnavailable: the caller then runs without NVML (hwloc/sysfs discovery only).
// Optional functions (MIG, XID events, the NUMA node query) may be null; the features built on
// them are then reported unsupported. The destructor shuts NVML down and unloads the library.
//
// Thread-safety: NVML itself is thread-safe, so api() may be called from any thread. The XID
// event queue (TakeXidErrors) has its own lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "gpu/nvml_abi.h"

namespace paddock::gpu {

// Functions every driver Paddock supports exports; the newest are the *_v3 process queries.
#define PADDOCK_NVML_REQUIRED_FUNCTIONS(X)    \
  X(nvmlInit_v2)                              \
  X(nvmlShutdown)                             \
  X(nvmlErrorString)                          \
  X(nvmlSystemGetDriverVersion)               \
  X(nvmlSystemGetNVMLVersion)                 \
  X(nvmlDeviceGetCount_v2)                    \
  X(nvmlDeviceGetHandleByIndex_v2)            \
  X(nvmlDeviceGetName)                        \
  X(nvmlDeviceGetUUID)                        \
  X(nvmlDeviceGetMinorNumber)                 \
  X(nvmlDeviceGetPciInfo_v3)                  \
  X(nvmlDeviceGetMemoryInfo)                  \
  X(nvmlDeviceGetCudaComputeCapability)       \
  X(nvmlDeviceGetPowerUsage)                  \
  X(nvmlDeviceGetEnforcedPowerLimit)          \
  X(nvmlDeviceGetTemperature)                 \
  X(nvmlDeviceGetUtilizationRates)            \
  X(nvmlDeviceGetEccMode)                     \
  X(nvmlDeviceGetTotalEccErrors)              \
  X(nvmlDeviceGetComputeRunningProcesses_v3)  \
  X(nvmlDeviceGetGraphicsRunningProcesses_v3) \
  X(nvmlDeviceGetP2PStatus)                   \
  X(nvmlDeviceGetTopologyCommonAncestor)      \
  X(nvmlDeviceGetCpuAffinity)                 \
  X(nvmlDeviceGetMemoryAffinity)

// Functions that older drivers or builds lack; null when missing.
#define PADDOCK_NVML_OPTIONAL_FUNCTIONS(X)         \
  X(nvmlDeviceGetNumaNodeId)                       \
  X(nvmlEventSetCreate)                            \
  X(nvmlDeviceGetSupportedEventTypes)              \
  X(nvmlDeviceRegisterEvents)                      \
  X(nvmlEventSetWait_v2)                           \
  X(nvmlEventSetFree)                              \
  X(nvmlDeviceGetMigMode)                          \
  X(nvmlDeviceGetGpuInstanceProfileInfo)           \
  X(nvmlDeviceGetGpuInstanceProfileInfoV)          \
  X(nvmlDeviceGetGpuInstancePossiblePlacements_v2) \
  X(nvmlDeviceGetGpuInstances)                     \
  X(nvmlGpuInstanceGetInfo)                        \
  X(nvmlGpuInstanceGetComputeInstances)            \
  X(nvmlGpuInstanceGetComputeInstanceProfileInfo)  \
  X(nvmlComputeInstanceGetInfo_v2)                 \
  X(nvmlDeviceGetMaxMigDeviceCount)                \
  X(nvmlDeviceGetMigDeviceHandleByIndex)           \
  X(nvmlDeviceGetGpuInstanceId)                    \
  X(nvmlDeviceGetComputeInstanceId)                \
  X(nvmlDeviceCreateGpuInstanceWithPlacement)      \
  X(nvmlGpuInstanceCreateComputeInstance)          \
  X(nvmlComputeInstanceDestroy)                    \
  X(nvmlGpuInstanceDestroy)

// The resolved function table; each member is named after its symbol.
struct NvmlFunctions {
#define PADDOCK_NVML_DECLARE_FIELD(name) name##_fn name = nullptr;
  PADDOCK_NVML_REQUIRED_FUNCTIONS(PADDOCK_NVML_DECLARE_FIELD)
  PADDOCK_NVML_OPTIONAL_FUNCTIONS(PADDOCK_NVML_DECLARE_FIELD)
#undef PADDOCK_NVML_DECLARE_FIELD

  // Everything MIG discovery and ApplyMigLayout call (the v2 profile-name query is extra).
  bool HasMig() const;
  bool HasXidEvents() const;
};

// The StatusCode an NVML result maps to (kOk for NVML_SUCCESS).
StatusCode NvmlReturnCode(nvmlReturn_t result);

class NvmlLibrary {
 public:
  // Loads `path` ("libnvidia-ml.so.1" searches ld.so's path) and initializes NVML.
  static Result<std::unique_ptr<NvmlLibrary>> Open(const std::string& path);

  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;
  ~NvmlLibrary();

  const NvmlFunctions& api() const { return api_; }
  const std::string& path() const { return path_; }

  // The driver's text for `result` ("GPU is lost").
  std::string ErrorString(nvmlReturn_t result) const;
  // OK for NVML_SUCCESS, else "<function>: <error string>" with NvmlReturnCode's code.
  Status Check(nvmlReturn_t result, std::string_view function) const;

  // XID errors reported for the GPU at `index` since the previous call for that index. The first
  // call registers every GPU for critical XID events; later calls drain the event set without
  // waiting. Empty when the driver lacks events. Safe to call from several threads.
  std::vector<uint64_t> TakeXidErrors(uint32_t index) const;

 private:
  NvmlLibrary(void* handle, std::string path, const NvmlFunctions& api)
      : handle_(handle), path_(std::move(path)), api_(api) {}

  // Both run with xid_mu_ held.
  void RegisterXidEventsLocked() const;
  void DrainXidEventsLocked() const;

  void* handle_;  // from dlopen
  std::string path_;
  NvmlFunctions api_;

  mutable std::mutex xid_mu_;
  mutable bool xid_registered_ = false;
  mutable nvmlEventSet_t xid_set_ = nullptr;
  mutable std::vector<nvmlDevice_t> xid_devices_;  // by index; null when not registered
  mutable std::map<uint32_t, std::vector<uint64_t>> xid_pending_;
};

}  // namespace paddock::gpu
