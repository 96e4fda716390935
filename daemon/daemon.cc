#include "daemon/daemon.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#include "base/file_util.h"
#include "base/log.h"
#include "daemon/sandbox_scope.h"
#include "sandbox/cgroup_mode.h"
#include "sandbox/seccomp_policy.h"

#ifndef PADDOCK_VERSION
#define PADDOCK_VERSION "0.0.0"
#endif

namespace paddock {
namespace {

sigset_t DaemonSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// The gid of `name`, or -1 when there is no such group.
gid_t LookupGroup(const std::string& name) {
  if (name.empty()) return static_cast<gid_t>(-1);
  std::vector<char> buf(16384);
  group entry;
  group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || !found) {
    return static_cast<gid_t>(-1);
  }
  return found->gr_gid;
}

// Keys that need a restart to change; a reload only warns about them.
std::vector<std::string> RestartOnlyChanges(const DaemonConfig& a, const DaemonConfig& b) {
  std::vector<std::string> changed;
  if (a.state_dir != b.state_dir) changed.push_back("daemon.state_dir");
  if (a.tcp_enabled != b.tcp_enabled || a.listen.ToString() != b.listen.ToString()) {
    changed.push_back("api.listen");
  }
  if (a.socket_group != b.socket_group) changed.push_back("api.socket_group");
  if (a.tls_certificate != b.tls_certificate || a.tls_private_key != b.tls_private_key) {
    changed.push_back("api.tls_certificate/tls_private_key");
  }
  if (a.http_threads != b.http_threads) changed.push_back("api.threads");
  if (a.store_enabled != b.store_enabled) changed.push_back("store.enabled");
  if (a.store_directory() != b.store_directory()) changed.push_back("store.dir");
  if (a.store_gc_grace_seconds != b.store_gc_grace_seconds) {
    changed.push_back("store.gc_grace_seconds");
  }
  return changed;
}

}  // namespace

void BlockDaemonSignals() {
  sigset_t set = DaemonSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

Daemon::Daemon(DaemonConfig config, std::function<Result<DaemonConfig>()> load_config,
               bool announce)
    : config_(std::move(config)), load_config_(std::move(load_config)), announce_(announce) {}

Daemon::~Daemon() { Shutdown(); }

Status Daemon::PrepareStateDir() {
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(config_.state_dir, 0750));
  return Status::Ok();
}

Status Daemon::AcquireLock() {
  const std::string path = JoinPath(config_.state_dir, "paddockd.lock");
  lock_fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock_fd_) return Status::FromErrno("open " + path);
  if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Status::FromErrno("lock " + path);
    auto holder = ReadFileToString(path);
    std::string pid = holder.ok() ? *holder : "?";
    while (!pid.empty() && pid.back() == '\n') pid.pop_back();
    return Status::FailedPrecondition("another paddockd (pid " + pid + ") is using state dir " +
                                      config_.state_dir);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_.get(), 0) != 0 ||
      ::pwrite(lock_fd_.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return Status::FromErrno("write " + path);
  }
  return Status::Ok();
}

Status Daemon::OpenDatabase() {
  notifier_.Status("Opening state database");
  auto db = StateDb::Open(JoinPath(config_.state_dir, "state.db"));
  if (!db.ok()) return db.status();
  db_ = std::move(db).value();
  PADDOCK_RETURN_IF_ERROR(
      db_->Query("INSERT INTO daemon_starts(started_at, version, pid) VALUES (?1, ?2, ?3)",
                 {int64_t{std::time(nullptr)}, std::string(PADDOCK_VERSION), int64_t{::getpid()}}));
  PADDOCK_RETURN_IF_ERROR(
      db_->Query("SELECT count(*) FROM daemon_starts", {},
                 [&](const StateDb::Row& r) { context_.daemon_starts = std::get<int64_t>(r[0]); }));
  tokens_ = std::make_unique<TokenStore>(db_.get());
  PADDOCK_RETURN_IF_ERROR(tokens_->Load());
  return tokens_->EnsureAdminToken(JoinPath(config_.state_dir, "admin.token"));
}

void Daemon::OpenStore() {
  context_.store = &store_context_;
  store_context_.max_upload_bytes = config_.store_max_upload_bytes;
  if (!config_.store_enabled) {
    store_context_.unavailable = "the store is disabled ([store] enabled = false)";
    LogInfo("versioned store disabled");
    return;
  }
  notifier_.Status("Opening the versioned store");
  const std::string dir = config_.store_directory();
  storage::StoreOptions options;
  options.gc_grace = std::chrono::seconds(config_.store_gc_grace_seconds);
  auto store = storage::Store::Open(dir, options);
  if (!store.ok()) {
    // Sandboxes and GPUs do not need the store: keep serving them, and say why on every store
    // route instead of refusing to start.
    store_context_.unavailable =
        "the store in " + dir + " could not be opened: " + store.status().message();
    LogError("versioned store unavailable",
             {{"STORE_DIR", dir}, {"ERROR", store.status().message()}});
    return;
  }
  store_ = std::move(store).value();
  store_context_.store = store_.get();
  LogInfo("versioned store open", {{"STORE_DIR", dir}});
}

// paddock-init: the configured path, else beside this binary (a build tree), else libexec.
std::string FindInitProgram(const std::string& configured) {
  if (!configured.empty()) return configured;
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.find_last_of('/'));
    const std::string beside = JoinPath(dir, "paddock-init");
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
  return "/usr/libexec/paddock/paddock-init";
}

Status Daemon::StartGpus() {
  notifier_.Status("Discovering GPUs");
  GpuManagerOptions options;
  options.enabled = config_.gpu_enabled;
  options.nvml_library = config_.nvml_library;
  options.topology_xml = config_.gpu_topology_xml;
  options.device_dir = config_.gpu_device_dir;
  options.proc_dir = config_.gpu_proc_dir;
  options.partitions = config_.gpu_partitions;
  options.history_seconds = config_.gpu_history_seconds;
  gpus_ = std::make_unique<GpuManager>(db_.get(), std::move(options));
  PADDOCK_RETURN_IF_ERROR(gpus_->Start());
  context_.gpus = gpus_.get();
  return Status::Ok();
}

Status Daemon::StartSandboxes() {
  notifier_.Status("Re-adopting sandboxes");
  Status unavailable;
  const std::string init_path = FindInitProgram(config_.sandbox_init_path);
  sandbox::CgroupDriverOptions cgroup_options;
  if (WantsSandboxScope()) {
    auto scope = EnsureSandboxScope(init_path);
    if (scope.ok()) {
      cgroup_options.delegated_cgroup = *scope;
      cgroup_options.daemon_leaf = kSandboxScopeHolderLeaf;
    } else {
      LogWarning(
          "no scope for the sandboxes: they go into the daemon's own cgroup, and systemd cannot "
          "restart the daemon while one runs",
          {{"ERROR", scope.status().message()}});
    }
  }
  auto driver = sandbox::CgroupDriver::Create(cgroup_options);
  if (driver.ok()) {
    cgroups_ = std::move(driver).value();
  } else {
    unavailable = driver.status();
    LogError("cgroups unusable: sandboxes will be refused", {{"ERROR", unavailable.message()}});
  }
  SandboxManagerOptions options;
  options.state_root = JoinPath(config_.state_dir, "sandboxes");
  options.init_path = init_path;
  options.allowed_bind_paths = config_.allowed_bind_paths;
  options.root_host_uid = config_.root_host_uid;
  options.token_uid = config_.token_uid;
  options.max_memory_bytes = config_.max_memory_bytes;
  options.stop_grace_ms = config_.stop_grace_seconds * 1000;
  // Compiled once here rather than in every paddock-init.
  auto seccomp = sandbox::SeccompProgram::Build();
  if (!seccomp.ok()) return seccomp.status().WithContext("seccomp profile");
  options.seccomp_program = seccomp->ToBytes();
  sandboxes_ =
      std::make_unique<SandboxManager>(db_.get(), cgroups_.get(), std::move(options), unavailable);
  sandboxes_->AttachGpus(gpus_.get());
  if (store_) sandboxes_->AttachStore(store_.get(), JoinPath(config_.state_dir, "views"));
  gpus_->SetStopHandler([this](const std::string& id, const std::string& reason) {
    Status s = sandboxes_->StopForReason(id, reason);
    if (!s.ok()) LogError("cannot stop sandbox", {{"SANDBOX", id}, {"ERROR", s.message()}});
  });
  PADDOCK_RETURN_IF_ERROR(sandboxes_->Start());
  // Allocations recorded for sandboxes that ended while the daemon was away are freed now.
  gpus_->Reconcile(sandboxes_->RunningIds());
  context_.sandboxes = sandboxes_.get();
  return Status::Ok();
}

Status Daemon::StartApi() {
  context_.version = PADDOCK_VERSION;
  context_.state_dir = config_.state_dir;
  context_.tls = config_.tls_enabled();
  context_.started_at = std::chrono::system_clock::now();
  context_.started_steady = std::chrono::steady_clock::now();
  context_.tokens = tokens_.get();
  context_.metrics = &metrics_;
  auto mode = sandbox::DetectCgroupMode();
  context_.cgroup_mode = mode.ok() ? std::string(sandbox::CgroupModeName(*mode)) : "none";
  if (!mode.ok()) LogWarning("cgroup layout not recognised", {{"ERROR", mode.status().message()}});
  RegisterRoutes(&router_, &context_);

  auto server = ApiServer::Start(config_, {&router_, tokens_.get(), &connections_, &metrics_});
  if (!server.ok()) return server.status();
  server_ = std::move(server).value();
  int public_port = server_->public_port();
  if (config_.tcp_enabled && config_.tls_enabled()) {
    auto tls =
        TlsTerminator::Start(config_.listen, config_.tls_certificate, config_.tls_private_key,
                             server_->internal_port(), &connections_);
    if (!tls.ok()) return tls.status();
    tls_ = std::move(tls).value();
    public_port = tls_->port();
  }
  context_.listen =
      config_.tcp_enabled ? config_.listen.host + ":" + std::to_string(public_port) : "";
  const gid_t group = LookupGroup(config_.socket_group);
  if (group == static_cast<gid_t>(-1) && !config_.socket_group.empty()) {
    LogInfo("socket group does not exist; the unix socket is root-only",
            {{"GROUP", config_.socket_group}});
  }
  auto bridge = UnixSocketBridge::Start(JoinPath(config_.state_dir, "paddockd.sock"), group,
                                        server_->internal_port(), &connections_);
  if (!bridge.ok()) return bridge.status();
  bridge_ = std::move(bridge).value();
  PrepareStatusDocument(&context_);
  server_->SetReady();
  return Status::Ok();
}

Status Daemon::Start() {
  notifier_.Status("Starting");
  sigset_t set = DaemonSignals();
  signal_fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!signal_fd_) return Status::FromErrno("signalfd");
  PADDOCK_RETURN_IF_ERROR(PrepareStateDir());
  PADDOCK_RETURN_IF_ERROR(AcquireLock());
  PADDOCK_RETURN_IF_ERROR(OpenDatabase());
  OpenStore();
  PADDOCK_RETURN_IF_ERROR(StartGpus());
  PADDOCK_RETURN_IF_ERROR(StartSandboxes());
  PADDOCK_RETURN_IF_ERROR(StartApi());

  const std::string socket = JoinPath(config_.state_dir, "paddockd.sock");
  const std::string token_file = JoinPath(config_.state_dir, "admin.token");
  const std::string scheme = config_.tls_enabled() ? "https://" : "http://";
  const std::string where = config_.tcp_enabled
                                ? "API on " + scheme + context_.listen + " and " + socket
                                : "API on " + socket;
  LogInfo("paddockd " PADDOCK_VERSION " ready",
          {{"API", where},
           {"TOKEN_FILE", token_file},
           {"CGROUP_MODE", context_.cgroup_mode},
           {"CONFIG", config_.source.empty() ? "(defaults)" : config_.source}});
  if (announce_) {
    std::printf("paddockd %s: %s\nadmin token: %s\n", PADDOCK_VERSION, where.c_str(),
                token_file.c_str());
    std::fflush(stdout);
  }
  notifier_.Ready();
  notifier_.Status("Serving " + where);
  return Status::Ok();
}

int Daemon::Run() {
  const auto watchdog = notifier_.watchdog_interval();
  const int timeout_ms = watchdog ? static_cast<int>(watchdog->count() / 1000) : -1;
  if (watchdog) notifier_.WatchdogPing();
  for (;;) {
    pollfd pfd{signal_fd_.get(), POLLIN, 0};
    const int rc = ::poll(&pfd, 1, timeout_ms);
    if (watchdog) notifier_.WatchdogPing();
    if (rc < 0 && errno != EINTR) {
      LogError("poll on signals failed", {{"ERRNO", std::strerror(errno)}});
      break;
    }
    if (rc <= 0) continue;
    signalfd_siginfo info;
    if (::read(signal_fd_.get(), &info, sizeof info) != sizeof info) continue;
    if (info.ssi_signo == SIGHUP) {
      Reload();
      continue;
    }
    LogInfo("stopping", {{"SIGNAL", strsignal(static_cast<int>(info.ssi_signo))}});
    break;
  }
  Shutdown();
  return 0;
}

void Daemon::Reload() {
  notifier_.Reloading();
  notifier_.Status("Reloading configuration");
  auto fresh = load_config_();
  if (!fresh.ok()) {
    LogError("reload failed; keeping the running configuration",
             {{"ERROR", fresh.status().message()}});
    notifier_.Ready();
    notifier_.Status("Reload failed (" + fresh.status().message() +
                     "); serving with the old configuration");
    return;
  }
  for (const std::string& key : RestartOnlyChanges(config_, *fresh)) {
    LogWarning("changed setting takes effect at restart", {{"KEY", key}});
  }
  config_.log_level = fresh->log_level;
  config_.max_body_bytes = fresh->max_body_bytes;
  config_.store_max_upload_bytes = fresh->store_max_upload_bytes;
  store_context_.max_upload_bytes = config_.store_max_upload_bytes;
  SetLogLevel(config_.log_level);
  server_->set_max_body_bytes(config_.max_body_bytes);
  LogInfo("configuration reloaded",
          {{"CONFIG", config_.source.empty() ? "(defaults)" : config_.source}});
  notifier_.Ready();
  notifier_.Status("Serving API (configuration reloaded)");
}

void Daemon::Shutdown() {
  if (!server_ && !bridge_ && !db_) return;
  notifier_.Stopping();
  notifier_.Status("Stopping");
  // Front ends first (they relay into the server), then the server finishes requests in flight.
  bridge_.reset();
  tls_.reset();
  server_.reset();
  // Sandboxes keep running; a restarted daemon re-adopts them.
  context_.sandboxes = nullptr;
  context_.gpus = nullptr;
  context_.store = nullptr;
  store_context_.store = nullptr;
  // The GPU sampler calls into the sandbox manager and the manager's watcher into the GPU
  // manager: stop the sampler, then the watcher, then drop the GPU manager.
  if (gpus_) gpus_->StopSampler();
  sandboxes_.reset();
  gpus_.reset();
  cgroups_.reset();
  // Last of the users gone (requests, the sandbox watcher): the store can close; every commit
  // flushed its packs already.
  store_.reset();
  tokens_.reset();
  db_.reset();
  LogInfo("stopped");
}

}  // namespace paddock
