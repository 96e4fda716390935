// ConnectionRegistry: where each relayed connection into the HTTP server really comes from.
//
// Two front ends relay into the server's internal loopback port: the unix socket (Debian's
// civetweb has no unix-socket support) and TLS (Debian's civetweb crashes on its first TLS
// request with OpenSSL 3, so paddockd terminates TLS itself). For each relayed connection the
// front end records here, under the relay's local TCP port, the origin: the unix peer's
// SO_PEERCRED, or the TLS client's address. The request handler looks the port up to know who is
// calling. An entry lives exactly as long as the relay holds that TCP socket open, so the port
// cannot be reused by another process while its entry exists.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace paddock {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct ConnectionOrigin {
  enum class Kind { kUnixSocket, kTls };
  Kind kind = Kind::kUnixSocket;
  PeerCredentials peer;        // kUnixSocket
  std::string remote_address;  // kTls: "ip:port" of the client
};

class ConnectionRegistry {
 public:
  void Add(int local_port, ConnectionOrigin origin);
  void Remove(int local_port);
  std::optional<ConnectionOrigin> Find(int local_port) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<int, ConnectionOrigin> by_port_;
};

}  // namespace paddock
