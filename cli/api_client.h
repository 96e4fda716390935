// ApiClient: the CLI's only way to talk to paddockd, over its REST API.
//
// The daemon listens on a unix socket (callers are identified by their credentials, no token) and
// optionally on TCP (every /api request carries `Authorization: Bearer <token>`). ApiClient hides
// that choice from the commands: they ask for a path and get the HTTP status, content type and
// body back. Only transport failures are errors here; an HTTP error status is a normal response
// that the caller interprets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace paddock::cli {

// Where the daemon is and how to reach it.
struct ApiEndpoint {
  std::string socket_path;  // used when `url` is empty
  std::string url;          // e.g. "http://127.0.0.1:7070"; when set, TCP is used
  std::string token;        // bearer token, sent over TCP only
  std::chrono::milliseconds timeout{30'000};
  std::string user_agent;

  bool UsesTcp() const { return !url.empty(); }
};

struct ApiResponse {
  int status = 0;
  std::string content_type;  // as sent, parameters included; empty when there was none
  std::string body;
};

// One GET whose body is handed over as it arrives instead of being collected: sandbox logs can be
// large, and a followed log only ends when its sandbox does.
struct StreamRequest {
  std::string path;
  // Gets the body of a 2xx response chunk by chunk. The body of an error response goes to
  // `response.body` instead, for ParseProblem.
  std::function<void(std::string_view chunk)> on_data;
  // A followed log can stay silent for as long as its sandbox does: only connecting is bounded by
  // the endpoint's timeout then, not the whole exchange.
  bool unbounded = false;
  // Extra request header lines, e.g. "Range: bytes=0-99".
  std::vector<std::string> headers;

  // Filled in by ApiClient::Stream: how the exchange ended.
  Status transport;      // not OK (kUnavailable) when the daemon could not be reached or hung up
  ApiResponse response;  // status and content type; the body only for an error response
};

// Lets the caller act while streams are open: `wake_fd` (when >= 0) interrupts the wait when it
// becomes readable, and `after_each_round` runs after every round of transfers, so it sees such
// a wake-up (Ctrl-C) or anything an on_data callback noted at once.
struct StreamHooks {
  int wake_fd = -1;
  std::function<void()> after_each_round;
  // Asked after every round: true ends Stream() at once, leaving unfinished requests as they are
  // (their `transport` OK, their response possibly partial), e.g. when the user detaches.
  std::function<bool()> stop_early;
};

// The body of an upload, read as it is sent: a tar archive can be far larger than memory.
struct UploadBody {
  std::string content_type;
  // Fills `buffer` with up to `capacity` bytes and returns how many, 0 at the end. An error stops
  // the upload; PostUpload then fails with it.
  std::function<Result<size_t>(char* buffer, size_t capacity)> read;
  // Sent as Content-Length when known; otherwise the body goes with chunked transfer encoding.
  std::optional<uint64_t> size;
};

class ApiClient {
 public:
  explicit ApiClient(ApiEndpoint endpoint);

  // `path` starts with '/', e.g. "/api/v1/status". Fails with kUnavailable when the daemon cannot
  // be reached or the exchange breaks off (refused, no socket, timeout, reset).
  Result<ApiResponse> Get(std::string_view path) const;
  Result<ApiResponse> Post(std::string_view path, std::string_view json_body) const;
  // POSTs raw bytes (application/octet-stream), e.g. input for a sandbox's terminal.
  Result<ApiResponse> PostBytes(std::string_view path, std::string_view body) const;
  Result<ApiResponse> Delete(std::string_view path) const;
  // POSTs a body read from `body` while it is sent. Only connecting is bounded by the endpoint's
  // timeout: sending gigabytes takes as long as it takes. Fails with the read error when
  // `body.read` failed, kUnavailable as Get does.
  Result<ApiResponse> PostUpload(std::string_view path, const UploadBody& body) const;

  // Runs the GETs concurrently until each has ended, filling in their `transport` and `response`.
  // Fails only when the transfers cannot be set up or driven (an internal error).
  Status Stream(std::span<StreamRequest> requests, const StreamHooks& hooks = {}) const;

  // How long the endpoint allows for one exchange; commands that wait on the daemon reuse it.
  std::chrono::milliseconds timeout() const { return endpoint_.timeout; }

  // Names the daemon's address for messages: "unix socket /path" or the URL.
  std::string Describe() const;

  // Whether requests go over TCP (with a token), where the daemon cannot know the caller's uid
  // and so never touches host paths on its behalf.
  bool uses_tcp() const { return endpoint_.UsesTcp(); }

 private:
  Result<ApiResponse> Send(std::string_view method, std::string_view path, std::string_view body,
                           std::string_view content_type = "application/json") const;
  // Gives a clear reason for the common unix-socket failures before curl's generic one.
  Status CheckSocketReachable() const;
  bool UsesTcp() const { return endpoint_.UsesTcp(); }

  ApiEndpoint endpoint_;
};

// Percent-encodes one path segment (RFC 3986: everything but unreserved characters), so that a
// name like "a/b" stays one segment.
std::string EscapePathSegment(std::string_view segment);

}  // namespace paddock::cli
