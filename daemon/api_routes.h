// The REST API's routes and their handlers. Each handler is a small function of (context,
// request); ApiServer has already authenticated the caller and parsed any JSON body.
// Every route registered here must be described in daemon/openapi.json (checked by a unit test).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/config.h"
#include "daemon/metrics.h"
#include "daemon/router.h"
#include "daemon/token_store.h"

namespace paddock {

class SandboxManager;
class GpuManager;
struct StoreContext;

// What the handlers read. Owned by the Daemon; outlives the router.
struct ApiContext {
  std::string version;
  std::string state_dir;
  std::string listen;  // "" when TCP is off
  bool tls = false;
  std::string cgroup_mode;
  std::chrono::system_clock::time_point started_at;
  std::chrono::steady_clock::time_point started_steady;
  int64_t daemon_starts = 0;
  TokenStore* tokens = nullptr;
  HttpMetrics* metrics = nullptr;
  SandboxManager* sandboxes = nullptr;
  GpuManager* gpus = nullptr;
  StoreContext* store = nullptr;  // the versioned store's routes (daemon/store_routes.h)
  // The members of GET /api/v1/status that never change, serialised once by
  // PrepareStatusDocument() (the status route is the one clients poll).
  std::string status_fixed_members;
};

void RegisterRoutes(Router* router, ApiContext* context);
// Call once every field above is final, before the server takes requests.
void PrepareStatusDocument(ApiContext* context);

// The OpenAPI 3.1 document (daemon/openapi.json, embedded at build time).
std::string_view OpenApiDocument();

// "2026-11-23T15:04:05Z"
std::string FormatTimestamp(std::chrono::system_clock::time_point t);

}  // namespace paddock
