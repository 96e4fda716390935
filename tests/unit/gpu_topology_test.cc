// gpu/topology against hwloc XML exports of real machines (tests/fixtures/hwloc/README.md) and
// against this host. Expected values were read from the files with lstopo/hwloc-calc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gpu/topology.h"
#include "temp_dir.h"

namespace paddock::gpu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string FixturePath(const std::string& name) {
  return std::string(PADDOCK_SOURCE_DIR) + "/tests/fixtures/hwloc/" + name;
}

Topology LoadFixture(const std::string& name) {
  Result<Topology> topology = Topology::LoadXml(FixturePath(name));
  EXPECT_TRUE(topology.ok()) << name << ": " << topology.status().ToString();
  if (!topology.ok()) std::abort();  // nothing below makes sense without it
  return std::move(topology).value();
}

PciAddress Pci(const char* text) {
  Result<PciAddress> pci = ParsePciAddress(text);
  EXPECT_TRUE(pci.ok()) << text;
  return pci.ok() ? *pci : PciAddress{};
}

std::vector<std::string> BusIds(const std::vector<PciGpu>& gpus) {
  std::vector<std::string> ids;
  for (const PciGpu& gpu : gpus) ids.push_back(gpu.pci.ToString());
  return ids;
}

TEST(TopologyLoadTest, MissingFileNamesIt) {
  Result<Topology> topology = Topology::LoadXml("/nonexistent/paddock/topo.xml");
  ASSERT_FALSE(topology.ok());
  EXPECT_EQ(topology.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(topology.status().message(), HasSubstr("/nonexistent/paddock/topo.xml"));
}

TEST(TopologyLoadTest, MalformedFileNamesIt) {
  TempDir dir;
  const std::string path = dir.Join("broken.xml");
  std::ofstream(path) << "<?xml version=\"1.0\"?>\n<topology version=\"2.0\"><object type=";
  Result<Topology> topology = Topology::LoadXml(path);
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(topology.status().message(), HasSubstr(path));
}

TEST(TopologyLoadTest, MoveKeepsTheTopology) {
  Topology first = LoadFixture("power8gpudistances.xml");
  Topology second = std::move(first);
  EXPECT_EQ(second.NvidiaComputeGpus().size(), 4u);
  Topology third = LoadFixture("rsmi_corona240.xml");
  third = std::move(second);
  EXPECT_EQ(third.NvidiaComputeGpus().size(), 4u);
}

struct SysfsPciDevice {
  std::string bus_id;
  std::string vendor;     // "0x10de"
  std::string pci_class;  // "0x030200"
};

std::vector<SysfsPciDevice> SysfsPciDevices() {
  std::vector<SysfsPciDevice> devices;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/bus/pci/devices", ec)) {
    SysfsPciDevice device{entry.path().filename().string(), "", ""};
    std::ifstream(entry.path() / "vendor") >> device.vendor;
    std::ifstream(entry.path() / "class") >> device.pci_class;
    devices.push_back(device);
  }
  return devices;
}

bool HasPrefix(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

TEST(TopologyLoadTest, LoadsThisHost) {
  Result<Topology> topology = Topology::LoadHost();
  ASSERT_TRUE(topology.ok()) << topology.status().ToString();
  int sysfs_gpus = 0;
  for (const SysfsPciDevice& device : SysfsPciDevices()) {
    const bool display = HasPrefix(device.pci_class, "0x03");
    sysfs_gpus += device.vendor == "0x10de" &&
                  (HasPrefix(device.pci_class, "0x0300") || HasPrefix(device.pci_class, "0x0302"));
    // Storage, network and display devices are what KEEP_IMPORTANT keeps: hwloc must see them,
    // or the GPU count below would be 0 = 0 by accident.
    if (display || HasPrefix(device.pci_class, "0x01") || HasPrefix(device.pci_class, "0x02")) {
      EXPECT_TRUE(topology->LocalityOf(Pci(device.bus_id.c_str())).ok()) << device.bus_id;
    }
  }
  const std::vector<PciGpu> gpus = topology->NvidiaComputeGpus();
  EXPECT_EQ(static_cast<int>(gpus.size()), sysfs_gpus);  // 0 on a machine without GPUs
  for (const PciGpu& gpu : gpus) {
    EXPECT_EQ(gpu.vendor_id, 0x10de);
    EXPECT_TRUE(topology->LocalityOf(gpu.pci).ok()) << gpu.pci.ToString();
  }
  EXPECT_EQ(topology->LocalityOf(Pci("0000:ff:1f.7")).status().code(), StatusCode::kNotFound);
}

TEST(TopologyDgx2Test, Lists16V100sAndNoNvSwitch) {
  const Topology topology = LoadFixture("nvidiaDGX2.xml");
  const std::vector<PciGpu> gpus = topology.NvidiaComputeGpus();
  EXPECT_THAT(BusIds(gpus),
              ElementsAre("0000:34:00.0", "0000:36:00.0", "0000:39:00.0", "0000:3b:00.0",
                          "0000:57:00.0", "0000:59:00.0", "0000:5c:00.0", "0000:5e:00.0",
                          "0000:b7:00.0", "0000:b9:00.0", "0000:bc:00.0", "0000:be:00.0",
                          "0000:e0:00.0", "0000:e2:00.0", "0000:e5:00.0", "0000:e7:00.0"));
  for (size_t i = 0; i < gpus.size(); ++i) {
    const PciGpu& gpu = gpus[i];
    EXPECT_EQ(gpu.vendor_id, 0x10de);
    EXPECT_EQ(gpu.device_id, 0x1db8);
    EXPECT_EQ(gpu.class_id, 0x0302);
    EXPECT_EQ(gpu.name, "NVIDIA [10de:1db8]");  // the export has no pci.ids names
    // The export keeps two PUs per socket: P#0-1 on package 0, P#24-25 on package 1.
    if (i < 8) {
      EXPECT_THAT(gpu.numa_nodes, ElementsAre(0)) << gpu.pci.ToString();
      EXPECT_EQ(gpu.local_cpus, "0-1") << gpu.pci.ToString();
    } else {
      EXPECT_THAT(gpu.numa_nodes, ElementsAre(1)) << gpu.pci.ToString();
      EXPECT_EQ(gpu.local_cpus, "24-25") << gpu.pci.ToString();
    }
  }
}

TEST(TopologyDgx2Test, NvSwitchIsAPciDeviceButNotAGpu) {
  const Topology topology = LoadFixture("nvidiaDGX2.xml");
  // hwloc does know the NVSwitch (so leaving it out of the GPU list is a decision, not luck).
  Result<Locality> nvswitch = topology.LocalityOf(Pci("0000:61:00.0"));
  ASSERT_TRUE(nvswitch.ok()) << nvswitch.status().ToString();
  EXPECT_THAT(nvswitch->numa_nodes, ElementsAre(0));
}

TEST(TopologyDgx2Test, LocalityOfAcceptsNvmlSpelling) {
  const Topology topology = LoadFixture("nvidiaDGX2.xml");
  Result<Locality> locality = topology.LocalityOf(Pci("00000000:B7:00.0"));
  ASSERT_TRUE(locality.ok()) << locality.status().ToString();
  EXPECT_THAT(locality->numa_nodes, ElementsAre(1));
  EXPECT_EQ(locality->local_cpus, "24-25");
  Result<Locality> absent = topology.LocalityOf(Pci("0000:07:00.0"));
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(absent.status().message(), HasSubstr("0000:07:00.0"));
}

TEST(TopologyDgx2Test, PcieLinks) {
  const Topology topology = LoadFixture("nvidiaDGX2.xml");
  const PciAddress gpu0 = Pci("0000:34:00.0");
  EXPECT_EQ(topology.PcieLink(gpu0, gpu0), LinkKind::kSelf);
  // Same leaf switch, and two switch levels up (still below the root port).
  EXPECT_EQ(topology.PcieLink(gpu0, Pci("0000:36:00.0")), LinkKind::kPcieSwitch);
  EXPECT_EQ(topology.PcieLink(gpu0, Pci("0000:39:00.0")), LinkKind::kPcieSwitch);
  // Other host bridge, same socket.
  EXPECT_EQ(topology.PcieLink(gpu0, Pci("0000:57:00.0")), LinkKind::kNumaNode);
  // Other socket.
  EXPECT_EQ(topology.PcieLink(gpu0, Pci("0000:b7:00.0")), LinkKind::kSystem);
  EXPECT_EQ(topology.PcieLink(Pci("0000:b7:00.0"), Pci("0000:e7:00.0")), LinkKind::kNumaNode);
  EXPECT_EQ(topology.PcieLink(Pci("0000:e7:00.0"), Pci("0000:e5:00.0")), LinkKind::kPcieSwitch);
  // Symmetric, and unknown devices are as far as it gets.
  EXPECT_EQ(topology.PcieLink(Pci("0000:b7:00.0"), gpu0), LinkKind::kSystem);
  EXPECT_EQ(topology.PcieLink(gpu0, Pci("0000:07:00.0")), LinkKind::kSystem);
}

TEST(TopologyXeonTest, ThreeTeslasOneAndTwoPerNode) {
  const Topology topology = LoadFixture("32em64t-2n8c2t-pci-normalio.xml");
  const std::vector<PciGpu> gpus = topology.NvidiaComputeGpus();
  // 84:00.1 is an AMD VGA function and 05:03.0 a Matrox BMC chip: not listed.
  ASSERT_THAT(BusIds(gpus), ElementsAre("0000:03:00.0", "0000:83:00.0", "0000:84:00.0"));
  for (const PciGpu& gpu : gpus) {
    EXPECT_EQ(gpu.device_id, 0x1094);
    EXPECT_EQ(gpu.name, "Tesla M2075 Dual-Slot Computing Processor Module");
  }
  EXPECT_THAT(gpus[0].numa_nodes, ElementsAre(0));
  EXPECT_EQ(gpus[0].local_cpus, "0-7,16-23");
  EXPECT_THAT(gpus[1].numa_nodes, ElementsAre(1));
  EXPECT_EQ(gpus[1].local_cpus, "8-15,24-31");
  EXPECT_THAT(gpus[2].numa_nodes, ElementsAre(1));
  EXPECT_EQ(gpus[2].local_cpus, "8-15,24-31");
  // 83 and 84 sit behind different root ports of one host bridge.
  EXPECT_EQ(topology.PcieLink(gpus[1].pci, gpus[2].pci), LinkKind::kHostBridge);
  EXPECT_EQ(topology.PcieLink(gpus[0].pci, gpus[2].pci), LinkKind::kSystem);
  // Two functions of one card share the card's bridge.
  EXPECT_EQ(topology.PcieLink(gpus[2].pci, Pci("0000:84:00.1")), LinkKind::kPcieSwitch);
}

TEST(TopologyXeonTest, BmcVgaIsNotAGpu) {
  const Topology topology = LoadFixture("24em64t-2n6c2t-pci.xml");
  const std::vector<PciGpu> gpus = topology.NvidiaComputeGpus();
  ASSERT_THAT(BusIds(gpus), ElementsAre("0000:06:00.0", "0000:11:00.0", "0000:14:00.0"));
  EXPECT_TRUE(topology.LocalityOf(Pci("0000:01:03.0")).ok());  // the ATI ES1000 is there
  for (const PciGpu& gpu : gpus) {
    EXPECT_EQ(gpu.device_id, 0x06d2);
    EXPECT_EQ(gpu.class_id, 0x0302);
    EXPECT_EQ(gpu.name, "NVIDIA [10de:06d2]");  // vendor name only in the export
  }
  EXPECT_THAT(gpus[0].numa_nodes, ElementsAre(0));
  EXPECT_EQ(gpus[0].local_cpus, "0,2,4,6,8,10,12,14,16,18,20,22");
  EXPECT_THAT(gpus[1].numa_nodes, ElementsAre(1));
  EXPECT_EQ(gpus[1].local_cpus, "1,3,5,7,9,11,13,15,17,19,21,23");
  EXPECT_EQ(gpus[2].local_cpus, gpus[1].local_cpus);
  EXPECT_EQ(topology.PcieLink(gpus[1].pci, gpus[2].pci), LinkKind::kHostBridge);
  EXPECT_EQ(topology.PcieLink(gpus[0].pci, gpus[1].pci), LinkKind::kSystem);
}

TEST(TopologyIrregularTest, GpusWithEmptyLocalityAreListed) {
  const Topology topology = LoadFixture("64intel64-3g2n+2n-irregulargroups+pci.xml");
  const std::vector<PciGpu> gpus = topology.NvidiaComputeGpus();
  ASSERT_THAT(BusIds(gpus), ElementsAre("0002:01:00.0", "0004:01:00.0"));
  for (const PciGpu& gpu : gpus) {
    EXPECT_EQ(gpu.class_id, 0x0300);
    EXPECT_EQ(gpu.name, "NVIDIA [10de:11ba]");
    EXPECT_THAT(gpu.numa_nodes, IsEmpty());
    EXPECT_EQ(gpu.local_cpus, "");
  }
  Result<Locality> locality = topology.LocalityOf(gpus[1].pci);
  ASSERT_TRUE(locality.ok()) << locality.status().ToString();
  EXPECT_THAT(locality->numa_nodes, IsEmpty());
  EXPECT_EQ(locality->local_cpus, "");
  // Packages P#4 and P#8.
  EXPECT_EQ(topology.PcieLink(gpus[0].pci, gpus[1].pci), LinkKind::kSystem);
  // The Matrox VGA on package 0 does have a locality.
  Result<Locality> matrox = topology.LocalityOf(Pci("0000:08:00.0"));
  ASSERT_TRUE(matrox.ok());
  EXPECT_THAT(matrox->numa_nodes, ElementsAre(0));
}

TEST(TopologyPower8Test, FourP100TwoPerNode) {
  const Topology topology = LoadFixture("power8gpudistances.xml");
  const std::vector<PciGpu> gpus = topology.NvidiaComputeGpus();
  ASSERT_THAT(BusIds(gpus),
              ElementsAre("0002:01:00.0", "0003:01:00.0", "000a:01:00.0", "000b:01:00.0"));
  for (size_t i = 0; i < gpus.size(); ++i) {
    EXPECT_EQ(gpus[i].device_id, 0x15f9);
    EXPECT_THAT(gpus[i].numa_nodes, ElementsAre(i < 2 ? 0 : 1));
    EXPECT_EQ(gpus[i].local_cpus, i < 2 ? "0-1,8-9,16-17,24-25" : "80-81,88-89,96-97,104-105");
  }
  EXPECT_EQ(topology.PcieLink(gpus[0].pci, gpus[1].pci), LinkKind::kNumaNode);
  EXPECT_EQ(topology.PcieLink(gpus[2].pci, gpus[3].pci), LinkKind::kNumaNode);
  EXPECT_EQ(topology.PcieLink(gpus[1].pci, gpus[2].pci), LinkKind::kSystem);
}

TEST(TopologyAmdTest, NoNvidiaGpus) {
  const Topology topology = LoadFixture("rsmi_corona240.xml");
  EXPECT_THAT(topology.NvidiaComputeGpus(), IsEmpty());
  // The MI50s are there, with their locality: the list is empty by filtering, not by accident.
  Result<Locality> mi50 = topology.LocalityOf(Pci("0000:03:00.0"));
  ASSERT_TRUE(mi50.ok()) << mi50.status().ToString();
  EXPECT_THAT(mi50->numa_nodes, ElementsAre(0));
}

}  // namespace
}  // namespace paddock::gpu
