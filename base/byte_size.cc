#include "base/byte_size.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace paddock {
namespace {

constexpr char kUnits[] = "KMGTPE";

// The power of 1024 a suffix stands for ("" 0, "K"/"KB"/"KiB" 1, ...), or -1.
int SuffixPower(std::string_view suffix) {
  if (suffix.empty()) return 0;
  const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0])));
  const char* found = std::strchr(kUnits, unit);
  if (found == nullptr || unit == '\0') return -1;
  const std::string_view rest = suffix.substr(1);
  if (!rest.empty() && rest != "B" && rest != "b" && rest != "iB" && rest != "ib") return -1;
  return static_cast<int>(found - kUnits) + 1;
}

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\" is not a size (examples: 1048576, 512M, 10G)");
  };
  size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) {
    ++end;
  }
  if (end == 0) return bad();
  const int power = SuffixPower(text.substr(end));
  if (power < 0) return bad();
  const std::string number(text.substr(0, end));
  char* parse_end = nullptr;
  const long double value = std::strtold(number.c_str(), &parse_end);
  if (parse_end != number.c_str() + number.size()) return bad();
  const long double bytes = value * std::pow(1024.0L, power);
  if (!(bytes >= 1) || bytes >= 9.2e18L) return bad();
  return static_cast<uint64_t>(std::llround(bytes));
}

std::string FormatByteSize(uint64_t bytes) {
  int power = 0;
  while (bytes != 0 && bytes % 1024 == 0 && power < 6) {
    bytes /= 1024;
    ++power;
  }
  std::string out = std::to_string(bytes);
  if (power > 0) out += kUnits[power - 1];
  return out;
}

}  // namespace paddock
