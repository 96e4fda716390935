// Router: maps (method, path) to a handler. Patterns are literal segments and "{name}"
// placeholders, e.g. "/api/v1/tokens/{name}". The route table is also what the OpenAPI document
// is checked against (tests/unit/openapi_test.cc), so a route cannot exist undocumented.
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
    std::map<std::string, std::string> params;  // placeholder values, decoded
    std::vector<std::string> allowed_methods;   // path matched, method did not (for 405)
  };
  Match Find(const std::string& method, const std::string& path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace paddock
