#include "daemon/relay_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace paddock {

bool RelayServer::SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

RelayServer::RelayServer(UniqueFd listener, int target_port, ConnectionRegistry* registry)
    : listener_(std::move(listener)),
      stop_event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      target_port_(target_port),
      registry_(registry) {}

RelayServer::~RelayServer() { Stop(); }

Status RelayServer::StartAccepting() {
  if (!stop_event_) return Status::FromErrno("eventfd");
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return Status::Ok();
}

bool RelayServer::stopping() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stopped_;
}

void RelayServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    // Wake relays blocked in a read (a TLS handshake, say) as well as those in poll().
    for (int fd : live_clients_) ::shutdown(fd, SHUT_RDWR);
  }
  const uint64_t one = 1;
  (void)!::write(stop_event_.get(), &one, sizeof one);
  if (acceptor_.joinable()) acceptor_.join();
  std::unique_lock<std::mutex> lock(mutex_);
  relays_done_.wait(lock, [this] { return live_clients_.empty(); });
}

void RelayServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("relay poll failed", {{"ERRNO", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) {
      if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
        LogWarning("accept failed", {{"ERRNO", std::strerror(errno)}});
      }
      continue;
    }
    const int fd = client.get();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return;
      live_clients_.insert(fd);
    }
    std::thread([this, fd, c = std::move(client)]() mutable {
      Serve(std::move(c));  // closes the client when done
      std::lock_guard<std::mutex> lock(mutex_);
      live_clients_.erase(fd);
      relays_done_.notify_all();
    }).detach();
  }
}

Result<RelayServer::Upstream> RelayServer::ConnectUpstream(ConnectionOrigin origin) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status::FromErrno("socket(AF_INET)");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(target_port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::FromErrno("connect to the internal HTTP port");
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return Status::FromErrno("getsockname");
  }
  const int local_port = ntohs(local.sin_port);
  registry_->Add(local_port, std::move(origin));
  return Upstream(std::move(fd), local_port, registry_);
}

// Moves what is readable on `from` to `to`. Returns false at end of stream or on error.
bool RelayServer::Forward(int from, int to) {
  char buf[64 * 1024];
  const ssize_t n = ::read(from, buf, sizeof buf);
  return n > 0 && SendAll(to, buf, static_cast<size_t>(n));
}

void RelayServer::PumpPlain(int client, int upstream) {
  bool client_open = true;
  for (;;) {
    pollfd fds[3] = {{client_open ? client : -1, POLLIN, 0},
                     {upstream, POLLIN, 0},
                     {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[2].revents != 0) return;
    if (client_open && fds[0].revents != 0 && !Forward(client, upstream)) {
      client_open = false;
      ::shutdown(upstream, SHUT_WR);  // the client finished sending; let the server answer
    }
    if (fds[1].revents != 0 && !Forward(upstream, client)) return;  // the server is done
  }
}

}  // namespace paddock
