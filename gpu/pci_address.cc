#include "gpu/pci_address.h"

#include <charconv>
#include <cstdio>

namespace paddock::gpu {
namespace {

bool ParseHex(std::string_view text, size_t max_digits, uint32_t* out) {
  if (text.empty() || text.size() > max_digits) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string PciAddress::ToString() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, device, function);
  return buf;
}

Result<PciAddress> ParsePciAddress(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("not a PCI address: \"" + std::string(text) + "\"");
  };
  std::string_view rest = text;
  PciAddress addr;
  // Domain present when there are two colons.
  if (rest.find(':') != rest.rfind(':')) {
    const auto colon = rest.find(':');
    if (!ParseHex(rest.substr(0, colon), 8, &addr.domain)) return bad();
    rest.remove_prefix(colon + 1);
  }
  const auto colon = rest.find(':');
  const auto dot = rest.find('.');
  if (colon == std::string_view::npos || dot == std::string_view::npos || dot < colon) return bad();
  uint32_t bus = 0, device = 0, function = 0;
  if (!ParseHex(rest.substr(0, colon), 2, &bus) ||
      !ParseHex(rest.substr(colon + 1, dot - colon - 1), 2, &device) ||
      !ParseHex(rest.substr(dot + 1), 1, &function) || device > 0x1f || function > 7) {
    return bad();
  }
  addr.bus = static_cast<uint8_t>(bus);
  addr.device = static_cast<uint8_t>(device);
  addr.function = static_cast<uint8_t>(function);
  return addr;
}

}  // namespace paddock::gpu
