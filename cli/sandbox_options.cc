#include "cli/sandbox_options.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

namespace paddock::cli {
namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

bool IsDigits(std::string_view text) {
  return text.find_first_not_of("0123456789") == std::string_view::npos;
}

// The whole of `text` as a non-negative integer; no sign, no blanks, no overflow.
bool ParseUnsigned(std::string_view text, uint64_t& value) {
  if (text.empty() || !IsDigits(text)) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// Binary shift of a size suffix: K=10 ... T=40; 0 for anything else.
int SuffixShift(char suffix) {
  switch (suffix) {
    case 'K':
    case 'k':
      return 10;
    case 'M':
    case 'm':
      return 20;
    case 'G':
    case 'g':
      return 30;
    case 'T':
    case 't':
      return 40;
    default:
      return 0;
  }
}

// floor(0.<digits> * 2^shift), exactly: 128 bits hold 19 decimal digits shifted by 40.
uint64_t FractionOfUnit(std::string_view digits, int shift) {
  constexpr size_t kMaxDigits = 19;
  if (digits.size() > kMaxDigits) digits = digits.substr(0, kMaxDigits);  // below a byte
  unsigned __int128 numerator = 0;
  unsigned __int128 denominator = 1;
  for (const char digit : digits) {
    numerator = numerator * 10 + static_cast<unsigned>(digit - '0');
    denominator *= 10;
  }
  return static_cast<uint64_t>((numerator << shift) / denominator);
}

Result<std::string> RealPath(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("empty path");
  const std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                             &std::free);
  if (!resolved) return Status::InvalidArgument(path + ": " + std::strerror(errno));
  return std::string(resolved.get());
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(separator, start)) != std::string_view::npos; start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

}  // namespace

Result<int64_t> ParseByteSize(std::string_view text) {
  const Status usage = Status::InvalidArgument(
      "expected a size such as 512M, 2G or 1.5G (binary K, M, G, T) or a byte count such as "
      "1048576, not \"" +
      std::string(text) + "\"");
  std::string_view number = text;
  const int shift = number.empty() ? 0 : SuffixShift(number.back());
  if (shift > 0) number.remove_suffix(1);
  const size_t dot = number.find('.');
  const std::string_view whole = number.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : number.substr(dot + 1);
  uint64_t units = 0;
  if (!ParseUnsigned(whole, units)) return usage;
  if (dot != std::string_view::npos && (fraction.empty() || !IsDigits(fraction))) return usage;
  if (dot != std::string_view::npos && shift == 0) {
    return Status::InvalidArgument("a byte count must be whole, not \"" + std::string(text) + "\"");
  }
  if (units > (static_cast<uint64_t>(kMaxInt64) >> shift)) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is too large");
  }
  const uint64_t bytes = (units << shift) + FractionOfUnit(fraction, shift);
  if (bytes > static_cast<uint64_t>(kMaxInt64)) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is too large");
  }
  if (bytes == 0) return Status::InvalidArgument("the size must be at least one byte");
  return static_cast<int64_t>(bytes);
}

Result<int64_t> ParseSeconds(std::string_view text) {
  const Status usage = Status::InvalidArgument(
      "expected a duration such as 30s, 10m or 1h, or a number of seconds such as 90, not \"" +
      std::string(text) + "\"");
  std::string_view number = text;
  int64_t unit_seconds = 1;
  if (!number.empty()) {
    switch (number.back()) {
      case 's':
        number.remove_suffix(1);
        break;
      case 'm':
        unit_seconds = 60;
        number.remove_suffix(1);
        break;
      case 'h':
        unit_seconds = 3600;
        number.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  uint64_t count = 0;
  if (!ParseUnsigned(number, count)) return usage;
  int64_t seconds = 0;
  if (count > static_cast<uint64_t>(kMaxInt64) ||
      __builtin_mul_overflow(static_cast<int64_t>(count), unit_seconds, &seconds)) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is too long");
  }
  if (seconds == 0) {
    return Status::InvalidArgument("the duration must be positive (leave the flag out for none)");
  }
  return seconds;
}

Result<double> ParseCpus(std::string_view text) {
  double cpus = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cpus);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(cpus) || cpus <= 0) {
    return Status::InvalidArgument("expected a positive number of CPUs such as 1.5, not \"" +
                                   std::string(text) + "\"");
  }
  return cpus;
}

Result<int64_t> ParsePositiveInteger(std::string_view text) {
  uint64_t value = 0;
  if (!ParseUnsigned(text, value) || value == 0 || value > static_cast<uint64_t>(kMaxInt64)) {
    return Status::InvalidArgument("expected a positive whole number, not \"" + std::string(text) +
                                   "\"");
  }
  return static_cast<int64_t>(value);
}

Result<BindArg> ParseBind(std::string_view text) {
  // Paths holding ':' cannot be bound; the same limit as docker's -v, and rare on a workstation.
  const std::vector<std::string_view> parts = Split(text, ':');
  const bool has_mode = parts.size() == 3;
  if ((parts.size() != 2 && !has_mode) || parts[0].empty() ||
      (has_mode && parts[2] != "rw" && parts[2] != "ro")) {
    return Status::InvalidArgument("expected SRC:DST, SRC:DST:ro or SRC:DST:rw, not \"" +
                                   std::string(text) + "\"");
  }
  if (!parts[1].starts_with('/')) {
    return Status::InvalidArgument("the target \"" + std::string(parts[1]) +
                                   "\" must be an absolute path inside the sandbox");
  }
  Result<std::string> source = RealPath(std::string(parts[0]));
  if (!source.ok()) return source.status();
  return BindArg{std::move(*source), std::string(parts[1]), has_mode && parts[2] == "rw"};
}

Result<EnvAssignment> ParseEnvAssignment(std::string_view text) {
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return Status::InvalidArgument("expected KEY=VALUE, not \"" + std::string(text) + "\"");
  }
  return EnvAssignment{std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
}

Result<std::string> ResolveDirectory(const std::string& path) {
  Result<std::string> resolved = RealPath(path);
  if (!resolved.ok()) return resolved.status();
  struct stat info {};
  if (::stat(resolved->c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return Status::InvalidArgument(path + " is not a directory");
  }
  return resolved;
}

}  // namespace paddock::cli
