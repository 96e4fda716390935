#include "daemon/router.h"

#include <algorithm>

namespace paddock {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return out;
}

bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string>* params) {
  // A trailing slash is a different resource; "/api/v1/tokens/" does not match "/api/v1/tokens".
  if (path.size() > 1 && path.back() == '/') return false;
  const auto want = Segments(pattern);
  const auto have = Segments(path);
  if (want.size() != have.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < want.size(); ++i) {
    std::string segment = PercentDecode(have[i]);
    if (want[i].size() > 2 && want[i].front() == '{' && want[i].back() == '}') {
      found.emplace(std::string(want[i].substr(1, want[i].size() - 2)), std::move(segment));
    } else if (want[i] != segment) {
      return false;
    }
  }
  if (params != nullptr) *params = std::move(found);
  return true;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, RouteOptions options, Handler handler) {
  routes_.push_back({std::move(method), std::move(pattern), options, std::move(handler)});
}

Router::Match Router::Find(const std::string& method, const std::string& path) const {
  Match match;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPattern(route.pattern, path, &params)) continue;
    if (route.method == method) {
      match.route = &route;
      match.params = std::move(params);
      match.allowed_methods.clear();
      return match;
    }
    match.allowed_methods.push_back(route.method);
  }
  // HEAD is served wherever GET is (civetweb drops the body).
  if (method == "HEAD" && std::find(match.allowed_methods.begin(), match.allowed_methods.end(),
                                    "GET") != match.allowed_methods.end()) {
    return Find("GET", path);
  }
  return match;
}

}  // namespace paddock
