#include "gpu/nvml_discovery.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>

#include "base/clock.h"
#include "base/log.h"
#include "gpu/cpulist.h"

namespace paddock::gpu {
namespace {

constexpr unsigned int kNoMigId = 0xFFFFFFFF;  // NVML's "not in a MIG instance"
constexpr unsigned int kCpuMaskLongs = 64;     // 4096 CPUs
constexpr unsigned int kNodeMaskLongs = 16;    // 1024 NUMA nodes
// Upper bounds on what one call returns; NVML writes up to the profile's instance count.
constexpr unsigned int kMaxInstancesPerProfile = 16;
constexpr unsigned long long kMiB = 1024ull * 1024ull;

// Tracks the outcome of the NVML calls made for one GPU: the first real failure and whether the
// GPU is lost. NOT_SUPPORTED is an answer ("this GPU does not report that"), not a failure.
class CallLog {
 public:
  explicit CallLog(const NvmlLibrary& nvml) : nvml_(nvml) {}

  // True when `r` is NVML_SUCCESS; otherwise records the failure of `function`.
  bool Ok(nvmlReturn_t r, const char* function) {
    if (r == NVML_SUCCESS) return true;
    if (r == NVML_ERROR_GPU_IS_LOST) lost_ = true;
    if (r != NVML_ERROR_NOT_SUPPORTED && error_.empty()) {
      error_ = std::string(function) + ": " + nvml_.ErrorString(r);
    }
    return false;
  }
  bool lost() const { return lost_; }
  const std::string& error() const { return error_; }

  // Sets telemetry.state/message from what was recorded.
  void Apply(Telemetry& t) const {
    t.state = lost_ ? "lost" : (error_.empty() ? "ok" : "error");
    t.message = lost_ ? "GPU has fallen off the bus (" + error_ + ")" : error_;
  }

 private:
  const NvmlLibrary& nvml_;
  bool lost_ = false;
  std::string error_;
};

// ---- Identity -----------------------------------------------------------------------------------

void ReadIdentity(const NvmlFunctions& api, nvmlDevice_t device, CallLog& log, GpuInfo& gpu) {
  char buf[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = {};
  if (log.Ok(api.nvmlDeviceGetName(device, buf, sizeof buf), "nvmlDeviceGetName")) gpu.name = buf;
  char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = {};
  if (log.Ok(api.nvmlDeviceGetUUID(device, uuid, sizeof uuid), "nvmlDeviceGetUUID")) {
    gpu.uuid = uuid;
  }
  unsigned int minor = 0;
  if (log.Ok(api.nvmlDeviceGetMinorNumber(device, &minor), "nvmlDeviceGetMinorNumber")) {
    gpu.minor = static_cast<int>(minor);
  }
  nvmlPciInfo_t pci{};
  if (log.Ok(api.nvmlDeviceGetPciInfo_v3(device, &pci), "nvmlDeviceGetPciInfo_v3")) {
    gpu.pci_device_id = pci.pciDeviceId;
    pci.busId[sizeof pci.busId - 1] = '\0';
    auto address = ParsePciAddress(pci.busId);
    if (address.ok()) {
      gpu.pci = *address;
    } else {
      LogWarning("NVML reported an unparsable PCI bus id", {{"BUS_ID", pci.busId}});
    }
  }
  nvmlMemory_t memory{};
  if (log.Ok(api.nvmlDeviceGetMemoryInfo(device, &memory), "nvmlDeviceGetMemoryInfo")) {
    gpu.memory_total_bytes = memory.total;
  }
  int major = 0, minor_cc = 0;
  if (log.Ok(api.nvmlDeviceGetCudaComputeCapability(device, &major, &minor_cc),
             "nvmlDeviceGetCudaComputeCapability")) {
    gpu.cuda_cc_major = major;
    gpu.cuda_cc_minor = minor_cc;
  }
}

// ---- Locality -----------------------------------------------------------------------------------

// The ids of the set bits of a CPU/node mask as NVML fills it.
std::vector<int> MaskBits(const std::vector<unsigned long>& mask) {
  std::vector<int> bits;
  constexpr int kBits = sizeof(unsigned long) * CHAR_BIT;
  for (size_t w = 0; w < mask.size(); ++w) {
    for (int b = 0; b < kBits; ++b) {
      if ((mask[w] >> b) & 1ul) bits.push_back(static_cast<int>(w) * kBits + b);
    }
  }
  return bits;
}

void ReadLocality(const NvmlFunctions& api, nvmlDevice_t device, CallLog& log, GpuInfo& gpu) {
  bool have_node = false;
  if (api.nvmlDeviceGetNumaNodeId != nullptr) {
    unsigned int node = 0;
    nvmlReturn_t r = api.nvmlDeviceGetNumaNodeId(device, &node);
    // Without NUMA the driver answers NOT_SUPPORTED or -1; the memory affinity then decides.
    if (r == NVML_SUCCESS && node != UINT_MAX) {
      gpu.numa_nodes = {static_cast<int>(node)};
      have_node = true;
    } else if (r == NVML_ERROR_GPU_IS_LOST) {
      log.Ok(r, "nvmlDeviceGetNumaNodeId");
    }
  }
  if (!have_node) {
    std::vector<unsigned long> nodes(kNodeMaskLongs, 0);
    if (log.Ok(api.nvmlDeviceGetMemoryAffinity(device, kNodeMaskLongs, nodes.data(),
                                               NVML_AFFINITY_SCOPE_NODE),
               "nvmlDeviceGetMemoryAffinity")) {
      gpu.numa_nodes = MaskBits(nodes);
    }
  }
  std::vector<unsigned long> cpus(kCpuMaskLongs, 0);
  if (log.Ok(api.nvmlDeviceGetCpuAffinity(device, kCpuMaskLongs, cpus.data()),
             "nvmlDeviceGetCpuAffinity")) {
    gpu.local_cpus = FormatCpulist(MaskBits(cpus));
  }
}

LinkKind LevelToLink(nvmlGpuTopologyLevel_t level) {
  switch (level) {
    case NVML_TOPOLOGY_INTERNAL:
    case NVML_TOPOLOGY_SINGLE:
    case NVML_TOPOLOGY_MULTIPLE:
      return LinkKind::kPcieSwitch;
    case NVML_TOPOLOGY_HOSTBRIDGE:
      return LinkKind::kHostBridge;
    case NVML_TOPOLOGY_NODE:
      return LinkKind::kNumaNode;
    default:
      return LinkKind::kSystem;
  }
}

// How `a` reaches `b`; kSystem (the farthest) when NVML cannot tell.
LinkKind ReadLink(const NvmlFunctions& api, nvmlDevice_t a, nvmlDevice_t b) {
  if (a == nullptr || b == nullptr) return LinkKind::kSystem;
  nvmlGpuP2PStatus_t p2p = NVML_P2P_STATUS_UNKNOWN;
  if (api.nvmlDeviceGetP2PStatus(a, b, NVML_P2P_CAPS_INDEX_NVLINK, &p2p) == NVML_SUCCESS &&
      p2p == NVML_P2P_STATUS_OK) {
    return LinkKind::kNvlink;
  }
  nvmlGpuTopologyLevel_t level = NVML_TOPOLOGY_SYSTEM;
  if (api.nvmlDeviceGetTopologyCommonAncestor(a, b, &level) != NVML_SUCCESS) {
    return LinkKind::kSystem;
  }
  return LevelToLink(level);
}

std::vector<std::vector<LinkKind>> ReadLinks(const NvmlFunctions& api,
                                             const std::vector<nvmlDevice_t>& devices) {
  size_t n = devices.size();
  std::vector<std::vector<LinkKind>> links(n, std::vector<LinkKind>(n, LinkKind::kSystem));
  for (size_t i = 0; i < n; ++i) {
    links[i][i] = LinkKind::kSelf;
    for (size_t j = i + 1; j < n; ++j) {
      links[i][j] = links[j][i] = ReadLink(api, devices[i], devices[j]);
    }
  }
  return links;
}

// ---- MIG ----------------------------------------------------------------------------------------

// "1g.10gb" from slices and MiB, as the driver names profiles; only used when the driver lacks
// the named profile query.
std::string DerivedProfileName(unsigned int profile_index, unsigned int slices,
                               unsigned long long memory_mib) {
  long gb = std::lround(static_cast<double>(memory_mib) / 1024.0);
  std::string name = std::to_string(slices) + "g." + std::to_string(gb) + "gb";
  if (profile_index == NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1) name += "+me";
  return name;
}

std::string ProfileName(const NvmlFunctions& api, nvmlDevice_t device, unsigned int index,
                        const nvmlGpuInstanceProfileInfo_t& info) {
  if (api.nvmlDeviceGetGpuInstanceProfileInfoV != nullptr) {
    nvmlGpuInstanceProfileInfo_v2_t v2{};
    v2.version = nvmlGpuInstanceProfileInfo_v2;
    if (api.nvmlDeviceGetGpuInstanceProfileInfoV(device, index, &v2) == NVML_SUCCESS) {
      v2.name[sizeof v2.name - 1] = '\0';
      std::string name = v2.name;
      if (name.rfind("MIG ", 0) == 0) name.erase(0, 4);  // the driver says "MIG 1g.10gb"
      if (!name.empty()) return name;
    }
  }
  return DerivedProfileName(index, info.sliceCount, info.memorySizeMB);
}

std::vector<nvmlGpuInstancePlacement_t> ReadPlacements(const NvmlFunctions& api,
                                                       nvmlDevice_t device, unsigned int profile_id,
                                                       CallLog& log) {
  unsigned int count = 0;
  if (!log.Ok(
          api.nvmlDeviceGetGpuInstancePossiblePlacements_v2(device, profile_id, nullptr, &count),
          "nvmlDeviceGetGpuInstancePossiblePlacements_v2")) {
    return {};
  }
  std::vector<nvmlGpuInstancePlacement_t> placements(count);
  if (count > 0 && !log.Ok(api.nvmlDeviceGetGpuInstancePossiblePlacements_v2(
                               device, profile_id, placements.data(), &count),
                           "nvmlDeviceGetGpuInstancePossiblePlacements_v2")) {
    return {};
  }
  placements.resize(std::min<size_t>(count, placements.size()));
  return placements;
}

// The GPU-instance profiles of a GPU in MIG mode (the driver lists none with MIG mode off).
std::vector<MigProfile> ReadMigProfiles(const NvmlFunctions& api, nvmlDevice_t device,
                                        CallLog& log) {
  std::vector<MigProfile> profiles;
  for (unsigned int index = 0; index < NVML_GPU_INSTANCE_PROFILE_COUNT; ++index) {
    nvmlGpuInstanceProfileInfo_t info{};
    nvmlReturn_t r = api.nvmlDeviceGetGpuInstanceProfileInfo(device, index, &info);
    // NOT_SUPPORTED / INVALID_ARGUMENT: this GPU has no profile at that index.
    if (r == NVML_ERROR_GPU_IS_LOST) log.Ok(r, "nvmlDeviceGetGpuInstanceProfileInfo");
    if (r != NVML_SUCCESS || info.instanceCount == 0) continue;
    MigProfile p;
    p.name = ProfileName(api, device, index, info);
    p.id = info.id;
    p.slices = info.sliceCount;
    p.max_count = info.instanceCount;
    p.memory_bytes = info.memorySizeMB * kMiB;
    p.sm_count = info.multiprocessorCount;
    for (const auto& placement : ReadPlacements(api, device, info.id, log)) {
      p.placement_starts.push_back(placement.start);
      p.placement_size = placement.size;
    }
    profiles.push_back(std::move(p));
  }
  return profiles;
}

// Compute-instance profile index whose slice count equals a GPU instance's.
unsigned int ComputeProfileIndexForSlices(unsigned int slices) {
  switch (slices) {
    case 1:
      return NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE;
    case 2:
      return NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE;
    case 3:
      return NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE;
    case 4:
      return NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE;
    case 6:
      return NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE;
    case 8:
      return NVML_COMPUTE_INSTANCE_PROFILE_8_SLICE;
    default:
      return NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE;
  }
}

struct ComputeInstanceRef {
  nvmlComputeInstance_t handle = nullptr;
  unsigned int id = 0;
  uint32_t sm_count = 0;
};

// Every compute instance of a GPU instance, across all compute-instance profiles.
std::vector<ComputeInstanceRef> ReadComputeInstances(const NvmlFunctions& api, nvmlGpuInstance_t gi,
                                                     CallLog& log) {
  std::vector<ComputeInstanceRef> out;
  for (unsigned int index = 0; index < NVML_COMPUTE_INSTANCE_PROFILE_COUNT; ++index) {
    nvmlComputeInstanceProfileInfo_t info{};
    if (api.nvmlGpuInstanceGetComputeInstanceProfileInfo(
            gi, index, NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &info) != NVML_SUCCESS) {
      continue;  // not a profile of this GPU instance
    }
    std::vector<nvmlComputeInstance_t> cis(std::max(info.instanceCount, kMaxInstancesPerProfile));
    unsigned int count = 0;
    if (!log.Ok(api.nvmlGpuInstanceGetComputeInstances(gi, info.id, cis.data(), &count),
                "nvmlGpuInstanceGetComputeInstances")) {
      continue;
    }
    for (unsigned int k = 0; k < count && k < cis.size(); ++k) {
      nvmlComputeInstanceInfo_t ci{};
      if (!log.Ok(api.nvmlComputeInstanceGetInfo_v2(cis[k], &ci),
                  "nvmlComputeInstanceGetInfo_v2")) {
        continue;
      }
      out.push_back({cis[k], ci.id, info.multiprocessorCount});
    }
  }
  return out;
}

struct GpuInstanceRef {
  nvmlGpuInstance_t handle = nullptr;
  nvmlGpuInstanceInfo_t info{};
  const MigProfile* profile = nullptr;
};

std::vector<GpuInstanceRef> ReadGpuInstances(const NvmlFunctions& api, nvmlDevice_t device,
                                             const std::vector<MigProfile>& profiles,
                                             CallLog& log) {
  std::vector<GpuInstanceRef> out;
  for (const MigProfile& p : profiles) {
    std::vector<nvmlGpuInstance_t> gis(std::max(p.max_count, kMaxInstancesPerProfile));
    unsigned int count = 0;
    if (!log.Ok(api.nvmlDeviceGetGpuInstances(device, p.id, gis.data(), &count),
                "nvmlDeviceGetGpuInstances")) {
      continue;
    }
    for (unsigned int k = 0; k < count && k < gis.size(); ++k) {
      GpuInstanceRef ref{gis[k], {}, &p};
      if (log.Ok(api.nvmlGpuInstanceGetInfo(gis[k], &ref.info), "nvmlGpuInstanceGetInfo")) {
        out.push_back(ref);
      }
    }
  }
  return out;
}

// (GPU instance id, compute instance id) -> MIG device UUID.
std::map<std::pair<unsigned int, unsigned int>, std::string> ReadMigUuids(const NvmlFunctions& api,
                                                                          nvmlDevice_t device) {
  std::map<std::pair<unsigned int, unsigned int>, std::string> uuids;
  unsigned int max = 0;
  if (api.nvmlDeviceGetMaxMigDeviceCount(device, &max) != NVML_SUCCESS) return uuids;
  for (unsigned int k = 0; k < max; ++k) {
    nvmlDevice_t mig = nullptr;
    unsigned int gi = 0, ci = 0;
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = {};
    // NOT_FOUND: no MIG device in this slot.
    if (api.nvmlDeviceGetMigDeviceHandleByIndex(device, k, &mig) != NVML_SUCCESS ||
        api.nvmlDeviceGetGpuInstanceId(mig, &gi) != NVML_SUCCESS ||
        api.nvmlDeviceGetComputeInstanceId(mig, &ci) != NVML_SUCCESS ||
        api.nvmlDeviceGetUUID(mig, uuid, sizeof uuid) != NVML_SUCCESS) {
      continue;
    }
    uuids[{gi, ci}] = uuid;
  }
  return uuids;
}

// Existing instances, by placement. A GPU instance without a compute instance (left by a failed
// layout change) is listed with an empty uuid: it holds slices but cannot run anything.
std::vector<MigInstance> ReadMigInstances(const NvmlFunctions& api, nvmlDevice_t device,
                                          const std::vector<MigProfile>& profiles, CallLog& log) {
  auto uuids = ReadMigUuids(api, device);
  std::vector<MigInstance> out;
  for (const GpuInstanceRef& gi : ReadGpuInstances(api, device, profiles, log)) {
    MigInstance base;
    base.profile = gi.profile->name;
    base.gpu_instance_id = gi.info.id;
    base.placement_start = gi.info.placement.start;
    base.placement_size = gi.info.placement.size;
    base.memory_bytes = gi.profile->memory_bytes;
    base.sm_count = gi.profile->sm_count;
    auto cis = ReadComputeInstances(api, gi.handle, log);
    if (cis.empty()) out.push_back(base);
    for (const ComputeInstanceRef& ci : cis) {
      MigInstance m = base;
      m.compute_instance_id = ci.id;
      m.sm_count = ci.sm_count;
      auto it = uuids.find({gi.info.id, ci.id});
      if (it != uuids.end()) m.uuid = it->second;
      out.push_back(std::move(m));
    }
  }
  std::sort(out.begin(), out.end(), [](const MigInstance& a, const MigInstance& b) {
    return std::tie(a.placement_start, a.compute_instance_id) <
           std::tie(b.placement_start, b.compute_instance_id);
  });
  return out;
}

// Sets mig_capable/mig_enabled; reads profiles and instances when MIG mode is on.
void ReadMig(const NvmlFunctions& api, nvmlDevice_t device, CallLog& log, GpuInfo& gpu) {
  if (!api.HasMig()) return;
  unsigned int current = 0, pending = 0;
  nvmlReturn_t r = api.nvmlDeviceGetMigMode(device, &current, &pending);
  if (!log.Ok(r, "nvmlDeviceGetMigMode")) return;  // NOT_SUPPORTED: not MIG capable
  gpu.mig_capable = true;
  gpu.mig_enabled = current == NVML_DEVICE_MIG_ENABLE;
  if (!gpu.mig_enabled) return;
  gpu.mig_profiles = ReadMigProfiles(api, device, log);
  gpu.mig_instances = ReadMigInstances(api, device, gpu.mig_profiles, log);
}

// ---- Telemetry and processes --------------------------------------------------------------------

Telemetry ReadTelemetry(const NvmlLibrary& nvml, uint32_t index, nvmlDevice_t device,
                        CallLog& log) {
  const NvmlFunctions& api = nvml.api();
  Telemetry t;
  t.sampled_at_ms = UnixNowMs();
  nvmlMemory_t memory{};
  if (log.Ok(api.nvmlDeviceGetMemoryInfo(device, &memory), "nvmlDeviceGetMemoryInfo")) {
    t.memory_used_bytes = memory.used;
  }
  unsigned int value = 0;
  if (log.Ok(api.nvmlDeviceGetPowerUsage(device, &value), "nvmlDeviceGetPowerUsage")) {
    t.power_mw = value;
  }
  if (log.Ok(api.nvmlDeviceGetEnforcedPowerLimit(device, &value),
             "nvmlDeviceGetEnforcedPowerLimit")) {
    t.power_limit_mw = value;
  }
  if (log.Ok(api.nvmlDeviceGetTemperature(device, NVML_TEMPERATURE_GPU, &value),
             "nvmlDeviceGetTemperature")) {
    t.temperature_c = value;
  }
  nvmlUtilization_t util{};
  // In MIG mode the driver reports no whole-GPU utilization (NOT_SUPPORTED).
  if (log.Ok(api.nvmlDeviceGetUtilizationRates(device, &util), "nvmlDeviceGetUtilizationRates")) {
    t.utilization_gpu_percent = util.gpu;
    t.utilization_memory_percent = util.memory;
  }
  nvmlEnableState_t ecc = NVML_FEATURE_DISABLED, ecc_pending = NVML_FEATURE_DISABLED;
  if (log.Ok(api.nvmlDeviceGetEccMode(device, &ecc, &ecc_pending), "nvmlDeviceGetEccMode")) {
    t.ecc_enabled = ecc == NVML_FEATURE_ENABLED;
    unsigned long long errors = 0;
    if (ecc == NVML_FEATURE_ENABLED &&
        log.Ok(api.nvmlDeviceGetTotalEccErrors(device, NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
                                               NVML_VOLATILE_ECC, &errors),
               "nvmlDeviceGetTotalEccErrors")) {
      t.ecc_uncorrected_errors = errors;
    }
  }
  t.xid_errors = nvml.TakeXidErrors(index);
  return t;
}

using ProcessQuery = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_t*);

// One process list; grows the buffer while processes start between the two calls.
nvmlReturn_t QueryProcesses(ProcessQuery query, nvmlDevice_t device,
                            std::vector<nvmlProcessInfo_t>& out) {
  out.resize(32);
  for (int attempt = 0; attempt < 4; ++attempt) {
    unsigned int count = static_cast<unsigned int>(out.size());
    nvmlReturn_t r = query(device, &count, out.data());
    if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
      out.resize(count + 16);
      continue;
    }
    out.resize(r == NVML_SUCCESS ? std::min<size_t>(count, out.size()) : 0);
    return r;
  }
  out.clear();
  return NVML_ERROR_INSUFFICIENT_SIZE;
}

// Compute and graphics processes, one entry per (pid, MIG instance).
std::vector<GpuProcess> ReadProcesses(const NvmlFunctions& api, nvmlDevice_t device, CallLog& log) {
  std::vector<nvmlProcessInfo_t> all, some;
  if (log.Ok(QueryProcesses(api.nvmlDeviceGetComputeRunningProcesses_v3, device, some),
             "nvmlDeviceGetComputeRunningProcesses_v3")) {
    all.insert(all.end(), some.begin(), some.end());
  }
  if (log.Ok(QueryProcesses(api.nvmlDeviceGetGraphicsRunningProcesses_v3, device, some),
             "nvmlDeviceGetGraphicsRunningProcesses_v3")) {
    all.insert(all.end(), some.begin(), some.end());
  }
  bool any_mig = std::any_of(all.begin(), all.end(), [](const nvmlProcessInfo_t& p) {
    return p.gpuInstanceId != kNoMigId;
  });
  std::map<std::pair<unsigned int, unsigned int>, std::string> uuids;
  if (any_mig && api.HasMig()) uuids = ReadMigUuids(api, device);

  std::map<std::pair<int64_t, std::string>, uint64_t> merged;  // a C+G process appears twice
  for (const nvmlProcessInfo_t& p : all) {
    std::string mig;
    if (p.gpuInstanceId != kNoMigId) {
      auto it = uuids.find({p.gpuInstanceId, p.computeInstanceId});
      if (it != uuids.end()) mig = it->second;
    }
    uint64_t used = p.usedGpuMemory == static_cast<unsigned long long>(NVML_VALUE_NOT_AVAILABLE)
                        ? 0
                        : p.usedGpuMemory;
    uint64_t& slot = merged[{static_cast<int64_t>(p.pid), mig}];
    slot = std::max(slot, used);
  }
  std::vector<GpuProcess> out;
  for (const auto& [key, used] : merged) out.push_back({key.first, used, key.second});
  return out;
}

// ---- Discovery of one GPU -----------------------------------------------------------------------

GpuInfo DiscoverGpu(const NvmlLibrary& nvml, uint32_t index, nvmlDevice_t& device) {
  const NvmlFunctions& api = nvml.api();
  GpuInfo gpu;
  gpu.index = index;
  gpu.from_nvml = true;
  CallLog log(nvml);
  device = nullptr;
  if (!log.Ok(api.nvmlDeviceGetHandleByIndex_v2(index, &device), "nvmlDeviceGetHandleByIndex_v2")) {
    device = nullptr;
    log.Apply(gpu.telemetry);
    gpu.telemetry.sampled_at_ms = UnixNowMs();
    return gpu;
  }
  ReadIdentity(api, device, log, gpu);
  ReadLocality(api, device, log, gpu);
  ReadMig(api, device, log, gpu);
  gpu.telemetry = ReadTelemetry(nvml, index, device, log);
  gpu.processes = ReadProcesses(api, device, log);
  log.Apply(gpu.telemetry);
  if (gpu.telemetry.state != "ok") {
    LogWarning("GPU discovery incomplete", {{"GPU_INDEX", std::to_string(index)},
                                            {"STATE", gpu.telemetry.state},
                                            {"ERROR", gpu.telemetry.message}});
  }
  return gpu;
}

std::string ReadVersion(nvmlReturn_t (*query)(char*, unsigned int)) {
  char buf[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = {};
  return query(buf, sizeof buf) == NVML_SUCCESS ? std::string(buf) : std::string();
}

// ---- MIG layout ---------------------------------------------------------------------------------

Status DestroyAllInstances(const NvmlLibrary& nvml, nvmlDevice_t device,
                           const std::vector<MigProfile>& profiles, uint32_t index) {
  const NvmlFunctions& api = nvml.api();
  CallLog log(nvml);
  for (const GpuInstanceRef& gi : ReadGpuInstances(api, device, profiles, log)) {
    std::string what = "GPU " + std::to_string(index) + " MIG instance " +
                       std::to_string(gi.info.id) + " (" + gi.profile->name + ")";
    for (const ComputeInstanceRef& ci : ReadComputeInstances(api, gi.handle, log)) {
      PADDOCK_RETURN_IF_ERROR(
          nvml.Check(api.nvmlComputeInstanceDestroy(ci.handle), "nvmlComputeInstanceDestroy")
              .WithContext("destroying compute instance of " + what));
    }
    PADDOCK_RETURN_IF_ERROR(
        nvml.Check(api.nvmlGpuInstanceDestroy(gi.handle), "nvmlGpuInstanceDestroy")
            .WithContext("destroying " + what));
  }
  if (!log.error().empty()) {
    return Status::Unavailable("listing MIG instances of GPU " + std::to_string(index) + ": " +
                               log.error());
  }
  return Status::Ok();
}

Status CreateInstance(const NvmlLibrary& nvml, nvmlDevice_t device, const MigProfile& profile,
                      const MigPlacement& where) {
  const NvmlFunctions& api = nvml.api();
  nvmlGpuInstancePlacement_t placement{where.start,
                                       where.size != 0 ? where.size : profile.placement_size};
  nvmlGpuInstance_t gi = nullptr;
  PADDOCK_RETURN_IF_ERROR(
      nvml.Check(api.nvmlDeviceCreateGpuInstanceWithPlacement(device, profile.id, &placement, &gi),
                 "nvmlDeviceCreateGpuInstanceWithPlacement"));
  nvmlComputeInstanceProfileInfo_t ci_profile{};
  PADDOCK_RETURN_IF_ERROR(nvml.Check(api.nvmlGpuInstanceGetComputeInstanceProfileInfo(
                                         gi, ComputeProfileIndexForSlices(profile.slices),
                                         NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &ci_profile),
                                     "nvmlGpuInstanceGetComputeInstanceProfileInfo"));
  nvmlComputeInstance_t ci = nullptr;
  return nvml.Check(api.nvmlGpuInstanceCreateComputeInstance(gi, ci_profile.id, &ci),
                    "nvmlGpuInstanceCreateComputeInstance");
}

const MigProfile* FindProfile(const std::vector<MigProfile>& profiles, uint32_t id) {
  for (const MigProfile& p : profiles) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

Status CheckIdle(const NvmlLibrary& nvml, nvmlDevice_t device, uint32_t index) {
  CallLog log(nvml);
  std::vector<GpuProcess> processes = ReadProcesses(nvml.api(), device, log);
  if (!log.error().empty()) {
    return Status::Unavailable("cannot list processes of GPU " + std::to_string(index) + ": " +
                               log.error());
  }
  if (processes.empty()) return Status::Ok();
  std::string pids;
  for (const GpuProcess& p : processes) pids += (pids.empty() ? "" : ", ") + std::to_string(p.pid);
  return Status::FailedPrecondition("GPU " + std::to_string(index) + " is in use (pids " + pids +
                                    "); its MIG layout can change only while it is idle");
}

}  // namespace

Result<NvmlSnapshot> DiscoverNvmlGpus(const NvmlLibrary& nvml) {
  const NvmlFunctions& api = nvml.api();
  NvmlSnapshot snap;
  snap.driver_version = ReadVersion(api.nvmlSystemGetDriverVersion);
  snap.nvml_version = ReadVersion(api.nvmlSystemGetNVMLVersion);
  unsigned int count = 0;
  PADDOCK_RETURN_IF_ERROR(nvml.Check(api.nvmlDeviceGetCount_v2(&count), "nvmlDeviceGetCount_v2"));
  std::vector<nvmlDevice_t> devices(count, nullptr);
  for (uint32_t i = 0; i < count; ++i) {
    snap.gpus.push_back(DiscoverGpu(nvml, i, devices[i]));
    // A lost GPU answers nothing about its links either; leave them at kSystem.
    if (snap.gpus.back().telemetry.state == "lost") devices[i] = nullptr;
  }
  snap.links = ReadLinks(api, devices);
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t j = 0; j < count; ++j) {
      if (snap.links[i][j] == LinkKind::kNvlink) snap.gpus[i].nvlink_peers.push_back(j);
    }
  }
  return snap;
}

GpuSample SampleGpu(const NvmlLibrary& nvml, uint32_t index) {
  const NvmlFunctions& api = nvml.api();
  GpuSample sample;
  CallLog log(nvml);
  nvmlDevice_t device = nullptr;
  if (log.Ok(api.nvmlDeviceGetHandleByIndex_v2(index, &device), "nvmlDeviceGetHandleByIndex_v2")) {
    sample.telemetry = ReadTelemetry(nvml, index, device, log);
    sample.processes = ReadProcesses(api, device, log);
  } else {
    sample.telemetry.sampled_at_ms = UnixNowMs();
  }
  log.Apply(sample.telemetry);
  return sample;
}

Status ApplyMigLayout(const NvmlLibrary& nvml, uint32_t index,
                      const std::vector<MigPlacement>& layout) {
  const NvmlFunctions& api = nvml.api();
  const std::string gpu_name = "GPU " + std::to_string(index);
  if (!api.HasMig()) {
    return Status::FailedPrecondition("the NVIDIA driver does not support MIG management");
  }
  nvmlDevice_t device = nullptr;
  PADDOCK_RETURN_IF_ERROR(
      nvml.Check(api.nvmlDeviceGetHandleByIndex_v2(index, &device), "nvmlDeviceGetHandleByIndex_v2")
          .WithContext(gpu_name));
  unsigned int current = 0, pending = 0;
  nvmlReturn_t r = api.nvmlDeviceGetMigMode(device, &current, &pending);
  if (r == NVML_ERROR_NOT_SUPPORTED || (r == NVML_SUCCESS && current != NVML_DEVICE_MIG_ENABLE)) {
    return Status::FailedPrecondition(gpu_name + " is not in MIG mode");
  }
  PADDOCK_RETURN_IF_ERROR(nvml.Check(r, "nvmlDeviceGetMigMode").WithContext(gpu_name));
  PADDOCK_RETURN_IF_ERROR(CheckIdle(nvml, device, index));

  CallLog log(nvml);
  std::vector<MigProfile> profiles = ReadMigProfiles(api, device, log);
  std::vector<const MigProfile*> chosen;
  for (const MigPlacement& p : layout) {
    const MigProfile* profile = FindProfile(profiles, p.profile_id);
    if (profile == nullptr) {
      return Status::InvalidArgument(gpu_name + " has no MIG profile id " +
                                     std::to_string(p.profile_id) + " (" + p.profile + ")");
    }
    chosen.push_back(profile);
  }
  PADDOCK_RETURN_IF_ERROR(DestroyAllInstances(nvml, device, profiles, index));
  for (size_t k = 0; k < layout.size(); ++k) {
    Status s = CreateInstance(nvml, device, *chosen[k], layout[k]);
    if (!s.ok()) {
      return s.WithContext("creating MIG instance " + std::to_string(k + 1) + " of " +
                           std::to_string(layout.size()) + " (" + chosen[k]->name + " at slice " +
                           std::to_string(layout[k].start) + ") on " + gpu_name);
    }
  }
  LogDebug("MIG layout applied",
           {{"GPU_INDEX", std::to_string(index)}, {"INSTANCES", std::to_string(layout.size())}});
  return Status::Ok();
}

}  // namespace paddock::gpu
