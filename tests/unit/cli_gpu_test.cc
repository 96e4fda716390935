// The CLI's side of GPUs: parsing --gpus into the API's GpuRequest, the `paddock gpus` and
// `gpus history` tables, and how `sandbox inspect` and `sandbox ls` show granted GPUs.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/gpu_format.h"
#include "cli/output.h"
#include "cli/sandbox_format.h"
#include "cli/sandbox_options.h"

namespace paddock::cli {
namespace {

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The first line that contains `needle`, or "" (which no expectation below matches).
std::string LineWith(const std::string& text, const std::string& needle) {
  for (const std::string& line : SplitLines(text)) {
    if (line.find(needle) != std::string::npos) return line;
  }
  return "";
}

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// Whether `text` holds `pattern` (ECMAScript); for cells whose padding depends on other rows.
bool Matches(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern));
}

// --- ParseGpuSpec ----------------------------------------------------------------------------

TEST(ParseGpuSpecTest, CountsWithAndWithoutConstraints) {
  EXPECT_EQ(ParseGpuSpec("2").value(), nlohmann::json::parse(R"({"count": 2})"));
  EXPECT_EQ(ParseGpuSpec("1").value(), nlohmann::json::parse(R"({"count": 1})"));
  EXPECT_EQ(ParseGpuSpec("2:nvlink").value(),
            nlohmann::json::parse(R"({"count": 2, "nvlink": true})"));
  EXPECT_EQ(ParseGpuSpec("2:same_numa").value(),
            nlohmann::json::parse(R"({"count": 2, "same_numa": true})"));
  EXPECT_EQ(ParseGpuSpec("4:nvlink,same_numa").value(),
            nlohmann::json::parse(R"({"count": 4, "nvlink": true, "same_numa": true})"));
  EXPECT_EQ(ParseGpuSpec("4:same_numa,nvlink").value(),
            nlohmann::json::parse(R"({"count": 4, "nvlink": true, "same_numa": true})"));
}

TEST(ParseGpuSpecTest, MigProfilesShareSizesAndUuids) {
  EXPECT_EQ(ParseGpuSpec("mig:1g.10gb").value(), nlohmann::json::parse(R"({"mig": "1g.10gb"})"));
  EXPECT_EQ(ParseGpuSpec("mig:1g.10gb+me").value(),
            nlohmann::json::parse(R"({"mig": "1g.10gb+me"})"));
  // Bytes, as an integer: the daemon never has to interpret the user's suffix.
  EXPECT_EQ(ParseGpuSpec("share:10G").value(),
            nlohmann::json::parse(R"({"share": {"memory": 10737418240}})"));
  EXPECT_EQ(ParseGpuSpec("share:512M").value(),
            nlohmann::json::parse(R"({"share": {"memory": 536870912}})"));
  EXPECT_EQ(ParseGpuSpec("share:1.5G").value(),
            nlohmann::json::parse(R"({"share": {"memory": 1610612736}})"));
  EXPECT_EQ(ParseGpuSpec("GPU-8f2c1d3e-aaaa-bbbb-cccc-0123456789ab").value(),
            nlohmann::json::parse(R"({"uuids": ["GPU-8f2c1d3e-aaaa-bbbb-cccc-0123456789ab"]})"));
  EXPECT_EQ(ParseGpuSpec("GPU-1,MIG-2").value(),
            nlohmann::json::parse(R"({"uuids": ["GPU-1", "MIG-2"]})"));
}

TEST(ParseGpuSpecTest, RejectsEverythingElseShowingTheForms) {
  for (const char* bad : {"",
                          "0",
                          "-1",
                          "two",
                          "2:",
                          "2:fast",
                          "2:nvlink,",
                          "2:nvlink,,same_numa",
                          "2x",
                          "2:nvlink:same_numa",
                          "mig:",
                          "mig:1g.10gb,2g.20gb",
                          "MIG:1g.10gb",
                          "share:",
                          "share:lots",
                          "share:0",
                          "share:2GB",
                          "share:1.5",
                          "GPU-",
                          "GPU-1,",
                          "GPU-1,,MIG-2",
                          "gpu-1",
                          "GPU-1,2",
                          "GPU-1,GPU-1",
                          "PCI-0000:4f:00.0",
                          " 2",
                          "2 "}) {
    const Result<nlohmann::json> parsed = ParseGpuSpec(bad);
    EXPECT_FALSE(parsed.ok()) << '"' << bad << "\" gave " << (parsed.ok() ? parsed->dump() : "");
    if (parsed.ok()) continue;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
    const std::string& message = parsed.status().message();
    for (const char* form :
         {"N:nvlink", "same_numa", "mig:PROFILE", "share:SIZE", "GPU-", "MIG-"}) {
      EXPECT_TRUE(Contains(message, form)) << bad << ": " << message;
    }
  }
}

TEST(ParseGpuSpecTest, NamesWhatIsWrong) {
  EXPECT_TRUE(Contains(ParseGpuSpec("2:fast").status().message(), "\"fast\""));
  EXPECT_TRUE(Contains(ParseGpuSpec("GPU-1,GPU-1").status().message(), "twice"));
  EXPECT_TRUE(Contains(ParseGpuSpec("GPU-1,gpu-2").status().message(), "\"gpu-2\""));
}

// --- ParseByteSize (over paddock::ParseByteSize) ---------------------------------------------

TEST(CliByteSizeTest, TakesTheDocumentedForms) {
  EXPECT_EQ(ParseByteSize("1048576").value(), 1048576);
  EXPECT_EQ(ParseByteSize("512M").value(), int64_t{512} << 20);
  EXPECT_EQ(ParseByteSize("64m").value(), int64_t{64} << 20);
  EXPECT_EQ(ParseByteSize("2G").value(), int64_t{2} << 30);
  EXPECT_EQ(ParseByteSize("1.5G").value(), int64_t{1610612736});
  EXPECT_EQ(ParseByteSize("1000T").value(), int64_t{1000} << 40);
  // The shared parser rounds a fraction to the nearest byte: 1.7K is 1740.8 bytes.
  EXPECT_EQ(ParseByteSize("1.7K").value(), 1741);
}

TEST(CliByteSizeTest, RejectsFormsTheHelpDoesNotShow) {
  for (const char* bad :
       {"", "lots", "1.5", "0", "-1G", "2GB", "10GiB", "99999999999T", ".5G", "1.G", "G", "1 G"}) {
    EXPECT_FALSE(ParseByteSize(bad).ok()) << bad;
  }
  EXPECT_TRUE(Contains(ParseByteSize("lots").status().message(), "512M"));
}

// --- paddock gpus ----------------------------------------------------------------------------

// What GET /api/v1/gpus answers on a machine with an A100 used whole, an A100 cut into three MIG
// instances, and a T4 that only the PCI bus knows about.
constexpr char kGpuList[] = R"({
  "nvml": {"status": "ok", "driver_version": "550.54.15"},
  "warnings": ["topology: hwloc found no NUMA information"],
  "gpus": [
    {"index": 0, "uuid": "GPU-0a0a0a0a-0000-0000-0000-000000000000", "name": "NVIDIA A100-SXM4-80GB",
     "pci_bus_id": "0000:07:00.0", "minor": 0, "memory_total_bytes": 85899345920,
     "compute_capability": "8.0", "source": "nvml", "numa_nodes": [0], "local_cpus": "0-15",
     "nvlink_peers": [], "links": {}, "mig": {"capable": true, "enabled": false, "profiles": [],
     "instances": []}, "partition": {"mode": "exclusive"},
     "units": [{"id": "gpu0", "kind": "whole", "profile": null, "memory_bytes": 85899345920,
                "uuid": "GPU-0a0a0a0a-0000-0000-0000-000000000000",
                "holder": {"sandbox": "sb-1a2b3c4d5e"}}],
     "processes": [{"pid": 4242, "used_memory_bytes": 1288490188, "mig_uuid": null,
                    "sandbox": "sb-1a2b3c4d5e"}],
     "telemetry": {"state": "ok", "memory_used_bytes": 1288490188, "utilization_gpu_percent": 35,
                   "utilization_memory_percent": 12, "power_mw": 120400, "power_limit_mw": 400000,
                   "temperature_c": 41, "ecc_enabled": true, "ecc_uncorrected_errors": 0,
                   "sampled_at_ms": 1793700000000}},
    {"index": 1, "uuid": "GPU-1b1b1b1b-0000-0000-0000-000000000000", "name": "NVIDIA A100-SXM4-80GB",
     "pci_bus_id": "0000:0f:00.0", "minor": 1, "memory_total_bytes": 85899345920,
     "compute_capability": "8.0", "source": "nvml", "numa_nodes": [0], "local_cpus": "0-15",
     "nvlink_peers": [], "links": {}, "mig": {"capable": true, "enabled": true},
     "partition": {"mode": "mig", "mig_layout": ["3g.40gb", "2g.20gb", "1g.10gb"]},
     "units": [
       {"id": "gpu1/mig/1", "kind": "mig", "profile": "3g.40gb", "memory_bytes": 42949672960,
        "uuid": "MIG-11111111-0000-0000-0000-000000000000", "holder": {"sandbox": "sb-9f8e7d6c5b"}},
       {"id": "gpu1/mig/2", "kind": "mig", "profile": "2g.20gb", "memory_bytes": 21474836480,
        "uuid": "MIG-22222222-0000-0000-0000-000000000000", "holder": null},
       {"id": "gpu1/mig/3", "kind": "mig", "profile": "1g.10gb", "memory_bytes": 10737418240,
        "uuid": "MIG-33333333-0000-0000-0000-000000000000", "holder": null}],
     "processes": [],
     "telemetry": {"state": "ok", "memory_used_bytes": 21474836480, "utilization_gpu_percent": 3,
                   "utilization_memory_percent": 1, "power_mw": 80000, "power_limit_mw": 400000,
                   "temperature_c": 37, "ecc_enabled": true, "ecc_uncorrected_errors": 0,
                   "sampled_at_ms": 1793700000000}},
    {"index": 2, "uuid": "PCI-0000:af:00.0", "name": "Tesla T4", "pci_bus_id": "0000:af:00.0",
     "minor": null, "memory_total_bytes": null, "compute_capability": null, "source": "pci",
     "numa_nodes": [1], "local_cpus": "16-31", "nvlink_peers": [], "links": {},
     "mig": {"capable": false, "enabled": false, "profiles": [], "instances": []},
     "partition": {"mode": "exclusive"},
     "units": [{"id": "gpu2", "kind": "whole", "profile": null, "memory_bytes": 0,
                "uuid": "PCI-0000:af:00.0", "holder": null}],
     "processes": [],
     "telemetry": {"state": "no_telemetry", "memory_used_bytes": null,
                   "utilization_gpu_percent": null, "utilization_memory_percent": null,
                   "power_mw": null, "power_limit_mw": null, "temperature_c": null,
                   "ecc_enabled": null, "ecc_uncorrected_errors": null, "sampled_at_ms": null}}
  ]
})";

TEST(FormatGpuListTest, ShowsEachGpuItsUnitsAndTheFooter) {
  const std::string text = FormatGpuList(Json::parse(kGpuList));
  const std::vector<std::string> lines = SplitLines(text);
  // Header, 3 GPUs, 1 + 3 + 1 units, a blank line, NVML status, one warning.
  ASSERT_EQ(lines.size(), 12u) << text;
  EXPECT_TRUE(lines[0].starts_with("GPU  NAME")) << text;
  for (const char* column : {"BUS ID", "MEMORY", "UTIL", "TEMP", "POWER", "MODE"}) {
    EXPECT_TRUE(Contains(lines[0], column)) << column;
  }

  const std::string gpu0 = lines[1];
  EXPECT_TRUE(gpu0.starts_with("0    NVIDIA A100-SXM4-80GB  0000:07:00.0")) << text;
  for (const char* cell : {"1.2G / 80G", "35%", "41C", "120W / 400W", "exclusive"}) {
    EXPECT_TRUE(Contains(gpu0, cell)) << cell << " in " << gpu0;
  }
  EXPECT_TRUE(lines[2].starts_with("     gpu0 ")) << text;
  EXPECT_TRUE(lines[2].ends_with("sb-1a2b3c4d5e")) << lines[2];

  EXPECT_TRUE(lines[3].starts_with("1 ")) << text;
  EXPECT_TRUE(Contains(lines[3], "20G / 80G") && Contains(lines[3], "mig")) << lines[3];
  EXPECT_TRUE(lines[4].starts_with("     gpu1/mig/1")) << text;
  EXPECT_TRUE(Contains(lines[4], "3g.40gb") && lines[4].ends_with("sb-9f8e7d6c5b")) << lines[4];
  EXPECT_TRUE(Contains(lines[5], "2g.20gb") && lines[5].ends_with("free")) << lines[5];
  EXPECT_TRUE(Contains(lines[6], "1g.10gb") && lines[6].ends_with("free")) << lines[6];

  const std::string gpu2 = lines[7];
  EXPECT_TRUE(gpu2.starts_with("2    Tesla T4")) << text;
  EXPECT_TRUE(gpu2.ends_with("(no telemetry: no NVIDIA driver library)")) << gpu2;
  EXPECT_FALSE(Contains(gpu2, "%")) << gpu2;
  EXPECT_TRUE(lines[8].starts_with("     gpu2 ") && lines[8].ends_with("free")) << lines[8];

  EXPECT_EQ(lines[9], "");
  EXPECT_EQ(lines[10], "NVML: ok, driver 550.54.15");
  EXPECT_EQ(lines[11], "warning: topology: hwloc found no NUMA information");
}

TEST(FormatGpuListTest, UnitRowsAlignWithEachOtherNotWithTheGpuColumns) {
  const std::vector<std::string> lines = SplitLines(FormatGpuList(Json::parse(kGpuList)));
  // The kind column starts at the same place on every unit row.
  const size_t kind = lines[4].find("mig ");
  ASSERT_NE(kind, std::string::npos);
  EXPECT_EQ(lines[2].find("whole"), kind);
  EXPECT_EQ(lines[8].find("whole"), kind);
  // No line carries trailing blanks.
  for (const std::string& line : lines) EXPECT_FALSE(line.ends_with(" ")) << '"' << line << '"';
}

TEST(FormatGpuListTest, LostGpusShowLostAndNoStaleReadings) {
  Json list = Json::parse(kGpuList);
  Json& telemetry = list["gpus"][0]["telemetry"];
  telemetry["state"] = "lost";
  telemetry["message"] = "GPU has fallen off the bus (nvmlDeviceGetPowerUsage: GPU is lost)";
  const std::string row = SplitLines(FormatGpuList(list))[1];
  EXPECT_TRUE(Contains(row, "LOST (GPU has fallen off the bus")) << row;
  EXPECT_FALSE(Contains(row, "35%")) << row;
  EXPECT_FALSE(Contains(row, "41C")) << row;
}

TEST(FormatGpuListTest, ShowsPartitionErrorsAndSharesMemoryCaps) {
  Json list = Json::parse(kGpuList);
  Json& gpu = list["gpus"][0];
  gpu["partition"] = {{"mode", "shared"}, {"shares", 2}, {"error", "cannot enable MIG"}};
  gpu["units"] = Json::parse(R"([
    {"id": "gpu0/share/0", "kind": "share", "profile": null, "memory_bytes": 42949672960,
     "uuid": "GPU-0a0a0a0a-0000-0000-0000-000000000000", "holder": {"sandbox": "sb-1"}},
    {"id": "gpu0/share/1", "kind": "share", "profile": null, "memory_bytes": 42949672960,
     "uuid": "GPU-0a0a0a0a-0000-0000-0000-000000000000", "holder": null}])");
  const std::string text = FormatGpuList(list);
  EXPECT_TRUE(
      Matches(LineWith(text, "0000:07:00.0"), "  shared +\\(partition: cannot enable MIG\\)$"))
      << text;
  EXPECT_TRUE(Matches(LineWith(text, "gpu0/share/0"), "  share +40G +sb-1$")) << text;
  EXPECT_TRUE(Matches(LineWith(text, "gpu0/share/1"), "  share +40G +free$")) << text;
}

TEST(FormatGpuListTest, WithoutGpusSaysSoAndWhy) {
  const std::string text = FormatGpuList(Json::parse(
      R"({"nvml": {"status": "libnvidia-ml.so.1: cannot open shared object file",
                   "driver_version": null}, "warnings": [], "gpus": []})"));
  EXPECT_EQ(text, "no GPUs found\n\nNVML: libnvidia-ml.so.1: cannot open shared object file\n");
}

TEST(FormatHumanBytesTest, OneDecimalBelowTenWholeAbove) {
  EXPECT_EQ(FormatHumanBytes(int64_t{80} << 30), "80G");
  EXPECT_EQ(FormatHumanBytes(int64_t{81559} << 20), "80G");  // an H100's 79.6G
  EXPECT_EQ(FormatHumanBytes(1288490188), "1.2G");
  EXPECT_EQ(FormatHumanBytes(int64_t{1} << 30), "1G");
  EXPECT_EQ(FormatHumanBytes(int64_t{512} << 20), "512M");
  EXPECT_EQ(FormatHumanBytes(1536), "1.5K");
  EXPECT_EQ(FormatHumanBytes(0), "0B");
  EXPECT_EQ(FormatHumanBytes(int64_t{3} << 40), "3T");
}

TEST(FormatGpuHistoryTest, OneRowPerSampleInUtc) {
  const std::string text = FormatGpuHistory(Json::parse(R"({
    "uuid": "GPU-0a0a0a0a-0000-0000-0000-000000000000", "interval_ms": 1000, "capacity": 600,
    "samples": [
      {"state": "ok", "memory_used_bytes": 1073741824, "utilization_gpu_percent": 10,
       "power_mw": 60000, "power_limit_mw": 400000, "temperature_c": 35,
       "sampled_at_ms": 1793700000000},
      {"state": "ok", "memory_used_bytes": 2147483648, "utilization_gpu_percent": 99,
       "power_mw": 350000, "power_limit_mw": null, "temperature_c": 61,
       "sampled_at_ms": 1793700001000},
      {"state": "lost", "message": "GPU has fallen off the bus", "memory_used_bytes": null,
       "utilization_gpu_percent": null, "power_mw": null, "temperature_c": null,
       "sampled_at_ms": 1793700002000}]})"));
  const std::vector<std::string> lines = SplitLines(text);
  ASSERT_EQ(lines.size(), 4u) << text;
  EXPECT_EQ(lines[0], "TIME                  UTIL  MEMORY  POWER       TEMP");
  EXPECT_EQ(lines[1], "2026-11-03T10:00:00Z  10%   1G      60W / 400W  35C");
  EXPECT_EQ(lines[2], "2026-11-03T10:00:01Z  99%   2G      350W        61C");
  EXPECT_EQ(
      lines[3],
      "2026-11-03T10:00:02Z  -     -       -           -     LOST (GPU has fallen off the bus)");
}

TEST(FormatGpuHistoryTest, SaysWhenThereAreNoSamples) {
  EXPECT_EQ(FormatGpuHistory(Json::parse(R"({"uuid": "PCI-0000:af:00.0", "samples": []})")),
            "no samples\n");
}

// --- sandbox inspect and ls --------------------------------------------------------------------

Json SandboxWithGpus() {
  return Json::parse(R"({
    "id": "sb-1a2b3c4d5e", "state": "running", "command": ["python3", "train.py"],
    "created_at": "2026-11-03T12:00:00Z", "finished_at": null, "limits": {},
    "workspace": null, "root": "host", "exit_code": null, "signal": null, "reason": null,
    "gpus": {"request": {"count": 2, "nvlink": true},
             "granted": {"units": ["gpu0", "gpu1"],
                         "uuids": ["GPU-0a0a0a0a-0000-0000-0000-000000000000",
                                   "GPU-1b1b1b1b-0000-0000-0000-000000000000"],
                         "devices": ["/dev/nvidia0", "/dev/nvidia1"],
                         "cpuset_cpus": "0-15", "cpuset_mems": "0",
                         "memory_limit_bytes": null}}})");
}

TEST(SandboxGpuFormatTest, InspectShowsTheRequestAndTheGrant) {
  std::ostringstream out;
  PrintSandboxDetails(out, SandboxWithGpus());
  const std::string text = out.str();
  EXPECT_TRUE(Contains(text, "\ngpus         2:nvlink\n")) << text;
  EXPECT_TRUE(Contains(text, "\ngpu units    gpu0, gpu1\n")) << text;
  EXPECT_TRUE(Contains(text,
                       "\ngpu uuids    GPU-0a0a0a0a-0000-0000-0000-000000000000, "
                       "GPU-1b1b1b1b-0000-0000-0000-000000000000\n"))
      << text;
  EXPECT_TRUE(Contains(text, "\ngpu cpuset   cpus 0-15, mems 0\n")) << text;
  EXPECT_FALSE(Contains(text, "gpu memory")) << text;
}

TEST(SandboxGpuFormatTest, InspectShowsAShareAsItsSpecAndCap) {
  Json sandbox = SandboxWithGpus();
  sandbox["gpus"]["request"] = {{"share", {{"memory", int64_t{10} << 30}}}};
  sandbox["gpus"]["granted"]["units"] = {"gpu0/share/1"};
  sandbox["gpus"]["granted"]["memory_limit_bytes"] = int64_t{10} << 30;
  std::ostringstream out;
  PrintSandboxDetails(out, sandbox);
  EXPECT_TRUE(Contains(out.str(), "\ngpus         share:10G\n")) << out.str();
  EXPECT_TRUE(Contains(out.str(), "\ngpu memory   10G\n")) << out.str();

  // No locality known: the sandbox was not confined to any CPUs.
  sandbox["gpus"]["granted"]["cpuset_cpus"] = "";
  sandbox["gpus"]["granted"]["cpuset_mems"] = "";
  std::ostringstream unconfined;
  PrintSandboxDetails(unconfined, sandbox);
  EXPECT_TRUE(Contains(unconfined.str(), "\ngpu cpuset   -\n")) << unconfined.str();
}

TEST(SandboxGpuFormatTest, InspectWithoutGpusHasNoGpuRows) {
  Json sandbox = SandboxWithGpus();
  sandbox["gpus"] = nullptr;
  std::ostringstream out;
  PrintSandboxDetails(out, sandbox);
  EXPECT_FALSE(Contains(out.str(), "gpu")) << out.str();
}

TEST(SandboxGpuFormatTest, LsAddsAGpuColumnOnlyWhenASandboxHasGpus) {
  Json without = SandboxWithGpus();
  without["id"] = "sb-0000000000";
  without["gpus"] = nullptr;
  std::ostringstream plain;
  PrintSandboxTable(plain, Json::array({without}));
  EXPECT_TRUE(plain.str().starts_with("ID             STATE    COMMAND ")) << plain.str();

  std::ostringstream with_gpus;
  PrintSandboxTable(with_gpus, Json::array({SandboxWithGpus(), without}));
  const std::vector<std::string> lines = SplitLines(with_gpus.str());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].starts_with("ID             STATE    GPUS  COMMAND")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("sb-1a2b3c4d5e  running  2     python3 train.py")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("sb-0000000000  running  -     python3 train.py")) << lines[2];
}

}  // namespace
}  // namespace paddock::cli
