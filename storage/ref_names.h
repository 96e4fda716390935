// Name rules for the refs database: repository, branch and tag names.
//
// Repository names become path components and URL segments elsewhere, so they are kept plain.
// Branch and tag names follow the essentials of git's check-ref-format, so that names people
// know from git work and so that revision syntax (storage/revision.h) can never be ambiguous:
// a name cannot contain '~' or '^', which start revision suffixes.
//
// Each function returns OK or kInvalidArgument with a message naming the rule that was broken.
// Pure and thread-safe.
#pragma once

#include <string_view>

#include "base/status.h"

namespace paddock::storage {

inline constexpr size_t kMaxRepoNameLength = 100;
inline constexpr size_t kMaxRefNameLength = 255;

// 1..100 characters from [A-Za-z0-9._-], not starting with '.' or '-'.
Status ValidateRepoName(std::string_view name);

// 1..255 bytes; none of: control characters, space, '~', '^', ':', '?', '*', '[', '\\';
// no "..", "@{" or "//"; not "@"; no leading '-' or '/'; no trailing '/' or '.'; no component
// (between slashes) that starts with '.' or ends with ".lock". Other bytes (UTF-8) are allowed.
Status ValidateBranchName(std::string_view name);

// The same rules as branch names.
Status ValidateTagName(std::string_view name);

}  // namespace paddock::storage
