// Units, the allocator and MIG layout planning, on models of real machines and on the inventories
// built from the real fixture machines.
//
// The property tests run seeded random sequences of requests and releases against each machine
// and check every whole-GPU decision against tests/unit/gpu_alloc_brute_force.h, plus the
// holding invariants after every step. A failure prints the machine, seed and step.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <set>

#include "gpu/allocator.h"
#include "gpu/inventory.h"
#include "gpu/mig_layout.h"
#include "gpu/nvml_discovery.h"
#include "gpu/nvml_library.h"
#include "gpu/topology.h"
#include "tests/unit/gpu_alloc_brute_force.h"
#include "tests/unit/temp_dir.h"

namespace paddock::gpu {
namespace {

using testing::BruteForceBest;
using testing::Evaluate;
using testing::FreeWholeGpus;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// --- MIG profiles (from the NVML fixtures' README) ---------------------------------------------

MigProfile Profile(const std::string& name, uint32_t id, uint32_t slices, uint32_t max_count,
                   uint64_t mib, uint32_t sms, std::vector<uint32_t> starts, uint32_t size) {
  return {name, id, slices, max_count, mib * kMiB, sms, std::move(starts), size};
}

std::vector<MigProfile> H100Profiles() {
  return {Profile("1g.10gb", 19, 1, 7, 10240, 16, {0, 1, 2, 3, 4, 5, 6}, 1),
          Profile("2g.20gb", 14, 2, 3, 20480, 26, {0, 2, 4}, 2),
          Profile("3g.40gb", 9, 3, 2, 40960, 60, {0, 4}, 4),
          Profile("4g.40gb", 5, 4, 1, 40960, 64, {0}, 4),
          Profile("7g.80gb", 0, 7, 1, 81920, 132, {0}, 8)};
}

std::vector<MigProfile> A100_40Profiles() {
  return {Profile("1g.5gb", 19, 1, 7, 4864, 14, {0, 1, 2, 3, 4, 5, 6}, 1),
          Profile("2g.10gb", 14, 2, 3, 9856, 28, {0, 2, 4}, 2),
          Profile("3g.20gb", 9, 3, 2, 19968, 42, {0, 4}, 4),
          Profile("4g.20gb", 5, 4, 1, 19968, 56, {0}, 4),
          Profile("7g.40gb", 0, 7, 1, 40192, 98, {0}, 8)};
}

std::vector<MigProfile> A30Profiles() {
  return {Profile("1g.6gb", 14, 1, 4, 5836, 14, {0, 1, 2, 3}, 1),
          Profile("2g.12gb", 5, 2, 2, 11672, 28, {0, 2}, 2),
          Profile("4g.24gb", 0, 4, 1, 23344, 56, {0}, 4)};
}

// --- Machine models ------------------------------------------------------------------------------

struct Machine {
  std::string name;
  std::vector<GpuInfo> gpus;
  std::vector<std::vector<LinkKind>> links;
  std::map<uint32_t, GpuPartition> partitions;
};

std::string Uuid(const char* prefix, uint32_t a, uint32_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%08x-%04x-4000-8000-%012x", prefix, 0x5eed0000u + a, b,
                a * 131 + b);
  return buf;
}

GpuInfo Gpu(uint32_t index, const std::string& name, uint64_t memory_mib, std::vector<int> numa,
            bool mig_capable) {
  GpuInfo g;
  g.index = index;
  g.minor = static_cast<int>(index);
  g.uuid = Uuid("GPU", index, 0);
  g.name = name;
  g.memory_total_bytes = memory_mib * kMiB;
  g.from_nvml = true;
  g.mig_capable = mig_capable;
  if (mig_capable) g.mig_profiles = H100Profiles();
  g.numa_nodes = std::move(numa);
  return g;
}

// A machine whose links come from `link(i, j)` for i != j.
template <typename LinkFn>
Machine Build(const std::string& name, std::vector<GpuInfo> gpus, LinkFn link) {
  Machine m{name, std::move(gpus), {}, {}};
  const size_t n = m.gpus.size();
  m.links.assign(n, std::vector<LinkKind>(n, LinkKind::kSelf));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (i != j) m.links[i][j] = link(i, j);
    }
    for (size_t j = 0; j < n; ++j) {
      if (m.links[i][j] == LinkKind::kNvlink) m.gpus[i].nvlink_peers.push_back(j);
    }
  }
  return m;
}

// DGX A100: 8 GPUs, all-to-all over NVSwitch, 4 per NUMA node.
Machine DgxA100() {
  std::vector<GpuInfo> gpus;
  for (uint32_t i = 0; i < 8; ++i) {
    gpus.push_back(Gpu(i, "NVIDIA A100-SXM4-80GB", 81920, {static_cast<int>(i / 4)}, true));
  }
  return Build("dgx_a100", gpus, [](size_t, size_t) { return LinkKind::kNvlink; });
}

// 4x H100 PCIe: NVLink bridges 0-1 and 2-3, each pair on its own socket.
Machine H100Pcie4() {
  std::vector<GpuInfo> gpus;
  for (uint32_t i = 0; i < 4; ++i) {
    gpus.push_back(Gpu(i, "NVIDIA H100 PCIe", 81559, {static_cast<int>(i / 2)}, true));
  }
  return Build("h100_pcie_x4", gpus, [](size_t i, size_t j) {
    return i / 2 == j / 2 ? LinkKind::kNvlink : LinkKind::kSystem;
  });
}

// 2x RTX 4090 below one host bridge, no NVLink, no MIG.
Machine Rtx4090x2() {
  std::vector<GpuInfo> gpus;
  for (uint32_t i = 0; i < 2; ++i)
    gpus.push_back(Gpu(i, "NVIDIA GeForce RTX 4090", 24564, {0}, false));
  return Build("rtx4090_x2", gpus, [](size_t, size_t) { return LinkKind::kHostBridge; });
}

// DGX-2: 16 V100 all-to-all over NVSwitch, 8 per NUMA node.
Machine Dgx2() {
  std::vector<GpuInfo> gpus;
  for (uint32_t i = 0; i < 16; ++i) {
    gpus.push_back(Gpu(i, "Tesla V100-SXM3-32GB", 32768, {static_cast<int>(i / 8)}, false));
  }
  return Build("dgx2", gpus, [](size_t, size_t) { return LinkKind::kNvlink; });
}

// 3 GPUs: gpu0 alone on NUMA 0; gpu1 and gpu2 on NUMA 1 below one host bridge.
Machine ThreeGpu() {
  std::vector<GpuInfo> gpus = {Gpu(0, "NVIDIA RTX A6000", 49140, {0}, false),
                               Gpu(1, "NVIDIA RTX A6000", 49140, {1}, false),
                               Gpu(2, "NVIDIA RTX A6000", 49140, {1}, false)};
  return Build("three_gpu", gpus, [](size_t i, size_t j) {
    return i > 0 && j > 0 ? LinkKind::kHostBridge : LinkKind::kSystem;
  });
}

// A tree: 2 NUMA nodes x 2 host bridges x 2 PCIe switches x 2 GPUs, with NVLink bridges between
// the two GPUs of each switch in NUMA 0 and across switches (0-2 style) in NUMA 1, so that
// NVLink and PCIe disagree there. Few twins: a hard case for the search.
Machine Tree16() {
  std::vector<GpuInfo> gpus;
  for (uint32_t i = 0; i < 16; ++i) {
    gpus.push_back(Gpu(i, "NVIDIA L40S", 46068, {static_cast<int>(i / 8)}, false));
  }
  return Build("tree16", gpus, [](size_t i, size_t j) {
    if (i < 8 && j < 8 && i / 2 == j / 2) return LinkKind::kNvlink;
    if (i >= 8 && j >= 8 && i / 4 == j / 4 && i % 2 == j % 2) return LinkKind::kNvlink;
    if (i / 2 == j / 2) return LinkKind::kPcieSwitch;
    if (i / 4 == j / 4) return LinkKind::kHostBridge;
    if (i / 8 == j / 8) return LinkKind::kNumaNode;
    return LinkKind::kSystem;
  });
}

// Applies `layout` to the GPU as the daemon would: the planned instances come into existence.
void ApplyLayout(GpuInfo& gpu, const std::vector<std::string>& layout) {
  auto plan = PlanMigLayout(gpu.mig_profiles, layout);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  gpu.mig_enabled = true;
  gpu.mig_instances.clear();
  uint32_t gi = 1;
  for (const MigPlacement& p : *plan) {
    const MigProfile& profile =
        *std::find_if(gpu.mig_profiles.begin(), gpu.mig_profiles.end(),
                      [&](const MigProfile& x) { return x.name == p.profile; });
    gpu.mig_instances.push_back({Uuid("MIG", gpu.index, gi), p.profile, gi, 0, p.start, p.size,
                                 profile.memory_bytes, profile.sm_count});
    ++gi;
  }
}

// 16 H100 SXM: two NVLink domains of 8 (one per NUMA node, 2 PCIe switches of 4 each). Ten GPUs
// are in MIG (most 7x 1g.10gb, two 3g+2g+1g+1g), two are shared, four are exclusive.
Machine MigBox16() {
  std::vector<GpuInfo> gpus;
  for (uint32_t i = 0; i < 16; ++i) {
    gpus.push_back(Gpu(i, "NVIDIA H100 80GB HBM3", 81920, {static_cast<int>(i / 8)}, true));
  }
  Machine m = Build("mig_box16", gpus, [](size_t i, size_t j) {
    return i / 8 == j / 8 ? LinkKind::kNvlink : LinkKind::kSystem;
  });
  const std::set<uint32_t> exclusive = {3, 6, 7, 12}, shared = {13, 15};
  for (uint32_t i = 0; i < 16; ++i) {
    if (exclusive.count(i) > 0) continue;
    GpuPartition p;
    if (shared.count(i) > 0) {
      p.mode = GpuPartition::Mode::kShared;
      p.shares = i == 13 ? 4 : 2;
      m.partitions[i] = p;
      continue;
    }
    p.mode = GpuPartition::Mode::kMig;
    if (i == 2 || i == 9) {
      p.mig_layout = {"3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"};
    } else {
      p.mig_layout.assign(7, "1g.10gb");
    }
    ApplyLayout(m.gpus[i], p.mig_layout);
    m.partitions[i] = p;
  }
  return m;
}

// Random symmetric links and NUMA nodes (some unknown): no structure at all to lean on.
Machine RandomMachine(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  std::vector<GpuInfo> gpus;
  for (uint32_t i = 0; i < n; ++i) {
    const int numa = static_cast<int>(rng() % 4) - 1;
    gpus.push_back(
        Gpu(i, "random", 16384, numa < 0 ? std::vector<int>{} : std::vector<int>{numa}, false));
  }
  std::vector<std::vector<int>> level(n, std::vector<int>(n, 0));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) level[i][j] = level[j][i] = 1 + static_cast<int>(rng() % 5);
  }
  return Build("random" + std::to_string(seed), gpus,
               [level](size_t i, size_t j) { return static_cast<LinkKind>(level[i][j]); });
}

Allocator MakeAllocator(const Machine& m) {
  auto units = BuildUnits(m.gpus, m.partitions);
  EXPECT_TRUE(units.ok()) << units.status().ToString();
  return Allocator(m.gpus, m.links, units.ok() ? *units : std::vector<Unit>{});
}

GpuRequest Count(uint32_t n, bool nvlink = false, bool same_numa = false) {
  GpuRequest r;
  r.count = n;
  r.nvlink = nvlink;
  r.same_numa = same_numa;
  return r;
}

GpuRequest Mig(const std::string& profile) {
  GpuRequest r;
  r.mig_profile = profile;
  return r;
}

GpuRequest Share(uint64_t bytes) {
  GpuRequest r;
  r.share_memory_bytes = bytes;
  return r;
}

GpuRequest Uuids(std::vector<std::string> uuids) {
  GpuRequest r;
  r.uuids = std::move(uuids);
  return r;
}

std::vector<uint32_t> GpusOf(Result<Allocation> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->gpus : std::vector<uint32_t>{};
}

// --- Property tests ------------------------------------------------------------------------------

// A random request that this machine can make sense of (and sometimes one it cannot).
GpuRequest RandomRequest(std::mt19937& rng, const Machine& m, const std::vector<Unit>& units) {
  const uint32_t roll = rng() % 100;
  const uint32_t n = static_cast<uint32_t>(m.gpus.size());
  if (roll < 70) {
    // Mostly small requests, sometimes large or impossible ones.
    static const uint32_t kSizes[] = {1, 1, 1, 2, 2, 2, 3, 4, 4, 5, 6, 8, 8, 12, 16};
    GpuRequest r = Count(std::min<uint32_t>(kSizes[rng() % std::size(kSizes)], n + 1));
    r.nvlink = rng() % 4 == 0;
    r.same_numa = rng() % 4 == 0;
    return r;
  }
  if (roll < 85) {
    static const char* kProfiles[] = {"1g.10gb", "1g.10gb", "1g.10gb", "2g.20gb",
                                      "3g.40gb", "4g.40gb", "5g.50gb"};
    return Mig(kProfiles[rng() % std::size(kProfiles)]);
  }
  if (roll < 95) return Share((1 + rng() % 48) * kGiB);
  std::vector<std::string> uuids;
  const size_t pick = 1 + rng() % 2;
  for (size_t i = 0; i < pick && !units.empty(); ++i) {
    const Unit& u = units[rng() % units.size()];
    if (u.kind != UnitKind::kShare) uuids.push_back(u.uuid);
  }
  if (uuids.empty()) uuids.push_back("GPU-00000000-0000-0000-0000-000000000000");
  return Uuids(uuids);
}

std::string Describe(const GpuRequest& r) {
  std::string s = "count=" + std::to_string(r.count) + " mig=" + r.mig_profile +
                  " share=" + std::to_string(r.share_memory_bytes) + " uuids=";
  for (const auto& u : r.uuids) s += u + ",";
  return s + " nvlink=" + std::to_string(r.nvlink) + " same_numa=" + std::to_string(r.same_numa);
}

// No unit held twice is the holders map's nature; what is left to check is that every held unit
// exists and that a held whole GPU has no other held unit on it.
void CheckInvariants(const Allocator& allocator) {
  const auto holders = allocator.Holders();
  std::map<uint32_t, int> held_units;
  std::set<uint32_t> held_whole;
  size_t known = 0;
  for (const Unit& u : allocator.units()) {
    if (holders.count(u.id) == 0) continue;
    ++known;
    ++held_units[u.gpu];
    if (u.kind == UnitKind::kWhole) held_whole.insert(u.gpu);
  }
  ASSERT_EQ(known, holders.size()) << "a holder for a unit that does not exist";
  for (uint32_t gpu : held_whole) ASSERT_EQ(held_units[gpu], 1) << "gpu " << gpu;
}

std::string Set(const std::vector<uint32_t>& gpus) {
  std::string s = "{";
  for (uint32_t g : gpus) s += std::to_string(g) + ",";
  return s + "}";
}

// How many count decisions a sequence granted and refused: a sequence that never did one of
// them proved nothing about it.
struct CountDecisions {
  int granted = 0;
  int refused = 0;
};

void CheckCountDecision(const Machine& m, const Allocator& before_state,
                        const std::vector<uint32_t>& free, const GpuRequest& request,
                        const Result<Allocation>& result, CountDecisions* decisions) {
  SCOPED_TRACE("free " + Set(free));
  const auto expected = BruteForceBest(m.gpus, m.links, free, request);
  if (expected.found) {
    ASSERT_TRUE(result.ok()) << "refused, brute force grants " << Set(expected.gpus) << ": "
                             << result.status().ToString();
    ASSERT_EQ(Evaluate(m.links, free, result->gpus), expected.objective);
    ASSERT_EQ(result->gpus, expected.gpus);
    ASSERT_EQ(result->unit_ids.size(), request.count);
    ++decisions->granted;
    return;
  }
  ASSERT_FALSE(result.ok()) << "granted " << Set(result->gpus) << ", brute force finds no set";
  ++decisions->refused;
  std::vector<uint32_t> all;
  for (const Unit& u : before_state.units()) {
    if (u.kind == UnitKind::kWhole) all.push_back(u.gpu);
  }
  const bool ever = BruteForceBest(m.gpus, m.links, all, request).found;
  ASSERT_EQ(result.status().code(),
            ever ? StatusCode::kResourceExhausted : StatusCode::kFailedPrecondition)
      << result.status().ToString();
}

using RequestFn =
    std::function<GpuRequest(std::mt19937&, const Machine&, const std::vector<Unit>&)>;

void RunRandomSequence(const Machine& m, uint32_t seed, int steps,
                       const RequestFn& next_request = RandomRequest,
                       CountDecisions* decisions = nullptr) {
  CountDecisions ignored;
  if (decisions == nullptr) decisions = &ignored;
  auto units = BuildUnits(m.gpus, m.partitions);
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  Allocator allocator(m.gpus, m.links, *units);
  ASSERT_TRUE(allocator.status().ok());
  std::mt19937 rng(seed);
  std::vector<std::string> owners;
  int next_owner = 0;
  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE("machine " + m.name + ", seed " + std::to_string(seed) + ", step " +
                 std::to_string(step));
    const auto before = allocator.Holders();
    if (rng() % 100 < 4) {  // now and then an empty machine again, for large free sets
      for (const std::string& owner : owners) allocator.Release(owner);
      owners.clear();
      ASSERT_TRUE(allocator.Holders().empty());
      continue;
    }
    if (!owners.empty() && rng() % 100 < 35) {
      const size_t i = rng() % owners.size();
      allocator.Release(owners[i]);
      for (const auto& [unit, owner] : allocator.Holders()) ASSERT_NE(owner, owners[i]);
      owners.erase(owners.begin() + static_cast<long>(i));
      continue;
    }
    const GpuRequest request = next_request(rng, m, *units);
    SCOPED_TRACE(Describe(request));
    const std::vector<uint32_t> free = FreeWholeGpus(allocator);
    const std::string owner = "owner" + std::to_string(next_owner++);
    const Result<Allocation> result = allocator.Allocate(request, owner);
    const auto after = allocator.Holders();
    if (!result.ok()) {
      ASSERT_EQ(after, before) << "a failed request changed holdings";
    } else {
      // Exactly the returned units were added, all of them free before.
      auto expected = before;
      for (const std::string& id : result->unit_ids) {
        ASSERT_EQ(before.count(id), 0u) << id << " given twice";
        expected[id] = owner;
      }
      ASSERT_EQ(after, expected);
      owners.push_back(owner);
    }
    if (request.count > 0) {
      ASSERT_NO_FATAL_FAILURE(CheckCountDecision(m, allocator, free, request, result, decisions));
    }
    ASSERT_NO_FATAL_FAILURE(CheckInvariants(allocator));
  }
}

TEST(AllocatorPropertyTest, MatchesBruteForceOnRealMachines) {
  for (const Machine& m : {DgxA100(), H100Pcie4(), Rtx4090x2(), ThreeGpu(), MigBox16()}) {
    for (uint32_t seed = 1; seed <= 30; ++seed) {
      ASSERT_NO_FATAL_FAILURE(RunRandomSequence(m, seed, 200));
    }
  }
}

TEST(AllocatorPropertyTest, MatchesBruteForceOnSixteenGpuMachines) {
  for (const Machine& m : {Dgx2(), Tree16()}) {
    for (uint32_t seed = 1; seed <= 8; ++seed) {
      ASSERT_NO_FATAL_FAILURE(RunRandomSequence(m, seed, 150));
    }
  }
}

TEST(AllocatorPropertyTest, MatchesBruteForceOnRandomTopologies) {
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    const Machine m = RandomMachine(seed, 2 + seed % 11);
    ASSERT_NO_FATAL_FAILURE(RunRandomSequence(m, seed, 150));
  }
  for (uint32_t seed = 1000; seed < 1012; ++seed) {
    ASSERT_NO_FATAL_FAILURE(RunRandomSequence(RandomMachine(seed, 16), seed, 120));
  }
}

// --- Real fixture machines -----------------------------------------------------------------------
//
// The inventories the daemon builds: from an hwloc export without NVML (tests/fixtures/hwloc), or
// from the test NVML library on a machine description (tests/fixtures/machines) without hwloc.

std::string Fixture(const std::string& relative) {
  return std::string(PADDOCK_SOURCE_DIR) + "/tests/fixtures/" + relative;
}

Inventory InventoryFromHwloc(const std::string& file) {
  auto topology = Topology::LoadXml(Fixture("hwloc/" + file));
  EXPECT_TRUE(topology.ok()) << topology.status().ToString();
  if (!topology.ok()) return {};
  InventorySources sources;
  sources.topology = &*topology;
  return BuildInventory(sources);
}

Inventory InventoryFromNvml(const std::string& file) {
  TempDir dir;
  const std::string path = dir.Join("machine.json");
  std::filesystem::copy_file(Fixture("machines/" + file), path);
  ::setenv("PADDOCK_NVML_MOCK", path.c_str(), 1);
  Inventory inventory;
  {
    auto lib = NvmlLibrary::Open(PADDOCK_TEST_NVML_LIBRARY);
    EXPECT_TRUE(lib.ok()) << lib.status().ToString();
    if (lib.ok()) {
      auto snapshot = DiscoverNvmlGpus(**lib);
      EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
      if (snapshot.ok()) {
        const NvmlGpuList list{snapshot->gpus, snapshot->links};
        InventorySources sources;
        sources.nvml = &list;
        inventory = BuildInventory(sources);
      }
    }
  }
  ::unsetenv("PADDOCK_NVML_MOCK");
  return inventory;
}

// The brute force indexes links by GPU index, the inventory by position: they must agree, and
// the matrix must be square and symmetric for the brute force to read it as the allocator does.
void CheckInventoryShape(const Inventory& inventory) {
  const size_t n = inventory.gpus.size();
  ASSERT_EQ(inventory.links.size(), n);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(inventory.gpus[i].index, i);
    ASSERT_EQ(inventory.links[i].size(), n);
    ASSERT_EQ(inventory.links[i][i], LinkKind::kSelf);
    for (size_t j = 0; j < n; ++j) {
      ASSERT_EQ(inventory.links[i][j], inventory.links[j][i]) << i << " " << j;
    }
  }
}

// Whole-GPU requests only: any count up to the machine's size, with either constraint.
GpuRequest RandomCountRequest(std::mt19937& rng, const Machine& m, const std::vector<Unit>&) {
  GpuRequest r = Count(1 + rng() % static_cast<uint32_t>(m.gpus.size()));
  r.nvlink = rng() % 3 == 0;
  r.same_numa = rng() % 3 == 0;
  return r;
}

void RunOnFixture(const std::string& file, const Inventory& inventory, size_t expected_gpus,
                  bool expected_nvml) {
  SCOPED_TRACE(file);
  ASSERT_EQ(inventory.gpus.size(), expected_gpus);
  ASSERT_EQ(inventory.nvml, expected_nvml);
  ASSERT_NO_FATAL_FAILURE(CheckInventoryShape(inventory));
  const Machine m{file, inventory.gpus, inventory.links, {}};
  auto units = BuildUnits(m.gpus, m.partitions);
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  ASSERT_EQ(units->size(), m.gpus.size());
  CountDecisions decisions;
  ASSERT_NO_FATAL_FAILURE(RunRandomSequence(m, 20240601, 2000, RandomCountRequest, &decisions));
  EXPECT_GT(decisions.granted, 0);
  EXPECT_GT(decisions.refused, 0);
}

TEST(FixturePlacementTest, HwlocMachinesWithoutNvml) {
  const std::pair<const char*, size_t> kMachines[] = {
      {"nvidiaDGX2.xml", 16},        {"32em64t-2n8c2t-pci-normalio.xml", 3},
      {"24em64t-2n6c2t-pci.xml", 3}, {"64intel64-3g2n+2n-irregulargroups+pci.xml", 2},
      {"power8gpudistances.xml", 4},
  };
  for (const auto& [file, gpus] : kMachines) {
    ASSERT_NO_FATAL_FAILURE(RunOnFixture(file, InventoryFromHwloc(file), gpus, false));
  }
}

TEST(FixturePlacementTest, NvmlMachinesWithoutHwloc) {
  const std::pair<const char*, size_t> kMachines[] = {
      {"dgx-a100-80gb.json", 8},
      {"h100-pcie-4x.json", 4},
      {"rtx4090-2x.json", 2},
      {"h100-mig.json", 2},
  };
  for (const auto& [file, gpus] : kMachines) {
    ASSERT_NO_FATAL_FAILURE(RunOnFixture(file, InventoryFromNvml(file), gpus, true));
  }
}

// --- Whole-GPU placement -------------------------------------------------------------------------

TEST(AllocatorTest, SingleGpuTakesTheNvlinkPartnerOfABusyGpu) {
  Allocator a = MakeAllocator(H100Pcie4());
  EXPECT_EQ(GpusOf(a.Allocate(Uuids({a.units()[0].uuid}), "first")), std::vector<uint32_t>{0});
  // 2 and 3 are an intact NVLink pair; 1 has lost its partner anyway.
  EXPECT_EQ(GpusOf(a.Allocate(Count(1), "second")), std::vector<uint32_t>{1});
  EXPECT_EQ(GpusOf(a.Allocate(Count(2), "third")), (std::vector<uint32_t>{2, 3}));
}

TEST(AllocatorTest, PairRequestTakesAnNvlinkPair) {
  Allocator a = MakeAllocator(H100Pcie4());
  EXPECT_EQ(GpusOf(a.Allocate(Count(1), "x")), std::vector<uint32_t>{0});
  EXPECT_EQ(GpusOf(a.Allocate(Count(2), "y")), (std::vector<uint32_t>{2, 3}));
}

TEST(AllocatorTest, SingleGpuOnThreeGpuBoxTakesTheLoneNumaNodeGpu) {
  Allocator a = MakeAllocator(ThreeGpu());
  EXPECT_EQ(GpusOf(a.Allocate(Count(1), "x")), std::vector<uint32_t>{0});
  EXPECT_EQ(GpusOf(a.Allocate(Count(2), "y")), (std::vector<uint32_t>{1, 2}));
}

TEST(AllocatorTest, TreeTakesTheCheapestQuadAndAnIntactSwitch) {
  Allocator a = MakeAllocator(Tree16());
  // 8-11: two NVLink links, two PCIe switch pairs, two host bridge pairs (12) beat 0-3's two
  // NVLink pairs joined by the host bridge (14).
  EXPECT_EQ(GpusOf(a.Allocate(Count(4), "x")), (std::vector<uint32_t>{8, 9, 10, 11}));
  // An NVLink pair that is also a whole PCIe switch (0-1) beats 12-14, whose switches it splits.
  EXPECT_EQ(GpusOf(a.Allocate(Count(2), "y")), (std::vector<uint32_t>{0, 1}));
}

TEST(AllocatorTest, NvlinkConstraint) {
  Allocator a = MakeAllocator(H100Pcie4());
  ASSERT_TRUE(a.Allocate(Uuids({a.units()[1].uuid}), "x").ok());
  EXPECT_EQ(GpusOf(a.Allocate(Count(2, /*nvlink=*/true), "y")), (std::vector<uint32_t>{2, 3}));
  auto again = a.Allocate(Count(2, true), "z");
  EXPECT_EQ(again.status().code(), StatusCode::kResourceExhausted) << again.status().ToString();
  // Three NVLink-linked GPUs: no such group on this machine.
  auto three = a.Allocate(Count(3, true), "z");
  EXPECT_EQ(three.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(three.status().message(), HasSubstr("largest NVLink group"));

  Allocator rtx = MakeAllocator(Rtx4090x2());
  EXPECT_EQ(rtx.Allocate(Count(2, true), "x").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(GpusOf(rtx.Allocate(Count(1, true), "x")), std::vector<uint32_t>{0});
}

TEST(AllocatorTest, SameNumaConstraint) {
  Allocator a = MakeAllocator(DgxA100());
  ASSERT_TRUE(a.Allocate(Uuids({a.units()[0].uuid}), "x").ok());
  EXPECT_EQ(GpusOf(a.Allocate(Count(4, false, /*same_numa=*/true), "y")),
            (std::vector<uint32_t>{4, 5, 6, 7}));
  EXPECT_EQ(a.Allocate(Count(4, false, true), "z").status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(a.Allocate(Count(5, false, true), "z").status().code(),
            StatusCode::kFailedPrecondition);

  Allocator dgx2 = MakeAllocator(Dgx2());
  ASSERT_TRUE(dgx2.Allocate(Uuids({dgx2.units()[0].uuid}), "x").ok());
  std::vector<uint32_t> upper = {8, 9, 10, 11, 12, 13, 14, 15};
  EXPECT_EQ(GpusOf(dgx2.Allocate(Count(8, true, true), "y")), upper);
  auto nine = dgx2.Allocate(Count(9, false, true), "z");
  EXPECT_EQ(nine.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(nine.status().message(), HasSubstr("one NUMA node"));
}

TEST(AllocatorTest, UnknownNumaMatchesNothingUnlessNoneIsKnown) {
  Machine m = ThreeGpu();
  m.gpus[2].numa_nodes.clear();
  Allocator a = MakeAllocator(m);
  EXPECT_EQ(a.Allocate(Count(2, false, true), "x").status().code(),
            StatusCode::kFailedPrecondition);
  for (GpuInfo& g : m.gpus) g.numa_nodes.clear();
  Allocator none = MakeAllocator(m);
  EXPECT_EQ(GpusOf(none.Allocate(Count(3, false, true), "x")), (std::vector<uint32_t>{0, 1, 2}));
}

TEST(AllocatorTest, CountErrors) {
  Allocator a = MakeAllocator(H100Pcie4());
  auto five = a.Allocate(Count(5), "x");
  EXPECT_EQ(five.status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(a.Allocate(Count(2), "x").ok());
  auto three = a.Allocate(Count(3), "y");
  EXPECT_EQ(three.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(three.status().message(), HasSubstr("needs 3 whole GPUs, 2 free"));
}

// --- Requests other than count -------------------------------------------------------------------

TEST(AllocatorTest, MalformedRequests) {
  Allocator a = MakeAllocator(MigBox16());
  GpuRequest two = Count(1);
  two.mig_profile = "1g.10gb";
  EXPECT_EQ(a.Allocate(two, "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Allocate(GpuRequest{}, "x").status().code(), StatusCode::kInvalidArgument);
  GpuRequest constrained = Mig("1g.10gb");
  constrained.nvlink = true;
  EXPECT_EQ(a.Allocate(constrained, "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Allocate(Count(1), "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Allocate(Uuids({"GPU-nope"}), "x").status().code(), StatusCode::kInvalidArgument);
  auto unknown = a.Allocate(Mig("5g.50gb"), "x");
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("1g.10gb"));
  // Offered by the GPUs, but no layout here has a 7g instance.
  EXPECT_EQ(a.Allocate(Mig("7g.80gb"), "x").status().code(), StatusCode::kFailedPrecondition);
  // A whole MIG GPU by uuid: never, as configured.
  std::string not_a_gpu = a.units()[0].uuid;  // a MIG uuid spelled as a GPU's
  not_a_gpu.replace(0, 3, "GPU");
  EXPECT_EQ(a.Allocate(Uuids({not_a_gpu}), "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Allocate(Uuids({Uuid("GPU", 0, 0)}), "x").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(a.Holders().empty());
}

TEST(AllocatorTest, MigRequestsPackOntoBusyGpus) {
  Machine m = MigBox16();
  Allocator a = MakeAllocator(m);
  auto first = a.Allocate(Mig("1g.10gb"), "a");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->unit_ids, std::vector<std::string>{"gpu0/mig/1"});
  EXPECT_EQ(a.Allocate(Mig("1g.10gb"), "b")->unit_ids, std::vector<std::string>{"gpu0/mig/2"});
  // A unit held on gpu4 by uuid; gpu0 still has more in use.
  ASSERT_TRUE(a.Allocate(Uuids({m.gpus[4].mig_instances[0].uuid}), "c").ok());
  EXPECT_EQ(a.Allocate(Mig("1g.10gb"), "d")->gpus, std::vector<uint32_t>{0});
  // Once gpu4 has more in use than gpu0, it is filled first.
  a.Release("a");
  a.Release("b");
  a.Release("d");
  EXPECT_EQ(a.Allocate(Mig("1g.10gb"), "e")->gpus, std::vector<uint32_t>{4});
  // 3g.40gb only exists on gpu2 and gpu9.
  EXPECT_EQ(a.Allocate(Mig("3g.40gb"), "f")->gpus, std::vector<uint32_t>{2});
  EXPECT_EQ(a.Allocate(Mig("3g.40gb"), "g")->gpus, std::vector<uint32_t>{9});
  auto none = a.Allocate(Mig("3g.40gb"), "h");
  EXPECT_EQ(none.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(none.status().message(), HasSubstr("no free 3g.40gb"));
}

TEST(AllocatorTest, ShareCapsPickTheSmallestSufficientShare) {
  Allocator a = MakeAllocator(MigBox16());  // gpu13: 4 x 20G, gpu15: 2 x 40G
  EXPECT_EQ(a.Allocate(Share(10 * kGiB), "a")->unit_ids, std::vector<std::string>{"gpu13/share/0"});
  EXPECT_EQ(a.Allocate(Share(20 * kGiB), "b")->unit_ids, std::vector<std::string>{"gpu13/share/1"});
  EXPECT_EQ(a.Allocate(Share(30 * kGiB), "c")->unit_ids, std::vector<std::string>{"gpu15/share/0"});
  EXPECT_EQ(a.Allocate(Share(50 * kGiB), "d").status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(a.Allocate(Share(40 * kGiB), "d").ok());
  EXPECT_EQ(a.Allocate(Share(40 * kGiB), "e").status().code(), StatusCode::kResourceExhausted);
  // Small requests keep filling the small shares.
  EXPECT_EQ(a.Allocate(Share(kGiB), "f")->unit_ids, std::vector<std::string>{"gpu13/share/2"});
}

TEST(AllocatorTest, SharesPackOntoTheBusierGpu) {
  Machine m = Rtx4090x2();
  m.partitions[0] = {GpuPartition::Mode::kShared, {}, 2, 0};
  m.partitions[1] = {GpuPartition::Mode::kShared, {}, 2, 0};
  Allocator a = MakeAllocator(m);
  ASSERT_TRUE(a.Restore("x", {"gpu1/share/1"}).ok());
  EXPECT_EQ(a.Allocate(Share(kGiB), "y")->unit_ids, std::vector<std::string>{"gpu1/share/0"});
  EXPECT_EQ(a.Allocate(Share(kGiB), "z")->unit_ids, std::vector<std::string>{"gpu0/share/0"});
}

TEST(AllocatorTest, WholeGpuIsFreeOnlyWhenNothingOnItIsHeld) {
  Machine m = H100Pcie4();
  ApplyLayout(m.gpus[0], {"3g.40gb", "3g.40gb"});
  std::vector<Unit> units = *BuildUnits(m.gpus, {});
  for (const MigInstance& mig : m.gpus[0].mig_instances) {
    units.push_back({"gpu0/mig/" + std::to_string(mig.gpu_instance_id), 0, UnitKind::kMig,
                     mig.profile, mig.memory_bytes, mig.uuid});
  }
  Allocator a(m.gpus, m.links, units);
  ASSERT_TRUE(a.status().ok()) << a.status().ToString();
  ASSERT_TRUE(a.Allocate(Mig("3g.40gb"), "x").ok());
  EXPECT_EQ(GpusOf(a.Allocate(Count(1), "y")), std::vector<uint32_t>{1});
  EXPECT_EQ(a.Allocate(Uuids({m.gpus[0].uuid}), "z").status().code(),
            StatusCode::kResourceExhausted);
  a.Release("x");
  EXPECT_EQ(GpusOf(a.Allocate(Uuids({m.gpus[0].uuid}), "z")), std::vector<uint32_t>{0});
  EXPECT_EQ(a.Allocate(Mig("3g.40gb"), "w").status().code(), StatusCode::kResourceExhausted);
}

TEST(AllocatorTest, UuidRequests) {
  Machine m = MigBox16();
  Allocator a = MakeAllocator(m);
  auto both = a.Allocate(Uuids({m.gpus[7].uuid, m.gpus[0].mig_instances[3].uuid}), "x");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->gpus, (std::vector<uint32_t>{0, 7}));
  EXPECT_EQ(both->unit_ids, (std::vector<std::string>{"gpu0/mig/4", "gpu7"}));
  EXPECT_EQ(a.Allocate(Uuids({m.gpus[6].uuid, m.gpus[7].uuid}), "y").status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_FALSE(a.HolderOf("gpu6").has_value());
  EXPECT_EQ(a.Allocate(Uuids({m.gpus[6].uuid, m.gpus[6].uuid}), "y").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(AllocatorTest, RestoreAndRelease) {
  Allocator a = MakeAllocator(MigBox16());
  ASSERT_TRUE(a.Restore("a", {"gpu3", "gpu0/mig/1"}).ok());
  EXPECT_EQ(a.HolderOf("gpu3"), "a");
  EXPECT_TRUE(a.Restore("a", {"gpu3"}).ok());  // again: fine
  EXPECT_EQ(a.Restore("b", {"gpu6", "gpu3"}).code(), StatusCode::kConflict);
  EXPECT_FALSE(a.HolderOf("gpu6").has_value()) << "a failed restore must change nothing";
  EXPECT_EQ(a.Restore("b", {"gpu0/mig/99"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(a.Restore("b", {"gpu6", "gpu3"}).code(), StatusCode::kConflict);
  ASSERT_TRUE(a.Restore("b", {"gpu6"}).ok());
  EXPECT_EQ(a.Holders(), (std::map<std::string, std::string>{
                             {"gpu0/mig/1", "a"}, {"gpu3", "a"}, {"gpu6", "b"}}));
  // Neither restored unit is offered again.
  EXPECT_EQ(GpusOf(a.Allocate(Count(2), "c")), (std::vector<uint32_t>{7, 12}));
  a.Release("a");
  EXPECT_FALSE(a.HolderOf("gpu3").has_value());
  EXPECT_FALSE(a.HolderOf("gpu0/mig/1").has_value());
  EXPECT_EQ(a.HolderOf("gpu6"), "b");
  a.Release("nobody");
}

TEST(AllocatorTest, InconsistentUnitsAreReported) {
  Machine m = H100Pcie4();
  std::vector<Unit> units = *BuildUnits(m.gpus, {});
  units.push_back(units[0]);
  Allocator dup(m.gpus, m.links, units);
  EXPECT_FALSE(dup.status().ok());
  EXPECT_EQ(dup.Allocate(Count(1), "x").status().code(), StatusCode::kInternal);
}

// --- BuildUnits ----------------------------------------------------------------------------------

TEST(BuildUnitsTest, UnitsPerPartition) {
  Machine m = MigBox16();
  auto units = BuildUnits(m.gpus, m.partitions);
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  std::map<UnitKind, int> kinds;
  for (const Unit& u : *units) ++kinds[u.kind];
  EXPECT_EQ(kinds[UnitKind::kWhole], 4);
  EXPECT_EQ(kinds[UnitKind::kMig], 8 * 7 + 2 * 4);
  EXPECT_EQ(kinds[UnitKind::kShare], 6);
  EXPECT_EQ((*units)[0].id, "gpu0/mig/1");
  EXPECT_EQ((*units)[0].uuid, m.gpus[0].mig_instances[0].uuid);
  EXPECT_EQ((*units)[0].memory_bytes, 10240 * kMiB);
  const auto share = std::find_if(units->begin(), units->end(),
                                  [](const Unit& u) { return u.id == "gpu13/share/3"; });
  ASSERT_NE(share, units->end());
  EXPECT_EQ(share->memory_bytes, 20480 * kMiB);
  EXPECT_EQ(share->uuid, m.gpus[13].uuid);
}

TEST(BuildUnitsTest, Errors) {
  Machine m = Rtx4090x2();
  std::map<uint32_t, GpuPartition> mig = {{1, {GpuPartition::Mode::kMig, {"1g.10gb"}, 0, 0}}};
  auto r = BuildUnits(m.gpus, mig);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("gpu 1"));

  m.gpus[0].memory_total_bytes = 0;
  std::map<uint32_t, GpuPartition> shared = {{0, {GpuPartition::Mode::kShared, {}, 2, 0}}};
  r = BuildUnits(m.gpus, shared);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("gpu 0"));
  shared[0].share_memory_bytes = 8 * kGiB;
  EXPECT_TRUE(BuildUnits(m.gpus, shared).ok());
  shared[0].shares = 0;
  EXPECT_FALSE(BuildUnits(m.gpus, shared).ok());
  EXPECT_FALSE(BuildUnits(m.gpus, {{7, GpuPartition{}}}).ok());
}

// --- MIG layouts ---------------------------------------------------------------------------------

std::vector<MigPlacement> Plan(const std::vector<MigProfile>& profiles,
                               const std::vector<std::string>& layout) {
  auto plan = PlanMigLayout(profiles, layout);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  return plan.ok() ? *plan : std::vector<MigPlacement>{};
}

// Every placement at one of its profile's starts, none overlapping.
void ExpectValid(const std::vector<MigProfile>& profiles, const std::vector<MigPlacement>& plan) {
  uint32_t used = 0;
  for (const MigPlacement& p : plan) {
    const MigProfile& profile = *std::find_if(
        profiles.begin(), profiles.end(), [&](const MigProfile& x) { return x.name == p.profile; });
    EXPECT_EQ(p.profile_id, profile.id);
    EXPECT_EQ(p.size, profile.placement_size);
    EXPECT_THAT(profile.placement_starts, ::testing::Contains(p.start)) << p.profile;
    const uint32_t span = ((1u << p.size) - 1) << p.start;
    EXPECT_EQ(used & span, 0u) << p.profile << " at " << p.start << " overlaps";
    used |= span;
  }
}

TEST(MigLayoutTest, ValidLayouts) {
  for (const auto& profiles : {H100Profiles(), A100_40Profiles()}) {
    const std::string g1 = profiles[0].name, g2 = profiles[1].name, g3 = profiles[2].name,
                      g4 = profiles[3].name, g7 = profiles[4].name;
    for (const std::vector<std::string>& layout : std::vector<std::vector<std::string>>{
             std::vector<std::string>(7, g1),
             {g3, g3},
             {g4, g3},
             {g3, g4},
             {g7},
             {g3, g2, g1, g1},
             {g1, g2, g2, g2},
             {g2, g2, g2, g1},
             {g3, g1, g1, g1, g1},
             {g4, g2, g1},
             {g1, g1, g1, g1, g1, g2},
         }) {
      SCOPED_TRACE(::testing::PrintToString(layout));
      const auto plan = Plan(profiles, layout);
      ASSERT_EQ(plan.size(), layout.size());
      ExpectValid(profiles, plan);
    }
  }
  EXPECT_EQ(Plan(H100Profiles(), {"3g.40gb", "3g.40gb"}),
            (std::vector<MigPlacement>{{"3g.40gb", 9, 0, 4}, {"3g.40gb", 9, 4, 4}}));
  // 3g first takes 0; 4g can only start at 0, so the search backtracks and 3g moves to 4.
  EXPECT_EQ(Plan(H100Profiles(), {"3g.40gb", "4g.40gb"}),
            (std::vector<MigPlacement>{{"4g.40gb", 5, 0, 4}, {"3g.40gb", 9, 4, 4}}));
  // Larger first, each at its lowest free start.
  EXPECT_EQ(Plan(H100Profiles(), {"1g.10gb", "3g.40gb"}),
            (std::vector<MigPlacement>{{"3g.40gb", 9, 0, 4}, {"1g.10gb", 19, 4, 1}}));
  EXPECT_TRUE(Plan(H100Profiles(), {}).empty());
  ExpectValid(A30Profiles(), Plan(A30Profiles(), {"2g.12gb", "1g.6gb", "1g.6gb"}));
  ExpectValid(A30Profiles(), Plan(A30Profiles(), {"4g.24gb"}));
}

TEST(MigLayoutTest, PlacementIsDeterministic) {
  const std::vector<std::string> layout = {"1g.10gb", "2g.20gb", "3g.40gb", "1g.10gb"};
  EXPECT_EQ(Plan(H100Profiles(), layout), Plan(H100Profiles(), layout));
  EXPECT_EQ(Plan(H100Profiles(), layout), (std::vector<MigPlacement>{{"2g.20gb", 14, 0, 2},
                                                                     {"1g.10gb", 19, 2, 1},
                                                                     {"1g.10gb", 19, 3, 1},
                                                                     {"3g.40gb", 9, 4, 4}}));
}

TEST(MigLayoutTest, InvalidLayouts) {
  auto unknown = PlanMigLayout(H100Profiles(), {"3g.40gb", "5g.50gb"});
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(),
            "mig layout: unknown profile 5g.50gb (this GPU offers 1g.10gb, 2g.20gb, 3g.40gb, "
            "4g.40gb, 7g.80gb)");

  auto memory = PlanMigLayout(H100Profiles(), {"3g.40gb", "3g.40gb", "1g.10gb"});
  EXPECT_EQ(memory.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(memory.status().message(),
              HasSubstr("mig layout: 3g.40gb, 3g.40gb, 1g.10gb do not fit: "));
  EXPECT_THAT(memory.status().message(), HasSubstr("9 memory slices, this GPU has 8"));

  auto compute = PlanMigLayout(H100Profiles(), {"4g.40gb", "4g.40gb"});
  EXPECT_THAT(compute.status().message(), HasSubstr("8 compute slices, this GPU has 7"));
  EXPECT_FALSE(PlanMigLayout(H100Profiles(), {"7g.80gb", "1g.10gb"}).ok());
  EXPECT_FALSE(PlanMigLayout(H100Profiles(), std::vector<std::string>(8, "1g.10gb")).ok());
  EXPECT_FALSE(PlanMigLayout(H100Profiles(), std::vector<std::string>(4, "2g.20gb")).ok());
  EXPECT_FALSE(PlanMigLayout(A30Profiles(), {"2g.12gb", "2g.12gb", "1g.6gb"}).ok());
  EXPECT_FALSE(PlanMigLayout({}, {"1g.10gb"}).ok());
  EXPECT_FALSE(PlanMigLayout(A100_40Profiles(), {"1g.10gb"}).ok());  // an H100 name on an A100
}

TEST(MigLayoutTest, PlacementRulesAloneCanRefuse) {
  // Memory and compute counts fit, placements do not: a profile that only starts where another
  // must sit.
  std::vector<MigProfile> odd = {Profile("2g.a", 1, 2, 1, 1, 1, {2}, 2),
                                 Profile("3g.b", 2, 3, 1, 1, 1, {0}, 4),
                                 Profile("7g.c", 3, 7, 1, 1, 1, {0}, 8)};
  auto clash = PlanMigLayout(odd, {"2g.a", "3g.b"});
  EXPECT_EQ(clash.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(clash.status().message(),
              HasSubstr("no arrangement keeps their memory slices apart"));
  EXPECT_THAT(clash.status().message(), HasSubstr("2g.a takes 2 memory slices at 2"));
}

TEST(MigLayoutTest, SameLayout) {
  GpuInfo gpu = Gpu(0, "NVIDIA H100 80GB HBM3", 81920, {0}, true);
  ApplyLayout(gpu, {"3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"});
  EXPECT_TRUE(SameLayout(gpu.mig_instances,
                         Plan(H100Profiles(), {"1g.10gb", "3g.40gb", "1g.10gb", "2g.20gb"})));
  EXPECT_FALSE(
      SameLayout(gpu.mig_instances, Plan(H100Profiles(), {"3g.40gb", "2g.20gb", "2g.20gb"})));
  EXPECT_FALSE(SameLayout(gpu.mig_instances, Plan(H100Profiles(), {"3g.40gb", "3g.40gb"})));
  EXPECT_TRUE(SameLayout({}, {}));
  // Two compute instances in one GPU instance are not the planned layout.
  std::vector<MigInstance> split = {gpu.mig_instances[0], gpu.mig_instances[0]};
  EXPECT_FALSE(SameLayout(
      split, Plan(H100Profiles(), {gpu.mig_instances[0].profile, gpu.mig_instances[0].profile})));
}

}  // namespace
}  // namespace paddock::gpu
