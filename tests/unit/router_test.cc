#include "daemon/router.h"

#include <gtest/gtest.h>

namespace paddock {
namespace {

Handler Returns(int status) {
  return [status](HttpRequest&) { return HttpResponse::Json(status, nullptr); };
}

TEST(RouterTest, MatchesLiteralAndPlaceholderSegments) {
  Router r;
  r.Add("GET", "/api/v1/tokens", {}, Returns(200));
  r.Add("DELETE", "/api/v1/tokens/{name}", {}, Returns(204));
  auto m = r.Find("DELETE", "/api/v1/tokens/ci-bot");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/v1/tokens/{name}");
  EXPECT_EQ(m.params.at("name"), "ci-bot");
  EXPECT_NE(r.Find("GET", "/api/v1/tokens").route, nullptr);
}

TEST(RouterTest, UnknownPathHasNoAllowedMethods) {
  Router r;
  r.Add("GET", "/api/v1/tokens", {}, Returns(200));
  auto m = r.Find("GET", "/api/v1/nope");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.allowed_methods.empty());
  EXPECT_EQ(r.Find("GET", "/api/v1/tokens/").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/api/v1/tokens/a/b").route, nullptr);
}

TEST(RouterTest, WrongMethodListsTheAllowedOnes) {
  Router r;
  r.Add("GET", "/api/v1/tokens", {}, Returns(200));
  r.Add("POST", "/api/v1/tokens", {}, Returns(201));
  auto m = r.Find("PUT", "/api/v1/tokens");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed_methods, (std::vector<std::string>{"GET", "POST"}));
}

TEST(RouterTest, HeadIsServedByGet) {
  Router r;
  r.Add("GET", "/healthz", {}, Returns(200));
  auto m = r.Find("HEAD", "/healthz");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");
}

}  // namespace
}  // namespace paddock
