// Small string helpers shared by the parsers of kernel and driver files.
#pragma once

#include <string_view>

namespace paddock {

// `text` without leading and trailing spaces, tabs, carriage returns and newlines. The result
// points into `text`, which must outlive it.
inline std::string_view TrimWhitespace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

}  // namespace paddock
