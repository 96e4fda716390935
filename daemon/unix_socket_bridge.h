// UnixSocketBridge: serves the API's unix socket by relaying each connection to the HTTP server's
// internal loopback port, recording the caller's SO_PEERCRED in a PeerRegistry (see there why).
//
// One thread accepts; each connection gets a relay thread, which is cheap for the CLI's short
// requests and keeps streaming responses (logs --follow) simple. Stop() (or the destructor) closes
// the listener, wakes every relay and waits for them.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "base/unique_fd.h"
#include "daemon/peer_registry.h"

namespace paddock {

class UnixSocketBridge {
 public:
  // Listens on `socket_path` (replacing a stale socket file), mode 0660 owned by root and `group`
  // (when group >= 0). Relays to 127.0.0.1:`target_port`. `registry` must outlive the bridge.
  static Result<std::unique_ptr<UnixSocketBridge>> Start(const std::string& socket_path,
                                                         gid_t group, int target_port,
                                                         PeerRegistry* registry);
  ~UnixSocketBridge();
  UnixSocketBridge(const UnixSocketBridge&) = delete;
  UnixSocketBridge& operator=(const UnixSocketBridge&) = delete;

  void Stop();

 private:
  UnixSocketBridge(std::string path, UniqueFd listener, UniqueFd stop_event, int target_port,
                   PeerRegistry* registry);
  void AcceptLoop();
  void Relay(UniqueFd client);

  std::string path_;
  UniqueFd listener_;
  UniqueFd stop_event_;  // eventfd: readable once Stop() is called
  int target_port_;
  PeerRegistry* registry_;
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable relays_done_;
  int active_relays_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace paddock
