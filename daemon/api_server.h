// ApiServer: the HTTP front of paddockd, on civetweb.
//
// It owns everything between the socket and a route handler: caller identification (bearer token
// on TCP and TLS, SO_PEERCRED for unix-socket callers; see ConnectionRegistry), 401/403,
// 404/405 with Allow, request body limits (413), JSON content type (415) and parsing (400),
// problem+json for every error, exception containment, and per-route metrics. Handlers see a
// parsed HttpRequest and return an HttpResponse. Routes with RouteOptions::stream_body read
// non-JSON bodies themselves as they arrive (uploads larger than memory); their responses, like
// any, may be streamed (HttpResponse::stream).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "daemon/config.h"
#include "daemon/connection_registry.h"
#include "daemon/metrics.h"
#include "daemon/router.h"
#include "daemon/token_store.h"

struct mg_context;
struct mg_connection;

namespace paddock {

class ApiServer {
 public:
  struct Dependencies {
    const Router* router;
    const TokenStore* tokens;
    const ConnectionRegistry* connections;
    HttpMetrics* metrics;
  };

  // Starts listening on config.listen for plain HTTP (when TCP is on and TLS is off) and on an
  // internal loopback port that the unix-socket and TLS front ends relay into. Everything in
  // `deps` must outlive the server.
  static Result<std::unique_ptr<ApiServer>> Start(const DaemonConfig& config, Dependencies deps);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Stops accepting and waits for requests in flight.
  void Stop();

  int public_port() const { return public_port_; }  // 0 when plain TCP is off
  int internal_port() const { return internal_port_; }
  // Applied on reload.
  void set_max_body_bytes(size_t bytes) { max_body_bytes_ = bytes; }
  // Until called, every request gets 503: the daemon is still wiring what handlers read.
  void SetReady() { ready_ = true; }

 private:
  ApiServer(Dependencies deps, size_t max_body_bytes);
  static int HandleRequest(mg_connection* conn, void* self);
  static int LogMessage(const mg_connection* conn, const char* message);

  HttpResponse Serve(mg_connection* conn, HttpRequest& request, std::string* route_label);
  Caller IdentifyCaller(const HttpRequest& request, int server_port, int remote_port) const;
  // Reads the body (bounded by max_body_bytes_); returns an error response when it must stop.
  std::optional<HttpResponse> ReadBody(mg_connection* conn, long long content_length,
                                       HttpRequest& request) const;
  // Runs a stream_body route on a body that is not JSON: the handler reads it through
  // request.body_reader; what it leaves unread is discarded (or the connection closed).
  HttpResponse ServeStreamedBody(mg_connection* conn, const Route& route,
                                 HttpRequest& request) const;
  static void DiscardBody(mg_connection* conn);

  Dependencies deps_;
  std::atomic<size_t> max_body_bytes_;
  std::atomic<bool> ready_{false};
  mg_context* context_ = nullptr;
  int public_port_ = 0;
  int internal_port_ = 0;
};

}  // namespace paddock
