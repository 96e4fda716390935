// SandboxManager: the daemon's record of sandboxes and their lifecycle.
//
//   Create(): validate the request against the caller and the configuration, create the cgroup,
//             Launch() (sandbox/launcher.h), record the row (state "running").
//   watcher:  one thread polls every sandbox's pidfd; when paddock-init ends it reaps it (when it
//             is our child), reads exit.json, turns "killed by SIGKILL with an OOM kill in the
//             cgroup" into reason "oom", kills and removes the cgroup, and records the exit.
//   Start():  after a daemon restart, re-adopts every "running" row: the same paddock-init (pid and
//             start time) is watched again; one that ended meanwhile is finalised from exit.json.
// Sandboxes are never stopped by the daemon stopping: they outlive restarts (KillMode=process).
// All public methods are thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "daemon/http_types.h"
#include "daemon/sandbox_data.h"
#include "daemon/state_db.h"
#include "gpu/allocator.h"
#include "sandbox/cgroup.h"
#include "sandbox/spec.h"

namespace paddock {

class GpuManager;

// A validated POST /api/v1/sandboxes body.
struct SandboxRequest {
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string cwd;  // "" = /workspace with a workspace, else /
  std::optional<double> cpus;
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> pids;
  std::optional<int64_t> timeout_seconds;
  std::optional<std::string> workspace;  // absolute host directory
  std::vector<sandbox::BindMount> binds;
  std::string root = "host";  // or an absolute host directory
  std::optional<gpu::GpuRequest> gpus;
  nlohmann::json gpus_json;                  // the "gpus" member as sent, for the record
  std::optional<sandbox::TerminalSize> tty;  // set: the command gets a terminal of this size
  std::vector<DataMount> mounts;             // repo@rev mounted read-only
  std::optional<DataOutput> output;          // committed to repo@branch at the end
};

struct SandboxRecord {
  std::string id;
  nlohmann::json request;  // SandboxRequest as JSON
  sandbox::SandboxSpec spec;
  nlohmann::json owner;
  std::string state;  // created, running, exited
  int64_t created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  pid_t init_pid = 0;
  uint64_t init_start_time = 0;
  std::optional<sandbox::ExitRecord> exit;
  nlohmann::json data = nlohmann::json::object();  // SandboxData::Prepare's record, then output

  // The API's Sandbox object.
  nlohmann::json ToJson() const;
};

struct SandboxManagerOptions {
  std::string state_root;  // <state_dir>/sandboxes
  std::string init_path;
  std::vector<std::string> allowed_bind_paths;
  uid_t root_host_uid = 65534;
  uid_t token_uid = 65534;
  uint64_t max_memory_bytes = 0;  // 0: the host's RAM
  int64_t stop_grace_ms = 10000;
  std::string seccomp_program;  // compiled once at start (SeccompProgram::ToBytes)
};

class SandboxManager {
 public:
  // `db` and `cgroups` must outlive the manager. Without a cgroup driver (`cgroups` null, with
  // `unavailable` saying why) sandboxes cannot be isolated, so Create() refuses every request
  // rather than start one without limits or device rules.
  SandboxManager(StateDb* db, sandbox::CgroupDriver* cgroups, SandboxManagerOptions options,
                 Status unavailable = Status::Ok());
  ~SandboxManager();  // stops watching; the sandboxes keep running

  // Sandboxes that ask for GPUs get them from `gpus` (which must outlive the manager); without
  // it such requests are refused. Call before Start().
  void AttachGpus(GpuManager* gpus) { gpus_ = gpus; }
  // Lets sandboxes mount repositories and commit outputs (sandbox_data.h). `store` must outlive
  // the manager; call before Start().
  void AttachStore(storage::Store* store, const std::string& views_dir) {
    data_ = std::make_unique<SandboxData>(store, views_dir);
  }

  // Re-adopts the sandboxes of an earlier daemon and starts the watcher.
  Status Start();

  // kInvalidArgument (400), kPermissionDenied (403), kFailedPrecondition (422: cannot be
  // satisfied or could not start; the message says which).
  Result<SandboxRecord> Create(const SandboxRequest& request, const Caller& caller);
  Result<SandboxRecord> Get(const std::string& id) const;
  std::vector<SandboxRecord> List() const;
  // Asks paddock-init to stop (SIGTERM, grace, SIGKILL). A no-op for an exited sandbox.
  Status Stop(const std::string& id);
  // Stop() on the daemon's own initiative: the exit record's reason becomes `reason`
  // (e.g. "gpu_memory") instead of "stopped".
  Status StopForReason(const std::string& id, const std::string& reason);
  // Ids of the sandboxes running now.
  std::set<std::string> RunningIds() const;
  // Deletes an exited sandbox's record and files. kFailedPrecondition while it runs.
  Status Remove(const std::string& id);
  Result<sandbox::CgroupStats> Stats(const std::string& id) const;
  // Types `bytes` into the terminal of a running sandbox, or resizes it. kFailedPrecondition
  // when the sandbox has no terminal or is not running; kUnavailable when its terminal does not
  // take input within a few seconds.
  Status WriteTerminal(const std::string& id, std::string_view bytes);
  Status ResizeTerminal(const std::string& id, const sandbox::TerminalSize& size);
  // <state_root>/<id>/<stream>.log; `stream` is "stdout" or "stderr".
  std::string LogPath(const std::string& id, const std::string& stream) const;
  size_t running() const;

 private:
  struct Live {
    UniqueFd pidfd;
    bool our_child = false;
    std::unique_ptr<sandbox::Cgroup> cgroup;
  };

  // Removes the data views that no running sandbox mounts.
  void PruneDataViews();
  // OK when `id` is running with a terminal; else why not (kNotFound, kFailedPrecondition).
  Status CheckTerminal(const std::string& id) const;
  Result<sandbox::SandboxSpec> BuildSpec(const std::string& id, const SandboxRequest& request,
                                         const Caller& caller) const;
  Status CheckPaths(const SandboxRequest& request, const Caller& caller) const;
  Status CheckLimits(const SandboxRequest& request) const;
  Result<sandbox::CgroupLimits> GrantGpus(const std::string& id, const SandboxRequest& request,
                                          sandbox::SandboxSpec* spec,
                                          std::vector<sandbox::DeviceRule>* rules,
                                          nlohmann::json* granted);
  void Watch();
  void Finish(const std::string& id, Live live);
  void Wake();
  std::string StateDir(const std::string& id) const;

  StateDb* db_;
  sandbox::CgroupDriver* cgroups_;
  SandboxManagerOptions options_;
  Status unavailable_;
  mutable std::mutex mutex_;
  std::map<std::string, Live> live_;
  std::map<std::string, std::string> stop_reasons_;  // StopForReason() before the exit
  GpuManager* gpus_ = nullptr;
  std::unique_ptr<SandboxData> data_ = std::make_unique<SandboxData>(nullptr, "");
  UniqueFd wake_;  // eventfd: the set of sandboxes changed, or stopping
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace paddock
