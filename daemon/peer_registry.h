// PeerRegistry: which loopback connections into the HTTP server carry a unix-socket caller.
//
// The unix socket is served through UnixSocketBridge (Debian's civetweb is built without unix
// domain socket support): for each accepted unix connection the bridge opens a loopback TCP
// connection to the server's internal port and records here, under that connection's local port,
// the credentials the kernel reported for the unix peer (SO_PEERCRED). The request handler looks
// the port up to know who is calling. An entry lives exactly as long as the bridge holds that
// TCP socket open, so a port cannot be reused by another process while its entry exists.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <unordered_map>

namespace paddock {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class PeerRegistry {
 public:
  void Add(int local_port, PeerCredentials creds);
  void Remove(int local_port);
  std::optional<PeerCredentials> Find(int local_port) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<int, PeerCredentials> by_port_;
};

}  // namespace paddock
