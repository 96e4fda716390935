#include "gpu/gpu_info.h"

namespace paddock::gpu {

const char* LinkKindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::kSelf:
      return "self";
    case LinkKind::kNvlink:
      return "nvlink";
    case LinkKind::kPcieSwitch:
      return "pcie_switch";
    case LinkKind::kHostBridge:
      return "host_bridge";
    case LinkKind::kNumaNode:
      return "numa_node";
    case LinkKind::kSystem:
      return "system";
  }
  return "system";
}

}  // namespace paddock::gpu
