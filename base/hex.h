// Hexadecimal encoding, for digests and ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace paddock {

// Lower-case hex of `size` bytes at `data`.
std::string HexEncode(const uint8_t* data, size_t size);

// The value of one hex digit (either case), or -1.
int HexDigitValue(char c);

// Decodes an even number of hex digits; false (and `out` unspecified) on anything else.
bool HexDecode(std::string_view hex, std::string* out);

}  // namespace paddock
