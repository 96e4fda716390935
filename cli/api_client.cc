#include "cli/api_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>

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
    PADDOCK_RETURN_IF_ERROR(AppendHeader(exchange.headers, "Content-Type: application/json"));
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

Result<ApiResponse> ApiClient::Delete(std::string_view path) const {
  return Send("DELETE", path, {});
}

std::string ApiClient::Describe() const {
  return UsesTcp() ? endpoint_.url : "unix socket " + endpoint_.socket_path;
}

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
                                    std::string_view json_body) const {
  if (!UsesTcp()) PADDOCK_RETURN_IF_ERROR(CheckSocketReachable());
  CurlEasy curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");

  Exchange exchange;
  exchange.method = method;
  exchange.body = json_body;
  // Over the socket the host part of the URL only fills the Host header.
  exchange.url = (UsesTcp() ? endpoint_.url : std::string("http://localhost")) + std::string(path);
  PADDOCK_RETURN_IF_ERROR(BuildHeaders(endpoint_, exchange));
  PADDOCK_RETURN_IF_ERROR(ConfigureTransfer(curl.get(), endpoint_, exchange));

  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    return Status::Unavailable("cannot reach paddockd at " + Describe() + ": " +
                               DescribeTransferError(rc, exchange.error_text, UsesTcp()));
  }
  long status = 0;
  const char* content_type = nullptr;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(curl.get(), CURLINFO_CONTENT_TYPE, &content_type);
  exchange.response.status = static_cast<int>(status);
  if (content_type != nullptr) exchange.response.content_type = content_type;
  return std::move(exchange.response);
}

}  // namespace paddock::cli
