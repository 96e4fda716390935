// Revision syntax: how a user names a commit of a repository.
//
//   <base><suffix>*
//   base:    a branch name, a tag name, or a commit id in hex (all 64 digits, or a prefix of at
//            least 6 that is unique among the repository's commits); either case
//   suffix:  ~N   the N-th ancestor along first parents ("~" alone is ~1; ~0 is the commit)
//            ^N   the N-th parent, counting from 1 ("^" alone is ^1; ^0 is the commit)
//
// e.g. "main~3", "v1.0^2", "main^^", "3fa94c~2^2". Suffixes apply left to right. Branch and tag
// names cannot contain '~' or '^' (storage/ref_names.h), so the base ends at the first of them.
// How a base is looked up (branch before tag before commit id) is RefDb::Resolve's business;
// this file only parses. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace paddock::storage {

inline constexpr size_t kMinCommitPrefixLength = 6;

struct RevisionStep {
  enum class Kind {
    kAncestor,  // ~N: follow the first parent N times
    kParent,    // ^N: the N-th parent (^0: the commit itself)
  };
  Kind kind = Kind::kAncestor;
  uint32_t count = 1;
  // Where this step's text ends in the revision, so messages can quote "main~2" up to the step.
  size_t end = 0;
};

struct ParsedRevision {
  std::string base;
  std::vector<RevisionStep> steps;
};

// Splits `revision` into its base and steps. kInvalidArgument for an empty base, a character
// other than a digit after '~' or '^', or a count above 1,000,000.
Result<ParsedRevision> ParseRevision(std::string_view revision);

// True when `text` is 1..64 hex digits (either case): a candidate commit id or prefix.
bool LooksLikeCommitIdPrefix(std::string_view text);

}  // namespace paddock::storage
