// GpuManager: the daemon's view of the machine's GPUs and who holds them.
//
// Start() discovers the GPUs (NVML when the driver library loads, hwloc and /proc/driver/nvidia
// otherwise), applies the configured MIG layouts to idle GPUs, turns the partitions into units
// (gpu/allocator.h), restores the allocations recorded in SQLite and starts a 1 Hz sampler. The
// sampler keeps telemetry history, maps GPU processes to sandboxes through their cgroups and
// asks for a sandbox to be stopped (reason "gpu_memory") when it uses more GPU memory than its
// share allows.
//
// Grant() allocates units for a sandbox and says what the sandbox needs to use them: device
// nodes and their device-cgroup rules, CUDA_VISIBLE_DEVICES, a cpuset local to the GPUs, and the
// driver's files for sandboxes with their own root. Every method is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "daemon/config.h"
#include "daemon/state_db.h"
#include "gpu/allocator.h"
#include "gpu/gpu_info.h"
#include "sandbox/cgroup.h"
#include "sandbox/spec.h"

namespace paddock {
namespace gpu {
class NvmlLibrary;
}

inline constexpr char kDriverLibDir[] = "/run/nvidia-driver/lib";
inline constexpr char kDriverBinDir[] = "/run/nvidia-driver/bin";

struct GpuManagerOptions {
  bool enabled = true;
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string topology_xml;  // "" = the host
  std::string device_dir = "/dev";
  std::string proc_dir = "/proc";
  std::string ld_cache = "/etc/ld.so.cache";
  std::map<std::string, GpuPartitionConfig> partitions;  // key: index or UUID
  int64_t history_seconds = 600;
  std::chrono::milliseconds sample_interval{1000};
};

// What a sandbox is given with its GPU units.
struct GpuGrant {
  std::vector<std::string> unit_ids;
  std::vector<std::string> uuids;  // GPU or MIG instance UUIDs, in CUDA_VISIBLE_DEVICES order
  std::vector<sandbox::DeviceNode> devices;
  std::vector<sandbox::DeviceRule> device_rules;
  std::vector<std::string> env;  // "KEY=value"
  std::string cpuset_cpus;       // "" = no restriction (no locality known, or none usable)
  std::string cpuset_mems;
  // Only for sandboxes with their own root: the driver's libraries under /run/nvidia-driver/lib
  // and tools under /run/nvidia-driver/bin (the caller adds them to LD_LIBRARY_PATH and PATH).
  std::vector<sandbox::BindMount> driver_binds;
  // /proc/driver/nvidia/gpus showing only the granted GPUs.
  sandbox::FilteredDir proc_view;
  uint64_t memory_limit_bytes = 0;  // shares: the GPU memory the sandbox may use
  // The sandbox's "gpus" member in the API.
  nlohmann::json ToJson() const;
};

// Parses the "gpus" member of a sandbox request: {"count": N, "same_numa": b, "nvlink": b},
// {"mig": "1g.10gb"}, {"share": {"memory": "10G"}} or {"uuids": [...]}. kInvalidArgument
// starting with the field name ("gpus.count: ...").
Result<gpu::GpuRequest> GpuRequestFromJson(const nlohmann::json& json);

class GpuManager {
 public:
  // `db` must outlive the manager.
  GpuManager(StateDb* db, GpuManagerOptions options);
  ~GpuManager();  // stops the sampler

  // Discovers and restores. A machine without GPUs, or without NVML, is not an error; only a
  // broken state database is.
  Status Start();

  // Allocates `request` for `sandbox_id`, all or nothing, and records it. kInvalidArgument (bad
  // request), kFailedPrecondition (never satisfiable here, or a device node is missing),
  // kResourceExhausted (not free now).
  Result<GpuGrant> Grant(const std::string& sandbox_id, const gpu::GpuRequest& request,
                         bool own_root);
  // Frees what `sandbox_id` holds (nothing held is fine).
  void Release(const std::string& sandbox_id);
  // After sandboxes were re-adopted: frees the units of every sandbox not in `running`.
  void Reconcile(const std::set<std::string>& running);
  // Called from the sampler thread for a sandbox over its GPU memory share; set before Start().
  void SetStopHandler(
      std::function<void(const std::string& sandbox_id, const std::string& reason)>);

  // GET /api/v1/gpus. ListJson, HistoryJson and RenderMetrics need Start() to have run.
  nlohmann::json ListJson() const;
  // GET /api/v1/gpus/{uuid}/history; kNotFound for an unknown UUID.
  Result<nlohmann::json> HistoryJson(const std::string& uuid) const;
  // Appends per-GPU and per-sandbox gauges in the Prometheus text format.
  void RenderMetrics(std::string* out) const;
  size_t gpu_count() const;
  // Stops the 1 Hz sampler (and so every call to the stop handler). Idempotent.
  void StopSampler();

  GpuManager(const GpuManager&) = delete;
  GpuManager& operator=(const GpuManager&) = delete;

 private:
  struct Sample {
    int64_t at_ms;
    gpu::Telemetry telemetry;
  };
  struct Held {  // one allocated unit, as recorded
    std::string unit_id;
    std::string sandbox_id;
    uint64_t memory_limit_bytes = 0;
  };

  void Discover();
  // Applies each planned layout (by GPU index) to its GPU when it differs and the GPU is idle.
  void ApplyMigLayouts(const std::map<uint32_t, std::vector<gpu::MigPlacement>>& mig_plans);
  // The configured partitions by GPU index; MIG layouts that can apply are planned into
  // `*mig_plans`, the others recorded in partition_errors_.
  std::map<uint32_t, gpu::GpuPartition> ResolvePartitions(
      std::map<uint32_t, std::vector<gpu::MigPlacement>>* mig_plans);
  Status RestoreAllocations();
  Result<GpuGrant> BuildGrant(const gpu::Allocation& allocation, bool own_root) const;
  Status AddDeviceNode(const std::string& name, bool required, GpuGrant* grant) const;
  Status AddMigNodes(const gpu::GpuInfo& gpu, const gpu::Unit& unit, GpuGrant* grant) const;
  void AddLocality(const std::vector<uint32_t>& gpus, GpuGrant* grant) const;
  void SampleLoop();
  void SampleOnce();
  void EnforceShares(const std::map<std::string, std::map<uint32_t, uint64_t>>& used);
  // The sandbox among `holders` whose cgroup `pid` is in, or "".
  static std::string SandboxOfPid(int64_t pid, const std::set<std::string>& holders);
  size_t HistoryCapacity() const;  // samples kept per GPU
  const gpu::Unit* FindUnit(const std::string& unit_id) const;

  StateDb* db_;
  GpuManagerOptions options_;
  std::unique_ptr<gpu::NvmlLibrary> nvml_;
  std::string nvml_status_ = "not started";
  std::string driver_version_;

  mutable std::mutex mutex_;  // guards everything below
  std::vector<gpu::GpuInfo> gpus_;
  std::vector<std::vector<gpu::LinkKind>> links_;
  std::vector<std::string> warnings_;
  std::map<uint32_t, gpu::GpuPartition> partitions_;
  std::map<uint32_t, std::string> partition_errors_;
  std::unique_ptr<gpu::Allocator> allocator_;
  std::map<std::string, Held> held_;                                   // by unit id
  std::map<uint32_t, std::deque<Sample>> history_;                     // by GPU index
  std::map<std::string, std::map<uint32_t, uint64_t>> sandbox_usage_;  // sandbox -> GPU -> bytes
  std::map<int64_t, std::string> pid_sandbox_;  // GPU processes found in sandboxes
  std::set<std::string> stopping_;              // sandboxes already asked to stop for gpu_memory
  std::function<void(const std::string&, const std::string&)> stop_handler_;

  std::mutex sampler_mutex_;
  std::condition_variable sampler_wake_;
  bool sampler_stop_ = false;
  std::thread sampler_;
};

}  // namespace paddock
