#include "sandbox/cgroup_v1.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>
#include <vector>

#include "base/log.h"
#include "sandbox/cgroup_fs.h"
#include "sandbox/cgroup_limits.h"
#include "sandbox/cgroup_v2.h"

namespace paddock::sandbox {
namespace {

// The v1 controllers a sandbox gets a directory in. devices comes first so that AddProcess puts a
// process under the device rules before anything else; the named "systemd" hierarchy is
// systemd's own bookkeeping and left alone.
const char* const kControllers[] = {"devices", "freezer", "cpuset", "cpu",
                                    "cpuacct", "memory",  "pids",   "blkio"};

struct Hierarchy {
  std::set<std::string> controllers;  // more than one where co-mounted (cpu,cpuacct)
  std::string own_dir;                // the daemon's cgroup in this hierarchy
  std::string parent_dir;             // own_dir/<parent>
  bool Has(const std::string& c) const { return controllers.count(c) != 0; }
};

// One directory of a sandbox.
struct SandboxDir {
  std::set<std::string> controllers;
  std::string dir;
  bool Has(const std::string& c) const { return controllers.count(c) != 0; }
};

std::string Trimmed(const Result<std::string>& text) {
  if (!text.ok()) return "";
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The mounted hierarchies among kControllers, co-mounted ones merged (their names are symlinks to
// one mount, e.g. cpu -> cpu,cpuacct).
std::vector<Hierarchy> FindHierarchies(const CgroupFs& fs, const std::string& root,
                                       const SelfCgroup& self, const std::string& parent) {
  std::vector<Hierarchy> found;
  std::vector<std::string> mounts;
  for (const char* controller : kControllers) {
    const std::string path = CgroupJoin(root, controller);
    if (!fs.IsDir(path)) continue;
    char real[PATH_MAX];
    const std::string mount = ::realpath(path.c_str(), real) != nullptr ? real : path;
    size_t i = 0;
    while (i < mounts.size() && mounts[i] != mount) ++i;
    if (i == mounts.size()) {
      mounts.push_back(mount);
      auto own = self.v1.find(controller);
      Hierarchy h;
      h.own_dir = CgroupJoin(mount, own == self.v1.end() ? "/" : own->second);
      h.parent_dir = CgroupJoin(h.own_dir, parent);
      found.push_back(std::move(h));
    }
    found[i].controllers.insert(controller);
  }
  return found;
}

// A new v1 cpuset cgroup starts with empty cpus and mems, and a task cannot join it until both
// are set; copy the values down from `from` where `to` has none yet.
Status CopyCpusetDown(const CgroupFs& fs, const std::string& from, const std::string& to) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    if (!Trimmed(fs.Read(to, file)).empty()) continue;
    const std::string value = Trimmed(fs.Read(from, file));
    PADDOCK_RETURN_IF_ERROR(fs.Write(to, file, value));
  }
  return Status::Ok();
}

// --- device rules ---

std::string FormatRule(const DeviceRule& rule) {
  return std::string(1, rule.type) + " " + std::to_string(rule.major) + ":" +
         (rule.minor == kAnyMinor ? "*" : std::to_string(rule.minor)) + " " + rule.access;
}

// Whether a devices.list line ("c 195:0 rw", "c 136:* rw", "a *:* rwm") grants nothing beyond
// some rule.
bool CoveredByRules(const std::string& line, const std::vector<DeviceRule>& rules) {
  char type = 0;
  char major[16] = {};
  char minor[16] = {};
  char access[8] = {};
  if (std::sscanf(line.c_str(), "%c %15[^:]:%15s %7s", &type, major, minor, access) != 4) {
    return false;
  }
  if (type == 'a' || std::string(major) == "*") return false;
  for (const DeviceRule& r : rules) {
    if (r.type != type || std::to_string(r.major) != major) continue;
    if (r.minor != kAnyMinor && std::to_string(r.minor) != minor) continue;
    const std::string granted(access);
    const bool within = granted.find_first_not_of(r.access) == std::string::npos;
    if (within) return true;
  }
  return false;
}

// Default-deny, then the allow list, then read the kernel's view back: a rule it dropped or a
// wider entry it kept would otherwise go unnoticed.
Status SetDevices(const CgroupFs& fs, const std::string& dir,
                  const std::vector<DeviceRule>& rules) {
  PADDOCK_RETURN_IF_ERROR(fs.Write(dir, "devices.deny", "a"));
  for (const DeviceRule& rule : rules) {
    PADDOCK_RETURN_IF_ERROR(fs.Write(dir, "devices.allow", FormatRule(rule)));
  }
  Result<std::string> list = fs.Read(dir, "devices.list");
  if (!list.ok()) return list.status();
  std::string_view rest = *list;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string line(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty() || CoveredByRules(line, rules)) continue;
    LogWarning("cgroup: the devices controller grants more than the allow list",
               {{"CGROUP", dir}, {"DEVICES_ENTRY", line}});
    return Status::Internal(dir + "/devices.list still grants \"" + line + "\"");
  }
  return Status::Ok();
}

// Whether devices.list still allows everything (a cgroup whose rules were never applied).
bool DevicesWideOpen(const CgroupFs& fs, const std::string& dir) {
  Result<std::string> list = fs.Read(dir, "devices.list");
  return !list.ok() || list->rfind("a ", 0) == 0 || list->find("\na ") != std::string::npos;
}

// --- one step per limit ---

Status SetCpuset(const CgroupFs& fs, const std::string& dir, const std::string& parent_dir,
                 const CgroupLimits& limits) {
  const std::string cpus =
      limits.cpuset_cpus.empty() ? Trimmed(fs.Read(parent_dir, "cpuset.cpus")) : limits.cpuset_cpus;
  PADDOCK_RETURN_IF_ERROR(fs.Write(dir, "cpuset.cpus", cpus).WithContext("cpuset_cpus"));
  const std::string mems =
      limits.cpuset_mems.empty() ? Trimmed(fs.Read(parent_dir, "cpuset.mems")) : limits.cpuset_mems;
  return fs.Write(dir, "cpuset.mems", mems).WithContext("cpuset_mems");
}

Status SetCpuQuota(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits) {
  if (!limits.cpus) return Status::Ok();
  PADDOCK_RETURN_IF_ERROR(
      fs.Write(dir, "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)).WithContext("cpus"));
  return fs.Write(dir, "cpu.cfs_quota_us", std::to_string(CpuQuotaUs(*limits.cpus)))
      .WithContext("cpus");
}

Status SetMemory(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits) {
  if (limits.memory_max_bytes) {
    PADDOCK_RETURN_IF_ERROR(
        fs.Write(dir, "memory.limit_in_bytes", std::to_string(*limits.memory_max_bytes))
            .WithContext("memory_max_bytes"));
  }
  if (limits.allow_swap) return Status::Ok();
  // memory+swap capped at the memory limit leaves no room for swap. It needs swap accounting
  // (the memsw files) and a memory limit to copy.
  if (limits.memory_max_bytes && fs.Exists(dir, "memory.memsw.limit_in_bytes")) {
    return fs.Write(dir, "memory.memsw.limit_in_bytes", std::to_string(*limits.memory_max_bytes))
        .WithContext("allow_swap");
  }
  if (limits.memory_max_bytes) {
    LogInfo("cgroup: swap accounting is off; swappiness set to 0 instead of capping swap",
            {{"CGROUP", dir}});
  }
  if (!fs.Exists(dir, "memory.swappiness")) return Status::Ok();
  return fs.Write(dir, "memory.swappiness", "0").WithContext("allow_swap");
}

Status SetBlkioWeight(const CgroupFs& fs, const std::string& dir, const CgroupLimits& limits) {
  if (!limits.io_weight) return Status::Ok();
  // blkio.weight belonged to CFQ (10..1000, default 500); with BFQ it is blkio.bfq.weight
  // (1..1000, default 100). Neither exists under the other schedulers.
  if (fs.Exists(dir, "blkio.weight")) {
    return fs
        .Write(dir, "blkio.weight", std::to_string(ScaleIoWeight(*limits.io_weight, 500, 10, 1000)))
        .WithContext("io_weight");
  }
  if (fs.Exists(dir, "blkio.bfq.weight")) {
    return fs
        .Write(dir, "blkio.bfq.weight",
               std::to_string(ScaleIoWeight(*limits.io_weight, 100, 1, 1000)))
        .WithContext("io_weight");
  }
  LogDebug("cgroup: no IO weight control on this host; io_weight skipped", {{"CGROUP", dir}});
  return Status::Ok();
}

// v1 has no cgroup.kill. Frozen tasks cannot fork, so freezing first makes one pass of SIGKILL
// reach every process; they die once thawed.
Status FreezeAndKill(const CgroupFs& fs, const std::string& freezer_dir,
                     const std::vector<std::string>& dirs) {
  PADDOCK_RETURN_IF_ERROR(fs.Write(freezer_dir, "freezer.state", "FROZEN"));
  bool frozen = false;
  for (int i = 0; i < 200 && !frozen; ++i) {
    frozen = Trimmed(fs.Read(freezer_dir, "freezer.state")) == "FROZEN";
    if (!frozen) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!frozen) {
    // A task stuck in the kernel can hold the freeze off; signalling until no new process shows
    // up still catches forks.
    LogWarning("cgroup: the sandbox did not freeze within 1 s; killing it unfrozen",
               {{"CGROUP", freezer_dir}});
  }
  Status killed = KillListedProcesses(fs, dirs);
  Status thawed = fs.Write(freezer_dir, "freezer.state", "THAWED");
  return killed.ok() ? thawed : killed;
}

class V1Cgroup final : public Cgroup {
 public:
  V1Cgroup(std::shared_ptr<const CgroupFs> fs, std::string name, std::vector<SandboxDir> dirs,
           std::string unified_dir, bool intact)
      : Cgroup(std::move(name)),
        fs_(std::move(fs)),
        dirs_(std::move(dirs)),
        unified_dir_(std::move(unified_dir)),
        intact_(intact) {}

  Result<CgroupEntry> PrepareJoin() const override {
    if (!intact_) return Status::FailedPrecondition("sandbox cgroup " + name() + " is incomplete");
    CgroupEntry join;
    if (!unified_dir_.empty()) {
      auto dir = OpenCgroupDirectory(unified_dir_);
      if (!dir.ok()) return dir.status();
      join.unified_dir = std::move(dir).value();
    }
    for (bool devices : {true, false}) {
      for (const SandboxDir& d : dirs_) {
        if (d.Has("devices") != devices) continue;
        auto tasks = OpenForWriting(CgroupJoin(d.dir, "tasks"));
        if (!tasks.ok()) return tasks.status();
        join.v1_tasks.push_back(std::move(tasks).value());
      }
    }
    return join;
  }

  Status AddProcess(pid_t pid) override {
    if (!intact_) {
      return Status::FailedPrecondition("sandbox cgroup " + name() +
                                        " is incomplete or lost its device rules; refusing new "
                                        "processes");
    }
    const std::string value = std::to_string(pid);
    // Under the device rules first: the v1 devices directory, then the tracking cgroup with the
    // BPF program, then the rest.
    for (const SandboxDir& d : dirs_) {
      if (d.Has("devices")) PADDOCK_RETURN_IF_ERROR(fs_->Write(d.dir, "cgroup.procs", value));
    }
    if (!unified_dir_.empty()) {
      PADDOCK_RETURN_IF_ERROR(fs_->Write(unified_dir_, "cgroup.procs", value));
    }
    for (const SandboxDir& d : dirs_) {
      if (!d.Has("devices")) PADDOCK_RETURN_IF_ERROR(fs_->Write(d.dir, "cgroup.procs", value));
    }
    return Status::Ok();
  }

  Status Kill() override {
    std::vector<std::string> all;
    for (const SandboxDir& d : dirs_) all.push_back(d.dir);
    if (!unified_dir_.empty() && fs_->Exists(unified_dir_, "cgroup.kill")) {
      PADDOCK_RETURN_IF_ERROR(fs_->Write(unified_dir_, "cgroup.kill", "1"));
      // Sweep the v1 directories too, for a process that AddProcess left outside the tracking
      // cgroup.
      return all.empty() ? Status::Ok() : KillListedProcesses(*fs_, all);
    }
    if (!unified_dir_.empty()) all.push_back(unified_dir_);
    if (all.empty()) return Status::Ok();
    for (const SandboxDir& d : dirs_) {
      if (d.Has("freezer")) return FreezeAndKill(*fs_, d.dir, all);
    }
    return KillListedProcesses(*fs_, all);
  }

  Result<CgroupStats> Stats() const override {
    CgroupStats stats;
    bool have_cpuacct = false;
    for (const SandboxDir& d : dirs_) {
      if (d.Has("cpuacct")) {
        have_cpuacct = fs_->Exists(d.dir, "cpuacct.usage");
        PADDOCK_RETURN_IF_ERROR(
            fs_->ReadUintIfPresent(d.dir, "cpuacct.usage", &stats.cpu_usage_ns));
      }
      if (d.Has("memory")) {
        PADDOCK_RETURN_IF_ERROR(
            fs_->ReadUintIfPresent(d.dir, "memory.usage_in_bytes", &stats.memory_current));
        PADDOCK_RETURN_IF_ERROR(
            fs_->ReadUintIfPresent(d.dir, "memory.max_usage_in_bytes", &stats.memory_peak));
        PADDOCK_RETURN_IF_ERROR(
            fs_->ReadUintIfPresent(d.dir, "memory.failcnt", &stats.memory_max_hits));
        // The oom_kill counter appeared in Linux 4.13; older kernels only have failcnt.
        if (Result<uint64_t> kills = fs_->ReadKey(d.dir, "memory.oom_control", "oom_kill");
            kills.ok()) {
          stats.oom_kills = *kills;
        }
      }
      if (d.Has("pids")) {
        PADDOCK_RETURN_IF_ERROR(fs_->ReadUintIfPresent(d.dir, "pids.current", &stats.pids_current));
      }
    }
    if (!have_cpuacct && !unified_dir_.empty() && fs_->Exists(unified_dir_, "cpu.stat")) {
      Result<uint64_t> usec = fs_->ReadKey(unified_dir_, "cpu.stat", "usage_usec");
      if (!usec.ok()) return usec.status();
      stats.cpu_usage_ns = *usec * 1000;
    }
    return stats;
  }

  Result<bool> Empty() const override {
    if (!unified_dir_.empty()) {
      Result<bool> populated = UnifiedCgroupPopulated(*fs_, unified_dir_);
      if (!populated.ok()) return populated.status();
      if (*populated) return false;
    }
    for (const SandboxDir& d : dirs_) {
      Result<std::vector<pid_t>> pids = fs_->ReadProcs(d.dir);
      if (!pids.ok()) return pids.status();
      if (!pids->empty()) return false;
    }
    return true;
  }

  Status Remove() override {
    Status first;
    for (const SandboxDir& d : dirs_) {
      Status s = fs_->RemoveDir(d.dir);
      if (first.ok()) first = s;
    }
    if (!unified_dir_.empty()) {
      Status s = fs_->RemoveDir(unified_dir_);
      if (first.ok()) first = s;
    }
    if (first.ok()) LogInfo("cgroup: sandbox cgroup removed", {{"CGROUP_NAME", name()}});
    return first;
  }

  std::string unified_path() const override { return unified_dir_; }

 private:
  std::shared_ptr<const CgroupFs> fs_;
  std::vector<SandboxDir> dirs_;
  std::string unified_dir_;  // hybrid only
  bool intact_;
};

class V1Driver final : public CgroupDriver {
 public:
  V1Driver(std::shared_ptr<const CgroupFs> fs, CgroupMode mode, std::vector<Hierarchy> hierarchies,
           std::string unified_parent)
      : fs_(std::move(fs)),
        mode_(mode),
        hierarchies_(std::move(hierarchies)),
        unified_parent_(std::move(unified_parent)) {}

  CgroupMode mode() const override { return mode_; }

  Status ValidateLimits(const CgroupLimits& limits) const override {
    CgroupCapabilities caps;
    for (const Hierarchy& h : hierarchies_) {
      // Without CONFIG_CFS_BANDWIDTH the cpu controller has no quota files.
      if (h.Has("cpu")) caps.cpu = fs_->Exists(h.parent_dir, "cpu.cfs_quota_us");
      if (h.Has("memory")) caps.memory = true;
      if (h.Has("pids")) caps.pids = true;
      if (h.Has("cpuset")) {
        caps.cpuset = true;
        const bool effective = fs_->Exists(h.parent_dir, "cpuset.effective_cpus");
        caps.cpus_available =
            Trimmed(fs_->Read(h.parent_dir, effective ? "cpuset.effective_cpus" : "cpuset.cpus"));
        caps.mems_available =
            Trimmed(fs_->Read(h.parent_dir, effective ? "cpuset.effective_mems" : "cpuset.mems"));
      }
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

    std::vector<ScopedCgroupDir> guards;
    std::vector<SandboxDir> dirs;
    auto make = [&](const std::string& dir) -> Status {
      bool created = false;
      PADDOCK_RETURN_IF_ERROR(fs_->MakeDir(dir, &created));
      if (!created) return Status::AlreadyExists("cgroup " + dir + " exists already");
      guards.emplace_back(fs_.get(), dir);
      return Status::Ok();
    };
    for (const Hierarchy& h : hierarchies_) {
      const std::string dir = CgroupJoin(h.parent_dir, name);
      PADDOCK_RETURN_IF_ERROR(make(dir));
      dirs.push_back({h.controllers, dir});
    }
    std::string unified_dir;
    if (!unified_parent_.empty()) {
      unified_dir = CgroupJoin(unified_parent_, name);
      PADDOCK_RETURN_IF_ERROR(make(unified_dir));
    }

    for (size_t i = 0; i < dirs.size(); ++i) {
      const SandboxDir& d = dirs[i];
      if (d.Has("devices"))
        PADDOCK_RETURN_IF_ERROR(SetDevices(*fs_, d.dir, devices).WithContext("devices"));
    }
    if (!unified_dir.empty()) {
      PADDOCK_RETURN_IF_ERROR(
          fs_->InstallDeviceFilter(unified_dir, devices).WithContext("devices"));
    }
    for (size_t i = 0; i < dirs.size(); ++i) {
      const SandboxDir& d = dirs[i];
      const std::string& parent_dir = hierarchies_[i].parent_dir;
      if (d.Has("cpuset")) PADDOCK_RETURN_IF_ERROR(SetCpuset(*fs_, d.dir, parent_dir, limits));
      if (d.Has("cpu")) PADDOCK_RETURN_IF_ERROR(SetCpuQuota(*fs_, d.dir, limits));
      if (d.Has("memory")) PADDOCK_RETURN_IF_ERROR(SetMemory(*fs_, d.dir, limits));
      if (d.Has("pids")) PADDOCK_RETURN_IF_ERROR(SetPids(*fs_, d.dir, limits));
      if (d.Has("blkio")) PADDOCK_RETURN_IF_ERROR(SetBlkioWeight(*fs_, d.dir, limits));
    }
    for (ScopedCgroupDir& g : guards) g.Release();
    LogInfo("cgroup: sandbox cgroup created",
            {{"CGROUP_NAME", name},
             {"CGROUP_DIRS", std::to_string(dirs.size() + (unified_dir.empty() ? 0 : 1))},
             {"DEVICE_RULES", std::to_string(devices.size())}});
    return std::unique_ptr<Cgroup>(
        std::make_unique<V1Cgroup>(fs_, name, std::move(dirs), std::move(unified_dir), true));
  }

  Result<std::unique_ptr<Cgroup>> Open(const std::string& name) override {
    PADDOCK_RETURN_IF_ERROR(ValidateCgroupName(name, "name"));
    std::vector<SandboxDir> dirs;
    std::string problem;
    for (const Hierarchy& h : hierarchies_) {
      const std::string dir = CgroupJoin(h.parent_dir, name);
      if (!fs_->IsDir(dir)) {
        problem = dir + " is missing";
        continue;
      }
      if (h.Has("devices") && DevicesWideOpen(*fs_, dir)) problem = dir + " allows every device";
      dirs.push_back({h.controllers, dir});
    }
    std::string unified_dir;
    if (!unified_parent_.empty()) {
      const std::string dir = CgroupJoin(unified_parent_, name);
      if (fs_->IsDir(dir)) {
        unified_dir = dir;
        Result<uint32_t> programs = fs_->CountDeviceFilters(dir);
        if (!programs.ok() || *programs == 0) problem = dir + " has no device program";
      } else {
        problem = dir + " is missing";
      }
    }
    if (dirs.empty() && unified_dir.empty()) {
      return Status::NotFound("no sandbox cgroup named " + name);
    }
    if (!problem.empty()) {
      LogWarning("cgroup: adopted an incomplete sandbox cgroup; it takes no new processes",
                 {{"CGROUP_NAME", name}, {"ERROR", problem}});
    }
    return std::unique_ptr<Cgroup>(std::make_unique<V1Cgroup>(
        fs_, name, std::move(dirs), std::move(unified_dir), problem.empty()));
  }

  Result<std::vector<std::string>> List() const override {
    std::set<std::string> names;
    std::vector<std::string> parents;
    for (const Hierarchy& h : hierarchies_) parents.push_back(h.parent_dir);
    if (!unified_parent_.empty()) parents.push_back(unified_parent_);
    for (const std::string& parent : parents) {
      Result<std::vector<std::string>> dirs = fs_->ListDirs(parent);
      if (!dirs.ok()) return dirs.status();
      for (const std::string& d : *dirs) {
        if (ValidateCgroupName(d, "name").ok()) names.insert(d);
      }
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  Status RemoveParent() override {
    Status first;
    for (const Hierarchy& h : hierarchies_) {
      Status s = fs_->RemoveDir(h.parent_dir);
      if (first.ok()) first = s;
    }
    if (!unified_parent_.empty()) {
      Status s = fs_->RemoveDir(unified_parent_);
      if (first.ok()) first = s;
    }
    return first;
  }

 private:
  std::shared_ptr<const CgroupFs> fs_;
  CgroupMode mode_;
  std::vector<Hierarchy> hierarchies_;
  std::string unified_parent_;  // hybrid only
};

}  // namespace

Result<std::unique_ptr<CgroupDriver>> CreateV1Driver(const CgroupDriverOptions& options,
                                                     CgroupMode mode) {
  auto fs = std::make_shared<const CgroupFs>(options.test_hooks);
  Result<SelfCgroup> self = ReadSelfCgroup(options.proc_self_cgroup);
  if (!self.ok()) return self.status();
  std::vector<Hierarchy> hierarchies = FindHierarchies(*fs, options.root, *self, options.parent);

  bool has_devices = false;
  for (const Hierarchy& h : hierarchies) has_devices = has_devices || h.Has("devices");
  if (mode == CgroupMode::kLegacy && !has_devices) {
    return Status::FailedPrecondition("no devices controller under " + options.root +
                                      ": sandboxes could open every host device");
  }

  for (const Hierarchy& h : hierarchies) {
    bool created = false;
    PADDOCK_RETURN_IF_ERROR(fs->MakeDir(h.parent_dir, &created));
    if (h.Has("cpuset")) PADDOCK_RETURN_IF_ERROR(CopyCpusetDown(*fs, h.own_dir, h.parent_dir));
  }
  std::string unified_parent;
  if (mode == CgroupMode::kHybrid) {
    const std::string own =
        CgroupJoin(CgroupJoin(options.root, "unified"), self->unified ? *self->unified : "/");
    unified_parent = CgroupJoin(own, options.parent);
    bool created = false;
    PADDOCK_RETURN_IF_ERROR(fs->MakeDir(unified_parent, &created));
  }

  std::string names;
  for (const Hierarchy& h : hierarchies) {
    for (const std::string& c : h.controllers) names += (names.empty() ? "" : " ") + c;
  }
  LogInfo("cgroup: v1 hierarchies in use",
          {{"CONTROLLERS", names}, {"CGROUP_UNIFIED", unified_parent}});
  return std::unique_ptr<CgroupDriver>(
      std::make_unique<V1Driver>(fs, mode, std::move(hierarchies), std::move(unified_parent)));
}

}  // namespace paddock::sandbox
