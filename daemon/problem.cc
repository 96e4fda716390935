#include "daemon/problem.h"

namespace paddock {

HttpResponse Problem(int status, std::string_view slug, std::string_view title, std::string detail,
                     nlohmann::json extra) {
  nlohmann::json body = {{"type", "urn:paddock:problem:" + std::string(slug)},
                         {"title", title},
                         {"status", status},
                         {"detail", std::move(detail)}};
  if (extra.is_object()) body.update(extra);
  HttpResponse r = HttpResponse::Json(status, body);
  r.content_type = "application/problem+json";
  return r;
}

HttpResponse InvalidParam(std::string_view field, std::string reason) {
  std::string detail = "field \"" + std::string(field) + "\": " + reason;
  return Problem(400, "invalid-request", "Invalid request", std::move(detail),
                 {{"invalid-params", {{{"name", field}, {"reason", std::move(reason)}}}}});
}

HttpResponse ProblemFromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return Problem(400, "invalid-request", "Invalid request", status.message());
    case StatusCode::kNotFound:
      return Problem(404, "not-found", "Not found", status.message());
    case StatusCode::kAlreadyExists:
      return Problem(409, "already-exists", "Already exists", status.message());
    case StatusCode::kConflict:
      return Problem(409, "conflict", "Conflict", status.message());
    case StatusCode::kFailedPrecondition:
      return Problem(409, "failed-precondition", "Not allowed in the current state",
                     status.message());
    case StatusCode::kPermissionDenied:
      return Problem(403, "forbidden", "Forbidden", status.message());
    case StatusCode::kResourceExhausted:
      return Problem(507, "insufficient-storage", "Insufficient storage", status.message());
    case StatusCode::kUnavailable:
      return Problem(503, "unavailable", "Service unavailable", status.message());
    case StatusCode::kOk:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      break;
  }
  return Problem(500, "internal", "Internal error", status.message());
}

}  // namespace paddock
