#include "daemon/sandbox_manager.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "base/clock.h"
#include "base/file_util.h"
#include "base/hex.h"
#include "base/log.h"
#include "daemon/api_routes.h"
#include "daemon/gpu_manager.h"
#include "sandbox/init_process.h"
#include "sandbox/launcher.h"
#include "sandbox/terminal.h"

namespace paddock {
namespace {

constexpr char kWorkspaceTarget[] = "/workspace";

std::string NewSandboxId() {
  uint8_t bytes[5];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();
  return "sb-" + HexEncode(bytes, sizeof bytes);
}

std::string FormatMs(int64_t ms) {
  return FormatTimestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

template <typename T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json MountsJson(const std::vector<DataMount>& mounts) {
  nlohmann::json out = nlohmann::json::array();
  for (const DataMount& m : mounts) {
    out.push_back({{"repo", m.repo}, {"rev", m.rev}, {"target", m.target}});
  }
  return out;
}

nlohmann::json RequestJson(const SandboxRequest& r) {
  nlohmann::json binds = nlohmann::json::array();
  for (const auto& b : r.binds) {
    binds.push_back({{"source", b.source}, {"target", b.target}, {"writable", b.writable}});
  }
  return {{"command", r.command},
          {"env", r.env},
          {"cwd", r.cwd},
          {"cpus", OrNull(r.cpus)},
          {"memory_bytes", OrNull(r.memory_bytes)},
          {"pids", OrNull(r.pids)},
          {"timeout_seconds", OrNull(r.timeout_seconds)},
          {"workspace", OrNull(r.workspace)},
          {"binds", binds},
          {"root", r.root},
          {"gpus", r.gpus ? nlohmann::json{{"request", r.gpus_json}} : nlohmann::json(nullptr)},
          {"tty", r.tty.has_value()},
          {"mounts", MountsJson(r.mounts)},
          {"output", r.output ? nlohmann::json{{"repo", r.output->repo},
                                               {"branch", r.output->branch},
                                               {"target", r.output->target},
                                               {"message", r.output->message}}
                              : nlohmann::json(nullptr)}};
}

// Resolves symlinks and "..": permission checks must see the path the kernel will bind.
Result<std::string> RealPath(const std::string& path, const std::string& field) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return Status::FromErrno(field + ": " + path);
  return std::string(resolved);
}

bool IsWithin(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.starts_with(root) && path[root.size()] == '/');
}

sandbox::CgroupLimits LimitsOf(const SandboxRequest& r) {
  sandbox::CgroupLimits limits;
  limits.cpus = r.cpus;
  limits.memory_max_bytes = r.memory_bytes;
  limits.pids_max = r.pids;
  return limits;
}

std::optional<sandbox::ExitRecord> ExitFromRow(const StateDb::Row& r) {
  if (std::holds_alternative<std::nullptr_t>(r[9])) return std::nullopt;
  sandbox::ExitRecord e;
  e.exit_code = static_cast<int>(std::get<int64_t>(r[9]));
  e.signal = static_cast<int>(std::get<int64_t>(r[10]));
  e.reason = std::get<std::string>(r[11]);
  e.finished_at_ms = std::get<int64_t>(r[6]);
  return e;
}

constexpr char kSelectColumns[] =
    "SELECT id, request, spec, owner, state, created_at, finished_at, init_pid, init_start_time, "
    "exit_code, signal, reason, data FROM sandboxes";

SandboxRecord RecordFromRow(const StateDb::Row& r) {
  SandboxRecord s;
  s.id = std::get<std::string>(r[0]);
  s.request = nlohmann::json::parse(std::get<std::string>(r[1]));
  s.spec = sandbox::SpecFromJson(nlohmann::json::parse(std::get<std::string>(r[2]))).value();
  s.owner = nlohmann::json::parse(std::get<std::string>(r[3]));
  s.state = std::get<std::string>(r[4]);
  s.created_at_ms = std::get<int64_t>(r[5]);
  if (const auto* f = std::get_if<int64_t>(&r[6])) s.finished_at_ms = *f;
  if (const auto* p = std::get_if<int64_t>(&r[7])) s.init_pid = static_cast<pid_t>(*p);
  if (const auto* t = std::get_if<int64_t>(&r[8])) s.init_start_time = static_cast<uint64_t>(*t);
  s.exit = ExitFromRow(r);
  s.data = nlohmann::json::parse(std::get<std::string>(r[12]), nullptr, false);
  if (!s.data.is_object()) s.data = nlohmann::json::object();
  return s;
}

}  // namespace

nlohmann::json SandboxRecord::ToJson() const {
  nlohmann::json limits = {{"cpus", request.at("cpus")},
                           {"memory_bytes", request.at("memory_bytes")},
                           {"pids", request.at("pids")},
                           {"timeout_seconds", request.at("timeout_seconds")}};
  return {{"id", id},
          {"state", state},
          {"command", request.at("command")},
          {"owner", owner},
          {"run_as",
           {{"uid", spec.uid},
            {"gid", spec.gid},
            {"user_namespace", spec.user_namespace},
            {"host_uid", spec.user_namespace ? spec.host_uid : spec.uid}}},
          {"created_at", FormatMs(created_at_ms)},
          {"finished_at", finished_at_ms ? nlohmann::json(FormatMs(*finished_at_ms)) : nullptr},
          {"limits", limits},
          {"workspace", request.at("workspace")},
          {"root", request.at("root")},
          {"exit_code", exit ? nlohmann::json(exit->exit_code) : nullptr},
          {"signal", exit && exit->signal != 0 ? nlohmann::json(exit->signal) : nullptr},
          {"reason", exit ? nlohmann::json(exit->reason) : nullptr},
          {"gpus", request.value("gpus", nlohmann::json(nullptr))},
          {"tty", spec.tty ? nlohmann::json{{"rows", spec.tty->rows}, {"cols", spec.tty->cols}}
                           : nlohmann::json(nullptr)},
          {"mounts", data.value("mounts", nlohmann::json::array())},
          {"output", data.value("output", nlohmann::json(nullptr))}};
}

SandboxManager::SandboxManager(StateDb* db, sandbox::CgroupDriver* cgroups,
                               SandboxManagerOptions options, Status unavailable)
    : db_(db),
      cgroups_(cgroups),
      options_(std::move(options)),
      unavailable_(std::move(unavailable)) {}

SandboxManager::~SandboxManager() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  Wake();
  if (watcher_.joinable()) watcher_.join();
}

std::string SandboxManager::StateDir(const std::string& id) const {
  return JoinPath(options_.state_root, id);
}

std::string SandboxManager::LogPath(const std::string& id, const std::string& stream) const {
  return JoinPath(StateDir(id), stream + ".log");
}

void SandboxManager::Wake() {
  const uint64_t one = 1;
  if (wake_) (void)!::write(wake_.get(), &one, sizeof one);
}

Status SandboxManager::Start() {
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(options_.state_root, 0750));
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) return Status::FromErrno("eventfd");
  std::vector<SandboxRecord> running;
  PADDOCK_RETURN_IF_ERROR(
      db_->Query(std::string(kSelectColumns) + " WHERE state = 'running'", {},
                 [&](const StateDb::Row& r) { running.push_back(RecordFromRow(r)); }));
  for (const SandboxRecord& s : running) {
    Live live;
    if (cgroups_ != nullptr) {
      auto cgroup = cgroups_->Open(s.id);
      if (cgroup.ok()) live.cgroup = std::move(cgroup).value();
    }
    auto pidfd = sandbox::OpenInitProcess(s.init_pid, s.init_start_time);
    if (!pidfd.ok()) {
      LogInfo("sandbox ended while paddockd was away", {{"SANDBOX", s.id}});
      Finish(s.id, std::move(live));
      continue;
    }
    live.pidfd = std::move(pidfd).value();
    LogInfo("re-adopted running sandbox", {{"SANDBOX", s.id}, {"PID", std::to_string(s.init_pid)}});
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(s.id, std::move(live));
  }
  watcher_ = std::thread([this] { Watch(); });
  return Status::Ok();
}

Status SandboxManager::CheckLimits(const SandboxRequest& r) const {
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (r.cpus && *r.cpus > static_cast<double>(cpus)) {
    return Status::FailedPrecondition("cpus: " + std::to_string(*r.cpus) + " asked, the host has " +
                                      std::to_string(cpus));
  }
  uint64_t ceiling = options_.max_memory_bytes;
  if (ceiling == 0) {
    struct sysinfo info;
    ::sysinfo(&info);
    ceiling = static_cast<uint64_t>(info.totalram) * info.mem_unit;
  }
  if (r.memory_bytes && *r.memory_bytes > ceiling) {
    return Status::FailedPrecondition("memory_bytes: " + std::to_string(*r.memory_bytes) +
                                      " is above the ceiling of " + std::to_string(ceiling));
  }
  if (cgroups_ != nullptr) {
    Status s = cgroups_->ValidateLimits(LimitsOf(r));
    if (s.code() == StatusCode::kInvalidArgument) return s;
    if (!s.ok()) return Status::FailedPrecondition(s.message());
  }
  return Status::Ok();
}

Status SandboxManager::CheckPaths(const SandboxRequest& r, const Caller& caller) const {
  if (r.workspace) {
    auto real = RealPath(*r.workspace, "workspace");
    if (!real.ok()) return Status::InvalidArgument(real.status().message());
    struct stat st;
    if (::stat(real->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::InvalidArgument("workspace: " + *real + " is not a directory");
    }
    if (!caller.admin && st.st_uid != caller.uid) {
      return Status::PermissionDenied("workspace: " + *real + " does not belong to uid " +
                                      std::to_string(caller.uid));
    }
  }
  auto allowed = [&](const std::string& path, const std::string& field) -> Status {
    auto real = RealPath(path, field);
    if (!real.ok()) return Status::InvalidArgument(real.status().message());
    for (const std::string& root : options_.allowed_bind_paths) {
      if (IsWithin(*real, root)) return Status::Ok();
    }
    return Status::PermissionDenied(field + ": " + *real +
                                    " is not under sandbox.allowed_bind_paths in the daemon's "
                                    "configuration");
  };
  for (size_t i = 0; i < r.binds.size(); ++i) {
    PADDOCK_RETURN_IF_ERROR(allowed(r.binds[i].source, "binds[" + std::to_string(i) + "].source"));
  }
  if (r.root != "host") PADDOCK_RETURN_IF_ERROR(allowed(r.root, "root"));
  return Status::Ok();
}

Result<sandbox::SandboxSpec> SandboxManager::BuildSpec(const std::string& id,
                                                       const SandboxRequest& r,
                                                       const Caller& caller) const {
  sandbox::SandboxSpec spec;
  spec.id = id;
  spec.argv = r.command;
  spec.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              std::string("HOME=") + (r.workspace ? kWorkspaceTarget : "/tmp"),
              "PADDOCK_SANDBOX_ID=" + id};
  for (const auto& [k, v] : r.env) {
    std::erase_if(spec.env, [&](const std::string& e) { return e.starts_with(k + "="); });
    spec.env.push_back(k + "=" + v);
  }
  spec.cwd = !r.cwd.empty() ? r.cwd : r.workspace ? kWorkspaceTarget : "/";
  if (caller.kind == Caller::Kind::kUnixPeer && caller.uid != 0) {
    spec.uid = caller.uid;
    spec.gid = caller.gid;
  } else if (caller.kind == Caller::Kind::kUnixPeer) {
    // Root asked: root inside, an unprivileged uid outside.
    spec.user_namespace = true;
    spec.uid = 0;
    spec.gid = 0;
    spec.host_uid = options_.root_host_uid;
    spec.host_gid = options_.root_host_uid;
  } else {
    spec.uid = options_.token_uid;
    spec.gid = options_.token_uid;
  }
  if (r.root != "host") {
    spec.root = sandbox::SandboxSpec::RootKind::kDirectory;
    spec.root_dir = r.root;
  }
  if (r.workspace) spec.workspace = sandbox::BindMount{*r.workspace, kWorkspaceTarget, true};
  spec.binds = r.binds;
  spec.timeout_ms = r.timeout_seconds.value_or(0) * 1000;
  spec.stop_grace_ms = options_.stop_grace_ms;
  spec.tty = r.tty;
  PADDOCK_RETURN_IF_ERROR(sandbox::Validate(spec));
  return spec;
}

Result<sandbox::CgroupLimits> SandboxManager::GrantGpus(const std::string& id,
                                                        const SandboxRequest& request,
                                                        sandbox::SandboxSpec* spec,
                                                        std::vector<sandbox::DeviceRule>* rules,
                                                        nlohmann::json* granted) {
  sandbox::CgroupLimits limits = LimitsOf(request);
  if (!request.gpus) return limits;
  if (gpus_ == nullptr) return Status::FailedPrecondition("gpus: this daemon manages no GPUs");
  auto grant =
      gpus_->Grant(id, *request.gpus, spec->root == sandbox::SandboxSpec::RootKind::kDirectory);
  if (!grant.ok()) return grant.status();
  spec->devices.insert(spec->devices.end(), grant->devices.begin(), grant->devices.end());
  rules->insert(rules->end(), grant->device_rules.begin(), grant->device_rules.end());
  // The caller's own env may narrow CUDA_VISIBLE_DEVICES (it cannot widen it: the device cgroup
  // decides what opens).
  for (const std::string& entry : grant->env) {
    if (request.env.count(entry.substr(0, entry.find('='))) == 0) spec->env.push_back(entry);
  }
  for (const auto& bind : grant->driver_binds) spec->binds.push_back(bind);
  if (!grant->driver_binds.empty() && spec->env[0].starts_with("PATH=")) {
    spec->env[0] = std::string("PATH=") + kDriverBinDir + ":" + spec->env[0].substr(5);
  }
  spec->filtered_dirs.push_back(grant->proc_view);
  limits.cpuset_cpus = grant->cpuset_cpus;
  limits.cpuset_mems = grant->cpuset_mems;
  *granted = grant->ToJson();
  return limits;
}

Result<SandboxRecord> SandboxManager::Create(const SandboxRequest& request, const Caller& caller) {
  if (cgroups_ == nullptr) {
    return Status::Unavailable("sandboxes are unavailable on this host: " + unavailable_.message());
  }
  PADDOCK_RETURN_IF_ERROR(CheckLimits(request));
  PADDOCK_RETURN_IF_ERROR(CheckPaths(request, caller));
  const std::string id = NewSandboxId();
  auto spec = BuildSpec(id, request, caller);
  if (!spec.ok()) return spec.status();
  auto data = data_->Prepare(id, StateDir(id), request.mounts, request.output,
                             spec->user_namespace ? spec->host_uid : spec->uid,
                             spec->user_namespace ? spec->host_gid : spec->gid, &*spec);
  Status bound = data.ok() ? sandbox::Validate(*spec) : data.status();
  if (!bound.ok()) {
    std::filesystem::remove_all(StateDir(id));
    return bound;
  }

  std::vector<sandbox::DeviceRule> device_rules = sandbox::BaseDeviceRules();
  nlohmann::json granted;
  auto limits = GrantGpus(id, request, &*spec, &device_rules, &granted);
  if (!limits.ok()) {
    std::filesystem::remove_all(StateDir(id));
    return limits.status();
  }
  // From here on, a failure must hand the GPUs back.
  auto release_gpus = [&] {
    if (request.gpus && gpus_ != nullptr) gpus_->Release(id);
  };
  std::unique_ptr<sandbox::Cgroup> cgroup;
  if (cgroups_ != nullptr) {
    auto created = cgroups_->CreateCgroup(id, *limits, device_rules);
    if (!created.ok()) {
      release_gpus();
      std::filesystem::remove_all(StateDir(id));
      return Status::FailedPrecondition(created.status().message());
    }
    cgroup = std::move(created).value();
  }
  sandbox::LaunchOptions launch_options{options_.init_path, StateDir(id), cgroup.get(),
                                        options_.seccomp_program};
  auto launched = sandbox::Launch(*spec, launch_options);
  if (!launched.ok()) {
    if (cgroup) {
      (void)cgroup->Kill();
      (void)cgroup->WaitEmpty(std::chrono::seconds(5));
      (void)cgroup->Remove();
    }
    std::filesystem::remove_all(StateDir(id));
    release_gpus();
    return Status::FailedPrecondition(launched.status().message());
  }
  SandboxRecord record;
  record.id = id;
  record.request = RequestJson(request);
  if (request.gpus) record.request["gpus"]["granted"] = granted;
  record.spec = *spec;
  record.owner = caller.kind == Caller::Kind::kUnixPeer
                     ? nlohmann::json{{"uid", caller.uid}, {"gid", caller.gid}}
                     : nlohmann::json{{"token", caller.token_name}};
  record.state = "running";
  record.created_at_ms = UnixNowMs();
  record.init_pid = launched->init_pid;
  record.init_start_time = launched->init_start_time;
  record.data = *data;
  Status saved = db_->Query(
      "INSERT INTO sandboxes(id, request, spec, owner, state, created_at, init_pid, "
      "init_start_time, data) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8)",
      {id, record.request.dump(), sandbox::ToJson(*spec).dump(), record.owner.dump(),
       record.created_at_ms, int64_t{record.init_pid}, static_cast<int64_t>(record.init_start_time),
       record.data.dump()});
  if (!saved.ok()) {
    // Unrecorded, it could never be stopped through the API: do not leave it running.
    ::syscall(SYS_pidfd_send_signal, launched->pidfd.get(), SIGKILL, nullptr, 0);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(id, Live{std::move(launched->pidfd), true, std::move(cgroup)});
  }
  Wake();
  if (!saved.ok()) return saved;
  LogInfo("sandbox started", {{"SANDBOX", id}, {"PID", std::to_string(record.init_pid)}});
  return record;
}

void SandboxManager::Watch() {
  for (;;) {
    std::vector<pollfd> fds{{wake_.get(), POLLIN, 0}};
    std::vector<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      for (const auto& [id, live] : live_) {
        fds.push_back({live.pidfd.get(), POLLIN, 0});
        ids.push_back(id);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      LogError("sandbox watcher poll failed", {{"ERRNO", std::strerror(errno)}});
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t drained;
      (void)!::read(wake_.get(), &drained, sizeof drained);
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Live live;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = live_.find(ids[i - 1]);
        if (it == live_.end()) continue;
        live = std::move(it->second);
        live_.erase(it);
      }
      Finish(ids[i - 1], std::move(live));
    }
  }
}

void SandboxManager::Finish(const std::string& id, Live live) {
  if (live.our_child) {
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(live.pidfd.get()), &info, WEXITED);
  }
  auto record = sandbox::ReadExitRecord(StateDir(id));
  sandbox::ExitRecord exit;
  if (record.ok()) {
    exit = *record;
  } else {
    LogWarning("sandbox ended without an exit record", {{"SANDBOX", id}});
    exit = {255, 0, "exit", UnixNowMs()};
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto reason = stop_reasons_.find(id);
    if (reason != stop_reasons_.end()) {
      exit.reason = reason->second;
      stop_reasons_.erase(reason);
    }
  }
  if (live.cgroup) {
    auto stats = live.cgroup->Stats();
    if (stats.ok() && stats->oom_kills > 0 && exit.signal == SIGKILL && exit.reason == "exit") {
      exit.reason = "oom";
    }
    (void)live.cgroup->Kill();
    Status empty = live.cgroup->WaitEmpty(std::chrono::seconds(5));
    Status removed = empty.ok() ? live.cgroup->Remove() : empty;
    if (!removed.ok()) {
      LogWarning("sandbox cgroup left behind", {{"SANDBOX", id}, {"ERROR", removed.message()}});
    }
  }
  // Nothing runs in the sandbox any more: its output can be committed.
  nlohmann::json data = nlohmann::json::object();
  if (auto record = Get(id); record.ok()) {
    data = data_->CommitOutput(id, StateDir(id), record->data,
                               {{"sandbox", id},
                                {"command", record->request.value("command", nlohmann::json())},
                                {"exit_code", exit.exit_code},
                                {"signal", exit.signal},
                                {"reason", exit.reason}});
  }
  Status s = db_->Query(
      "UPDATE sandboxes SET state = 'exited', finished_at = ?2, exit_code = ?3, signal = ?4, "
      "reason = ?5, data = ?6 WHERE id = ?1",
      {id, exit.finished_at_ms, int64_t{exit.exit_code}, int64_t{exit.signal}, exit.reason,
       data.dump()});
  if (!s.ok()) LogError("cannot record sandbox exit", {{"SANDBOX", id}, {"ERROR", s.message()}});
  if (gpus_ != nullptr) gpus_->Release(id);
  if (!SandboxData::MountedCommits(data).empty()) PruneDataViews();
  LogInfo(
      "sandbox exited",
      {{"SANDBOX", id}, {"EXIT_CODE", std::to_string(exit.exit_code)}, {"REASON", exit.reason}});
}

Result<SandboxRecord> SandboxManager::Get(const std::string& id) const {
  std::optional<SandboxRecord> found;
  PADDOCK_RETURN_IF_ERROR(db_->Query(std::string(kSelectColumns) + " WHERE id = ?1", {id},
                                     [&](const StateDb::Row& r) { found = RecordFromRow(r); }));
  if (!found) return Status::NotFound("no sandbox " + id);
  return *found;
}

std::vector<SandboxRecord> SandboxManager::List() const {
  std::vector<SandboxRecord> out;
  (void)db_->Query(std::string(kSelectColumns) + " ORDER BY created_at DESC, id", {},
                   [&](const StateDb::Row& r) { out.push_back(RecordFromRow(r)); });
  return out;
}

Status SandboxManager::Stop(const std::string& id) {
  PADDOCK_RETURN_IF_ERROR(Get(id).status());
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(id);
  if (it == live_.end()) return Status::Ok();  // already exited
  if (::syscall(SYS_pidfd_send_signal, it->second.pidfd.get(), SIGTERM, nullptr, 0) != 0 &&
      errno != ESRCH) {
    return Status::FromErrno("signal sandbox " + id);
  }
  return Status::Ok();
}

Status SandboxManager::StopForReason(const std::string& id, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (live_.count(id) == 0) return Status::Ok();
    stop_reasons_[id] = reason;
  }
  return Stop(id);
}

void SandboxManager::PruneDataViews() {
  std::set<std::string> in_use;
  for (const SandboxRecord& r : List()) {
    if (r.state != "exited") in_use.merge(SandboxData::MountedCommits(r.data));
  }
  data_->PruneViews(in_use);
}

Status SandboxManager::CheckTerminal(const std::string& id) const {
  auto record = Get(id);
  if (!record.ok()) return record.status();
  if (!record->spec.tty) {
    return Status::FailedPrecondition("sandbox " + id + " has no terminal (start it with tty)");
  }
  if (record->state != "running") {
    return Status::FailedPrecondition("sandbox " + id + " is " + record->state);
  }
  return Status::Ok();
}

Status SandboxManager::WriteTerminal(const std::string& id, std::string_view bytes) {
  PADDOCK_RETURN_IF_ERROR(CheckTerminal(id));
  return sandbox::SendTerminalInput(StateDir(id), bytes);
}

Status SandboxManager::ResizeTerminal(const std::string& id, const sandbox::TerminalSize& size) {
  PADDOCK_RETURN_IF_ERROR(CheckTerminal(id));
  return sandbox::ResizeTerminal(StateDir(id), size);
}

std::set<std::string> SandboxManager::RunningIds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::set<std::string> ids;
  for (const auto& [id, live] : live_) ids.insert(id);
  return ids;
}

Status SandboxManager::Remove(const std::string& id) {
  auto record = Get(id);
  if (!record.ok()) return record.status();
  if (record->state != "exited") {
    return Status::FailedPrecondition("sandbox " + id + " is " + record->state + "; stop it first");
  }
  PADDOCK_RETURN_IF_ERROR(db_->Query("DELETE FROM sandboxes WHERE id = ?1", {id}));
  std::error_code ignored;
  std::filesystem::remove_all(StateDir(id), ignored);
  return Status::Ok();
}

Result<sandbox::CgroupStats> SandboxManager::Stats(const std::string& id) const {
  PADDOCK_RETURN_IF_ERROR(Get(id).status());
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(id);
  if (it == live_.end() || !it->second.cgroup) return sandbox::CgroupStats{};
  return it->second.cgroup->Stats();
}

size_t SandboxManager::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_.size();
}

}  // namespace paddock
