// UnixSocketBridge: serves the API's unix socket (<state_dir>/paddockd.sock, mode 0660, group
// from api.socket_group). Each caller is identified by the kernel (SO_PEERCRED) and relayed to
// the HTTP server with that identity (see ConnectionRegistry).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "daemon/relay_server.h"

namespace paddock {

class UnixSocketBridge : public RelayServer {
 public:
  // Listens on `socket_path` (replacing a stale socket file), owned by root and `group` (when not
  // -1). Relays to 127.0.0.1:`target_port`. `registry` must outlive the bridge.
  static Result<std::unique_ptr<UnixSocketBridge>> Start(const std::string& socket_path,
                                                         gid_t group, int target_port,
                                                         ConnectionRegistry* registry);
  ~UnixSocketBridge() override;

 private:
  UnixSocketBridge(UniqueFd listener, std::string path, int target_port,
                   ConnectionRegistry* registry);
  void Serve(UniqueFd client) override;

  std::string path_;
};

}  // namespace paddock
