// Strict validation of JSON request bodies: every field a route accepts is declared with its type;
// an unknown field, a missing required one or a wrong type is a 400 that names the field, so a
// client's typo is reported instead of silently ignored.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/http_types.h"

namespace paddock {

enum class JsonType { kString, kBoolean, kInteger, kNumber, kObject, kArray };

struct FieldSpec {
  std::string_view name;
  JsonType type;
  bool required = false;
};

struct FieldError {
  std::string field;
  std::string reason;
};

// The first offending field of `body` (an object), or nullopt.
std::optional<FieldError> FindFieldError(const nlohmann::json& body,
                                         std::initializer_list<FieldSpec> fields);

// The 400 response for the first offending field of `body` (an object), or nullopt.
std::optional<HttpResponse> CheckFields(const nlohmann::json& body,
                                        std::initializer_list<FieldSpec> fields);

}  // namespace paddock
