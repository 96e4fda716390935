// Daemon: paddockd's wiring and lifecycle.
//
//   Start():  state dir -> lock -> database (migrations) -> tokens -> versioned store (a store
//             that cannot be opened is reported by its routes, 503; the daemon runs on) ->
//             GPUs -> cgroups and sandboxes
//             (re-adopting those of an earlier run) -> HTTP server -> TLS listener (when
//             configured) -> unix socket -> READY=1. Any failure stops here with a Status;
//             nothing is left half-started.
//   Run():    waits on signals: SIGHUP reloads the configuration (RELOADING=1 ... READY=1),
//             SIGTERM/SIGINT stop (STOPPING=1, close listeners, finish requests, exit 0). Pings
//             the systemd watchdog in between when WatchdogSec= is set.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"
#include "daemon/api_routes.h"
#include "daemon/api_server.h"
#include "daemon/config.h"
#include "daemon/connection_registry.h"
#include "daemon/gpu_manager.h"
#include "daemon/metrics.h"
#include "daemon/router.h"
#include "daemon/sandbox_manager.h"
#include "daemon/state_db.h"
#include "daemon/store_routes.h"
#include "daemon/systemd_notifier.h"
#include "daemon/tls_terminator.h"
#include "daemon/token_store.h"
#include "daemon/unix_socket_bridge.h"
#include "storage/store.h"

namespace paddock {

class Daemon {
 public:
  // `load_config` produces the effective configuration (file + flags); it is called again on
  // every reload. `announce` prints where to reach the API (for `make run`).
  Daemon(DaemonConfig config, std::function<Result<DaemonConfig>()> load_config, bool announce);
  ~Daemon();

  Status Start();
  // Blocks until asked to stop; returns the process exit status.
  int Run();

 private:
  Status PrepareStateDir();
  Status AcquireLock();
  Status OpenDatabase();
  void OpenStore();
  Status StartGpus();
  Status StartSandboxes();
  Status StartApi();
  void Reload();
  void Shutdown();

  DaemonConfig config_;
  std::function<Result<DaemonConfig>()> load_config_;
  bool announce_;
  SystemdNotifier notifier_;
  UniqueFd lock_fd_;
  UniqueFd signal_fd_;
  std::unique_ptr<StateDb> db_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<sandbox::CgroupDriver> cgroups_;
  std::unique_ptr<GpuManager> gpus_;
  std::unique_ptr<SandboxManager> sandboxes_;
  std::unique_ptr<storage::Store> store_;
  StoreContext store_context_;
  HttpMetrics metrics_;
  ConnectionRegistry connections_;
  Router router_;
  ApiContext context_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<TlsTerminator> tls_;
  std::unique_ptr<UnixSocketBridge> bridge_;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (so threads started later inherit the
// mask and only the signalfd sees them) and ignores SIGPIPE. Call first thing in main().
void BlockDaemonSignals();

}  // namespace paddock
