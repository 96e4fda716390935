// The OpenAPI document and the route table must describe the same API: a route without
// documentation, or documentation of a route that does not exist, fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/api_routes.h"

namespace paddock {
namespace {

std::set<std::string> Lower(const std::set<std::string>& in) {
  std::set<std::string> out;
  for (std::string s : in) {
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    out.insert(s);
  }
  return out;
}

TEST(OpenApiTest, DocumentIsOpenApi31) {
  auto doc = nlohmann::json::parse(OpenApiDocument());
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_EQ(doc["info"]["version"], PADDOCK_VERSION);
}

TEST(OpenApiTest, EveryRouteIsDocumentedAndEveryDocumentedRouteExists) {
  Router router;
  ApiContext context;
  RegisterRoutes(&router, &context);
  std::set<std::string> routes;
  for (const Route& r : router.routes()) routes.insert(r.method + " " + r.pattern);

  auto doc = nlohmann::json::parse(OpenApiDocument());
  std::set<std::string> documented;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      documented.insert(method + " " + path);
    }
  }
  EXPECT_EQ(Lower(routes), documented);
}

TEST(OpenApiTest, OpenRoutesDeclareNoSecurity) {
  Router router;
  ApiContext context;
  RegisterRoutes(&router, &context);
  auto doc = nlohmann::json::parse(OpenApiDocument());
  for (const Route& r : router.routes()) {
    std::string method = r.method;
    std::transform(method.begin(), method.end(), method.begin(), ::tolower);
    const auto& op = doc["paths"][r.pattern][method];
    const bool documented_open = op.contains("security") && op["security"].empty();
    EXPECT_EQ(documented_open, !r.options.requires_auth) << r.method << " " << r.pattern;
  }
}

}  // namespace
}  // namespace paddock
