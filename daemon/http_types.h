// The daemon's view of an HTTP exchange, independent of the server library underneath.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace paddock {

// Who is calling. Unix-socket callers are identified by the kernel (SO_PEERCRED); TCP callers by
// the bearer token they present.
struct Caller {
  enum class Kind { kAnonymous, kUnixPeer, kToken };
  Kind kind = Kind::kAnonymous;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  std::string token_name;
  bool admin = false;

  bool authenticated() const { return kind != Kind::kAnonymous; }
  nlohmann::json ToJson() const;
};

// Decodes %XX escapes (a '+' stays a '+': this is for paths, not form-encoded queries); a '%'
// not followed by two hex digits is kept as it is.
std::string PercentDecode(std::string_view in);

struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const;
};

// Reads the next bytes of a request body into `buffer` (at most `capacity`); 0 at its end.
using BodyReader = std::function<Result<size_t>(char* buffer, size_t capacity)>;

struct HttpRequest {
  std::string method;
  std::string path;      // decoded path, without the query (for messages and logs)
  std::string raw_path;  // the path as sent, percent-encoded: what the router matches
  std::string query;     // raw query string, without '?'
  std::map<std::string, std::string, CaseInsensitiveLess> headers;
  std::string body;
  nlohmann::json json;  // the parsed body, for routes that take JSON (an object)
  Caller caller;
  std::map<std::string, std::string> path_params;  // filled by the router, e.g. {"name": "ci"}
  // Set instead of `body` for routes that stream their request body (RouteOptions::stream_body):
  // the handler reads the body as it arrives, so it is never held in memory whole.
  BodyReader body_reader;

  // The decoded value of query parameter `name`, or "" when absent.
  std::string QueryParam(std::string_view name) const;
  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed instead: the server sends the headers with chunked transfer
  // encoding and calls `stream` with a writer; the writer returns false once the client is gone,
  // and `stream` should then return. It runs on the request's worker thread.
  std::function<void(const std::function<bool(std::string_view)>& write)> stream;
  // With `stream`: the exact number of bytes it writes when known in advance, sent as
  // Content-Length instead of chunked encoding (file downloads: clients see the size up front).
  std::optional<uint64_t> stream_length;
  // With `stream`: set by the stream when it stops on an error of its own. The server then closes
  // the connection without completing the body (no last chunk, or short of Content-Length), so
  // the client sees a failed transfer rather than a well-formed but truncated body.
  std::shared_ptr<std::atomic<bool>> stream_failed;

  static HttpResponse Json(int status, const nlohmann::json& body);
  static HttpResponse Text(int status, std::string content_type, std::string body);
  static HttpResponse NoContent();
};

}  // namespace paddock
