#include "storage/ref_names.h"

#include <string>

namespace paddock::storage {
namespace {

Status BadName(std::string_view what, std::string_view name, std::string_view rule) {
  return Status::InvalidArgument("invalid " + std::string(what) + " name '" + std::string(name) +
                                 "': " + std::string(rule));
}

bool IsRepoNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Characters git refuses anywhere in a ref name: they are revision or glob syntax, or invisible.
bool IsForbiddenRefChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte < 0x20 || byte == 0x7f) return true;
  constexpr std::string_view kForbidden = " ~^:?*[\\";
  return kForbidden.find(c) != std::string_view::npos;
}

// Checks one slash-separated component of a ref name; returns the broken rule or "".
std::string_view CheckRefComponent(std::string_view component) {
  if (component.empty()) return "it has an empty component (\"//\" or a trailing '/')";
  if (component.front() == '.') return "a component starts with '.'";
  if (component.ends_with(".lock")) return "a component ends with \".lock\"";
  return "";
}

Status ValidateRefName(std::string_view what, std::string_view name) {
  if (name.empty()) return BadName(what, name, "it is empty");
  if (name.size() > kMaxRefNameLength) return BadName(what, name, "it is longer than 255 bytes");
  for (char c : name) {
    if (IsForbiddenRefChar(c)) {
      return BadName(what, name,
                     "it contains a space, a control character or one of ~ ^ : ? * [ \\");
    }
  }
  if (name == "@") return BadName(what, name, "it is \"@\"");
  if (name.find("..") != std::string_view::npos) return BadName(what, name, "it contains \"..\"");
  if (name.find("@{") != std::string_view::npos) return BadName(what, name, "it contains \"@{\"");
  if (name.front() == '-') return BadName(what, name, "it starts with '-'");
  if (name.front() == '/') return BadName(what, name, "it starts with '/'");
  if (name.back() == '.') return BadName(what, name, "it ends with '.'");
  size_t start = 0;
  while (true) {
    const size_t slash = name.find('/', start);
    const std::string_view component = name.substr(start, slash - start);
    if (std::string_view rule = CheckRefComponent(component); !rule.empty()) {
      return BadName(what, name, rule);
    }
    if (slash == std::string_view::npos) return Status::Ok();
    start = slash + 1;
  }
}

}  // namespace

Status ValidateRepoName(std::string_view name) {
  if (name.empty() || name.size() > kMaxRepoNameLength) {
    return BadName("repository", name, "it must be 1 to 100 characters long");
  }
  for (char c : name) {
    if (!IsRepoNameChar(c)) {
      return BadName("repository", name, "only A-Z, a-z, 0-9, '.', '_' and '-' are allowed");
    }
  }
  if (name.front() == '.' || name.front() == '-') {
    return BadName("repository", name, "it starts with '.' or '-'");
  }
  return Status::Ok();
}

Status ValidateBranchName(std::string_view name) { return ValidateRefName("branch", name); }

Status ValidateTagName(std::string_view name) { return ValidateRefName("tag", name); }

}  // namespace paddock::storage
