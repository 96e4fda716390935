#include "storage/revision.h"

#include "base/hex.h"
#include "storage/object_id.h"

namespace paddock::storage {
namespace {

// Far more than any real history; keeps counts in range and typos from walking forever.
constexpr uint32_t kMaxStepCount = 1'000'000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses the optional decimal count at `revision[*pos]`, advancing `*pos`; 1 when absent.
Result<uint32_t> ParseCount(std::string_view revision, size_t* pos) {
  if (*pos >= revision.size() || !IsDigit(revision[*pos])) return uint32_t{1};
  uint64_t count = 0;
  while (*pos < revision.size() && IsDigit(revision[*pos])) {
    count = count * 10 + static_cast<uint64_t>(revision[*pos] - '0');
    if (count > kMaxStepCount) {
      return Status::InvalidArgument("revision '" + std::string(revision) +
                                     "': a count above 1000000");
    }
    ++*pos;
  }
  return static_cast<uint32_t>(count);
}

}  // namespace

Result<ParsedRevision> ParseRevision(std::string_view revision) {
  ParsedRevision parsed;
  const size_t base_end = revision.find_first_of("~^");
  parsed.base = std::string(revision.substr(0, base_end));
  if (parsed.base.empty()) {
    return Status::InvalidArgument("revision '" + std::string(revision) +
                                   "': no branch, tag or commit id before the suffix");
  }
  size_t pos = parsed.base.size();
  while (pos < revision.size()) {
    const char op = revision[pos];
    if (op != '~' && op != '^') {
      return Status::InvalidArgument(
          "revision '" + std::string(revision) + "': unexpected '" + std::string(1, op) +
          "' after '" + std::string(revision.substr(0, pos)) + "' (expected ~N or ^N)");
    }
    ++pos;
    Result<uint32_t> count = ParseCount(revision, &pos);
    if (!count.ok()) return count.status();
    RevisionStep step;
    step.kind = op == '~' ? RevisionStep::Kind::kAncestor : RevisionStep::Kind::kParent;
    step.count = *count;
    step.end = pos;
    parsed.steps.push_back(step);
  }
  return parsed;
}

bool LooksLikeCommitIdPrefix(std::string_view text) {
  if (text.empty() || text.size() > 2 * ObjectId::kSize) return false;
  for (char c : text) {
    if (HexDigitValue(c) < 0) return false;
  }
  return true;
}

}  // namespace paddock::storage
