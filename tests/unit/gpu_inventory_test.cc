// BuildInventory: NVML's list merged with hwloc (nvidiaDGX2.xml, 32em64t-2n8c2t-pci-normalio.xml)
// and /proc/driver/nvidia, and the fallbacks without NVML and without hwloc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gpu/inventory.h"

namespace paddock::gpu {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr LinkKind kSelf = LinkKind::kSelf;
constexpr LinkKind kNvlink = LinkKind::kNvlink;
constexpr LinkKind kPcieSwitch = LinkKind::kPcieSwitch;
constexpr LinkKind kHostBridge = LinkKind::kHostBridge;
constexpr LinkKind kSystem = LinkKind::kSystem;

Topology LoadFixture(const std::string& name) {
  Result<Topology> topology =
      Topology::LoadXml(std::string(PADDOCK_SOURCE_DIR) + "/tests/fixtures/hwloc/" + name);
  EXPECT_TRUE(topology.ok()) << name << ": " << topology.status().ToString();
  if (!topology.ok()) std::abort();
  return std::move(topology).value();
}

PciAddress Pci(const char* text) {
  Result<PciAddress> pci = ParsePciAddress(text);
  EXPECT_TRUE(pci.ok()) << text;
  return pci.ok() ? *pci : PciAddress{};
}

// A GPU as NVML reports it: its bus id spelling and a locality hwloc should override.
GpuInfo NvmlGpu(uint32_t index, const char* nvml_bus_id) {
  GpuInfo gpu;
  gpu.index = index;
  gpu.minor = static_cast<int>(index);
  gpu.uuid = "GPU-0000000" + std::to_string(index);
  gpu.name = "Tesla V100-SXM3-32GB-H";
  gpu.pci = Pci(nvml_bus_id);
  gpu.from_nvml = true;
  gpu.telemetry.state = "ok";
  gpu.numa_nodes = {7};
  gpu.local_cpus = "99";
  return gpu;
}

ProcDriverGpu ProcGpu(const char* bus_id, const char* uuid, int minor) {
  ProcDriverGpu gpu;
  gpu.pci = Pci(bus_id);
  gpu.model = "Tesla M2075";
  gpu.uuid = uuid;
  gpu.minor = minor;
  return gpu;
}

// Four NVML GPUs on the DGX-2: 34 and 36 share a switch, b7 is on the other socket, 07 is not in
// the hwloc export at all. NVML (as a stand-in) says 34-b7 is NVLink, 34-07 host bridge, and
// everything else "system".
NvmlGpuList Dgx2NvmlList() {
  NvmlGpuList nvml;
  nvml.gpus = {NvmlGpu(0, "00000000:34:00.0"), NvmlGpu(1, "00000000:36:00.0"),
               NvmlGpu(2, "00000000:B7:00.0"), NvmlGpu(3, "00000000:07:00.0")};
  nvml.links = {{kSelf, kSystem, kNvlink, kHostBridge},
                {kSystem, kSelf, kSystem, kSystem},
                {kNvlink, kSystem, kSelf, kSystem},
                {kHostBridge, kSystem, kSystem, kSelf}};
  return nvml;
}

TEST(InventoryNvmlTest, MatchesHwlocByBusIdAndTakesItsLocality) {
  const Topology topology = LoadFixture("nvidiaDGX2.xml");
  const NvmlGpuList nvml = Dgx2NvmlList();
  InventorySources sources;
  sources.nvml = &nvml;
  sources.topology = &topology;
  const Inventory inv = BuildInventory(sources);

  EXPECT_TRUE(inv.nvml);
  EXPECT_EQ(inv.nvml_status, "ok");
  ASSERT_THAT(inv.gpus, SizeIs(4));
  // "00000000:34:00.0" (NVML) met "0000:34:00.0" (hwloc).
  EXPECT_THAT(inv.gpus[0].numa_nodes, ElementsAre(0));
  EXPECT_EQ(inv.gpus[0].local_cpus, "0-1");
  EXPECT_THAT(inv.gpus[1].numa_nodes, ElementsAre(0));
  EXPECT_THAT(inv.gpus[2].numa_nodes, ElementsAre(1));
  EXPECT_EQ(inv.gpus[2].local_cpus, "24-25");
  // Not in hwloc: NVML's locality stays, and people are told.
  EXPECT_THAT(inv.gpus[3].numa_nodes, ElementsAre(7));
  EXPECT_EQ(inv.gpus[3].local_cpus, "99");
  EXPECT_THAT(inv.warnings,
              ElementsAre(AllOf(HasSubstr("0000:07:00.0"), HasSubstr("not found in the hwloc"))));
  // Everything else is NVML's, untouched.
  EXPECT_EQ(inv.gpus[2].uuid, "GPU-00000002");
  EXPECT_EQ(inv.gpus[2].index, 2u);
  EXPECT_TRUE(inv.gpus[2].from_nvml);
  EXPECT_EQ(inv.gpus[2].telemetry.state, "ok");
}

TEST(InventoryNvmlTest, LinksKeepNvlinkAndTakeHwlocForPcie) {
  const Topology topology = LoadFixture("nvidiaDGX2.xml");
  const NvmlGpuList nvml = Dgx2NvmlList();
  InventorySources sources;
  sources.nvml = &nvml;
  sources.topology = &topology;
  const Inventory inv = BuildInventory(sources);
  // 34-36: hwloc sees the shared switch. 34-b7: NVLink stays. 36-b7: across sockets.
  // 34-07: 07 unknown to hwloc, NVML's answer stays.
  EXPECT_EQ(inv.links,
            (std::vector<std::vector<LinkKind>>{{kSelf, kPcieSwitch, kNvlink, kHostBridge},
                                                {kPcieSwitch, kSelf, kSystem, kSystem},
                                                {kNvlink, kSystem, kSelf, kSystem},
                                                {kHostBridge, kSystem, kSystem, kSelf}}));
}

TEST(InventoryNvmlTest, WithoutHwlocKeepsNvmlLocalityAndLinks) {
  const NvmlGpuList nvml = Dgx2NvmlList();
  InventorySources sources;
  sources.nvml = &nvml;
  const Inventory inv = BuildInventory(sources);
  ASSERT_THAT(inv.gpus, SizeIs(4));
  EXPECT_THAT(inv.gpus[0].numa_nodes, ElementsAre(7));
  EXPECT_EQ(inv.links, nvml.links);
  EXPECT_THAT(inv.warnings, Contains(HasSubstr("no hwloc topology")));
}

TEST(InventoryNvmlTest, BadLinkMatrixIsReplaced) {
  const Topology topology = LoadFixture("nvidiaDGX2.xml");
  NvmlGpuList nvml;
  nvml.gpus = {NvmlGpu(0, "00000000:34:00.0"), NvmlGpu(1, "00000000:36:00.0")};
  nvml.links = {{kSelf}};  // one row for two GPUs
  InventorySources sources;
  sources.nvml = &nvml;
  sources.topology = &topology;
  const Inventory inv = BuildInventory(sources);
  EXPECT_EQ(inv.links,
            (std::vector<std::vector<LinkKind>>{{kSelf, kPcieSwitch}, {kPcieSwitch, kSelf}}));
  EXPECT_THAT(inv.warnings, Contains(HasSubstr("link matrix")));
}

TEST(InventoryNoNvmlTest, HwlocGpusWithoutTelemetry) {
  const Topology topology = LoadFixture("32em64t-2n8c2t-pci-normalio.xml");
  InventorySources sources;
  sources.topology = &topology;
  sources.nvml_status = "libnvidia-ml.so.1: cannot open shared object file";
  sources.proc_gpus = {ProcGpu("0000:83:00.0", "GPU-5e7f1c2a-0b3d-4e6f-8a9b-0c1d2e3f4a5b", 1)};
  const Inventory inv = BuildInventory(sources);

  EXPECT_FALSE(inv.nvml);
  EXPECT_EQ(inv.nvml_status, "libnvidia-ml.so.1: cannot open shared object file");
  EXPECT_THAT(inv.warnings, IsEmpty());
  ASSERT_THAT(inv.gpus, SizeIs(3));
  for (uint32_t i = 0; i < 3; ++i) {
    const GpuInfo& gpu = inv.gpus[i];
    EXPECT_EQ(gpu.index, i);
    EXPECT_FALSE(gpu.from_nvml);
    EXPECT_EQ(gpu.telemetry.state, "no_telemetry");
    EXPECT_EQ(gpu.pci_device_id, 0x109410deu);
  }
  const GpuInfo& first = inv.gpus[0];  // unknown to the driver's /proc files
  EXPECT_EQ(first.pci.ToString(), "0000:03:00.0");
  EXPECT_EQ(first.uuid, "PCI-0000:03:00.0");
  EXPECT_EQ(first.minor, -1);
  EXPECT_EQ(first.name, "Tesla M2075 Dual-Slot Computing Processor Module");
  EXPECT_THAT(first.numa_nodes, ElementsAre(0));
  EXPECT_EQ(first.local_cpus, "0-7,16-23");
  const GpuInfo& second = inv.gpus[1];  // the driver knows this one
  EXPECT_EQ(second.pci.ToString(), "0000:83:00.0");
  EXPECT_EQ(second.uuid, "GPU-5e7f1c2a-0b3d-4e6f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(second.minor, 1);
  EXPECT_EQ(second.name, "Tesla M2075");
  EXPECT_THAT(second.numa_nodes, ElementsAre(1));
  EXPECT_EQ(second.local_cpus, "8-15,24-31");
  EXPECT_EQ(inv.gpus[2].uuid, "PCI-0000:84:00.0");
  EXPECT_EQ(inv.links, (std::vector<std::vector<LinkKind>>{{kSelf, kSystem, kSystem},
                                                           {kSystem, kSelf, kHostBridge},
                                                           {kSystem, kHostBridge, kSelf}}));
}

TEST(InventoryNoNvmlTest, DriverGpuMissingFromHwlocIsAddedWithAWarning) {
  const Topology topology = LoadFixture("24em64t-2n6c2t-pci.xml");
  InventorySources sources;
  sources.topology = &topology;
  sources.proc_gpus = {ProcGpu("0000:0a:00.0", "GPU-aa", 4)};
  const Inventory inv = BuildInventory(sources);
  EXPECT_EQ(inv.nvml_status, "NVML not available");
  ASSERT_THAT(inv.gpus, SizeIs(4));
  EXPECT_EQ(inv.gpus[1].pci.ToString(), "0000:0a:00.0");  // in PCI order: 06, 0a, 11, 14
  EXPECT_EQ(inv.gpus[1].index, 1u);
  EXPECT_EQ(inv.gpus[1].uuid, "GPU-aa");
  EXPECT_EQ(inv.gpus[1].minor, 4);
  EXPECT_THAT(inv.gpus[1].numa_nodes, IsEmpty());
  EXPECT_EQ(inv.gpus[3].pci.ToString(), "0000:14:00.0");
  EXPECT_EQ(inv.gpus[3].name, "NVIDIA [10de:06d2]");
  EXPECT_EQ(inv.links[1][2], kSystem);
  EXPECT_EQ(inv.links[2][3], kHostBridge);
  EXPECT_THAT(inv.warnings, ElementsAre(HasSubstr("0000:0a:00.0")));
}

TEST(InventoryNoNvmlTest, NeitherNvmlNorHwlocUsesTheDriverList) {
  InventorySources sources;
  sources.proc_gpus = {ProcGpu("0000:b1:00.0", "GPU-bb", 1), ProcGpu("0000:4f:00.0", "", 0)};
  const Inventory inv = BuildInventory(sources);
  EXPECT_FALSE(inv.nvml);
  ASSERT_THAT(inv.gpus, SizeIs(2));
  EXPECT_EQ(inv.gpus[0].pci.ToString(), "0000:4f:00.0");
  EXPECT_EQ(inv.gpus[0].index, 0u);
  EXPECT_EQ(inv.gpus[0].uuid, "PCI-0000:4f:00.0");  // the driver did not know it yet
  EXPECT_EQ(inv.gpus[0].minor, 0);
  EXPECT_EQ(inv.gpus[0].name, "Tesla M2075");
  EXPECT_EQ(inv.gpus[0].telemetry.state, "no_telemetry");
  EXPECT_EQ(inv.gpus[1].uuid, "GPU-bb");
  EXPECT_EQ(inv.gpus[1].index, 1u);
  EXPECT_THAT(inv.gpus[1].numa_nodes, IsEmpty());
  EXPECT_EQ(inv.links, (std::vector<std::vector<LinkKind>>{{kSelf, kSystem}, {kSystem, kSelf}}));
  EXPECT_THAT(inv.warnings, Contains(HasSubstr("no hwloc topology")));
}

TEST(InventoryNoNvmlTest, NothingAtAllIsAnEmptyInventory) {
  const Inventory inv = BuildInventory(InventorySources{});
  EXPECT_THAT(inv.gpus, IsEmpty());
  EXPECT_THAT(inv.links, IsEmpty());
  EXPECT_FALSE(inv.nvml);
}

}  // namespace
}  // namespace paddock::gpu
