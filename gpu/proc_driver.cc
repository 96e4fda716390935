#include "gpu/proc_driver.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <tuple>

#include "base/file_util.h"
#include "base/strings.h"

namespace paddock::gpu {
namespace {

bool ParseInt(std::string_view text, int* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out >= 0;
}

// Calls fn(line) for each line of `text` with surrounding white space removed, skipping blanks.
template <typename Fn>
Status ForEachLine(std::string_view text, Fn fn) {
  while (!text.empty()) {
    const size_t newline = std::min(text.find('\n'), text.size());
    const std::string_view line = TrimWhitespace(text.substr(0, newline));
    text.remove_prefix(std::min(newline + 1, text.size()));
    if (!line.empty()) PADDOCK_RETURN_IF_ERROR(fn(line));
  }
  return Status::Ok();
}

// Parses one information file. `dir_name` (the bus id) stands in for a missing "Bus Location".
Result<ProcDriverGpu> ParseInformation(std::string_view text, const std::string& dir_name,
                                       const std::string& path) {
  ProcDriverGpu gpu;
  std::string bus_location = dir_name;
  Status status = ForEachLine(text, [&](std::string_view line) -> Status {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Status::Ok();  // not a "Key: value" line
    const std::string_view key = TrimWhitespace(line.substr(0, colon));
    const std::string_view value = TrimWhitespace(line.substr(colon + 1));
    if (key == "Model") {
      gpu.model = value;
    } else if (key == "GPU UUID") {
      // Until the GPU is first initialised the driver prints "GPU-????????-????-...".
      if (value.find('?') == std::string_view::npos) gpu.uuid = value;
    } else if (key == "Device Minor") {
      if (!ParseInt(value, &gpu.minor)) {
        return Status::InvalidArgument(path + ": bad Device Minor \"" + std::string(value) + "\"");
      }
    } else if (key == "Bus Location") {
      bus_location = value;
    }
    return Status::Ok();
  });
  PADDOCK_RETURN_IF_ERROR(status);
  Result<PciAddress> pci = ParsePciAddress(bus_location);
  if (!pci.ok()) return pci.status().WithContext(path);
  gpu.pci = *pci;
  return gpu;
}

}  // namespace

Result<std::vector<ProcDriverGpu>> ReadProcDriverGpus(const std::string& proc_root) {
  const std::string dir = JoinPath(proc_root, "driver/nvidia/gpus");
  std::vector<ProcDriverGpu> gpus;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return gpus;  // no NVIDIA driver loaded
  if (ec) return Status::FromErrno("cannot list " + dir, ec.value());
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return Status::FromErrno("cannot list " + dir, ec.value());
    if (!it->is_directory(ec)) continue;  // one directory per GPU; ignore anything else
    const std::string name = it->path().filename().string();
    const std::string path = JoinPath(JoinPath(dir, name), "information");
    Result<std::string> text = ReadFileToString(path);
    if (!text.ok()) return text.status();
    Result<ProcDriverGpu> gpu = ParseInformation(*text, name, path);
    if (!gpu.ok()) return gpu.status();
    gpus.push_back(std::move(*gpu));
  }
  if (ec) return Status::FromErrno("cannot list " + dir, ec.value());
  auto key = [](const ProcDriverGpu& g) {
    return std::tie(g.pci.domain, g.pci.bus, g.pci.device, g.pci.function);
  };
  std::sort(gpus.begin(), gpus.end(),
            [&](const ProcDriverGpu& a, const ProcDriverGpu& b) { return key(a) < key(b); });
  return gpus;
}

Result<std::map<std::string, int>> ReadMigMinors(const std::string& proc_root) {
  const std::string path = JoinPath(proc_root, "driver/nvidia-caps/mig-minors");
  std::map<std::string, int> minors;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return minors;  // driver without MIG caps
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  Status status = ForEachLine(*text, [&](std::string_view line) -> Status {
    const size_t space = line.find_first_of(" \t");
    int minor = -1;
    if (space == std::string_view::npos || !ParseInt(TrimWhitespace(line.substr(space)), &minor)) {
      return Status::InvalidArgument(path + ": bad line \"" + std::string(line) + "\"");
    }
    minors[std::string(line.substr(0, space))] = minor;
    return Status::Ok();
  });
  PADDOCK_RETURN_IF_ERROR(status);
  return minors;
}

std::vector<int> MigCapMinors(const std::map<std::string, int>& minors, int gpu_minor, uint32_t gi,
                              uint32_t ci) {
  const std::string gi_path = "gpu" + std::to_string(gpu_minor) + "/gi" + std::to_string(gi);
  const auto gi_access = minors.find(gi_path + "/access");
  const auto ci_access = minors.find(gi_path + "/ci" + std::to_string(ci) + "/access");
  if (gi_access == minors.end() || ci_access == minors.end()) return {};
  return {gi_access->second, ci_access->second};
}

}  // namespace paddock::gpu
