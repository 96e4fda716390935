#include "daemon/api_server.h"

#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/unique_fd.h"
#include "daemon/problem.h"

namespace paddock {
namespace {

constexpr char kInternalListen[] = "127.0.0.1:0";

bool IsJsonContentType(std::string_view value) {
  const auto semicolon = value.find(';');
  std::string_view media = value.substr(0, semicolon);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return media.size() == 16 && ::strncasecmp(media.data(), "application/json", 16) == 0;
}

std::string BearerToken(const HttpRequest& request) {
  const std::string header = request.Header("Authorization");
  if (header.size() <= 7 || ::strncasecmp(header.c_str(), "Bearer ", 7) != 0) return "";
  return header.substr(7);
}

HttpRequest ToRequest(const mg_request_info* info) {
  HttpRequest request;
  request.method = info->request_method;
  // civetweb runs with decode_url=no: the router splits the path before decoding its segments.
  request.raw_path = info->local_uri != nullptr ? info->local_uri : "/";
  request.path = PercentDecode(request.raw_path);
  if (info->query_string != nullptr) request.query = info->query_string;
  for (int i = 0; i < info->num_headers; ++i) {
    request.headers.emplace(info->http_headers[i].name, info->http_headers[i].value);
  }
  return request;
}

void WriteResponse(mg_connection* conn, const HttpRequest& request, const HttpResponse& response) {
  mg_response_header_start(conn, response.status);
  if (!response.content_type.empty()) {
    mg_response_header_add(conn, "Content-Type", response.content_type.c_str(), -1);
  }
  const std::string length = std::to_string(response.body.size());
  const bool chunked = response.stream && !response.stream_length;
  if (chunked) {
    mg_response_header_add(conn, "Transfer-Encoding", "chunked", -1);
  } else if (response.stream) {
    mg_response_header_add(conn, "Content-Length", std::to_string(*response.stream_length).c_str(),
                           -1);
  } else {
    mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  }
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  for (const auto& [name, value] : response.headers) {
    mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
  }
  mg_response_header_send(conn);
  if (request.method == "HEAD") return;
  if (response.stream) {
    response.stream([conn, chunked](std::string_view data) {
      if (data.empty()) return true;
      if (!chunked) return mg_write(conn, data.data(), data.size()) > 0;
      return mg_send_chunk(conn, data.data(), static_cast<unsigned int>(data.size())) > 0;
    });
    if (response.stream_failed && response.stream_failed->load()) {
      mg_disable_connection_keep_alive(conn);  // closed short: the client sees the failure
      return;
    }
    if (chunked) mg_send_chunk(conn, "", 0);  // the terminating chunk
  } else if (!response.body.empty()) {
    mg_write(conn, response.body.data(), response.body.size());
  }
}

std::string JoinMethods(const std::vector<std::string>& methods) {
  std::string out;
  for (const auto& m : methods) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const DaemonConfig& config, Dependencies deps) {
  static const unsigned kLibraryInit = mg_init_library(0);
  (void)kLibraryInit;
  std::unique_ptr<ApiServer> server(new ApiServer(deps, config.max_body_bytes));
  const bool plain_public = config.tcp_enabled && !config.tls_enabled();
  std::string ports;
  if (plain_public) ports = config.listen.ToString() + ",";
  ports += kInternalListen;
  const std::string threads = std::to_string(config.http_threads);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", threads.c_str(),
                           "enable_keep_alive", "yes", "request_timeout_ms", "30000",
                           "keep_alive_timeout_ms", "30000", "tcp_nodelay", "1",
                           // On close, drain what the client still sends (a refused 413 body)
                           // so the kernel does not answer it with a reset that loses the reply.
                           "linger_timeout_ms", "1000",
                           // Paths reach the router encoded, so that "%2F" in a segment (a branch
                           // "team/x") stays inside that segment; the router decodes.
                           "decode_url", "no", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &ApiServer::LogMessage;
  mg_init_data init{&callbacks, server.get(), options};
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text, sizeof error_text};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return Status::Unavailable("cannot start HTTP server on " +
                               (plain_public ? config.listen.ToString() : std::string("loopback")) +
                               ": " + error_text);
  }
  mg_server_port listening[2];
  const int n = mg_get_server_ports(server->context_, 2, listening);
  if (n != (plain_public ? 2 : 1)) return Status::Internal("unexpected listening ports");
  server->public_port_ = plain_public ? listening[0].port : 0;
  server->internal_port_ = listening[n - 1].port;
  mg_set_request_handler(server->context_, "/", &ApiServer::HandleRequest, server.get());
  return server;
}

ApiServer::ApiServer(Dependencies deps, size_t max_body_bytes)
    : deps_(deps), max_body_bytes_(max_body_bytes) {}

ApiServer::~ApiServer() { Stop(); }

namespace {

// Opens and closes a loopback connection to `port`: civetweb's master thread polls its listeners
// with a 2 s timeout and only notices the stop flag when the poll returns.
void PokeListener(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd) (void)::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
}

}  // namespace

void ApiServer::Stop() {
  if (context_ == nullptr) return;
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    mg_stop(context_);
    stopped = true;
  });
  while (!stopped) {
    PokeListener(internal_port_);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stopper.join();
  context_ = nullptr;
}

int ApiServer::LogMessage(const mg_connection*, const char* message) {
  LogWarning(std::string("http: ") + message);
  return 1;
}

int ApiServer::HandleRequest(mg_connection* conn, void* self) {
  auto* server = static_cast<ApiServer*>(self);
  const auto start = std::chrono::steady_clock::now();
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest request = ToRequest(info);
  request.caller = server->IdentifyCaller(request, info->server_port, info->remote_port);
  std::string route_label = "unmatched";
  HttpResponse response;
  try {
    if (!server->ready_.load(std::memory_order_acquire)) {
      response = Problem(503, "starting", "Starting", "paddockd is starting; retry shortly");
      response.headers.emplace_back("Retry-After", "1");
    } else {
      response = server->Serve(conn, request, &route_label);
    }
  } catch (const std::exception& e) {
    LogError("request handler failed", {{"PATH", request.path}, {"ERROR", e.what()}});
    response = Problem(500, "internal", "Internal error", "the request could not be completed");
  }
  // Counted before the bytes go out: a client that reads /metrics right after its previous
  // response arrived must see that request counted.
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  server->deps_.metrics->Observe(request.method, route_label, response.status, seconds);
  WriteResponse(conn, request, response);
  if (GetLogLevel() <= LogLevel::kDebug) {
    LogDebug("http request", {{"METHOD", request.method},
                              {"PATH", request.path},
                              {"STATUS", std::to_string(response.status)}});
  }
  return response.status;
}

Caller ApiServer::IdentifyCaller(const HttpRequest& request, int server_port,
                                 int remote_port) const {
  Caller caller;
  if (server_port == internal_port_) {
    // Only the relays may use the internal port; an unregistered connection stays anonymous.
    auto origin = deps_.connections->Find(remote_port);
    if (!origin) return caller;
    if (origin->kind == ConnectionOrigin::Kind::kUnixSocket) {
      caller.kind = Caller::Kind::kUnixPeer;
      caller.uid = origin->peer.uid;
      caller.gid = origin->peer.gid;
      caller.pid = origin->peer.pid;
      caller.admin = origin->peer.uid == 0;
      return caller;
    }
  }
  if (auto token = deps_.tokens->Authenticate(BearerToken(request))) {
    caller.kind = Caller::Kind::kToken;
    caller.token_name = token->name;
    caller.admin = token->admin;
  }
  return caller;
}

HttpResponse ApiServer::Serve(mg_connection* conn, HttpRequest& request, std::string* route_label) {
  Router::Match match = deps_.router->Find(request.method, request.raw_path);
  if (match.route != nullptr) *route_label = match.route->pattern;
  const bool api_path = request.path == "/api" || request.path.starts_with("/api/");
  // Anonymous callers learn nothing about /api, not even which routes exist.
  if (api_path && !request.caller.authenticated()) {
    HttpResponse r = Problem(401, "unauthorized", "Unauthorized",
                             "send \"Authorization: Bearer <token>\" or use the unix socket");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"paddock\"");
    return r;
  }
  if (match.route == nullptr) {
    if (!match.allowed_methods.empty()) {
      HttpResponse r = Problem(405, "method-not-allowed", "Method not allowed",
                               request.method + " is not allowed on " + request.path);
      r.headers.emplace_back("Allow", JoinMethods(match.allowed_methods));
      return r;
    }
    return Problem(404, "not-found", "Not found", "no route for " + request.path);
  }
  const Route& route = *match.route;
  request.path_params = std::move(match.params);
  if (route.options.requires_auth && !request.caller.authenticated()) {
    return Problem(401, "unauthorized", "Unauthorized", "authentication required");
  }
  if (route.options.admin_only && !request.caller.admin) {
    return Problem(403, "forbidden", "Forbidden", "this operation needs an admin caller");
  }
  const long long content_length = mg_get_request_info(conn)->content_length;
  const bool json = IsJsonContentType(request.Header("Content-Type"));
  if (route.options.stream_body && !json) return ServeStreamedBody(conn, route, request);
  if (route.options.json_body && !json) {
    return Problem(415, "unsupported-media-type", "Unsupported media type",
                   "send the body as Content-Type: application/json");
  }
  if (auto error = ReadBody(conn, content_length, request)) return *error;
  if (route.options.json_body) {
    request.json = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (request.json.is_discarded()) {
      return Problem(400, "malformed-json", "Malformed JSON", "the request body is not valid JSON");
    }
    if (!request.json.is_object()) {
      return Problem(400, "invalid-request", "Invalid request", "the body must be a JSON object");
    }
  }
  return route.handler(request);
}

HttpResponse ApiServer::ServeStreamedBody(mg_connection* conn, const Route& route,
                                          HttpRequest& request) const {
  // mg_read answers 0 once the body (by Content-Length or chunked encoding) has been read.
  auto ended = std::make_shared<bool>(false);
  request.body_reader = [conn, ended](char* buffer, size_t capacity) -> Result<size_t> {
    if (*ended) return size_t{0};
    const int n = mg_read(conn, buffer, capacity);
    if (n < 0) return Status::Unavailable("the client's connection failed while sending the body");
    if (n == 0) *ended = true;
    return static_cast<size_t>(n);
  };
  HttpResponse response = route.handler(request);
  request.body_reader = nullptr;
  if (!*ended) DiscardBody(conn);
  return response;
}

void ApiServer::DiscardBody(mg_connection* conn) {
  // A handler that refused the body early (a hostile archive) left the rest unread. Reading a
  // little more lets a client that sends everything before reading see the answer; past that,
  // the connection is closed after the answer instead of reading on for an unbounded body.
  constexpr size_t kDiscardLimit = 8 << 20;
  std::vector<char> buf(64 * 1024);
  size_t discarded = 0;
  while (discarded < kDiscardLimit) {
    const int n = mg_read(conn, buf.data(), buf.size());
    if (n <= 0) return;
    discarded += static_cast<size_t>(n);
  }
  mg_disable_connection_keep_alive(conn);
}

std::optional<HttpResponse> ApiServer::ReadBody(mg_connection* conn, long long content_length,
                                                HttpRequest& request) const {
  const size_t limit = max_body_bytes_.load();
  auto too_large = [&] {
    return Problem(413, "payload-too-large", "Payload too large",
                   "request bodies are limited to " + std::to_string(limit) + " bytes");
  };
  if (content_length > 0 && static_cast<unsigned long long>(content_length) > limit) {
    // Do not read what we refuse; the connection cannot be reused after an unread body.
    mg_disable_connection_keep_alive(conn);
    return too_large();
  }
  // On the heap: civetweb runs handlers on small thread stacks.
  std::vector<char> buf(16 * 1024);
  for (;;) {
    const int n = mg_read(conn, buf.data(), buf.size());
    if (n <= 0) break;
    request.body.append(buf.data(), static_cast<size_t>(n));
    if (request.body.size() > limit) {
      mg_disable_connection_keep_alive(conn);
      return too_large();
    }
  }
  return std::nullopt;
}

}  // namespace paddock
