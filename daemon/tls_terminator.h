// TlsTerminator: the API's HTTPS listener. Performs the TLS handshake with OpenSSL and relays the
// decrypted stream to the HTTP server's internal port, marked as a TLS origin so the request is
// authenticated by bearer token like any TCP caller. (Debian 12's civetweb loads OpenSSL 3 at run
// time and crashes on the first TLS request, hence this.) TLS 1.2 is the minimum version.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/relay_server.h"

namespace paddock {

class TlsTerminator : public RelayServer {
 public:
  // Loads the PEM certificate chain and private key (they must match) and listens on `listen`.
  static Result<std::unique_ptr<TlsTerminator>> Start(const ListenAddress& listen,
                                                      const std::string& certificate_chain,
                                                      const std::string& private_key,
                                                      int target_port,
                                                      ConnectionRegistry* registry);
  ~TlsTerminator() override;

  int port() const { return port_; }

 private:
  struct ContextDeleter {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
  };
  using Context = std::unique_ptr<SSL_CTX, ContextDeleter>;

  TlsTerminator(UniqueFd listener, int port, Context context, int target_port,
                ConnectionRegistry* registry);
  void Serve(UniqueFd client) override;
  void Pump(SSL* ssl, int client, int upstream);

  int port_;
  Context context_;
};

}  // namespace paddock
