#include "cli/api_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

namespace paddock::cli {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

// Remembers the first failing setopt so that a sequence of them needs only one check.
template <typename T>
void SetOption(CURL* curl, CURLoption option, T value, CURLcode& first_error) {
  const CURLcode rc = curl_easy_setopt(curl, option, value);
  if (first_error == CURLE_OK) first_error = rc;
}

size_t AppendToString(char* data, size_t size, size_t count, void* userdata) {
  static_cast<std::string*>(userdata)->append(data, size * count);
  return size * count;
}

struct CurlListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlList = std::unique_ptr<curl_slist, CurlListDeleter>;

// What curl reads from and writes into during one request; it must outlive curl_easy_perform.
struct Exchange {
  std::string method;
  std::string url;
  std::string body;  // a string, never a null pointer: POSTFIELDS(nullptr) would read stdin
  std::string content_type = "application/json";  // of a non-empty body
  CurlList headers;
  char error_text[CURL_ERROR_SIZE] = {};
  ApiResponse response;
};

Status AppendHeader(CurlList& headers, const std::string& line) {
  // curl_slist_append returns the same head when the list is not empty, a new one otherwise,
  // and null (leaving the list intact) when out of memory.
  curl_slist* head = curl_slist_append(headers.get(), line.c_str());
  if (head == nullptr) return Status::Internal("out of memory building request headers");
  (void)headers.release();
  headers.reset(head);
  return Status::Ok();
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string PercentEncode(unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return {'%', kHex[c >> 4], kHex[c & 0xF]};
}

Status BuildHeaders(const ApiEndpoint& endpoint, Exchange& exchange) {
  PADDOCK_RETURN_IF_ERROR(
      AppendHeader(exchange.headers, "Accept: application/json, application/problem+json"));
  if (!exchange.body.empty()) {
    PADDOCK_RETURN_IF_ERROR(
        AppendHeader(exchange.headers, "Content-Type: " + exchange.content_type));
  }
  // The unix socket identifies callers by their credentials; a token is for TCP only.
  if (endpoint.UsesTcp() && !endpoint.token.empty()) {
    PADDOCK_RETURN_IF_ERROR(
        AppendHeader(exchange.headers, "Authorization: Bearer " + endpoint.token));
  }
  return Status::Ok();
}

Status ConfigureTransfer(CURL* curl, const ApiEndpoint& endpoint, Exchange& exchange) {
  const long timeout_ms = static_cast<long>(endpoint.timeout.count());
  CURLcode first_error = CURLE_OK;
  SetOption(curl, CURLOPT_URL, exchange.url.c_str(), first_error);
  SetOption(curl, CURLOPT_PROTOCOLS_STR, "http,https", first_error);
  // Path segments arrive escaped; curl must not squash "." or ".." segments on its own.
  SetOption(curl, CURLOPT_PATH_AS_IS, 1L, first_error);
  SetOption(curl, CURLOPT_NOSIGNAL, 1L, first_error);
  SetOption(curl, CURLOPT_TIMEOUT_MS, timeout_ms, first_error);
  SetOption(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms, first_error);
  SetOption(curl, CURLOPT_HTTPHEADER, exchange.headers.get(), first_error);
  SetOption(curl, CURLOPT_USERAGENT, endpoint.user_agent.c_str(), first_error);
  SetOption(curl, CURLOPT_ERRORBUFFER, exchange.error_text, first_error);
  SetOption(curl, CURLOPT_WRITEFUNCTION, &AppendToString, first_error);
  SetOption(curl, CURLOPT_WRITEDATA, &exchange.response.body, first_error);
  if (!endpoint.UsesTcp()) {
    SetOption(curl, CURLOPT_UNIX_SOCKET_PATH, endpoint.socket_path.c_str(), first_error);
    SetOption(curl, CURLOPT_PROXY, "", first_error);  // a proxy from the environment never applies
  }
  if (exchange.method == "POST") {
    SetOption(curl, CURLOPT_POSTFIELDS, exchange.body.c_str(), first_error);
    SetOption(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(exchange.body.size()),
              first_error);
  } else if (exchange.method != "GET") {
    SetOption(curl, CURLOPT_CUSTOMREQUEST, exchange.method.c_str(), first_error);
  }
  if (first_error != CURLE_OK) {
    return Status::Internal(std::string("configuring request: ") + curl_easy_strerror(first_error));
  }
  return Status::Ok();
}

// curl's detailed text, except where it would mislead: over a unix socket it speaks of
// "localhost port 80", which is only the URL it was handed.
std::string DescribeTransferError(CURLcode rc, const char* error_text, bool uses_tcp) {
  if (!uses_tcp && rc == CURLE_COULDNT_CONNECT) {
    return "nothing is listening on the socket (is paddockd running?)";
  }
  return error_text[0] != '\0' ? error_text : curl_easy_strerror(rc);
}

std::string DescribeEndpoint(const ApiEndpoint& endpoint) {
  return endpoint.UsesTcp() ? endpoint.url : "unix socket " + endpoint.socket_path;
}

// Over the socket the host part of the URL only fills the Host header.
std::string RequestUrl(const ApiEndpoint& endpoint, std::string_view path) {
  return (endpoint.UsesTcp() ? endpoint.url : std::string("http://localhost")) + std::string(path);
}

Status TransferFailure(CURLcode rc, const Exchange& exchange, const ApiEndpoint& endpoint) {
  return Status::Unavailable("cannot reach paddockd at " + DescribeEndpoint(endpoint) + ": " +
                             DescribeTransferError(rc, exchange.error_text, endpoint.UsesTcp()));
}

void ReadResponseInfo(CURL* curl, ApiResponse& response) {
  long status = 0;
  const char* content_type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
  response.status = static_cast<int>(status);
  if (content_type != nullptr) response.content_type = content_type;
}

// --- streaming ----------------------------------------------------------------------------------

// How long one wait for stream data may last before the loop goes round again; only bounds how
// late a hook notices something that did not wake the wait, as data and wake_fd end it at once.
constexpr int kStreamPollMs = 1000;

// One streamed GET: its handle, what curl reads and writes, and whom the body goes to.
struct StreamTransfer {
  CurlEasy curl;
  Exchange exchange;
  StreamRequest* request = nullptr;
  bool status_known = false;
  bool success = false;
  bool done = false;
};

size_t DeliverChunk(char* data, size_t size, size_t count, void* userdata) {
  auto* transfer = static_cast<StreamTransfer*>(userdata);
  const size_t length = size * count;
  // Headers are complete before the first byte of the body, so the status is known here.
  if (!transfer->status_known) {
    long status = 0;
    curl_easy_getinfo(transfer->curl.get(), CURLINFO_RESPONSE_CODE, &status);
    transfer->success = status >= 200 && status < 300;
    transfer->status_known = true;
  }
  if (transfer->success) {
    transfer->request->on_data(std::string_view(data, length));
  } else {
    transfer->exchange.response.body.append(data, length);
  }
  return length;
}

Result<std::unique_ptr<StreamTransfer>> PrepareStream(const ApiEndpoint& endpoint,
                                                      StreamRequest& request) {
  auto transfer = std::make_unique<StreamTransfer>();
  transfer->request = &request;
  transfer->curl.reset(curl_easy_init());
  if (!transfer->curl) return Status::Internal("curl_easy_init failed");
  CURL* curl = transfer->curl.get();
  Exchange& exchange = transfer->exchange;
  exchange.method = "GET";
  exchange.url = RequestUrl(endpoint, request.path);
  PADDOCK_RETURN_IF_ERROR(BuildHeaders(endpoint, exchange));
  for (const std::string& line : request.headers) {
    PADDOCK_RETURN_IF_ERROR(AppendHeader(exchange.headers, line));
  }
  PADDOCK_RETURN_IF_ERROR(ConfigureTransfer(curl, endpoint, exchange));
  CURLcode first_error = CURLE_OK;
  SetOption(curl, CURLOPT_WRITEFUNCTION, &DeliverChunk, first_error);
  SetOption(curl, CURLOPT_WRITEDATA, transfer.get(), first_error);
  SetOption(curl, CURLOPT_PRIVATE, transfer.get(), first_error);
  if (request.unbounded) {
    SetOption(curl, CURLOPT_TIMEOUT_MS, 0L, first_error);
    // Notices a daemon host that vanished without closing the connection (TCP only).
    SetOption(curl, CURLOPT_TCP_KEEPALIVE, 1L, first_error);
  }
  if (first_error != CURLE_OK) {
    return Status::Internal(std::string("configuring stream: ") + curl_easy_strerror(first_error));
  }
  return transfer;
}

// A multi handle and the easy handles added to it, which must leave it before either is freed.
struct MultiSession {
  CURLM* multi = curl_multi_init();
  std::vector<CURL*> added;

  MultiSession() = default;
  MultiSession(const MultiSession&) = delete;
  MultiSession& operator=(const MultiSession&) = delete;
  ~MultiSession() {
    for (CURL* curl : added) curl_multi_remove_handle(multi, curl);
    if (multi != nullptr) curl_multi_cleanup(multi);
  }

  void Remove(CURL* curl) {
    curl_multi_remove_handle(multi, curl);
    std::erase(added, curl);
  }

  Status Add(CURL* curl) {
    const CURLMcode rc = curl_multi_add_handle(multi, curl);
    if (rc != CURLM_OK) {
      return Status::Internal(std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
    }
    added.push_back(curl);
    return Status::Ok();
  }
};

Status MultiFailure(const char* what, CURLMcode rc) {
  return Status::Internal(std::string(what) + ": " + curl_multi_strerror(rc));
}

// Records how each transfer that ended since the last call went.
void CollectFinished(CURLM* multi, const ApiEndpoint& endpoint) {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    char* owner = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &owner);
    auto* transfer = reinterpret_cast<StreamTransfer*>(owner);
    StreamRequest& request = *transfer->request;
    transfer->done = true;
    if (message->data.result != CURLE_OK) {
      request.transport = TransferFailure(message->data.result, transfer->exchange, endpoint);
      continue;
    }
    ReadResponseInfo(message->easy_handle, transfer->exchange.response);
    request.response = std::move(transfer->exchange.response);
  }
}

// An unbounded stream may stay silent for as long as its sandbox does, but the daemon must still
// answer it (send the headers) within the endpoint's timeout: a daemon whose workers are all busy
// would otherwise leave the client hanging without a word.
void ExpireUnanswered(MultiSession& session,
                      const std::vector<std::unique_ptr<StreamTransfer>>& transfers,
                      const ApiEndpoint& endpoint, std::chrono::steady_clock::time_point deadline) {
  if (std::chrono::steady_clock::now() < deadline) return;
  for (const auto& transfer : transfers) {
    long status = 0;
    curl_easy_getinfo(transfer->curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (transfer->done || status != 0) continue;
    session.Remove(transfer->curl.get());
    transfer->done = true;
    transfer->request->transport = Status::Unavailable(
        "cannot reach paddockd at " + DescribeEndpoint(endpoint) + ": no answer within " +
        std::to_string(endpoint.timeout.count()) + " ms");
  }
}

// --- uploads ------------------------------------------------------------------------------------

// What curl reads an upload's body through; remembers why reading stopped early.
struct UploadState {
  const UploadBody* body = nullptr;
  Status error;
};

size_t ReadUploadChunk(char* buffer, size_t size, size_t count, void* userdata) {
  auto* state = static_cast<UploadState*>(userdata);
  Result<size_t> read = state->body->read(buffer, size * count);
  if (!read.ok()) {
    state->error = read.status();
    return CURL_READFUNC_ABORT;
  }
  return *read;
}

Status ConfigureUpload(CURL* curl, const UploadBody& body, UploadState& state) {
  CURLcode first_error = CURLE_OK;
  // A null POSTFIELDS makes curl take the body from the read callback.
  SetOption(curl, CURLOPT_POST, 1L, first_error);
  SetOption(curl, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr), first_error);
  // -1: unknown, sent chunked.
  const curl_off_t size = body.size ? static_cast<curl_off_t>(*body.size) : -1;
  SetOption(curl, CURLOPT_POSTFIELDSIZE_LARGE, size, first_error);
  SetOption(curl, CURLOPT_READFUNCTION, &ReadUploadChunk, first_error);
  SetOption(curl, CURLOPT_READDATA, &state, first_error);
  // A large body takes as long as it takes; connecting stays bounded.
  SetOption(curl, CURLOPT_TIMEOUT_MS, 0L, first_error);
  SetOption(curl, CURLOPT_TCP_KEEPALIVE, 1L, first_error);
  if (first_error != CURLE_OK) {
    return Status::Internal(std::string("configuring upload: ") + curl_easy_strerror(first_error));
  }
  return Status::Ok();
}

}  // namespace

std::string EscapePathSegment(std::string_view segment) {
  // "." and ".." would be read as dot segments and change which resource the path names.
  const bool only_dots = segment.find_first_not_of('.') == std::string_view::npos;
  std::string out;
  for (const char ch : segment) {
    const auto c = static_cast<unsigned char>(ch);
    out += IsUnreserved(c) && !only_dots ? std::string(1, ch) : PercentEncode(c);
  }
  return out;
}

ApiClient::ApiClient(ApiEndpoint endpoint) : endpoint_(std::move(endpoint)) {
  while (!endpoint_.url.empty() && endpoint_.url.back() == '/') endpoint_.url.pop_back();
}

Result<ApiResponse> ApiClient::Get(std::string_view path) const { return Send("GET", path, {}); }

Result<ApiResponse> ApiClient::Post(std::string_view path, std::string_view json_body) const {
  return Send("POST", path, json_body);
}

Result<ApiResponse> ApiClient::PostBytes(std::string_view path, std::string_view body) const {
  return Send("POST", path, body, "application/octet-stream");
}

Result<ApiResponse> ApiClient::Delete(std::string_view path) const {
  return Send("DELETE", path, {});
}

Result<ApiResponse> ApiClient::PostUpload(std::string_view path, const UploadBody& body) const {
  if (!UsesTcp()) PADDOCK_RETURN_IF_ERROR(CheckSocketReachable());
  CurlEasy curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");

  Exchange exchange;
  exchange.method = "POST";
  exchange.url = RequestUrl(endpoint_, path);
  PADDOCK_RETURN_IF_ERROR(BuildHeaders(endpoint_, exchange));
  PADDOCK_RETURN_IF_ERROR(AppendHeader(exchange.headers, "Content-Type: " + body.content_type));
  // Without this curl waits up to a second for "100 Continue" before sending a large body.
  PADDOCK_RETURN_IF_ERROR(AppendHeader(exchange.headers, "Expect:"));
  PADDOCK_RETURN_IF_ERROR(ConfigureTransfer(curl.get(), endpoint_, exchange));
  UploadState state{&body, Status::Ok()};
  PADDOCK_RETURN_IF_ERROR(ConfigureUpload(curl.get(), body, state));

  const CURLcode rc = curl_easy_perform(curl.get());
  if (!state.error.ok()) return state.error;
  if (rc != CURLE_OK) return TransferFailure(rc, exchange, endpoint_);
  ReadResponseInfo(curl.get(), exchange.response);
  return std::move(exchange.response);
}

std::string ApiClient::Describe() const { return DescribeEndpoint(endpoint_); }

Status ApiClient::CheckSocketReachable() const {
  // Connecting to a unix socket needs write permission on it; access() tells the two usual
  // mistakes (daemon not running, caller not allowed) apart, where curl only says "couldn't
  // connect".
  if (::access(endpoint_.socket_path.c_str(), W_OK) == 0) return Status::Ok();
  const int err = errno;
  if (err == ENOENT) {
    return Status::Unavailable("no daemon socket at " + endpoint_.socket_path +
                               " (is paddockd running?)");
  }
  return Status::Unavailable(Status::FromErrno(endpoint_.socket_path, err).message());
}

Result<ApiResponse> ApiClient::Send(std::string_view method, std::string_view path,
                                    std::string_view body, std::string_view content_type) const {
  if (!UsesTcp()) PADDOCK_RETURN_IF_ERROR(CheckSocketReachable());
  CurlEasy curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");

  Exchange exchange;
  exchange.method = method;
  exchange.body = body;
  exchange.content_type = content_type;
  exchange.url = RequestUrl(endpoint_, path);
  PADDOCK_RETURN_IF_ERROR(BuildHeaders(endpoint_, exchange));
  PADDOCK_RETURN_IF_ERROR(ConfigureTransfer(curl.get(), endpoint_, exchange));

  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) return TransferFailure(rc, exchange, endpoint_);
  ReadResponseInfo(curl.get(), exchange.response);
  return std::move(exchange.response);
}

Status ApiClient::Stream(std::span<StreamRequest> requests, const StreamHooks& hooks) const {
  if (!UsesTcp()) {
    if (const Status reachable = CheckSocketReachable(); !reachable.ok()) {
      for (StreamRequest& request : requests) request.transport = reachable;
      return Status::Ok();
    }
  }
  std::vector<std::unique_ptr<StreamTransfer>> transfers;
  for (StreamRequest& request : requests) {
    Result<std::unique_ptr<StreamTransfer>> transfer = PrepareStream(endpoint_, request);
    if (!transfer.ok()) return transfer.status();
    transfers.push_back(std::move(*transfer));
  }
  // Declared after `transfers`, so the handles leave the multi handle before they are freed.
  MultiSession session;
  if (session.multi == nullptr) return Status::Internal("curl_multi_init failed");
  for (const auto& transfer : transfers) PADDOCK_RETURN_IF_ERROR(session.Add(transfer->curl.get()));

  const auto answer_deadline = std::chrono::steady_clock::now() + endpoint_.timeout;

  while (true) {
    int running = 0;
    CURLMcode rc = curl_multi_perform(session.multi, &running);
    if (rc != CURLM_OK) return MultiFailure("curl_multi_perform", rc);
    CollectFinished(session.multi, endpoint_);
    ExpireUnanswered(session, transfers, endpoint_, answer_deadline);
    if (hooks.after_each_round) hooks.after_each_round();
    if (hooks.stop_early && hooks.stop_early()) return Status::Ok();
    const bool all_done = std::all_of(transfers.begin(), transfers.end(),
                                      [](const auto& transfer) { return transfer->done; });
    if (running == 0 || all_done) return Status::Ok();
    curl_waitfd wake{hooks.wake_fd, CURL_WAIT_POLLIN, 0};
    const unsigned int extra_fds = hooks.wake_fd >= 0 ? 1 : 0;
    rc = curl_multi_poll(session.multi, extra_fds > 0 ? &wake : nullptr, extra_fds, kStreamPollMs,
                         nullptr);
    if (rc != CURLM_OK) return MultiFailure("curl_multi_poll", rc);
  }
}

}  // namespace paddock::cli
