#include "daemon/api_routes.h"

#include <unistd.h>

#include <ctime>

#include "daemon/gpu_manager.h"
#include "daemon/gpu_routes.h"
#include "daemon/json_fields.h"
#include "daemon/problem.h"
#include "daemon/sandbox_manager.h"
#include "daemon/sandbox_routes.h"
#include "daemon/store_routes.h"

namespace paddock {

std::string FormatTimestamp(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc;
  ::gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

namespace {

nlohmann::json TokenJson(const TokenInfo& token) {
  return {
      {"name", token.name},
      {"admin", token.admin},
      {"created_at", FormatTimestamp(std::chrono::system_clock::from_time_t(token.created_at))}};
}

HttpResponse GetHealth(ApiContext*, HttpRequest&) {
  return HttpResponse::Json(200, {{"status", "ok"}});
}

HttpResponse GetMetrics(ApiContext* ctx, HttpRequest&) {
  std::string out;
  out.reserve(8192);
  out +=
      "# HELP paddock_build_info Version of the running paddockd.\n"
      "# TYPE paddock_build_info gauge\n"
      "paddock_build_info{version=\"" +
      EscapeLabelValue(ctx->version) + "\"} 1\n";
  out +=
      "# HELP paddock_api_tokens Bearer tokens that can reach the API.\n"
      "# TYPE paddock_api_tokens gauge\n"
      "paddock_api_tokens " +
      std::to_string(ctx->tokens->size()) + "\n";
  ctx->metrics->Render(&out);
  if (ctx->gpus != nullptr) ctx->gpus->RenderMetrics(&out);
  RenderProcessMetrics(&out);
  return HttpResponse::Text(200, "text/plain; version=0.0.4; charset=utf-8", std::move(out));
}

HttpResponse GetStatus(ApiContext* ctx, HttpRequest& request) {
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx->started_steady).count();
  HttpResponse r;
  r.body.reserve(ctx->status_fixed_members.size() + 192);
  r.body += '{';
  r.body += ctx->status_fixed_members;
  r.body += ",\"caller\":";
  r.body += request.caller.ToJson().dump();
  r.body += ",\"counts\":{\"api_tokens\":";
  r.body += std::to_string(ctx->tokens->size());
  r.body += ",\"daemon_starts\":";
  r.body += std::to_string(ctx->daemon_starts);
  r.body += ",\"sandboxes_running\":";
  r.body += std::to_string(ctx->sandboxes != nullptr ? ctx->sandboxes->running() : 0);
  r.body += "},\"uptime_seconds\":";
  r.body += nlohmann::json(uptime).dump();
  r.body += '}';
  return r;
}

HttpResponse GetOpenApi(ApiContext*, HttpRequest&) {
  return HttpResponse::Text(200, "application/json", std::string(OpenApiDocument()));
}

HttpResponse ListTokens(ApiContext* ctx, HttpRequest&) {
  nlohmann::json tokens = nlohmann::json::array();
  for (const TokenInfo& t : ctx->tokens->List()) tokens.push_back(TokenJson(t));
  return HttpResponse::Json(200, {{"tokens", std::move(tokens)}});
}

HttpResponse CreateToken(ApiContext* ctx, HttpRequest& request) {
  if (auto invalid = CheckFields(
          request.json, {{"name", JsonType::kString, true}, {"admin", JsonType::kBoolean}})) {
    return *invalid;
  }
  const std::string name = request.json["name"];
  if (!TokenStore::IsValidName(name)) {
    return InvalidParam("name", "must be 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  auto created = ctx->tokens->Create(name, request.json.value("admin", false));
  if (!created.ok()) return ProblemFromStatus(created.status());
  nlohmann::json body = TokenJson(created->first);
  body["token"] = created->second;
  HttpResponse r = HttpResponse::Json(201, body);
  r.headers.emplace_back("Location", "/api/v1/tokens/" + name);
  return r;
}

HttpResponse DeleteToken(ApiContext* ctx, HttpRequest& request) {
  Status s = ctx->tokens->Remove(request.path_params.at("name"));
  if (!s.ok()) return ProblemFromStatus(s);
  return HttpResponse::NoContent();
}

// Binds a handler to the context.
Handler Bind(ApiContext* ctx, HttpResponse (*fn)(ApiContext*, HttpRequest&)) {
  return [ctx, fn](HttpRequest& request) { return fn(ctx, request); };
}

}  // namespace

void PrepareStatusDocument(ApiContext* ctx) {
  const nlohmann::json fixed = {{"version", ctx->version},
                                {"started_at", FormatTimestamp(ctx->started_at)},
                                {"pid", ::getpid()},
                                {"cgroup_mode", ctx->cgroup_mode},
                                {"state_dir", ctx->state_dir},
                                {"listen", ctx->listen},
                                {"tls", ctx->tls}};
  const std::string object = fixed.dump();
  ctx->status_fixed_members = object.substr(1, object.size() - 2);  // without the braces
}

void RegisterRoutes(Router* router, ApiContext* ctx) {
  const RouteOptions open{.requires_auth = false};
  const RouteOptions authed{};
  const RouteOptions admin{.admin_only = true};
  const RouteOptions admin_json{.json_body = true, .admin_only = true};
  router->Add("GET", "/healthz", open, Bind(ctx, GetHealth));
  router->Add("GET", "/metrics", open, Bind(ctx, GetMetrics));
  router->Add("GET", "/api/v1/status", authed, Bind(ctx, GetStatus));
  router->Add("GET", "/api/v1/openapi.json", authed, Bind(ctx, GetOpenApi));
  router->Add("GET", "/api/v1/tokens", admin, Bind(ctx, ListTokens));
  router->Add("POST", "/api/v1/tokens", admin_json, Bind(ctx, CreateToken));
  router->Add("DELETE", "/api/v1/tokens/{name}", admin, Bind(ctx, DeleteToken));
  RegisterSandboxRoutes(router, &ctx->sandboxes);
  RegisterGpuRoutes(router, &ctx->gpus);
  RegisterStoreRoutes(router, &ctx->store);
}

}  // namespace paddock
