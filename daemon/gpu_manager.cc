#include "daemon/gpu_manager.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "base/byte_size.h"
#include "base/clock.h"
#include "base/file_util.h"
#include "base/log.h"
#include "gpu/cpulist.h"
#include "gpu/driver_files.h"
#include "gpu/inventory.h"
#include "gpu/mig_layout.h"
#include "gpu/nvml_discovery.h"
#include "gpu/nvml_library.h"
#include "gpu/proc_driver.h"
#include "gpu/topology.h"

namespace paddock {
namespace {

bool AllDigits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

gpu::GpuPartition ToPartition(const GpuPartitionConfig& c) {
  gpu::GpuPartition p;
  if (c.mode == "mig") p.mode = gpu::GpuPartition::Mode::kMig;
  if (c.mode == "shared") p.mode = gpu::GpuPartition::Mode::kShared;
  p.mig_layout = c.mig_layout;
  p.shares = c.shares;
  p.share_memory_bytes = c.share_memory_bytes;
  return p;
}

// "Cpus_allowed_list" or "Mems_allowed_list" of this process: what a sandbox's cpuset may use.
std::vector<int> AllowedList(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with(key + ":")) continue;
    std::string value = line.substr(key.size() + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    auto parsed = gpu::ParseCpulist(value);
    if (parsed.ok()) return *parsed;
  }
  return {};
}

std::vector<int> Intersect(const std::set<int>& wanted, const std::vector<int>& allowed) {
  std::vector<int> out;
  for (int v : allowed) {
    if (wanted.count(v) != 0) out.push_back(v);
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

nlohmann::json GpuGrant::ToJson() const {
  nlohmann::json devices_json = nlohmann::json::array();
  for (const auto& d : devices) devices_json.push_back(d.target);
  nlohmann::json j = {{"units", unit_ids},
                      {"uuids", uuids},
                      {"devices", devices_json},
                      {"cpuset_cpus", cpuset_cpus},
                      {"cpuset_mems", cpuset_mems}};
  j["memory_limit_bytes"] = memory_limit_bytes != 0 ? nlohmann::json(memory_limit_bytes) : nullptr;
  return j;
}

Result<gpu::GpuRequest> GpuRequestFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Status::InvalidArgument("gpus: must be an object");
  gpu::GpuRequest r;
  int kinds = 0;
  for (const auto& [key, value] : json.items()) {
    if (key == "count") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 1024) {
        return Status::InvalidArgument("gpus.count: must be an integer of at least 1");
      }
      r.count = value.get<uint32_t>();
      ++kinds;
    } else if (key == "mig") {
      if (!value.is_string() || value.get<std::string>().empty()) {
        return Status::InvalidArgument("gpus.mig: must be a MIG profile name like \"1g.10gb\"");
      }
      r.mig_profile = value.get<std::string>();
      ++kinds;
    } else if (key == "share") {
      if (!value.is_object() || !value.contains("memory") || value.size() != 1) {
        return Status::InvalidArgument("gpus.share: must be {\"memory\": \"10G\"}");
      }
      const auto& memory = value["memory"];
      if (memory.is_number_integer() && memory.get<int64_t>() > 0) {
        r.share_memory_bytes = memory.get<uint64_t>();
      } else if (memory.is_string()) {
        auto bytes = ParseByteSize(memory.get<std::string>());
        if (!bytes.ok())
          return Status::InvalidArgument("gpus.share.memory: " + bytes.status().message());
        r.share_memory_bytes = *bytes;
      } else {
        return Status::InvalidArgument("gpus.share.memory: must be a size like \"10G\" or bytes");
      }
      ++kinds;
    } else if (key == "uuids") {
      if (!value.is_array() || value.empty()) {
        return Status::InvalidArgument("gpus.uuids: must be a non-empty array of UUIDs");
      }
      for (const auto& u : value) {
        if (!u.is_string()) return Status::InvalidArgument("gpus.uuids: must be strings");
        r.uuids.push_back(u.get<std::string>());
      }
      ++kinds;
    } else if (key == "same_numa" || key == "nvlink") {
      if (!value.is_boolean())
        return Status::InvalidArgument("gpus." + key + ": must be a boolean");
      (key == "same_numa" ? r.same_numa : r.nvlink) = value.get<bool>();
    } else {
      return Status::InvalidArgument("gpus." + key +
                                     ": unknown member (expected count, mig, share or uuids, "
                                     "with same_numa and nvlink for count)");
    }
  }
  if (kinds != 1) {
    return Status::InvalidArgument("gpus: give exactly one of count, mig, share or uuids");
  }
  if ((r.same_numa || r.nvlink) && r.count == 0) {
    return Status::InvalidArgument("gpus: same_numa and nvlink go with count");
  }
  return r;
}

GpuManager::GpuManager(StateDb* db, GpuManagerOptions options)
    : db_(db), options_(std::move(options)) {}

GpuManager::~GpuManager() { StopSampler(); }

void GpuManager::StopSampler() {
  {
    std::lock_guard<std::mutex> lock(sampler_mutex_);
    sampler_stop_ = true;
  }
  sampler_wake_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void GpuManager::SetStopHandler(std::function<void(const std::string&, const std::string&)> f) {
  std::lock_guard<std::mutex> lock(mutex_);
  stop_handler_ = std::move(f);
}

Status GpuManager::Start() {
  if (!options_.enabled) {
    nvml_status_ = "disabled by configuration ([gpu] enabled = false)";
    allocator_ = std::make_unique<gpu::Allocator>(gpus_, links_, std::vector<gpu::Unit>{});
    return Status::Ok();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Discover();
  std::map<uint32_t, std::vector<gpu::MigPlacement>> mig_plans;
  auto partitions = ResolvePartitions(&mig_plans);
  ApplyMigLayouts(mig_plans);
  partitions_ = partitions;
  auto units = gpu::BuildUnits(gpus_, partitions);
  if (!units.ok()) {
    warnings_.push_back("partitions: " + units.status().message() + "; GPUs offered whole");
    units = gpu::BuildUnits(gpus_, {});
  }
  std::vector<gpu::Unit> offered;
  for (const gpu::Unit& u : units.ok() ? *units : std::vector<gpu::Unit>{}) {
    if (partition_errors_.count(u.gpu) == 0) offered.push_back(u);
  }
  allocator_ = std::make_unique<gpu::Allocator>(gpus_, links_, offered);
  PADDOCK_RETURN_IF_ERROR(RestoreAllocations());
  for (const std::string& w : warnings_) LogWarning("gpu: " + w);
  for (const auto& [index, error] : partition_errors_) {
    LogError("gpu partition not applied", {{"GPU", std::to_string(index)}, {"ERROR", error}});
  }
  LogInfo("GPUs discovered", {{"COUNT", std::to_string(gpus_.size())},
                              {"UNITS", std::to_string(offered.size())},
                              {"NVML", nvml_status_}});
  if (nvml_) sampler_ = std::thread(&GpuManager::SampleLoop, this);
  return Status::Ok();
}

void GpuManager::Discover() {
  warnings_.clear();
  std::optional<gpu::NvmlGpuList> nvml_list;
  if (!nvml_) {
    auto lib = gpu::NvmlLibrary::Open(options_.nvml_library);
    if (lib.ok()) {
      nvml_ = std::move(lib).value();
    } else {
      nvml_status_ = lib.status().message();
    }
  }
  if (nvml_) {
    auto snapshot = gpu::DiscoverNvmlGpus(*nvml_);
    if (snapshot.ok()) {
      nvml_status_ = "ok";
      driver_version_ = snapshot->driver_version;
      nvml_list = gpu::NvmlGpuList{snapshot->gpus, snapshot->links};
    } else {
      nvml_status_ = snapshot.status().message();
      nvml_.reset();
    }
  }
  auto topology = options_.topology_xml.empty() ? gpu::Topology::LoadHost()
                                                : gpu::Topology::LoadXml(options_.topology_xml);
  if (!topology.ok()) warnings_.push_back("topology: " + topology.status().message());
  auto proc_gpus = gpu::ReadProcDriverGpus(options_.proc_dir);
  if (!proc_gpus.ok()) warnings_.push_back("driver files: " + proc_gpus.status().message());

  gpu::InventorySources sources;
  sources.nvml = nvml_list ? &*nvml_list : nullptr;
  sources.topology = topology.ok() ? &*topology : nullptr;
  if (proc_gpus.ok()) sources.proc_gpus = *proc_gpus;
  sources.nvml_status = nvml_status_;
  gpu::Inventory inventory = gpu::BuildInventory(sources);
  gpus_ = std::move(inventory.gpus);
  links_ = std::move(inventory.links);
  for (std::string& w : inventory.warnings) warnings_.push_back(std::move(w));
}

std::map<uint32_t, gpu::GpuPartition> GpuManager::ResolvePartitions(
    std::map<uint32_t, std::vector<gpu::MigPlacement>>* mig_plans) {
  std::map<uint32_t, gpu::GpuPartition> out;
  for (const auto& [key, config] : options_.partitions) {
    const gpu::GpuInfo* found = nullptr;
    for (const gpu::GpuInfo& g : gpus_) {
      if ((AllDigits(key) && std::to_string(g.index) == key) || g.uuid == key) found = &g;
    }
    if (found == nullptr) {
      warnings_.push_back("partitions: no GPU \"" + key + "\" on this machine");
      continue;
    }
    gpu::GpuPartition partition = ToPartition(config);
    if (partition.mode == gpu::GpuPartition::Mode::kMig) {
      if (!found->mig_capable) {
        partition_errors_[found->index] =
            "GPU " + std::to_string(found->index) + " (" + found->name + ") does not support MIG";
        continue;
      }
      if (!found->mig_enabled) {
        partition_errors_[found->index] = "MIG mode is off on GPU " + std::to_string(found->index) +
                                          ": turn it on with `nvidia-smi -i " +
                                          std::to_string(found->index) +
                                          " -mig 1` (takes effect after a GPU reset)";
        continue;
      }
      auto plan = gpu::PlanMigLayout(found->mig_profiles, partition.mig_layout);
      if (!plan.ok()) {
        partition_errors_[found->index] = plan.status().message();
        continue;
      }
      (*mig_plans)[found->index] = std::move(plan).value();
    }
    out[found->index] = std::move(partition);
  }
  return out;
}

void GpuManager::ApplyMigLayouts(
    const std::map<uint32_t, std::vector<gpu::MigPlacement>>& mig_plans) {
  std::set<std::string> recorded_units;
  (void)db_->Query("SELECT unit_id FROM gpu_allocations", {}, [&](const StateDb::Row& r) {
    recorded_units.insert(std::get<std::string>(r[0]));
  });
  bool changed = false;
  for (const auto& [index, plan] : mig_plans) {
    const gpu::GpuInfo& g = gpus_.at(index);
    if (gpu::SameLayout(g.mig_instances, plan)) continue;
    const std::string prefix = "gpu" + std::to_string(index) + "/";
    const bool held = std::any_of(recorded_units.begin(), recorded_units.end(),
                                  [&](const std::string& u) { return u.starts_with(prefix); });
    if (held || !g.processes.empty() || !nvml_) {
      warnings_.push_back("GPU " + std::to_string(index) +
                          ": MIG layout differs from the configuration but the GPU is in use; "
                          "keeping its current instances until it is idle at a daemon start");
      continue;
    }
    Status applied = gpu::ApplyMigLayout(*nvml_, index, plan);
    if (!applied.ok()) {
      partition_errors_[index] = "applying the MIG layout failed: " + applied.message();
    } else {
      std::vector<std::string> profiles;
      for (const gpu::MigPlacement& p : plan) profiles.push_back(p.profile);
      LogInfo("MIG layout applied",
              {{"GPU", std::to_string(index)}, {"LAYOUT", Join(profiles, ",")}});
    }
    changed = true;
  }
  if (changed) {
    std::vector<std::string> kept = warnings_;
    Discover();
    for (std::string& w : kept) {
      if (std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end())
        warnings_.push_back(w);
    }
  }
}

const gpu::Unit* GpuManager::FindUnit(const std::string& unit_id) const {
  for (const gpu::Unit& u : allocator_->units()) {
    if (u.id == unit_id) return &u;
  }
  return nullptr;
}

Status GpuManager::RestoreAllocations() {
  std::map<std::string, std::vector<Held>> by_sandbox;
  std::map<std::string, std::string> unit_uuid;
  PADDOCK_RETURN_IF_ERROR(
      db_->Query("SELECT unit_id, unit_uuid, sandbox_id, memory_limit FROM gpu_allocations", {},
                 [&](const StateDb::Row& r) {
                   Held h{std::get<std::string>(r[0]), std::get<std::string>(r[2]),
                          static_cast<uint64_t>(std::get<int64_t>(r[3]))};
                   unit_uuid[h.unit_id] = std::get<std::string>(r[1]);
                   by_sandbox[h.sandbox_id].push_back(h);
                 }));
  for (const auto& [sandbox_id, units] : by_sandbox) {
    std::vector<std::string> ids;
    Status restored;
    for (const Held& h : units) {
      const gpu::Unit* unit = FindUnit(h.unit_id);
      if (unit == nullptr || unit->uuid != unit_uuid[h.unit_id]) {
        restored = Status::NotFound("unit " + h.unit_id + " (" + unit_uuid[h.unit_id] +
                                    ") is not on this machine any more");
        break;
      }
      ids.push_back(h.unit_id);
    }
    if (restored.ok()) restored = allocator_->Restore(sandbox_id, ids);
    if (!restored.ok()) {
      LogWarning("GPU allocation dropped at start",
                 {{"SANDBOX", sandbox_id}, {"ERROR", restored.message()}});
      PADDOCK_RETURN_IF_ERROR(
          db_->Query("DELETE FROM gpu_allocations WHERE sandbox_id = ?1", {sandbox_id}));
      continue;
    }
    for (const Held& h : units) held_[h.unit_id] = h;
  }
  return Status::Ok();
}

Result<GpuGrant> GpuManager::Grant(const std::string& sandbox_id, const gpu::GpuRequest& request,
                                   bool own_root) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!allocator_) return Status::Unavailable("GPUs are not discovered yet");
  auto allocation = allocator_->Allocate(request, sandbox_id);
  if (!allocation.ok()) return allocation.status().WithContext("gpus");
  auto grant = BuildGrant(*allocation, own_root);
  if (grant.ok()) grant->memory_limit_bytes = request.share_memory_bytes;
  Status recorded = grant.ok() ? Status::Ok() : grant.status();
  if (recorded.ok()) {
    recorded = db_->Transaction([&]() -> Status {
      for (const std::string& id : allocation->unit_ids) {
        const gpu::Unit* unit = FindUnit(id);
        const std::string gpu_uuid = gpus_.at(unit->gpu).uuid;
        PADDOCK_RETURN_IF_ERROR(db_->Query(
            "INSERT INTO gpu_allocations(unit_id, gpu_uuid, unit_uuid, sandbox_id, memory_limit, "
            "allocated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            {id, gpu_uuid, unit->uuid, sandbox_id, static_cast<int64_t>(request.share_memory_bytes),
             UnixNowMs()}));
      }
      return Status::Ok();
    });
  }
  if (!recorded.ok()) {
    allocator_->Release(sandbox_id);
    return recorded;
  }
  for (const std::string& id : allocation->unit_ids) {
    held_[id] = Held{id, sandbox_id, request.share_memory_bytes};
  }
  LogInfo("GPUs granted", {{"SANDBOX", sandbox_id}, {"UNITS", Join(allocation->unit_ids, ",")}});
  return grant;
}

Result<GpuGrant> GpuManager::BuildGrant(const gpu::Allocation& allocation, bool own_root) const {
  GpuGrant grant;
  grant.unit_ids = allocation.unit_ids;
  bool any_minor = false;
  for (const std::string& id : allocation.unit_ids) {
    const gpu::Unit* unit = FindUnit(id);
    const gpu::GpuInfo& g = gpus_.at(unit->gpu);
    grant.uuids.push_back(unit->uuid);
    if (g.minor < 0) {
      LogWarning("GPU has no known device minor; no device node granted",
                 {{"GPU", g.pci.ToString()}});
      continue;
    }
    any_minor = true;
    const std::string node = "nvidia" + std::to_string(g.minor);
    const bool present = std::any_of(grant.devices.begin(), grant.devices.end(),
                                     [&](const auto& d) { return d.target == "/dev/" + node; });
    if (!present) PADDOCK_RETURN_IF_ERROR(AddDeviceNode(node, true, &grant));
    if (unit->kind == gpu::UnitKind::kMig) PADDOCK_RETURN_IF_ERROR(AddMigNodes(g, *unit, &grant));
  }
  if (any_minor) {
    PADDOCK_RETURN_IF_ERROR(AddDeviceNode("nvidiactl", true, &grant));
    PADDOCK_RETURN_IF_ERROR(AddDeviceNode("nvidia-uvm", false, &grant));
    PADDOCK_RETURN_IF_ERROR(AddDeviceNode("nvidia-uvm-tools", false, &grant));
  }
  const std::string visible = Join(grant.uuids, ",");
  grant.env = {"CUDA_VISIBLE_DEVICES=" + visible, "NVIDIA_VISIBLE_DEVICES=" + visible,
               "PADDOCK_GPU_UNITS=" + Join(grant.unit_ids, ",")};
  AddLocality(allocation.gpus, &grant);
  grant.proc_view.path = "/proc/driver/nvidia/gpus";
  for (uint32_t index : allocation.gpus)
    grant.proc_view.keep.push_back(gpus_.at(index).pci.ToString());
  if (own_root) {
    gpu::DriverFileOptions files_options;
    files_options.ld_cache = options_.ld_cache;
    auto files = gpu::FindDriverFiles(files_options);
    if (files.ok()) {
      // A root directory's own /usr is read-only in the sandbox and may lack the files to bind
      // over, so the driver gets a directory of its own on the sandbox's /run tmpfs.
      for (const auto& [host, target] : gpu::DriverBindTargets(*files)) {
        const std::string name = target.substr(target.find_last_of('/') + 1);
        const bool tool = target.starts_with("/usr/bin/");
        grant.driver_binds.push_back(
            {host, std::string(tool ? kDriverBinDir : kDriverLibDir) + "/" + name, false});
      }
      if (!grant.driver_binds.empty()) {
        grant.env.push_back(std::string("LD_LIBRARY_PATH=") + kDriverLibDir);
      }
    } else {
      LogWarning("NVIDIA driver files not found", {{"ERROR", files.status().message()}});
    }
  }
  return grant;
}

Status GpuManager::AddDeviceNode(const std::string& name, bool required, GpuGrant* grant) const {
  const std::string path = JoinPath(options_.device_dir, name);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (!required) return Status::Ok();
    return Status::FailedPrecondition("gpus: device node " + path + " is missing");
  }
  if (!S_ISCHR(st.st_mode)) {
    return Status::FailedPrecondition("gpus: " + path + " is not a character device");
  }
  grant->devices.push_back({path, "/dev/" + name});
  grant->device_rules.push_back({'c', static_cast<int64_t>(major(st.st_rdev)),
                                 static_cast<int64_t>(minor(st.st_rdev)), "rw"});
  return Status::Ok();
}

Status GpuManager::AddMigNodes(const gpu::GpuInfo& g, const gpu::Unit& unit,
                               GpuGrant* grant) const {
  const gpu::MigInstance* instance = nullptr;
  for (const gpu::MigInstance& m : g.mig_instances) {
    if (m.uuid == unit.uuid) instance = &m;
  }
  if (instance == nullptr) {
    return Status::FailedPrecondition("gpus: MIG instance " + unit.uuid + " is gone");
  }
  auto minors = gpu::ReadMigMinors(options_.proc_dir);
  if (!minors.ok()) return Status::FailedPrecondition("gpus: " + minors.status().message());
  const std::vector<int> caps =
      gpu::MigCapMinors(*minors, g.minor, instance->gpu_instance_id, instance->compute_instance_id);
  if (caps.empty()) {
    return Status::FailedPrecondition("gpus: no access minors for MIG instance " + unit.uuid +
                                      " in " + options_.proc_dir +
                                      "/driver/nvidia-caps/mig-minors");
  }
  for (int cap : caps) {
    PADDOCK_RETURN_IF_ERROR(
        AddDeviceNode("nvidia-caps/nvidia-cap" + std::to_string(cap), true, grant));
  }
  return Status::Ok();
}

void GpuManager::AddLocality(const std::vector<uint32_t>& gpus, GpuGrant* grant) const {
  std::set<int> cpus;
  std::set<int> mems;
  for (uint32_t index : gpus) {
    const gpu::GpuInfo& g = gpus_.at(index);
    auto list = gpu::ParseCpulist(g.local_cpus);
    if (list.ok()) cpus.insert(list->begin(), list->end());
    mems.insert(g.numa_nodes.begin(), g.numa_nodes.end());
  }
  // Only what this daemon may hand out: on a smaller host than the GPUs' machine description the
  // intersection is what remains; when nothing remains the sandbox keeps the parent's set.
  const std::vector<int> usable_cpus = Intersect(cpus, AllowedList("Cpus_allowed_list"));
  const std::vector<int> usable_mems = Intersect(mems, AllowedList("Mems_allowed_list"));
  if (!usable_cpus.empty()) grant->cpuset_cpus = gpu::FormatCpulist(usable_cpus);
  if (!usable_mems.empty()) grant->cpuset_mems = gpu::FormatCpulist(usable_mems);
}

void GpuManager::Release(const std::string& sandbox_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool any = false;
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.sandbox_id == sandbox_id) {
      it = held_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  if (!any) return;
  if (allocator_) allocator_->Release(sandbox_id);
  stopping_.erase(sandbox_id);
  sandbox_usage_.erase(sandbox_id);
  Status s = db_->Query("DELETE FROM gpu_allocations WHERE sandbox_id = ?1", {sandbox_id});
  if (!s.ok())
    LogError("cannot record GPU release", {{"SANDBOX", sandbox_id}, {"ERROR", s.message()}});
  LogInfo("GPUs released", {{"SANDBOX", sandbox_id}});
}

void GpuManager::Reconcile(const std::set<std::string>& running) {
  std::set<std::string> gone;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [unit, held] : held_) {
      if (running.count(held.sandbox_id) == 0) gone.insert(held.sandbox_id);
    }
  }
  for (const std::string& id : gone) Release(id);
}

size_t GpuManager::HistoryCapacity() const {
  return static_cast<size_t>(std::max<int64_t>(
      1, options_.history_seconds * 1000 / std::max<int64_t>(1, options_.sample_interval.count())));
}

size_t GpuManager::gpu_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return gpus_.size();
}

void GpuManager::SampleLoop() {
  std::unique_lock<std::mutex> lock(sampler_mutex_);
  while (!sampler_stop_) {
    lock.unlock();
    SampleOnce();
    lock.lock();
    sampler_wake_.wait_for(lock, options_.sample_interval, [this] { return sampler_stop_; });
  }
}

std::string GpuManager::SandboxOfPid(int64_t pid, const std::set<std::string>& holders) {
  // /proc/<pid>/cgroup names the sandbox's cgroup directory, whose last component is its id.
  std::ifstream file("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    std::stringstream path(line.substr(line.find(':', line.find(':') + 1) + 1));
    std::string component;
    while (std::getline(path, component, '/')) {
      if (holders.count(component) != 0) return component;
    }
  }
  return "";
}

void GpuManager::SampleOnce() {
  std::vector<uint32_t> indexes;
  std::set<std::string> holders;  // only sandboxes holding units can use a GPU
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const gpu::GpuInfo& g : gpus_) {
      if (g.from_nvml) indexes.push_back(g.index);
    }
    for (const auto& [unit, held] : held_) holders.insert(held.sandbox_id);
  }
  std::map<uint32_t, gpu::GpuSample> samples;
  for (uint32_t index : indexes) samples[index] = gpu::SampleGpu(*nvml_, index);
  std::map<std::string, std::map<uint32_t, uint64_t>> used;
  std::map<int64_t, std::string> pid_sandbox;  // every pid looked up once; "" = no sandbox
  for (const auto& [index, sample] : samples) {
    for (const gpu::GpuProcess& p : sample.processes) {
      auto [it, added] = pid_sandbox.try_emplace(p.pid);
      if (added) it->second = SandboxOfPid(p.pid, holders);
      if (!it->second.empty()) used[it->second][index] += p.used_memory_bytes;
    }
  }
  std::erase_if(pid_sandbox, [](const auto& entry) { return entry.second.empty(); });
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t keep = HistoryCapacity();
    for (auto& [index, sample] : samples) {
      gpu::GpuInfo& g = gpus_.at(index);
      for (const uint64_t xid : sample.telemetry.xid_errors) {
        LogWarning(
            "GPU XID error",
            {{"GPU", std::to_string(index)}, {"UUID", g.uuid}, {"XID", std::to_string(xid)}});
      }
      if (sample.telemetry.state == "lost" && g.telemetry.state != "lost") {
        LogError("GPU fell off the bus", {{"GPU", std::to_string(index)}, {"UUID", g.uuid}});
      }
      g.telemetry = sample.telemetry;
      g.processes = sample.processes;
      auto& ring = history_[index];
      ring.push_back({sample.telemetry.sampled_at_ms, sample.telemetry});
      while (ring.size() > keep) ring.pop_front();
    }
    sandbox_usage_ = used;
    pid_sandbox_ = std::move(pid_sandbox);
  }
  EnforceShares(used);
}

void GpuManager::EnforceShares(const std::map<std::string, std::map<uint32_t, uint64_t>>& used) {
  std::vector<std::string> over;
  std::function<void(const std::string&, const std::string&)> handler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    handler = stop_handler_;
    for (const auto& [unit_id, held] : held_) {
      if (held.memory_limit_bytes == 0 || stopping_.count(held.sandbox_id) != 0) continue;
      const gpu::Unit* unit = FindUnit(unit_id);
      auto s = used.find(held.sandbox_id);
      if (unit == nullptr || s == used.end()) continue;
      auto on_gpu = s->second.find(unit->gpu);
      if (on_gpu == s->second.end() || on_gpu->second <= held.memory_limit_bytes) continue;
      LogWarning("sandbox over its GPU memory share; stopping it",
                 {{"SANDBOX", held.sandbox_id},
                  {"GPU", std::to_string(unit->gpu)},
                  {"USED_BYTES", std::to_string(on_gpu->second)},
                  {"LIMIT_BYTES", std::to_string(held.memory_limit_bytes)}});
      stopping_.insert(held.sandbox_id);
      over.push_back(held.sandbox_id);
    }
  }
  if (!handler) return;
  for (const std::string& id : over) handler(id, "gpu_memory");
}

}  // namespace paddock
