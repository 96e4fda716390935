#include "daemon/json_fields.h"

#include <algorithm>
#include <string>

#include "daemon/problem.h"

namespace paddock {
namespace {

bool HasType(const nlohmann::json& value, JsonType type) {
  switch (type) {
    case JsonType::kString:
      return value.is_string();
    case JsonType::kBoolean:
      return value.is_boolean();
    case JsonType::kInteger:
      return value.is_number_integer();
    case JsonType::kNumber:
      return value.is_number();
    case JsonType::kObject:
      return value.is_object();
    case JsonType::kArray:
      return value.is_array();
  }
  return false;
}

std::string_view TypeName(JsonType type) {
  switch (type) {
    case JsonType::kString:
      return "a string";
    case JsonType::kBoolean:
      return "a boolean";
    case JsonType::kInteger:
      return "an integer";
    case JsonType::kNumber:
      return "a number";
    case JsonType::kObject:
      return "an object";
    case JsonType::kArray:
      return "an array";
  }
  return "a value";
}

}  // namespace

std::optional<FieldError> FindFieldError(const nlohmann::json& body,
                                         std::initializer_list<FieldSpec> fields) {
  for (const auto& [name, value] : body.items()) {
    const auto spec = std::find_if(fields.begin(), fields.end(),
                                   [&](const FieldSpec& f) { return f.name == name; });
    if (spec == fields.end()) return FieldError{name, "unknown field"};
    if (!HasType(value, spec->type)) {
      return FieldError{name, "must be " + std::string(TypeName(spec->type))};
    }
  }
  for (const FieldSpec& f : fields) {
    if (f.required && !body.contains(f.name)) return FieldError{std::string(f.name), "is required"};
  }
  return std::nullopt;
}

std::optional<HttpResponse> CheckFields(const nlohmann::json& body,
                                        std::initializer_list<FieldSpec> fields) {
  auto error = FindFieldError(body, fields);
  if (!error) return std::nullopt;
  return InvalidParam(error->field, error->reason);
}

}  // namespace paddock
