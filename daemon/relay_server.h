// RelayServer: accepts connections on a listening socket and relays each one to the HTTP
// server's internal loopback port, registering its origin in a ConnectionRegistry.
//
// One thread accepts; each connection gets its own relay thread, which is cheap for the CLI's
// short requests and keeps streaming responses (logs --follow) simple. Subclasses say how to
// accept one connection (unix: read SO_PEERCRED; TLS: handshake) and how to move bytes.
// Stop() closes the listener, shuts every live connection down and waits for the relays.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "base/status.h"
#include "base/unique_fd.h"
#include "daemon/connection_registry.h"

namespace paddock {

class RelayServer {
 public:
  virtual ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // Idempotent. Subclass destructors must call it before their members go away.
  void Stop();

 protected:
  // `registry` must outlive the server.
  RelayServer(UniqueFd listener, int target_port, ConnectionRegistry* registry);
  // Starts the accept thread; call once the subclass is fully built.
  Status StartAccepting();

  // Handles one accepted connection, on its own thread; returns when it is finished.
  virtual void Serve(UniqueFd client) = 0;

  // Opens the loopback connection to the HTTP server and registers it with `origin`.
  // The returned guard removes the registration before closing the socket.
  class Upstream {
   public:
    Upstream(UniqueFd fd, int local_port, ConnectionRegistry* registry)
        : fd_(std::move(fd)), local_port_(local_port), registry_(registry) {}
    Upstream(Upstream&&) = default;
    ~Upstream() {
      if (registry_ != nullptr && fd_) registry_->Remove(local_port_);
    }
    int fd() const { return fd_.get(); }

   private:
    UniqueFd fd_;
    int local_port_;
    ConnectionRegistry* registry_;
  };
  Result<Upstream> ConnectUpstream(ConnectionOrigin origin);

  // Writes all of `data` to socket `fd`; false when the peer is gone.
  static bool SendAll(int fd, const char* data, size_t size);
  // Copies bytes both ways between two plain sockets until the server side finishes.
  void PumpPlain(int client, int upstream);
  // True once Stop() was called.
  bool stopping() const;
  int stop_fd() const { return stop_event_.get(); }

 private:
  void AcceptLoop();
  static bool Forward(int from, int to);

  UniqueFd listener_;
  UniqueFd stop_event_;  // eventfd, readable once Stop() is called
  int target_port_;
  ConnectionRegistry* registry_;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::condition_variable relays_done_;
  std::set<int> live_clients_;  // so Stop() can shut them down
  bool stopped_ = false;
};

}  // namespace paddock
