// A reader of glibc's dynamic linker cache (/etc/ld.so.cache), written by ldconfig.
//
// The cache maps each library's soname (what programs ask the dynamic linker for, e.g.
// "libcuda.so.1") to the path ldconfig found it at, tagged with flags that say which ABI the
// library is built for. Looking libraries up here finds them where the host's own programs would,
// whatever directory the driver's installer chose.
//
// Formats read:
//   - the current one: magic "glibc-ld.so.cache" + version "1.1", a header, fixed-size entries,
//     then a string table; string offsets count from the start of that header;
//   - "compat": the old "ld.so-1.7.0" table followed (8-byte aligned) by the current one, which is
//     read and the old table skipped.
// A file with only the old table (ldconfig -c old; nothing has written it by default since glibc
// 2.32) is rejected: it is a format for dynamic linkers of the 1990s.
//
// Contract: every size and offset is checked against the file's length before use; a truncated or
// corrupt file gives kInvalidArgument with the file's path in the message, never a crash or a read
// outside the data. A file that cannot be read gives the errno-derived Status (kNotFound if it
// does not exist). Safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace paddock::gpu {

// Flag values in cache entries (glibc's ldconfig.h). The low byte is the library type, the high
// byte the architecture variant.
inline constexpr uint32_t kLdCacheTypeMask = 0x00ff;
inline constexpr uint32_t kLdCacheTypeElf = 0x0001;       // ELF, no libc dependency recorded
inline constexpr uint32_t kLdCacheTypeElfLibc6 = 0x0003;  // ELF linked against glibc
inline constexpr uint32_t kLdCacheArchMask = 0xff00;
inline constexpr uint32_t kLdCacheArchX8664Lib64 = 0x0300;    // x86-64 (not i386, not x32)
inline constexpr uint32_t kLdCacheArchAarch64Lib64 = 0x0a00;  // AArch64 LP64

struct LdCacheEntry {
  std::string soname;  // the key, e.g. "libcuda.so.1"
  std::string path;    // where ldconfig found it, e.g. "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
  uint32_t flags = 0;  // kLdCacheType* | kLdCacheArch*
};

// All entries of the cache at `path`, in file order (ldconfig's order, which the dynamic linker
// searches first to last; a soname can appear once per ABI). Entries of every ABI are returned.
Result<std::vector<LdCacheEntry>> ReadLdCache(const std::string& path = "/etc/ld.so.cache");

// Whether an entry with `flags` can be loaded by this process's ABI, by the rule glibc's dynamic
// linker applies (x86-64: exactly libc6 + x86-64; i386 and x32 entries are not native).
bool IsNativeLdCacheFlags(uint32_t flags);

}  // namespace paddock::gpu
