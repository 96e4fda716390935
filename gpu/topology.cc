#include "gpu/topology.h"

#include <hwloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <tuple>
#include <utility>

#include "gpu/cpulist.h"

namespace paddock::gpu {
namespace {

constexpr uint16_t kNvidiaVendorId = 0x10de;
constexpr uint16_t kPciClassVga = 0x0300;
constexpr uint16_t kPciClass3d = 0x0302;
constexpr const char* kGpuRuntimeComponents[] = {"cuda", "nvml",      "opencl",
                                                 "rsmi", "levelzero", "gl"};

// Creates an hwloc topology that keeps I/O objects. hwloc drops PCI devices and bridges by
// default; KEEP_IMPORTANT keeps display devices, bridges that lead to kept devices and their OS
// devices, which is all locality and PCIe distance need.
Result<hwloc_topology_t> NewTopology() {
  hwloc_topology_t topology = nullptr;
  if (hwloc_topology_init(&topology) != 0) return Status::FromErrno("hwloc_topology_init");
  if (hwloc_topology_set_io_types_filter(topology, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) != 0) {
    const int err = errno;
    hwloc_topology_destroy(topology);
    return Status::FromErrno("hwloc_topology_set_io_types_filter", err);
  }
  // hwloc's GPU plugins (libhwloc-plugins) open the vendors' runtimes: the CUDA one creates a
  // context on every GPU, which costs memory and blocks GPUs in exclusive-process mode. The PCI
  // tree from sysfs is all Paddock needs; NVML is queried by gpu/nvml_discovery itself. A
  // component that is not installed fails to be blacklisted, which is just as good.
  for (const char* component : kGpuRuntimeComponents) {
    hwloc_topology_set_components(topology, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, component);
  }
  return topology;
}

// Loads `topology`, destroying it on failure. `what` names the source for error messages.
Status LoadOrDestroy(hwloc_topology_t topology, const std::string& what) {
  if (hwloc_topology_load(topology) == 0) return Status::Ok();
  const int err = errno;
  hwloc_topology_destroy(topology);
  return Status::FromErrno("cannot load the hwloc topology from " + what, err);
}

std::vector<int> BitmapIds(hwloc_const_bitmap_t bitmap) {
  std::vector<int> ids;
  if (bitmap == nullptr || hwloc_bitmap_iszero(bitmap)) return ids;
  // An infinite bitmap (a "full" set) would loop forever; no cpuset or nodeset of a loaded
  // topology object is infinite, but do not trust that blindly.
  if (hwloc_bitmap_weight(bitmap) < 0) return ids;
  for (int id = hwloc_bitmap_first(bitmap); id >= 0; id = hwloc_bitmap_next(bitmap, id)) {
    ids.push_back(id);
  }
  return ids;
}

Locality LocalityOfObject(hwloc_topology_t topology, hwloc_obj_t pcidev) {
  Locality locality;
  const hwloc_obj_t ancestor = hwloc_get_non_io_ancestor_obj(topology, pcidev);
  // An ancestor without CPUs (a package outside the allowed cpuset) has no meaningful memory
  // locality either: report nothing rather than its leftover nodeset.
  if (ancestor == nullptr || ancestor->cpuset == nullptr || hwloc_bitmap_iszero(ancestor->cpuset)) {
    return locality;
  }
  locality.numa_nodes = BitmapIds(ancestor->nodeset);
  locality.local_cpus = FormatCpulist(BitmapIds(ancestor->cpuset));
  return locality;
}

PciAddress AddressOf(hwloc_obj_t pcidev) {
  const auto& attr = pcidev->attr->pcidev;
  PciAddress pci;
  pci.domain = attr.domain;
  pci.bus = attr.bus;
  pci.device = attr.dev;
  pci.function = attr.func;
  return pci;
}

std::string PciName(hwloc_obj_t pcidev) {
  if (const char* name = hwloc_obj_get_info_by_name(pcidev, "PCIDevice");
      name != nullptr && *name != '\0') {
    return name;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "NVIDIA [%04x:%04x]", pcidev->attr->pcidev.vendor_id,
                pcidev->attr->pcidev.device_id);
  return buf;
}

bool IsNvidiaComputeGpu(hwloc_obj_t pcidev) {
  const auto& attr = pcidev->attr->pcidev;
  return attr.vendor_id == kNvidiaVendorId &&
         (attr.class_id == kPciClassVga || attr.class_id == kPciClass3d);
}

bool IsHostBridge(hwloc_obj_t obj) {
  return obj->type == HWLOC_OBJ_BRIDGE && obj->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST;
}

hwloc_obj_t LowestCommonAncestor(hwloc_obj_t a, hwloc_obj_t b) {
  // hwloc_get_common_ancestor_obj() compares depths, which I/O objects do not have (theirs are
  // virtual), so walk the parent chains instead.
  std::vector<hwloc_obj_t> a_chain;
  for (hwloc_obj_t obj = a; obj != nullptr; obj = obj->parent) a_chain.push_back(obj);
  for (hwloc_obj_t obj = b; obj != nullptr; obj = obj->parent) {
    if (std::find(a_chain.begin(), a_chain.end(), obj) != a_chain.end()) return obj;
  }
  return nullptr;
}

// The package containing a non-I/O object (itself when it is one); null above packages.
hwloc_obj_t PackageOf(hwloc_topology_t topology, hwloc_obj_t obj) {
  if (obj->type == HWLOC_OBJ_PACKAGE) return obj;
  return hwloc_get_ancestor_obj_by_type(topology, HWLOC_OBJ_PACKAGE, obj);
}

// Whether two non-I/O objects are in the same package, or (on machines without package
// objects) cover the same non-empty set of NUMA nodes.
bool SameSocket(hwloc_topology_t topology, hwloc_obj_t a, hwloc_obj_t b) {
  const hwloc_obj_t package_a = PackageOf(topology, a);
  const hwloc_obj_t package_b = PackageOf(topology, b);
  if (package_a != nullptr || package_b != nullptr) return package_a == package_b;
  return a->nodeset != nullptr && b->nodeset != nullptr && !hwloc_bitmap_iszero(a->nodeset) &&
         hwloc_bitmap_isequal(a->nodeset, b->nodeset);
}

}  // namespace

Result<Topology> Topology::LoadHost() {
  Result<hwloc_topology_t> topology = NewTopology();
  if (!topology.ok()) return topology.status();
  PADDOCK_RETURN_IF_ERROR(LoadOrDestroy(*topology, "this host"));
  return Topology(*topology);
}

Result<Topology> Topology::LoadXml(const std::string& path) {
  // hwloc reports a missing file only as a failed load; say which file and why up front.
  if (::access(path.c_str(), R_OK) != 0) {
    return Status::FromErrno("cannot read hwloc XML topology " + path);
  }
  Result<hwloc_topology_t> topology = NewTopology();
  if (!topology.ok()) return topology.status();
  if (hwloc_topology_set_xml(*topology, path.c_str()) != 0) {
    const int err = errno;
    hwloc_topology_destroy(*topology);
    return Status::FromErrno("hwloc cannot use XML topology " + path, err);
  }
  PADDOCK_RETURN_IF_ERROR(LoadOrDestroy(*topology, "XML file " + path));
  return Topology(*topology);
}

Topology::Topology(Topology&& other) noexcept
    : topology_(std::exchange(other.topology_, nullptr)) {}

Topology& Topology::operator=(Topology&& other) noexcept {
  if (this != &other) {
    if (topology_ != nullptr) hwloc_topology_destroy(topology_);
    topology_ = std::exchange(other.topology_, nullptr);
  }
  return *this;
}

Topology::~Topology() {
  if (topology_ != nullptr) hwloc_topology_destroy(topology_);
}

std::vector<PciGpu> Topology::NvidiaComputeGpus() const {
  std::vector<PciGpu> gpus;
  if (topology_ == nullptr) return gpus;
  for (hwloc_obj_t obj = hwloc_get_next_pcidev(topology_, nullptr); obj != nullptr;
       obj = hwloc_get_next_pcidev(topology_, obj)) {
    if (!IsNvidiaComputeGpu(obj)) continue;
    Locality locality = LocalityOfObject(topology_, obj);
    PciGpu gpu;
    gpu.pci = AddressOf(obj);
    gpu.vendor_id = obj->attr->pcidev.vendor_id;
    gpu.device_id = obj->attr->pcidev.device_id;
    gpu.class_id = obj->attr->pcidev.class_id;
    gpu.name = PciName(obj);
    gpu.numa_nodes = std::move(locality.numa_nodes);
    gpu.local_cpus = std::move(locality.local_cpus);
    gpus.push_back(std::move(gpu));
  }
  auto key = [](const PciGpu& g) {
    return std::tie(g.pci.domain, g.pci.bus, g.pci.device, g.pci.function);
  };
  std::sort(gpus.begin(), gpus.end(),
            [&](const PciGpu& x, const PciGpu& y) { return key(x) < key(y); });
  return gpus;
}

Result<Locality> Topology::LocalityOf(const PciAddress& pci) const {
  const hwloc_obj_t obj =
      topology_ == nullptr
          ? nullptr
          : hwloc_get_pcidev_by_busid(topology_, pci.domain, pci.bus, pci.device, pci.function);
  if (obj == nullptr) {
    return Status::NotFound("PCI device " + pci.ToString() + " is not in the hwloc topology");
  }
  return LocalityOfObject(topology_, obj);
}

LinkKind Topology::PcieLink(const PciAddress& a, const PciAddress& b) const {
  if (a == b) return LinkKind::kSelf;
  if (topology_ == nullptr) return LinkKind::kSystem;
  const hwloc_obj_t obj_a =
      hwloc_get_pcidev_by_busid(topology_, a.domain, a.bus, a.device, a.function);
  const hwloc_obj_t obj_b =
      hwloc_get_pcidev_by_busid(topology_, b.domain, b.bus, b.device, b.function);
  if (obj_a == nullptr || obj_b == nullptr) return LinkKind::kSystem;
  const hwloc_obj_t common = LowestCommonAncestor(obj_a, obj_b);
  if (common == nullptr) return LinkKind::kSystem;
  if (common->type == HWLOC_OBJ_BRIDGE) {
    return IsHostBridge(common) ? LinkKind::kHostBridge : LinkKind::kPcieSwitch;
  }
  if (hwloc_obj_type_is_io(common->type)) return LinkKind::kPcieSwitch;  // functions of a device
  const hwloc_obj_t cpu_side_a = hwloc_get_non_io_ancestor_obj(topology_, obj_a);
  const hwloc_obj_t cpu_side_b = hwloc_get_non_io_ancestor_obj(topology_, obj_b);
  if (cpu_side_a == nullptr || cpu_side_b == nullptr) return LinkKind::kSystem;
  return SameSocket(topology_, cpu_side_a, cpu_side_b) ? LinkKind::kNumaNode : LinkKind::kSystem;
}

}  // namespace paddock::gpu
