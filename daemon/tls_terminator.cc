#include "daemon/tls_terminator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace paddock {
namespace {

constexpr int kHandshakeTimeoutSeconds = 10;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

Result<UniqueFd> ListenTcp(const ListenAddress& listen, int* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status::FromErrno("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(listen.port));
  const std::string host = listen.host == "localhost" ? "127.0.0.1" : listen.host;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Status::InvalidArgument("not an IPv4 address: " + listen.host);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::FromErrno("cannot bind " + listen.ToString());
  }
  if (::listen(fd.get(), 128) != 0) return Status::FromErrno("listen " + listen.ToString());
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

std::string PeerAddress(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char ip[INET_ADDRSTRLEN] = "?";
  ::inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
}

bool SslWriteAll(SSL* ssl, const char* data, size_t size) {
  while (size > 0) {
    const int n = SSL_write(ssl, data, static_cast<int>(size));
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TlsTerminator>> TlsTerminator::Start(const ListenAddress& listen,
                                                            const std::string& certificate_chain,
                                                            const std::string& private_key,
                                                            int target_port,
                                                            ConnectionRegistry* registry) {
  Context context(SSL_CTX_new(TLS_server_method()));
  if (!context) return Status::Internal("SSL_CTX_new: " + OpenSslError());
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(context.get(), certificate_chain.c_str()) != 1) {
    return Status::InvalidArgument("cannot load TLS certificate " + certificate_chain + ": " +
                                   OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::InvalidArgument("cannot load TLS private key " + private_key + ": " +
                                   OpenSslError());
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    return Status::InvalidArgument("TLS private key " + private_key +
                                   " does not match the certificate " + certificate_chain);
  }
  int port = 0;
  auto listener = ListenTcp(listen, &port);
  if (!listener.ok()) return listener.status();
  std::unique_ptr<TlsTerminator> server(new TlsTerminator(
      std::move(listener).value(), port, std::move(context), target_port, registry));
  PADDOCK_RETURN_IF_ERROR(server->StartAccepting());
  return server;
}

TlsTerminator::TlsTerminator(UniqueFd listener, int port, Context context, int target_port,
                             ConnectionRegistry* registry)
    : RelayServer(std::move(listener), target_port, registry),
      port_(port),
      context_(std::move(context)) {}

TlsTerminator::~TlsTerminator() { Stop(); }

void TlsTerminator::Serve(UniqueFd client) {
  // A client that connects and says nothing must not hold a thread forever.
  timeval timeout{kHandshakeTimeoutSeconds, 0};
  ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(context_.get()));
  if (!ssl || SSL_set_fd(ssl.get(), client.get()) != 1) return;
  const std::string peer = PeerAddress(client.get());
  if (SSL_accept(ssl.get()) != 1) {
    LogDebug("TLS handshake failed", {{"PEER", peer}, {"ERROR", OpenSslError()}});
    return;
  }
  ConnectionOrigin origin;
  origin.kind = ConnectionOrigin::Kind::kTls;
  origin.remote_address = peer;
  auto upstream = ConnectUpstream(std::move(origin));
  if (!upstream.ok()) {
    LogWarning("TLS relay failed", {{"ERROR", upstream.status().message()}});
    return;
  }
  Pump(ssl.get(), client.get(), upstream->fd());
  SSL_shutdown(ssl.get());
}

void TlsTerminator::Pump(SSL* ssl, int client, int upstream) {
  char buf[16 * 1024];
  bool client_open = true;
  for (;;) {
    // Decrypted bytes may already wait inside OpenSSL; poll() cannot see those.
    const bool buffered = client_open && SSL_pending(ssl) > 0;
    pollfd fds[3] = {
        {client_open ? client : -1, POLLIN, 0}, {upstream, POLLIN, 0}, {stop_fd(), POLLIN, 0}};
    if (!buffered && ::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[2].revents != 0) return;
    if (client_open && (buffered || fds[0].revents != 0)) {
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        if (!SendAll(upstream, buf, static_cast<size_t>(n))) return;
      } else if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ) {
        client_open = false;
        ::shutdown(upstream, SHUT_WR);
      }
    }
    if (fds[1].revents != 0) {
      const ssize_t n = ::read(upstream, buf, sizeof buf);
      if (n <= 0 || !SslWriteAll(ssl, buf, static_cast<size_t>(n))) return;
    }
  }
}

}  // namespace paddock
