// Byte sizes as people write them in configs, requests and on the command line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace paddock {

// Parses "1048576", "512K", "10G", "1.5G", "10GiB", "10GB", "80g". Suffixes are binary
// (K = 1024) whatever their spelling: GPU memory, cgroup limits and MIG profiles all count in
// powers of two. kInvalidArgument for anything else, zero, or a value past 2^63.
Result<uint64_t> ParseByteSize(std::string_view text);

// The shortest exact form: 10737418240 -> "10G", 1536 -> "1536" ... only whole multiples get a
// suffix, so FormatByteSize(ParseByteSize(x)) reads back the same number.
std::string FormatByteSize(uint64_t bytes);

}  // namespace paddock
