// PCI addresses of GPUs, as the different sources spell them.
//
// NVML reports "00000000:4F:00.0" (8-digit domain, upper case); sysfs and hwloc use
// "0000:4f:00.0" (4-digit domain, lower case). Discovery matches NVML devices to hwloc objects
// through this one canonical form.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace paddock::gpu {

struct PciAddress {
  uint32_t domain = 0;
  uint8_t bus = 0;
  uint8_t device = 0;
  uint8_t function = 0;

  // The sysfs form, "0000:4f:00.0".
  std::string ToString() const;
  friend bool operator==(const PciAddress&, const PciAddress&) = default;
};

// Parses "DDDD:BB:DD.F" or "DDDDDDDD:BB:DD.F" (any case). The domain is optional ("4f:00.0").
Result<PciAddress> ParsePciAddress(std::string_view text);

}  // namespace paddock::gpu
