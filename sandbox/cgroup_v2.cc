#include "sandbox/cgroup_v2.h"

#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "base/log.h"
#include "sandbox/cgroup_limits.h"

namespace paddock::sandbox {
namespace {

// The controllers a sandbox uses. Others the host offers (hugetlb, rdma, misc) stay off: they
// cost accounting work and Paddock sets no limit with them.
const char* const kWantedControllers[] = {"cpu", "cpuset", "io", "memory", "pids"};

std::set<std::string> Words(std::string_view text) {
  std::set<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\n') ++j;
    if (j > i) words.emplace(text.substr(i, j - i));
    i = j;
  }
  return words;
}

// The single value of a one-value file ("0-3\n" gives "0-3"); "" when it could not be read.
std::string FirstWord(const Result<std::string>& text) {
  if (!text.ok()) return "";
  const std::set<std::string> words = Words(*text);
  return words.empty() ? "" : *words.begin();
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Moves every process of `own_dir` into `own_dir/leaf`, so that `own_dir` may hand controllers to
// its children. Moving a pid moves all its threads.
Status MoveProcessesToLeaf(const CgroupFs& fs, const std::string& own_dir,
                           const std::string& leaf) {
  const std::string leaf_dir = CgroupJoin(own_dir, leaf);
  bool created = false;
  PADDOCK_RETURN_IF_ERROR(fs.MakeDir(leaf_dir, &created));
  Result<std::vector<pid_t>> pids = fs.ReadProcs(own_dir);
  if (!pids.ok()) return pids.status();
  for (pid_t pid : *pids) {
    Status s = fs.Write(leaf_dir, "cgroup.procs", std::to_string(pid));
    // A process that exited meanwhile is no obstacle; any other left behind is.
    if (!s.ok() && ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0) {
      return s.WithContext("move the processes of " + own_dir + " into its leaf cgroup");
    }
  }
  LogInfo("cgroup: moved the processes of the sandboxes' parent into its leaf",
          {{"CGROUP", leaf_dir}, {"PROCESSES", std::to_string(pids->size())}});
  return Status::Ok();
}

// Enables, for the children of `dir`, each wanted controller that `dir` is offered. A controller
// the kernel refuses is logged and left out; the limits that need it then fail validation.
std::set<std::string> EnableControllers(const CgroupFs& fs, const std::string& dir) {
  std::set<std::string> enabled;
  Result<std::string> offered = fs.Read(dir, "cgroup.controllers");
  if (!offered.ok()) return enabled;
  const std::set<std::string> available = Words(*offered);
  for (const char* controller : kWantedControllers) {
    if (available.count(controller) == 0) continue;
    if (fs.Write(dir, "cgroup.subtree_control", std::string("+") + controller).ok()) {
      enabled.insert(controller);
    }
  }
  return enabled;
}

std::string JoinWords(const std::set<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out.empty() ? "none" : out;
}

// --- one step per limit ---

Status SetCpuQuota(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits) {
  if (!limits.cpus) return Status::Ok();
  const std::string value =
      std::to_string(CpuQuotaUs(*limits.cpus)) + " " + std::to_string(kCpuPeriodUs);
  return fs.Write(dir, "cpu.max", value).WithContext("cpus");
}

Status SetCpuset(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits) {
  // Empty lists inherit the parent's effective set on v2; nothing to copy down.
  if (!limits.cpuset_cpus.empty()) {
    PADDOCK_RETURN_IF_ERROR(
        fs.Write(dir, "cpuset.cpus", limits.cpuset_cpus).WithContext("cpuset_cpus"));
  }
  if (!limits.cpuset_mems.empty()) {
    PADDOCK_RETURN_IF_ERROR(
        fs.Write(dir, "cpuset.mems", limits.cpuset_mems).WithContext("cpuset_mems"));
  }
  return Status::Ok();
}

Status SetMemory(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits,
                 bool memory_enabled) {
  if (limits.memory_max_bytes) {
    PADDOCK_RETURN_IF_ERROR(fs.Write(dir, "memory.max", std::to_string(*limits.memory_max_bytes))
                                .WithContext("memory_max_bytes"));
  }
  if (!memory_enabled) return Status::Ok();
  if (fs.Exists(dir, "memory.swap.max")) {
    return fs.Write(dir, "memory.swap.max", limits.allow_swap ? "max" : "0")
        .WithContext("allow_swap");
  }
  if (!limits.allow_swap) {
    // v2 has no per-cgroup swappiness; without swap accounting nothing can keep this sandbox's
    // pages out of swap.
    LogWarning("cgroup: the kernel does not account swap; the sandbox may swap", {{"CGROUP", dir}});
  }
  return Status::Ok();
}

Status SetIoWeight(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits) {
  if (!limits.io_weight) return Status::Ok();
  // io.weight comes from the iocost controller, io.bfq.weight from the BFQ scheduler (1..1000,
  // default 100); either may be missing.
  if (fs.Exists(dir, "io.weight")) {
    return fs.Write(dir, "io.weight", "default " + std::to_string(*limits.io_weight))
        .WithContext("io_weight");
  }
  if (fs.Exists(dir, "io.bfq.weight")) {
    const uint64_t weight = ScaleIoWeight(*limits.io_weight, 100, 1, 1000);
    return fs.Write(dir, "io.bfq.weight", "default " + std::to_string(weight))
        .WithContext("io_weight");
  }
  LogDebug("cgroup: no IO weight control on this host; io_weight skipped", {{"CGROUP", dir}});
  return Status::Ok();
}

class UnifiedCgroup final : public Cgroup {
 public:
  UnifiedCgroup(std::shared_ptr<const CgroupFs> fs, std::string name, std::string dir, bool intact)
      : Cgroup(std::move(name)), fs_(std::move(fs)), dir_(std::move(dir)), intact_(intact) {}

  Result<CgroupEntry> PrepareJoin() const override {
    if (!intact_) return Status::FailedPrecondition("cgroup " + dir_ + " has no device program");
    auto dir = OpenCgroupDirectory(dir_);
    if (!dir.ok()) return dir.status();
    CgroupEntry join;
    join.unified_dir = std::move(dir).value();
    return join;
  }

  Status AddProcess(pid_t pid) override {
    if (!intact_) {
      return Status::FailedPrecondition("cgroup " + dir_ +
                                        " has no device program attached; refusing new processes");
    }
    return fs_->Write(dir_, "cgroup.procs", std::to_string(pid));
  }

  Status Kill() override { return KillUnifiedCgroup(*fs_, dir_); }

  Result<CgroupStats> Stats() const override {
    CgroupStats stats;
    uint64_t usage_usec = 0;
    // cpu.stat is a core file (present without the cpu controller) in every non-root cgroup.
    PADDOCK_RETURN_IF_ERROR(fs_->ReadKeyIfPresent(dir_, "cpu.stat", "usage_usec", &usage_usec));
    stats.cpu_usage_ns = usage_usec * 1000;
    PADDOCK_RETURN_IF_ERROR(fs_->ReadUintIfPresent(dir_, "memory.current", &stats.memory_current));
    PADDOCK_RETURN_IF_ERROR(fs_->ReadUintIfPresent(dir_, "memory.peak", &stats.memory_peak));
    PADDOCK_RETURN_IF_ERROR(fs_->ReadUintIfPresent(dir_, "pids.current", &stats.pids_current));
    PADDOCK_RETURN_IF_ERROR(
        fs_->ReadKeyIfPresent(dir_, "memory.events", "oom_kill", &stats.oom_kills));
    PADDOCK_RETURN_IF_ERROR(
        fs_->ReadKeyIfPresent(dir_, "memory.events", "max", &stats.memory_max_hits));
    return stats;
  }

  Result<bool> Empty() const override {
    Result<bool> populated = UnifiedCgroupPopulated(*fs_, dir_);
    if (!populated.ok()) return populated.status();
    return !*populated;
  }

  Status Remove() override {
    PADDOCK_RETURN_IF_ERROR(fs_->RemoveDir(dir_));
    LogInfo("cgroup: sandbox cgroup removed", {{"CGROUP", dir_}});
    return Status::Ok();
  }

  std::string unified_path() const override { return dir_; }

 private:
  std::shared_ptr<const CgroupFs> fs_;
  std::string dir_;
  bool intact_;
};

class UnifiedDriver final : public CgroupDriver {
 public:
  UnifiedDriver(std::shared_ptr<const CgroupFs> fs, std::string parent_dir,
                std::set<std::string> enabled)
      : fs_(std::move(fs)), parent_dir_(std::move(parent_dir)), enabled_(std::move(enabled)) {}

  CgroupMode mode() const override { return CgroupMode::kUnified; }

  Status ValidateLimits(const CgroupLimits& limits) const override {
    CgroupCapabilities caps;
    caps.cpu = enabled_.count("cpu") != 0;
    caps.cpuset = enabled_.count("cpuset") != 0;
    caps.memory = enabled_.count("memory") != 0;
    caps.pids = enabled_.count("pids") != 0;
    if (caps.cpuset) {
      // Read now, not at start: hotplug and the parent's own settings change these.
      caps.cpus_available = FirstWord(fs_->Read(parent_dir_, "cpuset.cpus.effective"));
      caps.mems_available = FirstWord(fs_->Read(parent_dir_, "cpuset.mems.effective"));
    }
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    caps.online_cpus = online > 0 ? static_cast<unsigned>(online) : 0;
    return CheckLimits(limits, caps);
  }

  Result<std::unique_ptr<Cgroup>> CreateCgroup(const std::string& name, const CgroupLimits& limits,
                                               const std::vector<DeviceRule>& devices) override {
    PADDOCK_RETURN_IF_ERROR(ValidateCgroupName(name, "name"));
    PADDOCK_RETURN_IF_ERROR(ValidateDeviceRules(devices));
    PADDOCK_RETURN_IF_ERROR(ValidateLimits(limits));
    const std::string dir = CgroupJoin(parent_dir_, name);
    bool created = false;
    PADDOCK_RETURN_IF_ERROR(fs_->MakeDir(dir, &created));
    if (!created) return Status::AlreadyExists("cgroup " + dir + " exists already");
    ScopedCgroupDir guard(fs_.get(), dir);
    PADDOCK_RETURN_IF_ERROR(SetCpuQuota(*fs_, dir, limits));
    PADDOCK_RETURN_IF_ERROR(SetCpuset(*fs_, dir, limits));
    PADDOCK_RETURN_IF_ERROR(SetMemory(*fs_, dir, limits, enabled_.count("memory") != 0));
    PADDOCK_RETURN_IF_ERROR(SetPids(*fs_, dir, limits));
    PADDOCK_RETURN_IF_ERROR(SetIoWeight(*fs_, dir, limits));
    PADDOCK_RETURN_IF_ERROR(fs_->InstallDeviceFilter(dir, devices).WithContext("devices"));
    guard.Release();
    LogInfo("cgroup: sandbox cgroup created",
            {{"CGROUP", dir}, {"DEVICE_RULES", std::to_string(devices.size())}});
    return std::unique_ptr<Cgroup>(std::make_unique<UnifiedCgroup>(fs_, name, dir, true));
  }

  Result<std::unique_ptr<Cgroup>> Open(const std::string& name) override {
    PADDOCK_RETURN_IF_ERROR(ValidateCgroupName(name, "name"));
    const std::string dir = CgroupJoin(parent_dir_, name);
    if (!fs_->IsDir(dir)) return Status::NotFound("no sandbox cgroup " + dir);
    Result<uint32_t> programs = fs_->CountDeviceFilters(dir);
    const bool intact = programs.ok() && *programs > 0;
    if (!intact) {
      LogWarning(
          "cgroup: adopted a sandbox cgroup without its device program; it takes no new "
          "processes",
          {{"CGROUP", dir},
           {"ERROR", programs.ok() ? "no program attached" : programs.status().message()}});
    }
    return std::unique_ptr<Cgroup>(std::make_unique<UnifiedCgroup>(fs_, name, dir, intact));
  }

  Result<std::vector<std::string>> List() const override {
    Result<std::vector<std::string>> dirs = fs_->ListDirs(parent_dir_);
    if (!dirs.ok()) return dirs.status();
    std::vector<std::string> names;
    for (std::string& d : *dirs) {
      if (ValidateCgroupName(d, "name").ok()) names.push_back(std::move(d));
    }
    return names;
  }

  Status RemoveParent() override { return fs_->RemoveDir(parent_dir_); }

 private:
  std::shared_ptr<const CgroupFs> fs_;
  std::string parent_dir_;
  std::set<std::string> enabled_;  // controllers the sandboxes get
};

}  // namespace

Status KillUnifiedCgroup(const CgroupFs& fs, const std::string& dir) {
  if (fs.Exists(dir, "cgroup.kill")) return fs.Write(dir, "cgroup.kill", "1");
  const bool freezable = fs.Exists(dir, "cgroup.freeze");
  if (freezable) {
    PADDOCK_RETURN_IF_ERROR(fs.Write(dir, "cgroup.freeze", "1"));
    // Frozen tasks cannot fork; wait (briefly) for the kernel to report the freeze complete.
    for (int i = 0; i < 200; ++i) {
      Result<uint64_t> frozen = fs.ReadKey(dir, "cgroup.events", "frozen");
      if (frozen.ok() && *frozen == 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  Status killed = KillListedProcesses(fs, {dir});
  // Fatal signals reach frozen v2 tasks, but thaw anyway so the cgroup is usable again.
  if (freezable) (void)fs.Write(dir, "cgroup.freeze", "0");
  return killed;
}

Result<bool> UnifiedCgroupPopulated(const CgroupFs& fs, const std::string& dir) {
  Result<uint64_t> populated = fs.ReadKey(dir, "cgroup.events", "populated");
  if (!populated.ok()) return populated.status();
  return *populated != 0;
}

Result<std::unique_ptr<CgroupDriver>> CreateUnifiedDriver(const CgroupDriverOptions& options) {
  auto fs = std::make_shared<const CgroupFs>(options.test_hooks);
  std::string own = options.delegated_cgroup;
  if (own.empty()) {
    Result<SelfCgroup> self = ReadSelfCgroup(options.proc_self_cgroup);
    if (!self.ok()) return self.status();
    if (!self->unified) {
      return Status::FailedPrecondition(options.proc_self_cgroup + " has no cgroup2 entry");
    }
    // After a re-exec the daemon may sit in its leaf already; the delegated cgroup is its parent.
    own = *self->unified;
    if (own != "/" && Basename(own) == options.daemon_leaf) own = Dirname(own);
  }
  const std::string own_dir = CgroupJoin(options.root, own);
  // Only the hierarchy's root lacks cgroup.type, and only the root may hold processes while its
  // children have controllers. (Inside a cgroup namespace "/" is not the real root.)
  if (own != "/" || fs->Exists(own_dir, "cgroup.type")) {
    PADDOCK_RETURN_IF_ERROR(MoveProcessesToLeaf(*fs, own_dir, options.daemon_leaf));
  }
  (void)EnableControllers(*fs, own_dir);
  const std::string parent_dir = CgroupJoin(own_dir, options.parent);
  bool created = false;
  PADDOCK_RETURN_IF_ERROR(fs->MakeDir(parent_dir, &created));
  std::set<std::string> enabled = EnableControllers(*fs, parent_dir);
  LogInfo("cgroup: sandbox controllers enabled",
          {{"CGROUP", parent_dir}, {"CONTROLLERS", JoinWords(enabled)}});
  return std::unique_ptr<CgroupDriver>(
      std::make_unique<UnifiedDriver>(fs, parent_dir, std::move(enabled)));
}

}  // namespace paddock::sandbox
