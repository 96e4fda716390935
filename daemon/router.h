// Router: maps (method, path) to a handler. Patterns are literal segments and "{name}"
// placeholders, e.g. "/api/v1/tokens/{name}". The route table is also what the OpenAPI document
// is checked against (tests/unit/openapi_test.cc), so a route cannot exist undocumented.
//
// Paths are matched as sent, percent-encoded: a path is split on '/' first and each segment
// decoded afterwards, so "%2F" inside a segment is a '/' in a placeholder's value (a branch
// "team/x" is "/branches/team%2Fx") rather than a segment boundary.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "daemon/http_types.h"

namespace paddock {

using Handler = std::function<HttpResponse(HttpRequest&)>;

struct RouteOptions {
  bool requires_auth = true;  // false only for /healthz and /metrics
  bool json_body = false;     // the route reads a JSON body: content type and size are checked
  bool admin_only = false;    // callers must be admin (root on the socket, or an admin token)
  // The route reads its body itself, as it arrives, through HttpRequest::body_reader, and bounds
  // it itself: api.max_body_bytes does not apply (uploads of any size). With json_body too, a
  // JSON body is still read, capped and parsed as usual; any other content type is streamed.
  bool stream_body = false;
};

struct Route {
  std::string method;
  std::string pattern;
  RouteOptions options;
  Handler handler;
};

class Router {
 public:
  void Add(std::string method, std::string pattern, RouteOptions options, Handler handler);

  struct Match {
    const Route* route = nullptr;               // null when nothing matched
    std::map<std::string, std::string> params;  // placeholder values, percent-decoded
    std::vector<std::string> allowed_methods;   // path matched, method did not (for 405)
  };
  // `path` as sent (percent-encoded), without the query.
  Match Find(const std::string& method, const std::string& path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace paddock
