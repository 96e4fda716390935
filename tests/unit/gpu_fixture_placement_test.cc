// Whole-GPU placement on every real fixture machine, not only on hand-built models.
//
// Each machine's inventory is built the way the daemon builds it: from an hwloc export without
// NVML (tests/fixtures/hwloc), or from the test NVML library with a machine description
// (tests/fixtures/machines) and no hwloc. A seeded random sequence of count requests and releases
// then runs against an Allocator over that inventory; every decision is compared with
// tests/unit/gpu_alloc_brute_force.h (granted exactly when the brute force finds a set, and then
// exactly its set) and no unit may ever be held by two owners. A failure prints the machine,
// seed and step.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gpu/allocator.h"
#include "gpu/inventory.h"
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

constexpr uint32_t kSeed = 20240601;

std::string Fixture(const std::string& relative) {
  return std::string(PADDOCK_SOURCE_DIR) + "/tests/fixtures/" + relative;
}

// The inventory the daemon builds from an hwloc export when NVML is unavailable.
Inventory InventoryFromHwloc(const std::string& file) {
  auto topology = Topology::LoadXml(Fixture("hwloc/" + file));
  EXPECT_TRUE(topology.ok()) << topology.status().ToString();
  if (!topology.ok()) return {};
  InventorySources sources;
  sources.nvml = nullptr;
  sources.topology = &*topology;
  return BuildInventory(sources);
}

// The inventory the daemon builds from NVML (the test library on a copy of a machine
// description) when hwloc is unavailable.
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
        sources.topology = nullptr;
        inventory = BuildInventory(sources);
      }
    }
  }
  ::unsetenv("PADDOCK_NVML_MOCK");
  return inventory;
}

std::string Describe(const GpuRequest& r) {
  return "count=" + std::to_string(r.count) + " nvlink=" + std::to_string(r.nvlink) +
         " same_numa=" + std::to_string(r.same_numa);
}

std::string Set(const std::vector<uint32_t>& gpus) {
  std::string s = "{";
  for (uint32_t g : gpus) s += std::to_string(g) + ",";
  return s + "}";
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

// Every unit in `holders` appears once by construction (a map); a held whole GPU must also be the
// only held unit on its GPU, and every held unit must exist.
void CheckNoDoubleGrant(const Allocator& allocator) {
  const auto holders = allocator.Holders();
  std::map<uint32_t, int> held_on_gpu;
  size_t known = 0;
  for (const Unit& u : allocator.units()) {
    if (holders.count(u.id) == 0) continue;
    ++known;
    ++held_on_gpu[u.gpu];
  }
  ASSERT_EQ(known, holders.size()) << "a holder for a unit that does not exist";
  for (const Unit& u : allocator.units()) {
    if (u.kind == UnitKind::kWhole && holders.count(u.id) > 0) {
      ASSERT_EQ(held_on_gpu[u.gpu], 1) << "gpu " << u.gpu;
    }
  }
}

void RunPlacement(const std::string& machine, const Inventory& inventory, uint32_t seed,
                  int steps) {
  ASSERT_NO_FATAL_FAILURE(CheckInventoryShape(inventory));
  const std::vector<GpuInfo>& gpus = inventory.gpus;
  const std::vector<std::vector<LinkKind>>& links = inventory.links;
  auto units = BuildUnits(gpus, {});
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  ASSERT_EQ(units->size(), gpus.size());
  Allocator allocator(gpus, links, *units);
  ASSERT_TRUE(allocator.status().ok()) << allocator.status().ToString();

  std::vector<uint32_t> all;
  for (const Unit& u : *units) all.push_back(u.gpu);
  const uint32_t n = static_cast<uint32_t>(gpus.size());

  std::mt19937 rng(seed);
  std::vector<std::string> owners;
  int next_owner = 0;
  int granted = 0, refused = 0;
  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE("machine " + machine + ", seed " + std::to_string(seed) + ", step " +
                 std::to_string(step));
    const auto before = allocator.Holders();
    const uint32_t roll = rng() % 100;
    if (roll < 3) {  // now and then an empty machine again, for large free sets
      for (const std::string& owner : owners) allocator.Release(owner);
      owners.clear();
      ASSERT_TRUE(allocator.Holders().empty());
      continue;
    }
    if (!owners.empty() && roll < 40) {
      const size_t i = rng() % owners.size();
      allocator.Release(owners[i]);
      for (const auto& [unit, owner] : allocator.Holders()) ASSERT_NE(owner, owners[i]);
      owners.erase(owners.begin() + static_cast<long>(i));
      ASSERT_NO_FATAL_FAILURE(CheckNoDoubleGrant(allocator));
      continue;
    }
    GpuRequest request;
    request.count = 1 + rng() % n;
    request.nvlink = rng() % 3 == 0;
    request.same_numa = rng() % 3 == 0;
    SCOPED_TRACE(Describe(request));

    const std::vector<uint32_t> free = FreeWholeGpus(allocator);
    const std::string owner = "owner" + std::to_string(next_owner++);
    const Result<Allocation> result = allocator.Allocate(request, owner);
    const auto after = allocator.Holders();
    const auto expected = BruteForceBest(gpus, links, free, request);
    SCOPED_TRACE("free " + Set(free));

    if (expected.found) {
      ASSERT_TRUE(result.ok()) << "refused, brute force grants " << Set(expected.gpus) << ": "
                               << result.status().ToString();
      ASSERT_EQ(result->gpus, expected.gpus)
          << "objective " << Evaluate(links, free, result->gpus).cost << " vs "
          << expected.objective.cost;
      ASSERT_EQ(Evaluate(links, free, result->gpus), expected.objective);
      ASSERT_EQ(result->unit_ids.size(), request.count);
      auto want = before;
      for (const std::string& id : result->unit_ids) {
        ASSERT_EQ(before.count(id), 0u) << id << " granted twice";
        want[id] = owner;
      }
      ASSERT_EQ(after, want);
      owners.push_back(owner);
      ++granted;
    } else {
      ASSERT_FALSE(result.ok()) << "granted " << Set(result->gpus) << ", brute force finds no set";
      ASSERT_EQ(after, before) << "a refused request changed holdings";
      const bool ever = BruteForceBest(gpus, links, all, request).found;
      ASSERT_EQ(result.status().code(),
                ever ? StatusCode::kResourceExhausted : StatusCode::kFailedPrecondition)
          << result.status().ToString();
      ++refused;
    }
    ASSERT_NO_FATAL_FAILURE(CheckNoDoubleGrant(allocator));
  }
  // Not vacuous: the sequence both granted and refused.
  EXPECT_GT(granted, 0) << machine;
  EXPECT_GT(refused, 0) << machine;
}

struct FixtureMachine {
  const char* file;
  size_t gpus;
  int steps;
};

TEST(FixturePlacementTest, HwlocMachinesWithoutNvml) {
  const FixtureMachine kMachines[] = {
      {"nvidiaDGX2.xml", 16, 2000},        {"32em64t-2n8c2t-pci-normalio.xml", 3, 2000},
      {"24em64t-2n6c2t-pci.xml", 3, 2000}, {"64intel64-3g2n+2n-irregulargroups+pci.xml", 2, 2000},
      {"power8gpudistances.xml", 4, 2000},
  };
  for (const FixtureMachine& m : kMachines) {
    SCOPED_TRACE(m.file);
    const Inventory inventory = InventoryFromHwloc(m.file);
    ASSERT_EQ(inventory.gpus.size(), m.gpus);
    ASSERT_FALSE(inventory.nvml);
    ASSERT_NO_FATAL_FAILURE(RunPlacement(m.file, inventory, kSeed, m.steps));
  }
}

TEST(FixturePlacementTest, NvmlMachinesWithoutHwloc) {
  const FixtureMachine kMachines[] = {
      {"dgx-a100-80gb.json", 8, 2000},
      {"h100-pcie-4x.json", 4, 2000},
      {"rtx4090-2x.json", 2, 2000},
      {"h100-mig.json", 2, 2000},
  };
  for (const FixtureMachine& m : kMachines) {
    SCOPED_TRACE(m.file);
    const Inventory inventory = InventoryFromNvml(m.file);
    ASSERT_EQ(inventory.gpus.size(), m.gpus);
    ASSERT_TRUE(inventory.nvml);
    ASSERT_NO_FATAL_FAILURE(RunPlacement(m.file, inventory, kSeed, m.steps));
  }
}

}  // namespace
}  // namespace paddock::gpu
