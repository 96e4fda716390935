// The test NVML library: libnvidia-ml.so.1 for machines without an NVIDIA GPU.
//
// Exports every NVML function Paddock resolves (gpu/nvml_library.h) with the driver's C ABI
// (gpu/nvml_abi.h), answering from the JSON machine description named by $PADDOCK_NVML_MOCK
// (format: README.md beside this file). The file is re-read whenever its identity, size or mtime
// changes, so tests can change the machine under a running daemon; MIG layout changes are written
// back (tmp + rename), as a real driver keeps them. One mutex serializes every call.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "gpu/nvml_abi.h"
#include "gpu/nvml_library.h"

using json = nlohmann::json;

// Handles point at these; they stay valid for the life of the process.
struct nvmlDevice_st {
  size_t gpu;
  bool mig;         // a MIG device (one compute instance) rather than the whole GPU
  unsigned int gi;  // MIG only
  unsigned int ci;  // MIG only
};
struct nvmlGpuInstance_st {
  size_t gpu;
  unsigned int id;
};
struct nvmlComputeInstance_st {
  size_t gpu;
  unsigned int gi;
  unsigned int id;
};
struct nvmlEventSet_st {
  std::set<size_t> gpus;  // registered for XID events
};

namespace {

constexpr unsigned int kNoMigId = 0xFFFFFFFF;
constexpr unsigned long long kMiB = 1024ull * 1024ull;
constexpr unsigned long long kXidSupported = nvmlEventTypeXidCriticalError |
                                             nvmlEventTypeSingleBitEccError |
                                             nvmlEventTypeDoubleBitEccError | nvmlEventTypePState;

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  timespec mtime{};
  bool operator==(const FileId& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

struct Machine {
  std::mutex mu;
  int init_count = 0;
  std::string path;
  json doc;
  FileId loaded;
  std::map<size_t, size_t> xids_delivered;  // per GPU index: entries of xid_events handed out
  std::map<size_t, std::unique_ptr<nvmlDevice_st>> devices;
  std::map<std::tuple<size_t, unsigned, unsigned>, std::unique_ptr<nvmlDevice_st>> mig_devices;
  std::map<std::pair<size_t, unsigned>, std::unique_ptr<nvmlGpuInstance_st>> gis;
  std::map<std::tuple<size_t, unsigned, unsigned>, std::unique_ptr<nvmlComputeInstance_st>> cis;
  std::set<nvmlEventSet_st*> sets;
};

// Never destroyed: a daemon may still call in while the process exits.
Machine& M() {
  static Machine* m = new Machine;
  return *m;
}

// ---- The machine file ---------------------------------------------------------------------------

bool StatFile(const std::string& path, FileId& id) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  id = {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  return true;
}

// Re-reads the file if it changed. A file caught half-written keeps the previous machine; the
// next call tries again.
void Refresh(Machine& m) {
  FileId id;
  if (!StatFile(m.path, id) || id == m.loaded) return;
  std::ifstream in(m.path);
  json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return;
  m.doc = std::move(doc);
  m.loaded = id;
}

// Writes the machine back atomically after a MIG change.
void Persist(Machine& m) {
  std::string tmp = m.path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << m.doc.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "test NVML: cannot write %s\n", tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), m.path.c_str()) != 0) {
    std::fprintf(stderr, "test NVML: cannot rename %s\n", tmp.c_str());
    return;
  }
  StatFile(m.path, m.loaded);
}

json& Gpus(Machine& m) {
  static json empty = json::array();
  auto it = m.doc.find("gpus");
  return it != m.doc.end() && it->is_array() ? *it : empty;
}

template <typename T>
T Get(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

unsigned long long ParseNumber(const json& j) {
  if (j.is_string()) return std::stoull(j.get<std::string>(), nullptr, 0);
  return j.get<unsigned long long>();
}

nvmlReturn_t CopyString(const std::string& s, char* out, unsigned int length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (s.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, s.c_str(), s.size() + 1);
  return NVML_SUCCESS;
}

// "0-7,16-23" -> ids.
std::vector<int> ParseCpuList(const std::string& list) {
  std::vector<int> ids;
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) continue;
    size_t dash = part.find('-');
    int lo = std::stoi(part.substr(0, dash));
    int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
    for (int i = lo; i <= hi; ++i) ids.push_back(i);
  }
  return ids;
}

void FillMask(const std::vector<int>& ids, unsigned int longs, unsigned long* mask) {
  constexpr int kBits = sizeof(unsigned long) * 8;
  for (unsigned int i = 0; i < longs; ++i) mask[i] = 0;
  for (int id : ids) {
    if (id / kBits < static_cast<int>(longs)) mask[id / kBits] |= 1ul << (id % kBits);
  }
}

nvmlReturn_t ParseReturnName(const json& j) {
  if (j.is_number()) return static_cast<nvmlReturn_t>(j.get<int>());
  static const std::map<std::string, nvmlReturn_t> kNames = {
      {"UNINITIALIZED", NVML_ERROR_UNINITIALIZED},
      {"INVALID_ARGUMENT", NVML_ERROR_INVALID_ARGUMENT},
      {"NOT_SUPPORTED", NVML_ERROR_NOT_SUPPORTED},
      {"NO_PERMISSION", NVML_ERROR_NO_PERMISSION},
      {"DRIVER_NOT_LOADED", NVML_ERROR_DRIVER_NOT_LOADED},
      {"LIB_RM_VERSION_MISMATCH", NVML_ERROR_LIB_RM_VERSION_MISMATCH},
      {"GPU_IS_LOST", NVML_ERROR_GPU_IS_LOST},
      {"INSUFFICIENT_RESOURCES", NVML_ERROR_INSUFFICIENT_RESOURCES},
      {"GPU_NOT_FOUND", NVML_ERROR_GPU_NOT_FOUND},
      {"UNKNOWN", NVML_ERROR_UNKNOWN},
  };
  std::string name = j.get<std::string>();
  if (name.rfind("NVML_ERROR_", 0) == 0) name.erase(0, 11);
  auto it = kNames.find(name);
  return it != kNames.end() ? it->second : NVML_ERROR_UNKNOWN;
}

// ---- Handles ------------------------------------------------------------------------------------

nvmlDevice_t DeviceHandle(Machine& m, size_t gpu) {
  auto& slot = m.devices[gpu];
  if (!slot) slot.reset(new nvmlDevice_st{gpu, false, 0, 0});
  return slot.get();
}

nvmlDevice_t MigDeviceHandle(Machine& m, size_t gpu, unsigned gi, unsigned ci) {
  auto& slot = m.mig_devices[{gpu, gi, ci}];
  if (!slot) slot.reset(new nvmlDevice_st{gpu, true, gi, ci});
  return slot.get();
}

nvmlGpuInstance_t GiHandle(Machine& m, size_t gpu, unsigned id) {
  auto& slot = m.gis[{gpu, id}];
  if (!slot) slot.reset(new nvmlGpuInstance_st{gpu, id});
  return slot.get();
}

nvmlComputeInstance_t CiHandle(Machine& m, size_t gpu, unsigned gi, unsigned id) {
  auto& slot = m.cis[{gpu, gi, id}];
  if (!slot) slot.reset(new nvmlComputeInstance_st{gpu, gi, id});
  return slot.get();
}

// What a call may do to a lost GPU: identity is cached by the driver at init, live queries fail.
enum class Access { kIdentity, kLive };

// Locks, checks initialization, refreshes the machine; every exported function starts here.
class Call {
 public:
  Call() : m_(M()), lock_(m_.mu) {
    if (m_.init_count > 0) Refresh(m_);
  }
  Machine& m() { return m_; }
  bool initialized() const { return m_.init_count > 0; }

  // Resolves a device handle to its GPU's JSON; NVML_SUCCESS or the error to return.
  nvmlReturn_t Gpu(nvmlDevice_t d, Access access, json** gpu, bool allow_mig = false) {
    if (!initialized()) return NVML_ERROR_UNINITIALIZED;
    if (d == nullptr || d->gpu >= Gpus(m_).size()) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->mig && !allow_mig) return NVML_ERROR_NOT_SUPPORTED;
    *gpu = &Gpus(m_)[d->gpu];
    if (access == Access::kLive && Get(**gpu, "lost", false)) return NVML_ERROR_GPU_IS_LOST;
    return NVML_SUCCESS;
  }

  std::unique_lock<std::mutex>& lock() { return lock_; }

 private:
  Machine& m_;
  std::unique_lock<std::mutex> lock_;
};

// ---- MIG model ----------------------------------------------------------------------------------

json* Mig(json& gpu) {
  auto it = gpu.find("mig");
  return it != gpu.end() && it->is_object() && Get((*it), "capable", true) ? &*it : nullptr;
}

bool MigEnabled(json& gpu) {
  json* mig = Mig(gpu);
  return mig != nullptr && Get(*mig, "enabled", false);
}

// A GPU's profile table: inline, or the name of a shared table under "mig_profile_sets".
json& Profiles(Machine& m, json& gpu) {
  static json empty = json::array();
  json* mig = Mig(gpu);
  if (mig == nullptr || !mig->contains("profiles")) return empty;
  json& p = (*mig)["profiles"];
  if (p.is_string()) {
    auto sets = m.doc.find("mig_profile_sets");
    if (sets == m.doc.end() || !sets->contains(p.get<std::string>())) return empty;
    return (*sets)[p.get<std::string>()];
  }
  return p;
}

json* ProfileById(Machine& m, json& gpu, unsigned id) {
  for (json& p : Profiles(m, gpu)) {
    if (Get(p, "id", -1) == static_cast<int>(id)) return &p;
  }
  return nullptr;
}

json& Instances(json& gpu) {
  json& mig = gpu["mig"];
  if (!mig.contains("instances") || !mig["instances"].is_array()) mig["instances"] = json::array();
  return mig["instances"];
}

json* InstanceById(json& gpu, unsigned id) {
  for (json& gi : Instances(gpu)) {
    if (Get(gi, "id", -1) == static_cast<int>(id)) return &gi;
  }
  return nullptr;
}

json& ComputeInstances(json& gi) {
  if (!gi.contains("compute_instances") || !gi["compute_instances"].is_array()) {
    gi["compute_instances"] = json::array();
  }
  return gi["compute_instances"];
}

// Compute-instance profile index -> compute slices.
unsigned CiSlices(unsigned index) {
  static const unsigned kSlices[] = {1, 2, 3, 4, 7, 8, 6};
  return index < 7 ? kSlices[index] : 0;
}

unsigned CiIndexForSlices(unsigned slices) {
  for (unsigned i = 0; i < 7; ++i) {
    if (CiSlices(i) == slices) return i;
  }
  return 0;
}

unsigned GiSlices(Machine& m, json& gpu, const json& gi) {
  json* p = ProfileById(m, gpu, Get(gi, "profile_id", 0u));
  return p != nullptr ? Get(*p, "slices", 1u) : 1u;
}

unsigned CiProfileId(Machine& m, json& gpu, const json& gi, const json& ci) {
  return Get(ci, "profile_id", CiIndexForSlices(GiSlices(m, gpu, gi)));
}

// Deterministic but distinct for every creation: "MIG-" + 8-4-4-4-12 hex.
std::string MakeMigUuid(const std::string& seed) {
  uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull * 31;
  for (unsigned char c : seed) {
    h1 = (h1 ^ c) * 1099511628211ull;
    h2 = (h2 ^ c) * 6364136223846793005ull + 1442695040888963407ull;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "MIG-%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(h1 >> 32),
                static_cast<unsigned>((h1 >> 16) & 0xffff), static_cast<unsigned>(h1 & 0xffff),
                static_cast<unsigned>(h2 >> 48),
                static_cast<unsigned long long>(h2 & 0xffffffffffffull));
  return buf;
}

// Finds the instance holding MIG device `uuid`: (gi id, ci id).
bool FindMigUuid(json& gpu, const std::string& uuid, unsigned* gi, unsigned* ci) {
  if (Mig(gpu) == nullptr) return false;
  for (json& g : Instances(gpu)) {
    for (json& c : ComputeInstances(g)) {
      if (Get(c, "uuid", std::string()) == uuid) {
        *gi = Get(g, "id", 0u);
        *ci = Get(c, "id", 0u);
        return true;
      }
    }
  }
  return false;
}

// Every compute instance, in the order MIG device indexes enumerate them.
std::vector<std::pair<json*, json*>> AllComputeInstances(json& gpu) {
  std::vector<std::pair<json*, json*>> out;
  if (Mig(gpu) == nullptr) return out;
  for (json& g : Instances(gpu)) {
    for (json& c : ComputeInstances(g)) out.push_back({&g, &c});
  }
  return out;
}

// ---- Processes ----------------------------------------------------------------------------------

bool HasType(const json& proc, const char* type) {
  return Get(proc, "type", std::string("compute")).find(type) != std::string::npos;
}

unsigned long long ProcessMemory(const json& proc) {
  if (proc.contains("used_memory")) return ParseNumber(proc["used_memory"]);
  return Get(proc, "used_memory_mib", 0ull) * kMiB;
}

nvmlReturn_t ListProcesses(nvmlDevice_t d, unsigned int* count, nvmlProcessInfo_t* infos,
                           const char* type) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(d, Access::kLive, &gpu, /*allow_mig=*/true); r != NVML_SUCCESS) {
    return r;
  }
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::vector<nvmlProcessInfo_t> found;
  for (const json& proc : Get(*gpu, "processes", json::array())) {
    if (!HasType(proc, type)) continue;
    nvmlProcessInfo_t info{};
    info.pid = Get(proc, "pid", 0u);
    info.usedGpuMemory = ProcessMemory(proc);
    info.gpuInstanceId = info.computeInstanceId = kNoMigId;
    std::string uuid = Get(proc, "mig_uuid", std::string());
    if (!uuid.empty()) FindMigUuid(*gpu, uuid, &info.gpuInstanceId, &info.computeInstanceId);
    if (d->mig && (info.gpuInstanceId != d->gi || info.computeInstanceId != d->ci)) continue;
    found.push_back(info);
  }
  unsigned int capacity = *count;
  *count = static_cast<unsigned int>(found.size());
  if (found.size() > capacity) return NVML_ERROR_INSUFFICIENT_SIZE;
  if (!found.empty() && infos == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  for (size_t i = 0; i < found.size(); ++i) infos[i] = found[i];
  return NVML_SUCCESS;
}

// ---- Topology -----------------------------------------------------------------------------------

nvmlGpuTopologyLevel_t LevelByName(const std::string& name) {
  static const std::map<std::string, nvmlGpuTopologyLevel_t> kLevels = {
      {"INTERNAL", NVML_TOPOLOGY_INTERNAL}, {"SINGLE", NVML_TOPOLOGY_SINGLE},
      {"MULTIPLE", NVML_TOPOLOGY_MULTIPLE}, {"HOSTBRIDGE", NVML_TOPOLOGY_HOSTBRIDGE},
      {"NODE", NVML_TOPOLOGY_NODE},         {"SYSTEM", NVML_TOPOLOGY_SYSTEM},
  };
  auto it = kLevels.find(name);
  return it != kLevels.end() ? it->second : NVML_TOPOLOGY_SYSTEM;
}

// From an explicit "topology" matrix, else from the GPUs' switch / host bridge / NUMA node.
nvmlGpuTopologyLevel_t Level(Machine& m, size_t a, size_t b) {
  if (a == b) return NVML_TOPOLOGY_INTERNAL;
  auto matrix = m.doc.find("topology");
  if (matrix != m.doc.end() && matrix->is_array() && a < matrix->size() &&
      b < (*matrix)[a].size()) {
    return LevelByName((*matrix)[a][b].get<std::string>());
  }
  const json& ga = Gpus(m)[a];
  const json& gb = Gpus(m)[b];
  std::string sa = Get(ga, "pcie_switch", std::string()),
              sb = Get(gb, "pcie_switch", std::string());
  if (!sa.empty() && sa == sb) return NVML_TOPOLOGY_SINGLE;
  std::string ha = Get(ga, "host_bridge", std::string()),
              hb = Get(gb, "host_bridge", std::string());
  if (!ha.empty() && ha == hb) return NVML_TOPOLOGY_HOSTBRIDGE;
  if (Get(ga, "numa_node", -1) == Get(gb, "numa_node", -2)) return NVML_TOPOLOGY_NODE;
  return NVML_TOPOLOGY_SYSTEM;
}

bool NvlinkPeers(const json& gpu, size_t peer) {
  for (const json& p : Get(gpu, "nvlink_peers", json::array())) {
    if (p.get<size_t>() == peer) return true;
  }
  return false;
}

const char* ErrorText(nvmlReturn_t r) {
  switch (r) {
    case NVML_SUCCESS:
      return "Success";
    case NVML_ERROR_UNINITIALIZED:
      return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
      return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
      return "Not Supported";
    case NVML_ERROR_NO_PERMISSION:
      return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND:
      return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE:
      return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED:
      return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT:
      return "Timeout";
    case NVML_ERROR_GPU_IS_LOST:
      return "GPU is lost";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
      return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_IN_USE:
      return "In use by another client";
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
      return "Insufficient resources";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
      return "Argument version mismatch";
    case NVML_ERROR_GPU_NOT_FOUND:
      return "GPU not found";
    default:
      return "Unknown Error";
  }
}

}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

// ---- Library ------------------------------------------------------------------------------------

EXPORT nvmlReturn_t nvmlInit_v2(void) {
  Machine& m = M();
  std::lock_guard<std::mutex> lock(m.mu);
  if (m.init_count == 0) {
    const char* path = std::getenv("PADDOCK_NVML_MOCK");
    if (path == nullptr || *path == '\0') return NVML_ERROR_DRIVER_NOT_LOADED;
    if (m.path != path) m.xids_delivered.clear();  // a different machine
    m.path = path;
    m.loaded = FileId{};
    m.doc = json::object();
    Refresh(m);
    if (m.loaded.size < 0) {
      std::fprintf(stderr, "test NVML: cannot read machine description %s\n", path);
      return NVML_ERROR_DRIVER_NOT_LOADED;
    }
    if (m.doc.contains("init_error")) return ParseReturnName(m.doc["init_error"]);
  }
  ++m.init_count;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlShutdown(void) {
  Machine& m = M();
  std::lock_guard<std::mutex> lock(m.mu);
  if (m.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  --m.init_count;
  return NVML_SUCCESS;
}

EXPORT const char* nvmlErrorString(nvmlReturn_t result) { return ErrorText(result); }

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  return CopyString(Get(c.m().doc, "driver_version", std::string("550.54.15")), version, length);
}

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char* version, unsigned int length) {
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  return CopyString(Get(c.m().doc, "nvml_version", std::string("12.550.54.15")), version, length);
}

// ---- Identity -----------------------------------------------------------------------------------

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *count = static_cast<unsigned int>(Gpus(c.m()).size());
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  if (device == nullptr || index >= Gpus(c.m()).size()) return NVML_ERROR_INVALID_ARGUMENT;
  *device = DeviceHandle(c.m(), index);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kIdentity, &gpu, true); r != NVML_SUCCESS) return r;
  std::string n = Get(*gpu, "name", std::string("NVIDIA Test GPU"));
  if (device->mig) n += " MIG";
  return CopyString(n, name, length);
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kIdentity, &gpu, true); r != NVML_SUCCESS) return r;
  if (!device->mig) return CopyString(Get(*gpu, "uuid", std::string()), uuid, length);
  for (auto [gi, ci] : AllComputeInstances(*gpu)) {
    if (Get(*gi, "id", 0u) == device->gi && Get(*ci, "id", 0u) == device->ci) {
      return CopyString(Get(*ci, "uuid", std::string()), uuid, length);
    }
  }
  return NVML_ERROR_INVALID_ARGUMENT;  // the instance was destroyed
}

EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int* minor) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kIdentity, &gpu); r != NVML_SUCCESS) return r;
  if (minor == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *minor = Get(*gpu, "minor", static_cast<unsigned>(device->gpu));
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kIdentity, &gpu); r != NVML_SUCCESS) return r;
  if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *pci = nvmlPciInfo_t{};
  std::string bus_id = Get(*gpu, "bus_id", std::string("00000000:00:00.0"));
  unsigned domain = 0, bus = 0, dev = 0, fn = 0;
  if (std::sscanf(bus_id.c_str(), "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4) {
    return NVML_ERROR_UNKNOWN;
  }
  pci->domain = domain;
  pci->bus = bus;
  pci->device = dev;
  pci->pciDeviceId = static_cast<unsigned>(ParseNumber(Get(*gpu, "pci_device_id", json(0))));
  pci->pciSubSystemId = static_cast<unsigned>(ParseNumber(Get(*gpu, "pci_subsystem_id", json(0))));
  std::snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.0", domain, bus, dev);
  std::snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", domain & 0xffff, bus,
                dev);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  memory->total = Get(*gpu, "memory_mib", 0ull) * kMiB;
  unsigned long long used = Get(*gpu, "memory_reserved_mib", 0ull) * kMiB;
  for (const json& proc : Get(*gpu, "processes", json::array())) used += ProcessMemory(proc);
  memory->used = used;
  memory->free = used < memory->total ? memory->total - used : 0;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int* major,
                                                       int* minor) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kIdentity, &gpu); r != NVML_SUCCESS) return r;
  if (major == nullptr || minor == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::string cc = Get(*gpu, "compute_capability", std::string());
  if (std::sscanf(cc.c_str(), "%d.%d", major, minor) != 2) return NVML_ERROR_NOT_SUPPORTED;
  return NVML_SUCCESS;
}

// ---- Telemetry ----------------------------------------------------------------------------------

// A plain unsigned reading named `key`; absent means the GPU does not report it.
static nvmlReturn_t ReadUnsigned(nvmlDevice_t device, const char* key, unsigned int* out) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!gpu->contains(key)) return NVML_ERROR_NOT_SUPPORTED;
  *out = (*gpu)[key].get<unsigned>();
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int* power) {
  return ReadUnsigned(device, "power_mw", power);
}

EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int* limit) {
  return ReadUnsigned(device, "power_limit_mw", limit);
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensor,
                                             unsigned int* temp) {
  if (sensor != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
  return ReadUnsigned(device, "temperature_c", temp);
}

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* util) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (util == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (MigEnabled(*gpu) || !gpu->contains("utilization")) return NVML_ERROR_NOT_SUPPORTED;
  util->gpu = Get((*gpu)["utilization"], "gpu", 0u);
  util->memory = Get((*gpu)["utilization"], "memory", 0u);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t* current,
                                         nvmlEnableState_t* pending) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (current == nullptr || pending == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!gpu->contains("ecc")) return NVML_ERROR_NOT_SUPPORTED;
  bool on = Get((*gpu)["ecc"], "enabled", true);
  *current = *pending = on ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t type,
                                                nvmlEccCounterType_t counter,
                                                unsigned long long* count) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!gpu->contains("ecc") || !Get((*gpu)["ecc"], "enabled", true)) {
    return NVML_ERROR_NOT_SUPPORTED;
  }
  const json& ecc = (*gpu)["ecc"];
  if (type == NVML_MEMORY_ERROR_TYPE_CORRECTED) {
    *count = Get(ecc, "volatile_corrected", 0ull);
  } else {
    unsigned long long vol = Get(ecc, "volatile_uncorrected", 0ull);
    *count = counter == NVML_VOLATILE_ECC ? vol : Get(ecc, "aggregate_uncorrected", vol);
  }
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device,
                                                            unsigned int* count,
                                                            nvmlProcessInfo_t* infos) {
  return ListProcesses(device, count, infos, "compute");
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device,
                                                             unsigned int* count,
                                                             nvmlProcessInfo_t* infos) {
  return ListProcesses(device, count, infos, "graphics");
}

// ---- Topology and locality ----------------------------------------------------------------------

EXPORT nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t d1, nvmlDevice_t d2,
                                           nvmlGpuP2PCapsIndex_t index,
                                           nvmlGpuP2PStatus_t* status) {
  Call c;
  json *g1 = nullptr, *g2 = nullptr;
  if (nvmlReturn_t r = c.Gpu(d1, Access::kLive, &g1); r != NVML_SUCCESS) return r;
  if (nvmlReturn_t r = c.Gpu(d2, Access::kLive, &g2); r != NVML_SUCCESS) return r;
  if (status == nullptr || index >= NVML_P2P_CAPS_INDEX_UNKNOWN) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  bool nvlink = d1->gpu != d2->gpu && NvlinkPeers(*g1, d2->gpu);
  if (index == NVML_P2P_CAPS_INDEX_NVLINK) {
    *status = nvlink ? NVML_P2P_STATUS_OK : NVML_P2P_STATUS_NOT_SUPPORTED;
  } else {
    bool pcie = Level(c.m(), d1->gpu, d2->gpu) <= NVML_TOPOLOGY_HOSTBRIDGE;
    *status = nvlink || pcie ? NVML_P2P_STATUS_OK : NVML_P2P_STATUS_CHIPSET_NOT_SUPPORED;
  }
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t d1, nvmlDevice_t d2,
                                                        nvmlGpuTopologyLevel_t* level) {
  Call c;
  json *g1 = nullptr, *g2 = nullptr;
  if (nvmlReturn_t r = c.Gpu(d1, Access::kLive, &g1); r != NVML_SUCCESS) return r;
  if (nvmlReturn_t r = c.Gpu(d2, Access::kLive, &g2); r != NVML_SUCCESS) return r;
  if (level == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *level = Level(c.m(), d1->gpu, d2->gpu);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t device, unsigned int size,
                                             unsigned long* set) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (set == nullptr || size == 0) return NVML_ERROR_INVALID_ARGUMENT;
  if (!gpu->contains("cpu_affinity")) return NVML_ERROR_NOT_SUPPORTED;
  FillMask(ParseCpuList((*gpu)["cpu_affinity"].get<std::string>()), size, set);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryAffinity(nvmlDevice_t device, unsigned int size,
                                                unsigned long* set, nvmlAffinityScope_t scope) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (set == nullptr || size == 0 || scope > NVML_AFFINITY_SCOPE_SOCKET) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  if (!gpu->contains("numa_node")) return NVML_ERROR_NOT_SUPPORTED;
  FillMask({(*gpu)["numa_node"].get<int>()}, size, set);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetNumaNodeId(nvmlDevice_t device, unsigned int* node) {
  {
    Call c;
    json* gpu = nullptr;
    if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
    // Older drivers lack this query; callers then fall back to the memory affinity.
    if (!Get(*gpu, "numa_node_id_supported", true)) return NVML_ERROR_NOT_SUPPORTED;
  }
  return ReadUnsigned(device, "numa_node", node);
}

// ---- Events -------------------------------------------------------------------------------------

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t* set) {
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  if (set == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *set = new nvmlEventSet_st;
  c.m().sets.insert(*set);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device,
                                                     unsigned long long* types) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (types == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *types = Get(*gpu, "xid_events_supported", true) ? kXidSupported : 0;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long types,
                                             nvmlEventSet_t set) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu); r != NVML_SUCCESS) return r;
  if (set == nullptr || !c.m().sets.count(set)) return NVML_ERROR_INVALID_ARGUMENT;
  if ((types & ~kXidSupported) != 0 || !Get(*gpu, "xid_events_supported", true)) {
    return NVML_ERROR_NOT_SUPPORTED;
  }
  if (types & nvmlEventTypeXidCriticalError) set->gpus.insert(device->gpu);
  return NVML_SUCCESS;
}

// Hands out the next undelivered entry of a registered GPU's "xid_events"; false when none.
static bool NextXid(Machine& m, nvmlEventSet_t set, nvmlEventData_t* data) {
  for (size_t gpu : set->gpus) {
    if (gpu >= Gpus(m).size()) continue;
    json xids = Get(Gpus(m)[gpu], "xid_events", json::array());
    size_t& delivered = m.xids_delivered[gpu];
    if (delivered >= xids.size()) continue;
    *data = nvmlEventData_t{};
    data->device = DeviceHandle(m, gpu);
    data->eventType = nvmlEventTypeXidCriticalError;
    data->eventData = xids[delivered++].get<unsigned long long>();
    data->gpuInstanceId = data->computeInstanceId = kNoMigId;
    return true;
  }
  return false;
}

EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t* data,
                                        unsigned int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  if (set == nullptr || data == nullptr || !c.m().sets.count(set)) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  while (!NextXid(c.m(), set, data)) {
    if (std::chrono::steady_clock::now() >= deadline) return NVML_ERROR_TIMEOUT;
    c.lock().unlock();  // let other threads call in while this one waits
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    c.lock().lock();
    Refresh(c.m());
  }
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  if (set == nullptr || !c.m().sets.erase(set)) return NVML_ERROR_INVALID_ARGUMENT;
  delete set;
  return NVML_SUCCESS;
}

// ---- MIG ----------------------------------------------------------------------------------------

// Resolves a whole-GPU handle that must be MIG capable (and, if `enabled`, in MIG mode).
static nvmlReturn_t MigGpu(Call& c, nvmlDevice_t device, bool enabled, json** gpu) {
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, gpu); r != NVML_SUCCESS) return r;
  if (Mig(**gpu) == nullptr || (enabled && !MigEnabled(**gpu))) return NVML_ERROR_NOT_SUPPORTED;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int* current,
                                         unsigned int* pending) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = MigGpu(c, device, false, &gpu); r != NVML_SUCCESS) return r;
  if (current == nullptr || pending == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *current = MigEnabled(*gpu) ? NVML_DEVICE_MIG_ENABLE : NVML_DEVICE_MIG_DISABLE;
  *pending = Get(*Mig(*gpu), "pending_enabled", MigEnabled(*gpu)) ? NVML_DEVICE_MIG_ENABLE
                                                                  : NVML_DEVICE_MIG_DISABLE;
  return NVML_SUCCESS;
}

static json* ProfileByIndex(Machine& m, json& gpu, unsigned index) {
  for (json& p : Profiles(m, gpu)) {
    if (Get(p, "index", -1) == static_cast<int>(index)) return &p;
  }
  return nullptr;
}

template <typename Info>
static void FillProfile(const json& p, Info* info) {
  info->id = Get(p, "id", 0u);
  info->isP2pSupported = 0;
  info->sliceCount = Get(p, "slices", 1u);
  info->instanceCount = Get(p, "max_count", 1u);
  info->multiprocessorCount = Get(p, "sm_count", 0u);
  info->copyEngineCount = info->sliceCount;
  info->decoderCount = info->sliceCount / 2;
  info->encoderCount = 0;
  info->jpegCount = info->sliceCount == 7 ? 1 : 0;
  info->ofaCount = info->jpegCount;
  info->memorySizeMB = Get(p, "memory_mib", 0ull);
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int profile,
                                                        nvmlGpuInstanceProfileInfo_t* info) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = MigGpu(c, device, true, &gpu); r != NVML_SUCCESS) return r;
  if (info == nullptr || profile >= NVML_GPU_INSTANCE_PROFILE_COUNT) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  json* p = ProfileByIndex(c.m(), *gpu, profile);
  if (p == nullptr) return NVML_ERROR_NOT_SUPPORTED;
  *info = nvmlGpuInstanceProfileInfo_t{};
  FillProfile(*p, info);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t device, unsigned int profile,
                                                         nvmlGpuInstanceProfileInfo_v2_t* info) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = MigGpu(c, device, true, &gpu); r != NVML_SUCCESS) return r;
  if (info == nullptr || profile >= NVML_GPU_INSTANCE_PROFILE_COUNT) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  if (info->version != nvmlGpuInstanceProfileInfo_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  json* p = ProfileByIndex(c.m(), *gpu, profile);
  if (p == nullptr) return NVML_ERROR_NOT_SUPPORTED;
  unsigned version = info->version;
  *info = nvmlGpuInstanceProfileInfo_v2_t{};
  info->version = version;
  FillProfile(*p, info);
  std::snprintf(info->name, sizeof info->name, "MIG %s", Get(*p, "name", std::string()).c_str());
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(
    nvmlDevice_t device, unsigned int profile_id, nvmlGpuInstancePlacement_t* placements,
    unsigned int* count) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = MigGpu(c, device, true, &gpu); r != NVML_SUCCESS) return r;
  json* p = ProfileById(c.m(), *gpu, profile_id);
  if (count == nullptr || p == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  json starts = Get(*p, "placements", json::array());
  unsigned capacity = *count;
  *count = static_cast<unsigned>(starts.size());
  if (placements == nullptr) return NVML_SUCCESS;
  if (capacity < starts.size()) return NVML_ERROR_INSUFFICIENT_SIZE;
  for (size_t i = 0; i < starts.size(); ++i) {
    placements[i] = {starts[i].get<unsigned>(), Get(*p, "placement_size", 1u)};
  }
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profile_id,
                                              nvmlGpuInstance_t* instances, unsigned int* count) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = MigGpu(c, device, true, &gpu); r != NVML_SUCCESS) return r;
  if (instances == nullptr || count == nullptr || ProfileById(c.m(), *gpu, profile_id) == nullptr) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  unsigned n = 0;
  for (const json& gi : Instances(*gpu)) {
    if (Get(gi, "profile_id", 0u) == profile_id) {
      instances[n++] = GiHandle(c.m(), device->gpu, Get(gi, "id", 0u));
    }
  }
  *count = n;
  return NVML_SUCCESS;
}

// Resolves a GPU-instance handle against the current machine.
static nvmlReturn_t LookupGi(Call& c, nvmlGpuInstance_t handle, json** gpu, json** gi) {
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  if (handle == nullptr || handle->gpu >= Gpus(c.m()).size()) return NVML_ERROR_INVALID_ARGUMENT;
  *gpu = &Gpus(c.m())[handle->gpu];
  if (Get(**gpu, "lost", false)) return NVML_ERROR_GPU_IS_LOST;
  if (!MigEnabled(**gpu)) return NVML_ERROR_INVALID_ARGUMENT;
  *gi = InstanceById(**gpu, handle->id);
  return *gi != nullptr ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t handle, nvmlGpuInstanceInfo_t* info) {
  Call c;
  json *gpu = nullptr, *gi = nullptr;
  if (nvmlReturn_t r = LookupGi(c, handle, &gpu, &gi); r != NVML_SUCCESS) return r;
  if (info == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  json* p = ProfileById(c.m(), *gpu, Get(*gi, "profile_id", 0u));
  info->device = DeviceHandle(c.m(), handle->gpu);
  info->id = handle->id;
  info->profileId = Get(*gi, "profile_id", 0u);
  info->placement = {Get(*gi, "start", 0u), p != nullptr ? Get(*p, "placement_size", 1u) : 1u};
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(
    nvmlGpuInstance_t handle, unsigned int profile, unsigned int eng_profile,
    nvmlComputeInstanceProfileInfo_t* info) {
  Call c;
  json *gpu = nullptr, *gi = nullptr;
  if (nvmlReturn_t r = LookupGi(c, handle, &gpu, &gi); r != NVML_SUCCESS) return r;
  if (info == nullptr || profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT ||
      eng_profile != NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  unsigned gi_slices = GiSlices(c.m(), *gpu, *gi);
  unsigned slices = CiSlices(profile);
  if (slices == 0 || slices > gi_slices) return NVML_ERROR_NOT_SUPPORTED;
  json* p = ProfileById(c.m(), *gpu, Get(*gi, "profile_id", 0u));
  unsigned gi_sms = p != nullptr ? Get(*p, "sm_count", 0u) : 0u;
  *info = nvmlComputeInstanceProfileInfo_t{};
  info->id = profile;
  info->sliceCount = slices;
  info->instanceCount = gi_slices / slices;
  info->multiprocessorCount = gi_sms * slices / gi_slices;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t handle,
                                                       unsigned int profile_id,
                                                       nvmlComputeInstance_t* instances,
                                                       unsigned int* count) {
  Call c;
  json *gpu = nullptr, *gi = nullptr;
  if (nvmlReturn_t r = LookupGi(c, handle, &gpu, &gi); r != NVML_SUCCESS) return r;
  if (instances == nullptr || count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  unsigned n = 0;
  for (const json& ci : ComputeInstances(*gi)) {
    if (CiProfileId(c.m(), *gpu, *gi, ci) == profile_id) {
      instances[n++] = CiHandle(c.m(), handle->gpu, handle->id, Get(ci, "id", 0u));
    }
  }
  *count = n;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t handle,
                                                  nvmlComputeInstanceInfo_t* info) {
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  if (handle == nullptr || info == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlGpuInstance_t gi_handle = GiHandle(c.m(), handle->gpu, handle->gi);
  json *gpu = nullptr, *gi = nullptr;
  if (nvmlReturn_t r = LookupGi(c, gi_handle, &gpu, &gi); r != NVML_SUCCESS) return r;
  for (const json& ci : ComputeInstances(*gi)) {
    if (Get(ci, "id", 0u) != handle->id) continue;
    unsigned profile = CiProfileId(c.m(), *gpu, *gi, ci);
    info->device = DeviceHandle(c.m(), handle->gpu);
    info->gpuInstance = gi_handle;
    info->id = handle->id;
    info->profileId = profile;
    info->placement = {Get(ci, "start", 0u), CiSlices(profile)};
    return NVML_SUCCESS;
  }
  return NVML_ERROR_INVALID_ARGUMENT;
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int* count) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = MigGpu(c, device, false, &gpu); r != NVML_SUCCESS) return r;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *count = Get(*Mig(*gpu), "max_mig_devices", 7u);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                        nvmlDevice_t* mig) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = MigGpu(c, device, true, &gpu); r != NVML_SUCCESS) return r;
  if (mig == nullptr || index >= Get(*Mig(*gpu), "max_mig_devices", 7u)) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  auto all = AllComputeInstances(*gpu);
  if (index >= all.size()) return NVML_ERROR_NOT_FOUND;
  *mig = MigDeviceHandle(c.m(), device->gpu, Get(*all[index].first, "id", 0u),
                         Get(*all[index].second, "id", 0u));
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int* id) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu, true); r != NVML_SUCCESS) return r;
  if (id == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!device->mig) return NVML_ERROR_NOT_SUPPORTED;
  *id = device->gi;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int* id) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = c.Gpu(device, Access::kLive, &gpu, true); r != NVML_SUCCESS) return r;
  if (id == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!device->mig) return NVML_ERROR_NOT_SUPPORTED;
  *id = device->ci;
  return NVML_SUCCESS;
}

// Whether a new GPU instance of `profile` at `start` fits beside the existing ones.
static nvmlReturn_t CheckFits(Machine& m, json& gpu, const json& profile, unsigned start,
                              unsigned size) {
  unsigned same = 0, slices = Get(profile, "slices", 1u);
  for (const json& gi : Instances(gpu)) {
    json* p = ProfileById(m, gpu, Get(gi, "profile_id", 0u));
    unsigned s = Get(gi, "start", 0u), z = p != nullptr ? Get(*p, "placement_size", 1u) : 1u;
    if (start < s + z && s < start + size) return NVML_ERROR_INSUFFICIENT_RESOURCES;
    if (p == &profile) ++same;
    slices += p != nullptr ? Get(*p, "slices", 1u) : 1u;
  }
  if (same >= Get(profile, "max_count", 1u) || slices > Get(*Mig(gpu), "compute_slices", 7u)) {
    return NVML_ERROR_INSUFFICIENT_RESOURCES;
  }
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(
    nvmlDevice_t device, unsigned int profile_id, const nvmlGpuInstancePlacement_t* placement,
    nvmlGpuInstance_t* out) {
  Call c;
  json* gpu = nullptr;
  if (nvmlReturn_t r = MigGpu(c, device, true, &gpu); r != NVML_SUCCESS) return r;
  json* p = ProfileById(c.m(), *gpu, profile_id);
  if (p == nullptr || placement == nullptr || out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  bool valid_start = false;
  for (const json& s : Get(*p, "placements", json::array())) {
    valid_start |= s.get<unsigned>() == placement->start;
  }
  if (!valid_start || placement->size != Get(*p, "placement_size", 1u)) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  if (nvmlReturn_t r = CheckFits(c.m(), *gpu, *p, placement->start, placement->size);
      r != NVML_SUCCESS) {
    return r;
  }
  unsigned id = 1;
  while (InstanceById(*gpu, id) != nullptr) ++id;
  Instances(*gpu).push_back({{"id", id},
                             {"profile_id", profile_id},
                             {"start", placement->start},
                             {"compute_instances", json::array()}});
  Persist(c.m());
  *out = GiHandle(c.m(), device->gpu, id);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t handle,
                                                         unsigned int profile_id,
                                                         nvmlComputeInstance_t* out) {
  Call c;
  json *gpu = nullptr, *gi = nullptr;
  if (nvmlReturn_t r = LookupGi(c, handle, &gpu, &gi); r != NVML_SUCCESS) return r;
  unsigned slices = CiSlices(profile_id);
  unsigned gi_slices = GiSlices(c.m(), *gpu, *gi);
  if (out == nullptr || slices == 0 || slices > gi_slices) return NVML_ERROR_INVALID_ARGUMENT;
  unsigned used = 0, id = 0;
  std::set<unsigned> ids;
  for (const json& ci : ComputeInstances(*gi)) {
    used += CiSlices(CiProfileId(c.m(), *gpu, *gi, ci));
    ids.insert(Get(ci, "id", 0u));
  }
  if (used + slices > gi_slices) return NVML_ERROR_INSUFFICIENT_RESOURCES;
  while (ids.count(id)) ++id;
  unsigned generation = Get(*Mig(*gpu), "generation", 0u) + 1;
  (*Mig(*gpu))["generation"] = generation;
  std::string seed = Get(*gpu, "uuid", std::string()) + "/" + std::to_string(handle->id) + "/" +
                     std::to_string(id) + "/" + std::to_string(generation);
  ComputeInstances(*gi).push_back(
      {{"id", id}, {"profile_id", profile_id}, {"start", used}, {"uuid", MakeMigUuid(seed)}});
  Persist(c.m());
  *out = CiHandle(c.m(), handle->gpu, handle->id, id);
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t handle) {
  Call c;
  if (!c.initialized()) return NVML_ERROR_UNINITIALIZED;
  if (handle == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  json *gpu = nullptr, *gi = nullptr;
  nvmlGpuInstance_t gi_handle = GiHandle(c.m(), handle->gpu, handle->gi);
  if (nvmlReturn_t r = LookupGi(c, gi_handle, &gpu, &gi); r != NVML_SUCCESS) return r;
  json& cis = ComputeInstances(*gi);
  for (size_t i = 0; i < cis.size(); ++i) {
    if (Get(cis[i], "id", 0u) != handle->id) continue;
    std::string uuid = Get(cis[i], "uuid", std::string());
    for (const json& proc : Get(*gpu, "processes", json::array())) {
      if (!uuid.empty() && Get(proc, "mig_uuid", std::string()) == uuid) return NVML_ERROR_IN_USE;
    }
    cis.erase(i);
    Persist(c.m());
    return NVML_SUCCESS;
  }
  return NVML_ERROR_INVALID_ARGUMENT;
}

EXPORT nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t handle) {
  Call c;
  json *gpu = nullptr, *gi = nullptr;
  if (nvmlReturn_t r = LookupGi(c, handle, &gpu, &gi); r != NVML_SUCCESS) return r;
  if (!ComputeInstances(*gi).empty()) return NVML_ERROR_IN_USE;
  json& all = Instances(*gpu);
  for (size_t i = 0; i < all.size(); ++i) {
    if (Get(all[i], "id", 0u) == handle->id) {
      all.erase(i);
      break;
    }
  }
  Persist(c.m());
  return NVML_SUCCESS;
}

// Every function Paddock resolves is exported here with exactly the signature it expects.
#define PADDOCK_TEST_NVML_CHECK_SIGNATURE(name) \
  static_assert(std::is_same_v<decltype(&name), name##_fn>, #name " has the wrong signature");
PADDOCK_NVML_REQUIRED_FUNCTIONS(PADDOCK_TEST_NVML_CHECK_SIGNATURE)
PADDOCK_NVML_OPTIONAL_FUNCTIONS(PADDOCK_TEST_NVML_CHECK_SIGNATURE)
