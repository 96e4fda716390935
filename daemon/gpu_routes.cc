#include "daemon/gpu_routes.h"

#include "daemon/gpu_manager.h"
#include "daemon/problem.h"

namespace paddock {
namespace {

HttpResponse Unavailable() {
  return Problem(503, "unavailable", "Service unavailable", "GPU discovery has not finished");
}

}  // namespace

void RegisterGpuRoutes(Router* router, GpuManager* const* manager) {
  const RouteOptions authed{};
  router->Add("GET", "/api/v1/gpus", authed, [manager](HttpRequest&) {
    if (*manager == nullptr) return Unavailable();
    return HttpResponse::Json(200, (*manager)->ListJson());
  });
  router->Add("GET", "/api/v1/gpus/{uuid}/history", authed, [manager](HttpRequest& request) {
    if (*manager == nullptr) return Unavailable();
    auto history = (*manager)->HistoryJson(request.path_params.at("uuid"));
    if (!history.ok()) return ProblemFromStatus(history.status());
    return HttpResponse::Json(200, *history);
  });
}

}  // namespace paddock
