// NVML discovery, telemetry and MIG layout changes, run against the test NVML library with the
// machine descriptions in tests/fixtures/machines. Each test works on its own copy of a machine,
// since MIG changes are written back to the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "gpu/nvml_discovery.h"
#include "gpu/nvml_library.h"
#include "tests/unit/temp_dir.h"

namespace paddock::gpu {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1024ull * 1024ull;

// A copy of one machine description, named by PADDOCK_NVML_MOCK while the object lives.
class TestMachine {
 public:
  explicit TestMachine(const char* fixture) : path_(dir_.Join("machine.json")) {
    std::filesystem::copy_file(
        std::string(PADDOCK_SOURCE_DIR) + "/tests/fixtures/machines/" + fixture, path_);
    ::setenv("PADDOCK_NVML_MOCK", path_.c_str(), 1);
  }
  explicit TestMachine(const json& doc) : path_(dir_.Join("machine.json")) {
    Write(doc);
    ::setenv("PADDOCK_NVML_MOCK", path_.c_str(), 1);
  }
  ~TestMachine() { ::unsetenv("PADDOCK_NVML_MOCK"); }

  json Read() const {
    std::ifstream in(path_);
    return json::parse(in);
  }
  // Replaces the file the way tests change a running machine: write aside, then rename.
  void Write(const json& doc) const {
    std::string tmp = path_ + ".new";
    std::ofstream(tmp) << doc.dump(2);
    std::filesystem::rename(tmp, path_);
  }
  void Edit(const std::function<void(json&)>& change) const {
    json doc = Read();
    change(doc);
    Write(doc);
  }

 private:
  TempDir dir_;
  std::string path_;
};

std::unique_ptr<NvmlLibrary> OpenNvml() {
  auto lib = NvmlLibrary::Open(PADDOCK_TEST_NVML_LIBRARY);
  EXPECT_TRUE(lib.ok()) << lib.status().ToString();
  return lib.ok() ? std::move(lib).value() : nullptr;
}

NvmlSnapshot Discover(const NvmlLibrary& nvml) {
  auto snap = DiscoverNvmlGpus(nvml);
  EXPECT_TRUE(snap.ok()) << snap.status().ToString();
  return snap.ok() ? std::move(snap).value() : NvmlSnapshot{};
}

// ---- Opening the library ------------------------------------------------------------------------

TEST(NvmlLibraryTest, MissingLibraryIsUnavailable) {
  auto lib = NvmlLibrary::Open("/nonexistent/libnvidia-ml.so.1");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(lib.status().message(),
              HasSubstr("NVML library /nonexistent/libnvidia-ml.so.1 not found (no NVIDIA "
                        "driver?): "));
}

TEST(NvmlLibraryTest, LibraryWithoutNvmlIsUnavailable) {
  // A real shared object that exports none of NVML's functions.
  auto lib = NvmlLibrary::Open("libdl.so.2");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(lib.status().message(), HasSubstr("lacks nvmlInit_v2"));
}

TEST(NvmlLibraryTest, InitFailureIsUnavailableWithDriverText) {
  TestMachine machine(json{{"init_error", "DRIVER_NOT_LOADED"}, {"gpus", json::array()}});
  auto lib = NvmlLibrary::Open(PADDOCK_TEST_NVML_LIBRARY);
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(lib.status().message(), HasSubstr("nvmlInit_v2"));
  EXPECT_THAT(lib.status().message(), HasSubstr("Driver Not Loaded"));
}

TEST(NvmlLibraryTest, VersionMismatchAtInit) {
  TestMachine machine(json{{"init_error", "NVML_ERROR_LIB_RM_VERSION_MISMATCH"}});
  auto lib = NvmlLibrary::Open(PADDOCK_TEST_NVML_LIBRARY);
  ASSERT_FALSE(lib.ok());
  EXPECT_THAT(lib.status().message(), HasSubstr("version mismatch"));
}

TEST(NvmlLibraryTest, ResolvesOptionalFunctionsAndMapsErrors) {
  TestMachine machine("rtx4090-2x.json");
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  EXPECT_TRUE(nvml->api().HasMig());
  EXPECT_TRUE(nvml->api().HasXidEvents());
  EXPECT_NE(nvml->api().nvmlDeviceGetNumaNodeId, nullptr);
  Status lost = nvml->Check(NVML_ERROR_GPU_IS_LOST, "nvmlDeviceGetMemoryInfo");
  EXPECT_EQ(lost.code(), StatusCode::kUnavailable);
  EXPECT_EQ(lost.message(), "nvmlDeviceGetMemoryInfo: GPU is lost");
  EXPECT_TRUE(nvml->Check(NVML_SUCCESS, "x").ok());
  EXPECT_EQ(NvmlReturnCode(NVML_ERROR_NO_PERMISSION), StatusCode::kPermissionDenied);
}

// ---- Discovery ----------------------------------------------------------------------------------

TEST(NvmlDiscoveryTest, DgxA100) {
  TestMachine machine("dgx-a100-80gb.json");
  json doc = machine.Read();
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  NvmlSnapshot snap = Discover(*nvml);
  EXPECT_EQ(snap.driver_version, "550.54.15");
  EXPECT_EQ(snap.nvml_version, "12.550.54.15");
  ASSERT_EQ(snap.gpus.size(), 8u);
  const char* buses[] = {"0000:07:00.0", "0000:0f:00.0", "0000:47:00.0", "0000:4e:00.0",
                         "0000:87:00.0", "0000:90:00.0", "0000:b7:00.0", "0000:bd:00.0"};
  for (uint32_t i = 0; i < 8; ++i) {
    const GpuInfo& g = snap.gpus[i];
    SCOPED_TRACE("GPU " + std::to_string(i));
    EXPECT_EQ(g.index, i);
    EXPECT_EQ(g.minor, static_cast<int>(i));
    EXPECT_TRUE(g.from_nvml);
    EXPECT_EQ(g.uuid, doc["gpus"][i]["uuid"].get<std::string>());
    EXPECT_EQ(g.name, "NVIDIA A100-SXM4-80GB");
    EXPECT_EQ(g.pci.ToString(), buses[i]);
    EXPECT_EQ(g.pci_device_id, 0x20B210DEu);
    EXPECT_EQ(g.memory_total_bytes, 81920 * kMiB);
    EXPECT_EQ(g.cuda_cc_major, 8);
    EXPECT_EQ(g.cuda_cc_minor, 0);
    EXPECT_TRUE(g.mig_capable);
    EXPECT_FALSE(g.mig_enabled);
    // The driver lists MIG profiles only in MIG mode.
    EXPECT_TRUE(g.mig_profiles.empty());
    EXPECT_TRUE(g.mig_instances.empty());
    EXPECT_EQ(g.numa_nodes, std::vector<int>{i < 4 ? 0 : 1});
    EXPECT_EQ(g.local_cpus, i < 4 ? "0-63" : "64-127");
    EXPECT_EQ(g.nvlink_peers.size(), 7u);
    EXPECT_EQ(g.telemetry.state, "ok") << g.telemetry.message;
    EXPECT_EQ(g.telemetry.power_mw, 61000u + 1000u * i);
    EXPECT_EQ(g.telemetry.power_limit_mw, 400000u);
    EXPECT_EQ(g.telemetry.temperature_c, 31u + i);
    EXPECT_EQ(g.telemetry.ecc_enabled, true);
    EXPECT_EQ(g.telemetry.ecc_uncorrected_errors, 0u);
    EXPECT_GT(g.telemetry.sampled_at_ms, 0);
  }
  EXPECT_THAT(snap.gpus[0].nvlink_peers, ElementsAre(1, 2, 3, 4, 5, 6, 7));
  ASSERT_EQ(snap.links.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    for (size_t j = 0; j < 8; ++j) {
      EXPECT_EQ(snap.links[i][j], i == j ? LinkKind::kSelf : LinkKind::kNvlink) << i << "," << j;
    }
  }
  // Processes and the memory they use.
  ASSERT_EQ(snap.gpus[2].processes.size(), 1u);
  EXPECT_EQ(snap.gpus[2].processes[0].pid, 4242);
  EXPECT_EQ(snap.gpus[2].processes[0].used_memory_bytes, 10240 * kMiB);
  EXPECT_EQ(snap.gpus[2].processes[0].mig_uuid, "");
  EXPECT_EQ(snap.gpus[2].telemetry.memory_used_bytes, (4 + 10240) * kMiB);
  EXPECT_EQ(snap.gpus[2].telemetry.utilization_gpu_percent, 87u);
  EXPECT_EQ(snap.gpus[2].telemetry.utilization_memory_percent, 41u);
  // A compute+graphics process is listed once.
  ASSERT_EQ(snap.gpus[5].processes.size(), 1u);
  EXPECT_EQ(snap.gpus[5].processes[0].pid, 5151);
  EXPECT_TRUE(snap.gpus[0].processes.empty());
}

TEST(NvmlDiscoveryTest, H100PairsWithBridgesAndDistinctMinors) {
  TestMachine machine("h100-pcie-4x.json");
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  NvmlSnapshot snap = Discover(*nvml);
  ASSERT_EQ(snap.gpus.size(), 4u);
  std::vector<int> minors;
  for (const GpuInfo& g : snap.gpus) minors.push_back(g.minor);
  EXPECT_THAT(minors, ElementsAre(2, 3, 0, 1));
  EXPECT_EQ(snap.gpus[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(snap.gpus[0].pci_device_id, 0x233010DEu);
  EXPECT_EQ(snap.gpus[3].pci.ToString(), "0000:ca:00.0");
  EXPECT_EQ(snap.gpus[0].cuda_cc_major, 9);
  EXPECT_THAT(snap.gpus[0].nvlink_peers, ElementsAre(1));
  EXPECT_THAT(snap.gpus[1].nvlink_peers, ElementsAre(0));
  EXPECT_THAT(snap.gpus[2].nvlink_peers, ElementsAre(3));
  EXPECT_THAT(snap.gpus[3].nvlink_peers, ElementsAre(2));
  EXPECT_EQ(snap.links[0][1], LinkKind::kNvlink);
  EXPECT_EQ(snap.links[2][3], LinkKind::kNvlink);
  EXPECT_EQ(snap.links[0][2], LinkKind::kSystem);
  EXPECT_EQ(snap.links[3][1], LinkKind::kSystem);
  EXPECT_EQ(snap.links[1][1], LinkKind::kSelf);
  EXPECT_EQ(snap.gpus[1].numa_nodes, std::vector<int>{0});
  EXPECT_EQ(snap.gpus[2].numa_nodes, std::vector<int>{1});
  EXPECT_EQ(snap.gpus[0].local_cpus, "0-31,64-95");
  EXPECT_EQ(snap.gpus[3].local_cpus, "32-63,96-127");
}

TEST(NvmlDiscoveryTest, GeforcePairWithoutMigNvlinkOrEcc) {
  TestMachine machine("rtx4090-2x.json");
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  NvmlSnapshot snap = Discover(*nvml);
  ASSERT_EQ(snap.gpus.size(), 2u);
  const GpuInfo& g = snap.gpus[1];
  EXPECT_EQ(g.name, "NVIDIA GeForce RTX 4090");
  EXPECT_EQ(g.memory_total_bytes, 24564 * kMiB);
  EXPECT_EQ(g.cuda_cc_major, 8);
  EXPECT_EQ(g.cuda_cc_minor, 9);
  EXPECT_EQ(g.pci.ToString(), "0000:41:00.0");
  EXPECT_FALSE(g.mig_capable);
  EXPECT_FALSE(g.mig_enabled);
  EXPECT_TRUE(g.nvlink_peers.empty());
  EXPECT_EQ(snap.links[0][1], LinkKind::kHostBridge);
  EXPECT_EQ(snap.links[1][0], LinkKind::kHostBridge);
  // This driver lacks the NUMA node query: the memory affinity answers.
  EXPECT_EQ(g.numa_nodes, std::vector<int>{0});
  EXPECT_EQ(g.local_cpus, "0-31");
  EXPECT_EQ(g.telemetry.state, "ok") << g.telemetry.message;
  EXPECT_FALSE(g.telemetry.ecc_enabled.has_value());
  EXPECT_FALSE(g.telemetry.ecc_uncorrected_errors.has_value());
  EXPECT_EQ(g.telemetry.memory_used_bytes, 311 * kMiB);
}

TEST(NvmlDiscoveryTest, MigProfilesAndInstances) {
  TestMachine machine("h100-mig.json");
  json doc = machine.Read();
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  NvmlSnapshot snap = Discover(*nvml);
  ASSERT_EQ(snap.gpus.size(), 2u);
  const GpuInfo& g = snap.gpus[0];
  EXPECT_TRUE(g.mig_capable);
  EXPECT_TRUE(g.mig_enabled);
  ASSERT_EQ(g.mig_profiles.size(), 5u);
  std::vector<std::string> names;
  std::vector<uint32_t> ids, sms, slices, max_counts, sizes;
  for (const MigProfile& p : g.mig_profiles) {
    names.push_back(p.name);
    ids.push_back(p.id);
    sms.push_back(p.sm_count);
    slices.push_back(p.slices);
    max_counts.push_back(p.max_count);
    sizes.push_back(p.placement_size);
  }
  EXPECT_THAT(names, ElementsAre("1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"));
  EXPECT_THAT(ids, ElementsAre(19, 14, 9, 5, 0));
  EXPECT_THAT(sms, ElementsAre(16, 26, 60, 64, 132));
  EXPECT_THAT(slices, ElementsAre(1, 2, 3, 4, 7));
  EXPECT_THAT(max_counts, ElementsAre(7, 3, 2, 1, 1));
  EXPECT_THAT(sizes, ElementsAre(1, 2, 4, 4, 8));
  EXPECT_THAT(g.mig_profiles[0].placement_starts, ElementsAre(0, 1, 2, 3, 4, 5, 6));
  EXPECT_THAT(g.mig_profiles[2].placement_starts, ElementsAre(0, 4));
  EXPECT_EQ(g.mig_profiles[2].memory_bytes, 40960 * kMiB);

  const json& gis = doc["gpus"][0]["mig"]["instances"];
  ASSERT_EQ(g.mig_instances.size(), 3u);
  const MigInstance& a = g.mig_instances[0];
  EXPECT_EQ(a.profile, "3g.40gb");
  EXPECT_EQ(a.gpu_instance_id, 1u);
  EXPECT_EQ(a.compute_instance_id, 0u);
  EXPECT_EQ(a.placement_start, 0u);
  EXPECT_EQ(a.placement_size, 4u);
  EXPECT_EQ(a.memory_bytes, 40960 * kMiB);
  EXPECT_EQ(a.sm_count, 60u);
  EXPECT_EQ(a.uuid, gis[0]["compute_instances"][0]["uuid"].get<std::string>());
  const MigInstance& b = g.mig_instances[1];
  EXPECT_EQ(b.profile, "2g.20gb");
  EXPECT_EQ(b.gpu_instance_id, 5u);
  EXPECT_EQ(b.placement_start, 4u);
  EXPECT_EQ(b.placement_size, 2u);
  EXPECT_EQ(b.sm_count, 26u);
  EXPECT_EQ(b.uuid, gis[1]["compute_instances"][0]["uuid"].get<std::string>());
  const MigInstance& c = g.mig_instances[2];
  EXPECT_EQ(c.profile, "1g.10gb");
  EXPECT_EQ(c.gpu_instance_id, 13u);
  EXPECT_EQ(c.placement_start, 6u);
  EXPECT_EQ(c.placement_size, 1u);
  EXPECT_EQ(c.memory_bytes, 10240 * kMiB);
  EXPECT_THAT(c.uuid, ::testing::StartsWith("MIG-"));

  // The process runs in the 2g.20gb instance.
  ASSERT_EQ(g.processes.size(), 1u);
  EXPECT_EQ(g.processes[0].pid, 31337);
  EXPECT_EQ(g.processes[0].used_memory_bytes, 4096 * kMiB);
  EXPECT_EQ(g.processes[0].mig_uuid, b.uuid);
  // No whole-GPU utilization in MIG mode.
  EXPECT_FALSE(g.telemetry.utilization_gpu_percent.has_value());
  EXPECT_EQ(g.telemetry.state, "ok") << g.telemetry.message;

  const GpuInfo& off = snap.gpus[1];
  EXPECT_TRUE(off.mig_capable);
  EXPECT_FALSE(off.mig_enabled);
  EXPECT_TRUE(off.mig_profiles.empty());
  EXPECT_EQ(snap.links[0][1], LinkKind::kNumaNode);
}

TEST(NvmlDiscoveryTest, LostGpuIsListedWithWhatCouldBeRead) {
  TestMachine machine("dgx-a100-80gb.json");
  machine.Edit([](json& d) { d["gpus"][3]["lost"] = true; });
  json doc = machine.Read();
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  NvmlSnapshot snap = Discover(*nvml);
  ASSERT_EQ(snap.gpus.size(), 8u);
  const GpuInfo& g = snap.gpus[3];
  EXPECT_EQ(g.telemetry.state, "lost");
  EXPECT_THAT(g.telemetry.message, HasSubstr("GPU is lost"));
  EXPECT_EQ(g.uuid, doc["gpus"][3]["uuid"].get<std::string>());
  EXPECT_EQ(g.pci.ToString(), "0000:4e:00.0");
  EXPECT_FALSE(g.telemetry.memory_used_bytes.has_value());
  EXPECT_FALSE(g.telemetry.power_mw.has_value());
  EXPECT_TRUE(g.nvlink_peers.empty());
  EXPECT_EQ(snap.links[3][0], LinkKind::kSystem);
  EXPECT_EQ(snap.links[0][3], LinkKind::kSystem);
  EXPECT_EQ(snap.links[3][3], LinkKind::kSelf);
  EXPECT_EQ(snap.gpus[2].telemetry.state, "ok");
  EXPECT_THAT(snap.gpus[2].nvlink_peers, ElementsAre(0, 1, 4, 5, 6, 7));
}

// ---- Sampling -----------------------------------------------------------------------------------

TEST(NvmlSampleTest, SeesChangesToARunningMachine) {
  TestMachine machine("dgx-a100-80gb.json");
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  GpuSample before = SampleGpu(*nvml, 0);
  EXPECT_EQ(before.telemetry.state, "ok");
  EXPECT_TRUE(before.processes.empty());
  EXPECT_EQ(before.telemetry.memory_used_bytes, 4 * kMiB);

  // A process starts and grows far past anything it was given.
  machine.Edit([](json& d) {
    d["gpus"][0]["processes"] = {{{"pid", 777}, {"used_memory", 75ull * 1024 * kMiB}}};
  });
  GpuSample after = SampleGpu(*nvml, 0);
  ASSERT_EQ(after.processes.size(), 1u);
  EXPECT_EQ(after.processes[0].pid, 777);
  EXPECT_EQ(after.processes[0].used_memory_bytes, 75ull * 1024 * kMiB);
  EXPECT_EQ(after.telemetry.memory_used_bytes, 4 * kMiB + 75ull * 1024 * kMiB);

  // Then the GPU falls off the bus.
  machine.Edit([](json& d) { d["gpus"][0]["lost"] = true; });
  GpuSample lost = SampleGpu(*nvml, 0);
  EXPECT_EQ(lost.telemetry.state, "lost");
  EXPECT_TRUE(lost.processes.empty());
  EXPECT_EQ(SampleGpu(*nvml, 1).telemetry.state, "ok");

  // A volatile ECC error shows in the next sample.
  machine.Edit([](json& d) { d["gpus"][1]["ecc"]["volatile_uncorrected"] = 2; });
  EXPECT_EQ(SampleGpu(*nvml, 1).telemetry.ecc_uncorrected_errors, 2u);
}

TEST(NvmlSampleTest, XidErrorsAreDeliveredOnceToTheirGpu) {
  TestMachine machine("dgx-a100-80gb.json");
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  EXPECT_TRUE(SampleGpu(*nvml, 1).telemetry.xid_errors.empty());
  machine.Edit([](json& d) { d["gpus"][1]["xid_events"] = {79}; });
  // Sampling another GPU drains the shared event set but keeps GPU 1's XID for GPU 1.
  EXPECT_TRUE(SampleGpu(*nvml, 0).telemetry.xid_errors.empty());
  EXPECT_THAT(SampleGpu(*nvml, 1).telemetry.xid_errors, ElementsAre(79u));
  EXPECT_TRUE(SampleGpu(*nvml, 1).telemetry.xid_errors.empty());
  machine.Edit([](json& d) { d["gpus"][1]["xid_events"].push_back(48); });
  EXPECT_THAT(SampleGpu(*nvml, 1).telemetry.xid_errors, ElementsAre(48u));
  EXPECT_TRUE(SampleGpu(*nvml, 1).telemetry.xid_errors.empty());
}

TEST(NvmlSampleTest, MigProcessCarriesItsInstance) {
  TestMachine machine("h100-mig.json");
  json doc = machine.Read();
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  GpuSample s = SampleGpu(*nvml, 0);
  ASSERT_EQ(s.processes.size(), 1u);
  EXPECT_EQ(s.processes[0].mig_uuid,
            doc["gpus"][0]["mig"]["instances"][1]["compute_instances"][0]["uuid"]);
  EXPECT_EQ(s.telemetry.memory_used_bytes, 4096 * kMiB);
}

// ---- MIG layout changes -------------------------------------------------------------------------

const std::vector<MigPlacement> kMixedLayout = {
    {"1g.10gb", 19, 0, 1}, {"1g.10gb", 19, 1, 1}, {"2g.20gb", 14, 2, 2}, {"3g.40gb", 9, 4, 4}};

TEST(NvmlMigTest, RefusesWhileAProcessRuns) {
  TestMachine machine("h100-mig.json");
  json before = machine.Read();
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  Status s = ApplyMigLayout(*nvml, 0, kMixedLayout);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("31337"));
  EXPECT_EQ(machine.Read(), before);
}

TEST(NvmlMigTest, RefusesWhenMigModeIsOff) {
  TestMachine machine("h100-mig.json");
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  Status s = ApplyMigLayout(*nvml, 1, kMixedLayout);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("not in MIG mode"));
}

TEST(NvmlMigTest, CreatesTheLayoutAndPersistsIt) {
  TestMachine machine("h100-mig.json");
  machine.Edit([](json& d) { d["gpus"][0]["processes"] = json::array(); });
  std::set<std::string> old_uuids;
  const json original = machine.Read();
  for (const json& gi : original["gpus"][0]["mig"]["instances"]) {
    old_uuids.insert(gi["compute_instances"][0]["uuid"].get<std::string>());
  }
  {
    auto nvml = OpenNvml();
    ASSERT_NE(nvml, nullptr);
    Status s = ApplyMigLayout(*nvml, 0, kMixedLayout);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // The file holds the new layout, as the driver would across restarts.
  json doc = machine.Read();
  EXPECT_EQ(doc["gpus"][0]["mig"]["instances"].size(), 4u);

  auto nvml = OpenNvml();  // a fresh start
  ASSERT_NE(nvml, nullptr);
  NvmlSnapshot snap = Discover(*nvml);
  const std::vector<MigInstance>& got = snap.gpus[0].mig_instances;
  ASSERT_EQ(got.size(), 4u);
  std::set<std::string> uuids;
  for (size_t k = 0; k < got.size(); ++k) {
    SCOPED_TRACE(k);
    EXPECT_EQ(got[k].profile, kMixedLayout[k].profile);
    EXPECT_EQ(got[k].placement_start, kMixedLayout[k].start);
    EXPECT_EQ(got[k].placement_size, kMixedLayout[k].size);
    EXPECT_THAT(got[k].uuid,
                ::testing::MatchesRegex(
                    "MIG-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"));
    EXPECT_EQ(old_uuids.count(got[k].uuid), 0u);
    uuids.insert(got[k].uuid);
  }
  EXPECT_EQ(uuids.size(), 4u);
  EXPECT_EQ(got[3].sm_count, 60u);
  // GPU 1 is untouched.
  EXPECT_TRUE(snap.gpus[1].mig_instances.empty());
}

TEST(NvmlMigTest, EmptyLayoutRemovesEveryInstance) {
  TestMachine machine("h100-mig.json");
  machine.Edit([](json& d) { d["gpus"][0]["processes"] = json::array(); });
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  ASSERT_TRUE(ApplyMigLayout(*nvml, 0, {}).ok());
  EXPECT_TRUE(Discover(*nvml).gpus[0].mig_instances.empty());
}

TEST(NvmlMigTest, NamesTheInstanceThatFailed) {
  TestMachine machine("h100-mig.json");
  machine.Edit([](json& d) { d["gpus"][0]["processes"] = json::array(); });
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  // The 2g.20gb at slice 2 overlaps the 3g.40gb's four memory slices.
  Status s = ApplyMigLayout(*nvml, 0, {{"3g.40gb", 9, 0, 4}, {"2g.20gb", 14, 2, 2}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("creating MIG instance 2 of 2 (2g.20gb at slice 2) on GPU 0"));
  std::vector<MigInstance> left = Discover(*nvml).gpus[0].mig_instances;
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].profile, "3g.40gb");
}

TEST(NvmlMigTest, UnknownProfileChangesNothing) {
  TestMachine machine("h100-mig.json");
  machine.Edit([](json& d) { d["gpus"][0]["processes"] = json::array(); });
  auto nvml = OpenNvml();
  ASSERT_NE(nvml, nullptr);
  Status s = ApplyMigLayout(*nvml, 0, {{"5g.50gb", 77, 0, 4}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Discover(*nvml).gpus[0].mig_instances.size(), 3u);
}

}  // namespace
}  // namespace paddock::gpu
