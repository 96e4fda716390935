// GpuManager's read side: the JSON of GET /api/v1/gpus and its history, and the /metrics gauges.
#include <cstdio>

#include "daemon/gpu_manager.h"
#include "daemon/metrics.h"

namespace paddock {
namespace {

template <typename T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json TelemetryJson(const gpu::Telemetry& t) {
  nlohmann::json j = {{"state", t.state},
                      {"memory_used_bytes", OrNull(t.memory_used_bytes)},
                      {"utilization_gpu_percent", OrNull(t.utilization_gpu_percent)},
                      {"utilization_memory_percent", OrNull(t.utilization_memory_percent)},
                      {"power_mw", OrNull(t.power_mw)},
                      {"power_limit_mw", OrNull(t.power_limit_mw)},
                      {"temperature_c", OrNull(t.temperature_c)},
                      {"ecc_enabled", OrNull(t.ecc_enabled)},
                      {"ecc_uncorrected_errors", OrNull(t.ecc_uncorrected_errors)}};
  if (!t.message.empty()) j["message"] = t.message;
  j["sampled_at_ms"] = t.sampled_at_ms != 0 ? nlohmann::json(t.sampled_at_ms) : nullptr;
  return j;
}

nlohmann::json MigJson(const gpu::GpuInfo& g) {
  nlohmann::json profiles = nlohmann::json::array();
  for (const gpu::MigProfile& p : g.mig_profiles) {
    profiles.push_back({{"name", p.name},
                        {"id", p.id},
                        {"slices", p.slices},
                        {"max_count", p.max_count},
                        {"memory_bytes", p.memory_bytes},
                        {"sm_count", p.sm_count}});
  }
  nlohmann::json instances = nlohmann::json::array();
  for (const gpu::MigInstance& m : g.mig_instances) {
    instances.push_back({{"uuid", m.uuid},
                         {"profile", m.profile},
                         {"gpu_instance_id", m.gpu_instance_id},
                         {"compute_instance_id", m.compute_instance_id},
                         {"placement_start", m.placement_start},
                         {"placement_size", m.placement_size},
                         {"memory_bytes", m.memory_bytes},
                         {"sm_count", m.sm_count}});
  }
  return {{"capable", g.mig_capable},
          {"enabled", g.mig_enabled},
          {"profiles", profiles},
          {"instances", instances}};
}

const char* UnitKindName(gpu::UnitKind kind) {
  switch (kind) {
    case gpu::UnitKind::kWhole:
      return "whole";
    case gpu::UnitKind::kMig:
      return "mig";
    case gpu::UnitKind::kShare:
      return "share";
  }
  return "whole";
}

const char* ModeName(gpu::GpuPartition::Mode mode) {
  switch (mode) {
    case gpu::GpuPartition::Mode::kMig:
      return "mig";
    case gpu::GpuPartition::Mode::kShared:
      return "shared";
    case gpu::GpuPartition::Mode::kExclusive:
      break;
  }
  return "exclusive";
}

std::string GpuLabels(const gpu::GpuInfo& g) {
  return "gpu=\"" + std::to_string(g.index) + "\",uuid=\"" + EscapeLabelValue(g.uuid) + "\"";
}

void Family(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void AddSample(std::string* out, const char* name, const std::string& labels, double value) {
  char number[64];
  std::snprintf(number, sizeof number, "%.17g", value);
  *out += name;
  *out += '{';
  *out += labels;
  *out += "} ";
  *out += number;
  *out += '\n';
}

}  // namespace

nlohmann::json GpuManager::ListJson() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::map<std::string, std::string> holders = allocator_->Holders();
  nlohmann::json gpus = nlohmann::json::array();
  for (const gpu::GpuInfo& g : gpus_) {
    nlohmann::json peers = nlohmann::json::array();
    for (uint32_t p : g.nvlink_peers) {
      if (p < gpus_.size()) peers.push_back(gpus_[p].uuid);
    }
    nlohmann::json links = nlohmann::json::object();
    for (size_t j = 0; g.index < links_.size() && j < links_[g.index].size(); ++j) {
      if (j != g.index) links[gpus_[j].uuid] = gpu::LinkKindName(links_[g.index][j]);
    }
    nlohmann::json units = nlohmann::json::array();
    for (const gpu::Unit& u : allocator_->units()) {
      if (u.gpu != g.index) continue;
      auto holder = holders.find(u.id);
      units.push_back(
          {{"id", u.id},
           {"kind", UnitKindName(u.kind)},
           {"profile", u.profile.empty() ? nlohmann::json(nullptr) : nlohmann::json(u.profile)},
           {"memory_bytes", u.memory_bytes},
           {"uuid", u.uuid},
           {"holder", holder == holders.end() ? nlohmann::json(nullptr)
                                              : nlohmann::json{{"sandbox", holder->second}}}});
    }
    nlohmann::json processes = nlohmann::json::array();
    for (const gpu::GpuProcess& p : g.processes) {
      auto sandbox = pid_sandbox_.find(p.pid);
      processes.push_back(
          {{"pid", p.pid},
           {"used_memory_bytes", p.used_memory_bytes},
           {"mig_uuid", p.mig_uuid.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.mig_uuid)},
           {"sandbox", sandbox == pid_sandbox_.end() ? nlohmann::json(nullptr)
                                                     : nlohmann::json(sandbox->second)}});
    }
    nlohmann::json partition = {{"mode", "exclusive"}};
    if (auto it = partitions_.find(g.index); it != partitions_.end()) {
      partition = {{"mode", ModeName(it->second.mode)}};
      if (!it->second.mig_layout.empty()) partition["mig_layout"] = it->second.mig_layout;
      if (it->second.shares != 0) partition["shares"] = it->second.shares;
    }
    if (auto it = partition_errors_.find(g.index); it != partition_errors_.end()) {
      partition["error"] = it->second;
    }
    gpus.push_back({{"index", g.index},
                    {"uuid", g.uuid},
                    {"name", g.name},
                    {"pci_bus_id", g.pci.ToString()},
                    {"minor", g.minor >= 0 ? nlohmann::json(g.minor) : nullptr},
                    {"memory_total_bytes",
                     g.memory_total_bytes != 0 ? nlohmann::json(g.memory_total_bytes) : nullptr},
                    {"compute_capability",
                     g.cuda_cc_major >= 0 ? nlohmann::json(std::to_string(g.cuda_cc_major) + "." +
                                                           std::to_string(g.cuda_cc_minor))
                                          : nullptr},
                    {"source", g.from_nvml ? "nvml" : "pci"},
                    {"numa_nodes", g.numa_nodes},
                    {"local_cpus", g.local_cpus},
                    {"nvlink_peers", peers},
                    {"links", links},
                    {"mig", MigJson(g)},
                    {"partition", partition},
                    {"units", units},
                    {"processes", processes},
                    {"telemetry", TelemetryJson(g.telemetry)}});
  }
  return {{"nvml",
           {{"status", nvml_status_},
            {"driver_version",
             driver_version_.empty() ? nlohmann::json(nullptr) : nlohmann::json(driver_version_)}}},
          {"warnings", warnings_},
          {"gpus", gpus}};
}

Result<nlohmann::json> GpuManager::HistoryJson(const std::string& uuid) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const gpu::GpuInfo& g : gpus_) {
    if (g.uuid != uuid) continue;
    nlohmann::json samples = nlohmann::json::array();
    if (auto it = history_.find(g.index); it != history_.end()) {
      for (const Sample& s : it->second) samples.push_back(TelemetryJson(s.telemetry));
    }
    return nlohmann::json{{"uuid", g.uuid},
                          {"interval_ms", options_.sample_interval.count()},
                          {"capacity", HistoryCapacity()},
                          {"samples", samples}};
  }
  return Status::NotFound("no GPU " + uuid);
}

void GpuManager::RenderMetrics(std::string* out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Family(out, "paddock_gpu_info", "gauge", "GPUs on this machine (value 1), with their name.");
  for (const gpu::GpuInfo& g : gpus_) {
    AddSample(out, "paddock_gpu_info", GpuLabels(g) + ",name=\"" + EscapeLabelValue(g.name) + "\"",
              1);
  }
  Family(out, "paddock_gpu_up", "gauge",
         "1 while the GPU answers the driver, 0 once it is lost or failing.");
  for (const gpu::GpuInfo& g : gpus_) {
    const bool up = g.telemetry.state == "ok" || g.telemetry.state == "no_telemetry";
    AddSample(out, "paddock_gpu_up", GpuLabels(g), up ? 1 : 0);
  }
  Family(out, "paddock_gpu_memory_total_bytes", "gauge", "GPU memory size.");
  for (const gpu::GpuInfo& g : gpus_) {
    if (g.memory_total_bytes != 0) {
      AddSample(out, "paddock_gpu_memory_total_bytes", GpuLabels(g),
                static_cast<double>(g.memory_total_bytes));
    }
  }
  Family(out, "paddock_gpu_memory_used_bytes", "gauge", "GPU memory in use.");
  for (const gpu::GpuInfo& g : gpus_) {
    if (g.telemetry.memory_used_bytes) {
      AddSample(out, "paddock_gpu_memory_used_bytes", GpuLabels(g),
                static_cast<double>(*g.telemetry.memory_used_bytes));
    }
  }
  Family(out, "paddock_gpu_utilization_ratio", "gauge",
         "Fraction of the last sample period a kernel ran on the GPU.");
  for (const gpu::GpuInfo& g : gpus_) {
    if (g.telemetry.utilization_gpu_percent) {
      AddSample(out, "paddock_gpu_utilization_ratio", GpuLabels(g),
                *g.telemetry.utilization_gpu_percent / 100.0);
    }
  }
  Family(out, "paddock_gpu_power_watts", "gauge", "GPU power draw.");
  for (const gpu::GpuInfo& g : gpus_) {
    if (g.telemetry.power_mw) {
      AddSample(out, "paddock_gpu_power_watts", GpuLabels(g), *g.telemetry.power_mw / 1000.0);
    }
  }
  Family(out, "paddock_gpu_temperature_celsius", "gauge", "GPU core temperature.");
  for (const gpu::GpuInfo& g : gpus_) {
    if (g.telemetry.temperature_c) {
      AddSample(out, "paddock_gpu_temperature_celsius", GpuLabels(g), *g.telemetry.temperature_c);
    }
  }
  const std::map<std::string, std::string> holders = allocator_->Holders();
  Family(out, "paddock_gpu_units", "gauge", "Units a GPU offers, by kind and whether held.");
  std::map<std::pair<uint32_t, std::string>, std::pair<int, int>> counts;
  for (const gpu::Unit& u : allocator_->units()) {
    auto& c = counts[{u.gpu, UnitKindName(u.kind)}];
    (holders.count(u.id) != 0 ? c.second : c.first)++;
  }
  for (const auto& [key, c] : counts) {
    const std::string labels = GpuLabels(gpus_.at(key.first)) + ",kind=\"" + key.second + "\"";
    AddSample(out, "paddock_gpu_units", labels + ",state=\"free\"", c.first);
    AddSample(out, "paddock_gpu_units", labels + ",state=\"held\"", c.second);
  }
  Family(out, "paddock_sandbox_gpu_units", "gauge", "GPU units each sandbox holds.");
  std::map<std::string, int> per_sandbox;
  for (const auto& [unit, sandbox] : holders) per_sandbox[sandbox]++;
  for (const auto& [sandbox, n] : per_sandbox) {
    AddSample(out, "paddock_sandbox_gpu_units", "sandbox=\"" + EscapeLabelValue(sandbox) + "\"", n);
  }
  Family(out, "paddock_sandbox_gpu_memory_used_bytes", "gauge",
         "GPU memory used by each sandbox's processes, per GPU.");
  for (const auto& [sandbox, usage] : sandbox_usage_) {
    for (const auto& [index, bytes] : usage) {
      AddSample(out, "paddock_sandbox_gpu_memory_used_bytes",
                "sandbox=\"" + EscapeLabelValue(sandbox) + "\"," + GpuLabels(gpus_.at(index)),
                static_cast<double>(bytes));
    }
  }
}

}  // namespace paddock
