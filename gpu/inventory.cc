#include "gpu/inventory.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace paddock::gpu {
namespace {

bool PciLess(const PciAddress& a, const PciAddress& b) {
  return std::tie(a.domain, a.bus, a.device, a.function) <
         std::tie(b.domain, b.bus, b.device, b.function);
}

const ProcDriverGpu* FindProcGpu(const std::vector<ProcDriverGpu>& proc_gpus,
                                 const PciAddress& pci) {
  const auto it = std::find_if(proc_gpus.begin(), proc_gpus.end(),
                               [&](const ProcDriverGpu& g) { return g.pci == pci; });
  return it == proc_gpus.end() ? nullptr : &*it;
}

// A GPU found without NVML: whole-unit use only, no telemetry. Identity from the driver's /proc
// entry when there is one, else an id derived from the PCI address, which is stable across
// reboots as long as the card stays in its slot.
GpuInfo GpuWithoutNvml(const PciAddress& pci, const ProcDriverGpu* proc) {
  GpuInfo gpu;
  gpu.pci = pci;
  gpu.from_nvml = false;
  gpu.telemetry.state = "no_telemetry";
  gpu.uuid = proc != nullptr && !proc->uuid.empty() ? proc->uuid : "PCI-" + pci.ToString();
  gpu.minor = proc != nullptr ? proc->minor : -1;
  if (proc != nullptr) gpu.name = proc->model;
  return gpu;
}

std::vector<std::vector<LinkKind>> SystemLinks(size_t n) {
  std::vector<std::vector<LinkKind>> links(n, std::vector<LinkKind>(n, LinkKind::kSystem));
  for (size_t i = 0; i < n; ++i) links[i][i] = LinkKind::kSelf;
  return links;
}

bool IsSquare(const std::vector<std::vector<LinkKind>>& links, size_t n) {
  return links.size() == n &&
         std::all_of(links.begin(), links.end(), [n](const auto& row) { return row.size() == n; });
}

void FromNvml(const InventorySources& sources, Inventory* inv) {
  const NvmlGpuList& nvml = *sources.nvml;
  inv->nvml = true;
  inv->nvml_status = sources.nvml_status.empty() ? "ok" : sources.nvml_status;
  inv->gpus = nvml.gpus;
  const size_t n = inv->gpus.size();
  std::vector<bool> in_hwloc(n, false);
  if (sources.topology == nullptr) {
    inv->warnings.push_back("no hwloc topology: GPU locality as NVML reports it");
  }
  for (size_t i = 0; i < n && sources.topology != nullptr; ++i) {
    GpuInfo& gpu = inv->gpus[i];
    Result<Locality> locality = sources.topology->LocalityOf(gpu.pci);
    if (!locality.ok()) {
      inv->warnings.push_back("GPU " + gpu.pci.ToString() +
                              " not found in the hwloc topology; keeping NVML's locality");
      continue;
    }
    in_hwloc[i] = true;
    gpu.numa_nodes = std::move(locality->numa_nodes);
    gpu.local_cpus = std::move(locality->local_cpus);
  }
  if (IsSquare(nvml.links, n)) {
    inv->links = nvml.links;
  } else {
    inv->warnings.push_back("NVML link matrix does not match its " + std::to_string(n) +
                            " GPUs; using PCIe links only");
    inv->links = SystemLinks(n);
  }
  // NVML knows NVLink; hwloc's view of the PCIe tree is the better judge of everything else.
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (i == j) {
        inv->links[i][j] = LinkKind::kSelf;
      } else if (inv->links[i][j] != LinkKind::kNvlink && in_hwloc[i] && in_hwloc[j]) {
        inv->links[i][j] = sources.topology->PcieLink(inv->gpus[i].pci, inv->gpus[j].pci);
      }
    }
  }
}

// Without NVML: hwloc's NVIDIA GPUs, plus any the driver lists that hwloc missed.
void FromTopology(const InventorySources& sources, Inventory* inv) {
  const Topology& topology = *sources.topology;
  for (PciGpu& found : topology.NvidiaComputeGpus()) {
    GpuInfo gpu = GpuWithoutNvml(found.pci, FindProcGpu(sources.proc_gpus, found.pci));
    if (gpu.name.empty()) gpu.name = std::move(found.name);
    gpu.pci_device_id = static_cast<uint32_t>(found.device_id) << 16 | found.vendor_id;
    gpu.numa_nodes = std::move(found.numa_nodes);
    gpu.local_cpus = std::move(found.local_cpus);
    inv->gpus.push_back(std::move(gpu));
  }
  for (const ProcDriverGpu& proc : sources.proc_gpus) {
    const bool known = std::any_of(inv->gpus.begin(), inv->gpus.end(),
                                   [&](const GpuInfo& g) { return g.pci == proc.pci; });
    if (known) continue;
    inv->warnings.push_back("GPU " + proc.pci.ToString() +
                            " is listed by the NVIDIA driver but not in the hwloc topology; "
                            "its locality is unknown");
    inv->gpus.push_back(GpuWithoutNvml(proc.pci, &proc));
  }
  std::stable_sort(inv->gpus.begin(), inv->gpus.end(),
                   [](const GpuInfo& a, const GpuInfo& b) { return PciLess(a.pci, b.pci); });
  const size_t n = inv->gpus.size();
  inv->links = SystemLinks(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      inv->links[i][j] = topology.PcieLink(inv->gpus[i].pci, inv->gpus[j].pci);
    }
  }
}

// Neither NVML nor hwloc: only what the driver lists.
void FromProcDriver(const InventorySources& sources, Inventory* inv) {
  inv->warnings.push_back("no hwloc topology: GPU locality and links unknown");
  for (const ProcDriverGpu& proc : sources.proc_gpus) {
    inv->gpus.push_back(GpuWithoutNvml(proc.pci, &proc));
  }
  std::stable_sort(inv->gpus.begin(), inv->gpus.end(),
                   [](const GpuInfo& a, const GpuInfo& b) { return PciLess(a.pci, b.pci); });
  inv->links = SystemLinks(inv->gpus.size());
}

}  // namespace

Inventory BuildInventory(const InventorySources& sources) {
  Inventory inv;
  if (sources.nvml != nullptr) {
    FromNvml(sources, &inv);
    return inv;
  }
  inv.nvml = false;
  inv.nvml_status = sources.nvml_status.empty() ? "NVML not available" : sources.nvml_status;
  if (sources.topology != nullptr) {
    FromTopology(sources, &inv);
  } else {
    FromProcDriver(sources, &inv);
  }
  for (size_t i = 0; i < inv.gpus.size(); ++i) {
    inv.gpus[i].index = static_cast<uint32_t>(i);
    if (inv.gpus[i].name.empty()) inv.gpus[i].name = "NVIDIA GPU";
  }
  return inv;
}

}  // namespace paddock::gpu
