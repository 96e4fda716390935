#include "daemon/unix_socket_bridge.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace paddock {
namespace {

Result<UniqueFd> ListenUnix(const std::string& path, gid_t group) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status::FromErrno("socket(AF_UNIX)");
  // The state-dir lock is held, so a socket file left here is from a dead daemon.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno("unlink " + path);
  // Nobody may connect before the owner and mode below are in place.
  const mode_t old_umask = ::umask(0177);
  const int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old_umask);
  if (bound != 0) return Status::FromErrno("bind " + path);
  if (group != static_cast<gid_t>(-1) && ::chown(path.c_str(), 0, group) != 0) {
    return Status::FromErrno("chown " + path);
  }
  if (::chmod(path.c_str(), 0660) != 0) return Status::FromErrno("chmod " + path);
  if (::listen(fd.get(), 128) != 0) return Status::FromErrno("listen " + path);
  return fd;
}

}  // namespace

Result<std::unique_ptr<UnixSocketBridge>> UnixSocketBridge::Start(const std::string& socket_path,
                                                                  gid_t group, int target_port,
                                                                  ConnectionRegistry* registry) {
  auto listener = ListenUnix(socket_path, group);
  if (!listener.ok()) return listener.status();
  std::unique_ptr<UnixSocketBridge> bridge(
      new UnixSocketBridge(std::move(listener).value(), socket_path, target_port, registry));
  PADDOCK_RETURN_IF_ERROR(bridge->StartAccepting());
  return bridge;
}

UnixSocketBridge::UnixSocketBridge(UniqueFd listener, std::string path, int target_port,
                                   ConnectionRegistry* registry)
    : RelayServer(std::move(listener), target_port, registry), path_(std::move(path)) {}

UnixSocketBridge::~UnixSocketBridge() {
  Stop();
  ::unlink(path_.c_str());
}

void UnixSocketBridge::Serve(UniqueFd client) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    LogWarning("SO_PEERCRED failed; dropping connection", {{"ERRNO", std::strerror(errno)}});
    return;
  }
  ConnectionOrigin origin;
  origin.kind = ConnectionOrigin::Kind::kUnixSocket;
  origin.peer = {cred.pid, cred.uid, cred.gid};
  auto upstream = ConnectUpstream(std::move(origin));
  if (!upstream.ok()) {
    LogWarning("unix socket relay failed", {{"ERROR", upstream.status().message()}});
    return;
  }
  PumpPlain(client.get(), upstream->fd());
}

}  // namespace paddock
