// Topology: where the GPUs sit in the machine, as hwloc sees it (PCI tree, NUMA nodes, CPUs).
//
// Loads hwloc's view of this host, or an XML export of another machine (tests, offline tools),
// with PCI devices and bridges kept, and answers three questions about NVIDIA GPUs: which are
// there (NvidiaComputeGpus), which NUMA nodes and CPUs are close to one (LocalityOf), and how two
// of them reach each other over PCIe (PcieLink; NVLink is NVML's business, see gpu/inventory.h).
//
// A loaded Topology is immutable: its const methods may be called from several threads at once.
// Movable, not copyable; a moved-from Topology may only be destroyed or assigned to.
// hwloc.h stays out of this header: the hwloc topology is an opaque pointer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gpu/gpu_info.h"
#include "gpu/pci_address.h"

struct hwloc_topology;  // hwloc's own type (hwloc_topology_t points to it)

namespace paddock::gpu {

// Where a device is close to: NUMA nodes by OS index and CPUs as a kernel cpulist of OS PU
// indexes ("0-7,16-23"). Both empty when hwloc attaches the device to a part of the machine that
// has no CPUs or memory left (e.g. a package outside the allowed cpuset).
struct Locality {
  std::vector<int> numa_nodes;
  std::string local_cpus;
};

// An NVIDIA GPU found on the PCI bus.
struct PciGpu {
  PciAddress pci;
  uint16_t vendor_id = 0;  // 0x10de
  uint16_t device_id = 0;  // 0x1db8 for a V100-SXM3
  uint16_t class_id = 0;   // 0x0300 (VGA) or 0x0302 (3D)
  // hwloc's PCI device name (its "PCIDevice" info, from pci.ids) or "NVIDIA [10de:1db8]".
  std::string name;
  std::vector<int> numa_nodes;  // as in Locality
  std::string local_cpus;
};

class Topology {
 public:
  using PciGpu = gpu::PciGpu;

  // Discovers this host (sysfs, /proc). Errors are hwloc's, with errno text.
  static Result<Topology> LoadHost();
  // Reads an hwloc XML export (v1 or v2 format). A missing or unparsable file is an error that
  // names `path`.
  static Result<Topology> LoadXml(const std::string& path);

  Topology(Topology&& other) noexcept;
  Topology& operator=(Topology&& other) noexcept;
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;
  ~Topology();

  // NVIDIA (vendor 0x10de) PCI functions of the display classes VGA (0x0300) and 3D (0x0302),
  // sorted by PCI address. Not listed: NVSwitch bridges (class 0x0680), audio functions, other
  // vendors' GPUs and BMC video chips.
  std::vector<PciGpu> NvidiaComputeGpus() const;

  // The locality of a PCI device: the NUMA nodes and CPUs of its first non-I/O ancestor.
  // kNotFound when hwloc has no such PCI device.
  Result<Locality> LocalityOf(const PciAddress& pci) const;

  // How two PCI devices reach each other through the PCIe tree and the sockets:
  //   kSelf        same address;
  //   kPcieSwitch  their lowest common ancestor is a PCI bridge (a switch or a root port);
  //   kHostBridge  their lowest common ancestor is a host bridge;
  //   kNumaNode    different host bridges in the same package (or, without packages, with the
  //                same NUMA nodes);
  //   kSystem      anything further, or a device hwloc does not know.
  LinkKind PcieLink(const PciAddress& a, const PciAddress& b) const;

 private:
  explicit Topology(hwloc_topology* topology) : topology_(topology) {}

  hwloc_topology* topology_ = nullptr;  // owned; null after a move
};

}  // namespace paddock::gpu
