#include "gpu/cpulist.h"

#include <algorithm>
#include <charconv>

#include "base/strings.h"

namespace paddock::gpu {
namespace {

// Ranges past this are typos, not CPUs; refusing them keeps "0-2000000000" from allocating.
constexpr int kMaxId = 1 << 20;

bool ParseId(std::string_view text, int* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out >= 0 && *out <= kMaxId;
}

void AppendRun(int first, int last, std::string* out) {
  if (!out->empty()) out->push_back(',');
  out->append(std::to_string(first));
  if (last != first) out->append("-").append(std::to_string(last));
}

}  // namespace

std::string FormatCpulist(const std::vector<int>& ids) {
  std::vector<int> sorted;
  std::copy_if(ids.begin(), ids.end(), std::back_inserter(sorted), [](int id) { return id >= 0; });
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string out;
  size_t i = 0;
  while (i < sorted.size()) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    AppendRun(sorted[i], sorted[j], &out);
    i = j + 1;
  }
  return out;
}

Result<std::vector<int>> ParseCpulist(std::string_view text) {
  const std::string_view list = TrimWhitespace(text);
  std::vector<int> ids;
  if (list.empty()) return ids;
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad cpulist \"" + std::string(list) +
                                   "\": " + std::string(why));
  };
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    const std::string_view item = list.substr(pos, comma - pos);
    const size_t dash = item.find('-');
    int first = 0;
    int last = 0;
    if (dash == std::string_view::npos) {
      if (!ParseId(item, &first)) return bad("\"" + std::string(item) + "\" is not a cpu id");
      last = first;
    } else if (!ParseId(item.substr(0, dash), &first) || !ParseId(item.substr(dash + 1), &last)) {
      return bad("\"" + std::string(item) + "\" is not a range");
    } else if (last < first) {
      return bad("reversed range \"" + std::string(item) + "\"");
    }
    for (int id = first; id <= last; ++id) ids.push_back(id);
    pos = comma + 1;
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace paddock::gpu
