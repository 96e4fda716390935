#include "cli/gpu_format.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

namespace paddock::cli {
namespace {

// Unit rows start under the NAME column, so that they read as belonging to the GPU above.
constexpr std::string_view kUnitIndent = "     ";

// What nvidia-smi would need and the daemon did not have: GPUs found on the PCI bus alone.
constexpr std::string_view kNoDriverLibrary = "no NVIDIA driver library";

// An integer member with a unit after it ("35%", "41C"), or "-" when the driver gave none.
std::string WithUnit(const Json& object, std::string_view key, std::string_view unit) {
  const std::optional<int64_t> value = IntegerField(object, key);
  return value ? std::to_string(*value) + std::string(unit) : "-";
}

std::string Watts(int64_t milliwatts) {
  return std::to_string(std::llround(milliwatts / 1000.0)) + "W";
}

// "120W / 400W", "120W" without a known limit, "-" without a reading.
std::string DescribePower(const Json& telemetry) {
  const std::optional<int64_t> power = IntegerField(telemetry, "power_mw");
  if (!power) return "-";
  const std::optional<int64_t> limit = IntegerField(telemetry, "power_limit_mw");
  return Watts(*power) + (limit ? " / " + Watts(*limit) : "");
}

// "1.2G / 80G"; either side "-" when unknown, "-" alone when both are.
std::string DescribeMemory(const Json& gpu, const Json& telemetry) {
  const std::optional<int64_t> used = IntegerField(telemetry, "memory_used_bytes");
  const std::optional<int64_t> total = IntegerField(gpu, "memory_total_bytes");
  if (!used && !total) return "-";
  return (used ? FormatHumanBytes(*used) : "-") + " / " + (total ? FormatHumanBytes(*total) : "-");
}

// Why a GPU's readings are missing or not to be trusted; empty while its telemetry is fine.
std::string TelemetryNote(const Json& telemetry) {
  const std::string state = StringField(telemetry, "state");
  const std::string message = StringField(telemetry, "message");
  if (state == "no_telemetry") {
    return "(no telemetry: " + (message.empty() ? std::string(kNoDriverLibrary) : message) + ")";
  }
  if (state == "lost") return "LOST" + (message.empty() ? "" : " (" + message + ")");
  if (state == "error") return "(telemetry error: " + (message.empty() ? "unknown" : message) + ")";
  return {};
}

// The cells of one GPU's row. A lost GPU's last readings are stale, so they are not shown.
std::vector<std::string> GpuRow(const Json& gpu) {
  const Json* found = FindField(gpu, "telemetry");
  const Json& telemetry = found != nullptr ? *found : Json::object();
  const std::string state = StringField(telemetry, "state");
  const Json& readings = state == "lost" ? Json::object() : telemetry;
  const Json* partition = FindField(gpu, "partition");
  const Json& partition_object = partition != nullptr ? *partition : Json::object();

  std::string note = TelemetryNote(telemetry);
  if (const std::string error = StringField(partition_object, "error"); !error.empty()) {
    note += (note.empty() ? "" : " ") + ("(partition: " + error + ")");
  }
  std::vector<std::string> row = {Field(gpu, "index"),
                                  Field(gpu, "name"),
                                  Field(gpu, "pci_bus_id"),
                                  DescribeMemory(gpu, readings),
                                  WithUnit(readings, "utilization_gpu_percent", "%"),
                                  WithUnit(readings, "temperature_c", "C"),
                                  DescribePower(readings),
                                  Field(partition_object, "mode")};
  if (!note.empty()) row.push_back(std::move(note));
  return row;
}

// What a unit is beyond its kind: the MIG profile, a share's memory cap, or "-" for a whole GPU.
std::string UnitSize(const Json& unit) {
  if (const std::string profile = StringField(unit, "profile"); !profile.empty()) return profile;
  const std::optional<int64_t> memory = IntegerField(unit, "memory_bytes");
  if (StringField(unit, "kind") == "share" && memory) return FormatHumanBytes(*memory);
  return "-";
}

std::string UnitHolder(const Json& unit) {
  const Json* holder = FindField(unit, "holder");
  const std::string sandbox = holder != nullptr ? StringField(*holder, "sandbox") : std::string();
  return sandbox.empty() ? "free" : sandbox;
}

std::vector<std::string> Lines(const Table& table) {
  std::ostringstream text;
  table.Print(text);
  std::vector<std::string> lines;
  std::istringstream in(text.str());
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  return lines;
}

// "NVML: ok, driver 550.54.15", then one line per warning of the daemon's discovery.
std::string Footer(const Json& list) {
  const Json* nvml = FindField(list, "nvml");
  const Json& nvml_object = nvml != nullptr ? *nvml : Json::object();
  std::string footer = "NVML: " + Field(nvml_object, "status");
  if (const std::string driver = StringField(nvml_object, "driver_version"); !driver.empty()) {
    footer += ", driver " + driver;
  }
  footer += '\n';
  if (const Json* warnings = FindField(list, "warnings"); warnings != nullptr) {
    for (const Json& warning : *warnings) footer += "warning: " + DisplayValue(warning) + '\n';
  }
  return footer;
}

// The GPU rows and the unit rows are two tables, each aligned on its own, so that a long unit
// id does not widen the GPU columns; the unit lines are then slotted in below their GPU.
std::string GpuTable(const Json& gpus) {
  Table gpu_table({"GPU", "NAME", "BUS ID", "MEMORY", "UTIL", "TEMP", "POWER", "MODE"});
  Table unit_table;
  std::vector<size_t> units_per_gpu;
  for (const Json& gpu : gpus) {
    gpu_table.AddRow(GpuRow(gpu));
    size_t count = 0;
    if (const Json* units = FindField(gpu, "units"); units != nullptr && units->is_array()) {
      for (const Json& unit : *units) {
        unit_table.AddRow(
            {Field(unit, "id"), Field(unit, "kind"), UnitSize(unit), UnitHolder(unit)});
        ++count;
      }
    }
    units_per_gpu.push_back(count);
  }
  const std::vector<std::string> gpu_lines = Lines(gpu_table);
  const std::vector<std::string> unit_lines = Lines(unit_table);
  std::string text = gpu_lines.at(0) + '\n';
  size_t next_unit = 0;
  for (size_t i = 0; i < units_per_gpu.size(); ++i) {
    text += gpu_lines.at(i + 1) + '\n';
    for (size_t u = 0; u < units_per_gpu[i]; ++u) {
      text += std::string(kUnitIndent) + unit_lines.at(next_unit++) + '\n';
    }
  }
  return text;
}

// "2026-11-03T10:15:02Z", as the daemon writes its own times; UTC, so the output does not depend
// on the reader's time zone.
std::string FormatSampleTime(const Json& sample) {
  const std::optional<int64_t> ms = IntegerField(sample, "sampled_at_ms");
  if (!ms) return "-";
  const std::time_t seconds = static_cast<std::time_t>(*ms / 1000);
  std::tm utc{};
  if (::gmtime_r(&seconds, &utc) == nullptr) return "-";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

std::string FormatHumanBytes(int64_t bytes) {
  static constexpr std::pair<int, char> kUnits[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (const auto& [shift, suffix] : kUnits) {
    const double value = std::ldexp(static_cast<double>(bytes), -shift);
    if (value < 1) continue;
    char text[32];
    // A tenth matters for 1.5G, not for 79.6G; a whole number drops its ".0".
    const bool tenths = value < 9.95 && std::fabs(value - std::round(value)) >= 0.05;
    std::snprintf(text, sizeof text, tenths ? "%.1f%c" : "%.0f%c", value, suffix);
    return text;
  }
  return std::to_string(bytes) + "B";
}

std::string FormatGpuList(const Json& list) {
  const Json* gpus = FindField(list, "gpus");
  const bool any = gpus != nullptr && gpus->is_array() && !gpus->empty();
  const std::string body = any ? GpuTable(*gpus) : "no GPUs found\n";
  return body + '\n' + Footer(list);
}

std::string FormatGpuHistory(const Json& history) {
  const Json* samples = FindField(history, "samples");
  if (samples == nullptr || !samples->is_array() || samples->empty()) return "no samples\n";
  Table table({"TIME", "UTIL", "MEMORY", "POWER", "TEMP"});
  for (const Json& sample : *samples) {
    const std::optional<int64_t> used = IntegerField(sample, "memory_used_bytes");
    std::vector<std::string> row = {FormatSampleTime(sample),
                                    WithUnit(sample, "utilization_gpu_percent", "%"),
                                    used ? FormatHumanBytes(*used) : "-", DescribePower(sample),
                                    WithUnit(sample, "temperature_c", "C")};
    if (std::string note = TelemetryNote(sample); !note.empty()) row.push_back(std::move(note));
    table.AddRow(std::move(row));
  }
  std::ostringstream text;
  table.Print(text);
  return text.str();
}

}  // namespace paddock::cli
