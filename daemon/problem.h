// RFC 9457 problem details: every API error is an application/problem+json body whose `type` is a
// stable URN, "urn:paddock:problem:<slug>", that clients may branch on. docs/api.md lists them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"
#include "daemon/http_types.h"

namespace paddock {

// Builds a problem response. `extra` members (an object) are merged into the body.
HttpResponse Problem(int status, std::string_view slug, std::string_view title, std::string detail,
                     nlohmann::json extra = nlohmann::json::object());

// 400 "invalid-request" naming the offending field in "invalid-params".
HttpResponse InvalidParam(std::string_view field, std::string reason);

// Maps a library Status to the matching problem (not_found -> 404, conflict -> 409, ...).
HttpResponse ProblemFromStatus(const Status& status);

}  // namespace paddock
