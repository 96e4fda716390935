#include "cli/sandbox_options.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "base/byte_size.h"

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

// The size forms the CLI documents: a whole byte count, or digits with an optional fraction and
// one of K, M, G, T. paddock::ParseByteSize takes more ("2GB", "10GiB", "1.5" bytes), but on the
// command line "2GB" reads as decimal and "1.5" as a mistake, so those stay usage errors.
bool IsDocumentedSizeForm(std::string_view text) {
  std::string_view number = text;
  const bool has_suffix =
      !number.empty() && std::string_view("KkMmGgTt").find(number.back()) != std::string_view::npos;
  if (has_suffix) number.remove_suffix(1);
  const size_t dot = number.find('.');
  if (dot == std::string_view::npos) return !number.empty() && IsDigits(number);
  const std::string_view whole = number.substr(0, dot);
  const std::string_view fraction = number.substr(dot + 1);
  return has_suffix && !whole.empty() && IsDigits(whole) && !fraction.empty() && IsDigits(fraction);
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

constexpr char kGpuSpecForms[] =
    "expected N (whole GPUs), N:nvlink, N:same_numa, N:nvlink,same_numa, mig:PROFILE (e.g. "
    "mig:1g.10gb), share:SIZE (e.g. share:10G) or UUIDs (GPU-...,MIG-...)";

// A --gpus error: what is wrong, then every form, as a mistyped spec rarely shows which it meant.
Status BadGpuSpec(std::string_view text, const std::string& what) {
  return Status::InvalidArgument(what + " in \"" + std::string(text) + "\"; " + kGpuSpecForms);
}

// "N" or "N:nvlink,same_numa".
Result<nlohmann::json> ParseGpuCount(std::string_view text) {
  const size_t colon = text.find(':');
  const std::string_view count_text = text.substr(0, colon);
  Result<int64_t> count = ParsePositiveInteger(count_text);
  if (!count.ok()) {
    return BadGpuSpec(
        text, "the GPU count \"" + std::string(count_text) + "\" is not a positive whole number");
  }
  nlohmann::json request = {{"count", *count}};
  if (colon == std::string_view::npos) return request;
  for (const std::string_view constraint : Split(text.substr(colon + 1), ',')) {
    if (constraint != "nvlink" && constraint != "same_numa") {
      return BadGpuSpec(
          text, "unknown constraint \"" + std::string(constraint) + "\" (nvlink or same_numa)");
    }
    request[std::string(constraint)] = true;
  }
  return request;
}

// "GPU-...,MIG-...": the GPUs or MIG instances themselves.
Result<nlohmann::json> ParseGpuUuids(std::string_view text) {
  std::vector<std::string> uuids;
  for (const std::string_view uuid : Split(text, ',')) {
    if (!(uuid.starts_with("GPU-") || uuid.starts_with("MIG-")) || uuid.size() == 4) {
      return BadGpuSpec(text, "\"" + std::string(uuid) + "\" is not a GPU- or MIG- UUID");
    }
    // The daemon would grant the unit once; asking twice is a typo worth pointing out.
    if (std::find(uuids.begin(), uuids.end(), uuid) != uuids.end()) {
      return BadGpuSpec(text, "\"" + std::string(uuid) + "\" is given twice");
    }
    uuids.emplace_back(uuid);
  }
  return nlohmann::json{{"uuids", uuids}};
}

}  // namespace

Result<int64_t> ParseByteSize(std::string_view text) {
  if (!IsDocumentedSizeForm(text)) {
    return Status::InvalidArgument(
        "expected a size such as 512M, 2G or 1.5G (binary K, M, G, T) or a byte count such as "
        "1048576, not \"" +
        std::string(text) + "\"");
  }
  // Zero and sizes past 2^63 are refused there, so the value fits an int64_t.
  Result<uint64_t> bytes = ::paddock::ParseByteSize(text);
  if (!bytes.ok()) return bytes.status();
  return static_cast<int64_t>(*bytes);
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

namespace {

// REPO[@REF][:TARGET]; the first ':' ends the ref (refs never contain ':').
Result<DataArg> ParseData(std::string_view text, std::string_view default_target,
                          std::string_view form) {
  DataArg arg;
  std::string_view rest = text;
  const size_t colon = rest.find(':');
  if (colon != std::string_view::npos) {
    arg.target = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  } else {
    arg.target = std::string(default_target);
  }
  const size_t at = rest.find('@');
  arg.repo = std::string(rest.substr(0, at));
  arg.ref = at == std::string_view::npos ? "main" : std::string(rest.substr(at + 1));
  if (arg.repo.empty() || arg.ref.empty() || arg.target.empty()) {
    return Status::InvalidArgument("expected " + std::string(form) + ", not \"" +
                                   std::string(text) + "\"");
  }
  if (!arg.target.starts_with('/')) {
    return Status::InvalidArgument("the target \"" + arg.target +
                                   "\" must be an absolute path inside the sandbox");
  }
  return arg;
}

}  // namespace

Result<DataArg> ParseMountArg(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    return Status::InvalidArgument("expected REPO[@REV]:/path, not \"" + std::string(text) + "\"");
  }
  return ParseData(text, "", "REPO[@REV]:/path");
}

Result<DataArg> ParseOutputArg(std::string_view text) {
  return ParseData(text, "/output", "REPO[@BRANCH][:/path]");
}

Result<EnvAssignment> ParseEnvAssignment(std::string_view text) {
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return Status::InvalidArgument("expected KEY=VALUE, not \"" + std::string(text) + "\"");
  }
  return EnvAssignment{std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
}

Result<nlohmann::json> ParseGpuSpec(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument(std::string("empty; ") + kGpuSpecForms);
  if (text.starts_with("mig:")) {
    const std::string_view profile = text.substr(4);
    // Profile names are the driver's ("1g.10gb", "1g.10gb+me"); the daemon checks they exist.
    if (profile.empty() || profile.find_first_of(",: \t") != std::string_view::npos) {
      return BadGpuSpec(text, "expected one MIG profile after mig:");
    }
    return nlohmann::json{{"mig", std::string(profile)}};
  }
  if (text.starts_with("share:")) {
    // Sent as bytes so that the daemon never has to guess what the user's suffix meant.
    Result<int64_t> memory = ParseByteSize(text.substr(6));
    if (!memory.ok()) {
      return BadGpuSpec(text, "bad share memory (" + memory.status().message() + ")");
    }
    return nlohmann::json{{"share", {{"memory", *memory}}}};
  }
  if (IsDigits(text.substr(0, 1))) return ParseGpuCount(text);
  return ParseGpuUuids(text);
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
