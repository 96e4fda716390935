#include "daemon/unix_socket_bridge.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
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
  // Bind with a restrictive umask-independent mode: nobody can connect before chmod/chown below.
  if (::fchmod(fd.get(), 0600) != 0 && errno != EINVAL) return Status::FromErrno("fchmod socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::FromErrno("bind " + path);
  }
  if (::chmod(path.c_str(), 0600) != 0) return Status::FromErrno("chmod " + path);
  if (group != static_cast<gid_t>(-1) && ::chown(path.c_str(), 0, group) != 0) {
    return Status::FromErrno("chown " + path);
  }
  if (::chmod(path.c_str(), 0660) != 0) return Status::FromErrno("chmod " + path);
  if (::listen(fd.get(), 128) != 0) return Status::FromErrno("listen " + path);
  return fd;
}

Result<UniqueFd> ConnectLoopback(int port, int* local_port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status::FromErrno("socket(AF_INET)");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::FromErrno("connect to internal HTTP port");
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return Status::FromErrno("getsockname");
  }
  *local_port = ntohs(local.sin_port);
  return fd;
}

// Moves what is readable on `from` to `to`. Returns false at end of stream or on error.
bool Pump(int from, int to) {
  char buf[64 * 1024];
  const ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return false;
  for (ssize_t done = 0; done < n;) {
    const ssize_t w = ::send(to, buf + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += w;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<UnixSocketBridge>> UnixSocketBridge::Start(const std::string& socket_path,
                                                                  gid_t group, int target_port,
                                                                  PeerRegistry* registry) {
  auto listener = ListenUnix(socket_path, group);
  if (!listener.ok()) return listener.status();
  UniqueFd stop_event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event) return Status::FromErrno("eventfd");
  std::unique_ptr<UnixSocketBridge> bridge(new UnixSocketBridge(
      socket_path, std::move(listener).value(), std::move(stop_event), target_port, registry));
  bridge->acceptor_ = std::thread([b = bridge.get()] { b->AcceptLoop(); });
  return bridge;
}

UnixSocketBridge::UnixSocketBridge(std::string path, UniqueFd listener, UniqueFd stop_event,
                                   int target_port, PeerRegistry* registry)
    : path_(std::move(path)),
      listener_(std::move(listener)),
      stop_event_(std::move(stop_event)),
      target_port_(target_port),
      registry_(registry) {}

UnixSocketBridge::~UnixSocketBridge() { Stop(); }

void UnixSocketBridge::Stop() {
  if (stopped_.exchange(true)) return;
  const uint64_t one = 1;
  (void)!::write(stop_event_.get(), &one, sizeof one);
  if (acceptor_.joinable()) acceptor_.join();
  std::unique_lock<std::mutex> lock(mutex_);
  relays_done_.wait(lock, [this] { return active_relays_ == 0; });
  ::unlink(path_.c_str());
}

void UnixSocketBridge::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("unix socket poll failed", {{"ERRNO", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) {
      if (errno != EINTR && errno != ECONNABORTED) {
        LogWarning("unix socket accept failed", {{"ERRNO", std::strerror(errno)}});
      }
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++active_relays_;
    }
    std::thread([this, c = std::move(client)]() mutable { Relay(std::move(c)); }).detach();
  }
}

void UnixSocketBridge::Relay(UniqueFd client) {
  ucred cred{};
  socklen_t len = sizeof cred;
  int local_port = 0;
  if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    LogWarning("SO_PEERCRED failed; dropping connection", {{"ERRNO", std::strerror(errno)}});
  } else if (auto upstream = ConnectLoopback(target_port_, &local_port); !upstream.ok()) {
    LogWarning("unix socket relay failed", {{"ERROR", upstream.status().message()}});
  } else {
    registry_->Add(local_port, {cred.pid, cred.uid, cred.gid});
    const int a = client.get();
    const int b = upstream->get();
    bool a_open = true;
    bool b_open = true;
    while (a_open || b_open) {
      pollfd fds[3] = {{a_open ? a : -1, POLLIN, 0},
                       {b_open ? b : -1, POLLIN, 0},
                       {stop_event_.get(), POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[2].revents != 0) break;
      if (a_open && fds[0].revents != 0 && !Pump(a, b)) {
        a_open = false;
        ::shutdown(b, SHUT_WR);
      }
      if (b_open && fds[1].revents != 0 && !Pump(b, a)) {
        b_open = false;
        ::shutdown(a, SHUT_WR);
        break;  // the server finished answering; nothing more can come back
      }
    }
    // Remove before the upstream socket closes, so the port cannot be reused under the entry.
    registry_->Remove(local_port);
  }
  client.reset();
  std::lock_guard<std::mutex> lock(mutex_);
  --active_relays_;
  relays_done_.notify_all();
}

}  // namespace paddock
