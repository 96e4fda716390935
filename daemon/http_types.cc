#include "daemon/http_types.h"

#include <strings.h>

#include "base/hex.h"

namespace paddock {

nlohmann::json Caller::ToJson() const {
  switch (kind) {
    case Kind::kUnixPeer:
      return {{"kind", "unix"}, {"uid", uid}, {"gid", gid}, {"pid", pid}, {"admin", admin}};
    case Kind::kToken:
      return {{"kind", "token"}, {"token_name", token_name}, {"admin", admin}};
    case Kind::kAnonymous:
      break;
  }
  return {{"kind", "anonymous"}, {"admin", false}};
}

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  const size_t n = std::min(a.size(), b.size());
  const int c = ::strncasecmp(a.data(), b.data(), n);
  return c != 0 ? c < 0 : a.size() < b.size();
}

namespace {

// Decodes one escape at in[i] ('%' followed by two hex digits), or returns -1.
int EscapedByte(std::string_view in, size_t i) {
  if (in[i] != '%' || i + 2 >= in.size()) return -1;
  const int high = HexDigitValue(in[i + 1]);
  const int low = HexDigitValue(in[i + 2]);
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

std::string DecodeQueryComponent(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const int byte = EscapedByte(in, i);
    if (in[i] == '+') {
      out += ' ';
    } else if (byte >= 0) {
      out += static_cast<char>(byte);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

}  // namespace

std::string PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const int byte = EscapedByte(in, i);
    if (byte >= 0) {
      out += static_cast<char>(byte);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::string HttpRequest::QueryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (DecodeQueryComponent(pair.substr(0, eq)) != name) continue;
    return eq == std::string_view::npos ? std::string() : DecodeQueryComponent(pair.substr(eq + 1));
  }
  return "";
}

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse HttpResponse::Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string content_type, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::NoContent() {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

}  // namespace paddock
