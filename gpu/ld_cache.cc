#include "gpu/ld_cache.h"

#include <bit>
#include <cstring>
#include <string_view>

#include "base/file_util.h"

namespace paddock::gpu {
namespace {

// The layouts below are glibc's (sysdeps/generic/dl-cache.h), all fields in host byte order.
//
// Current format header (struct cache_file_new), 48 bytes:
//   0  magic "glibc-ld.so.cache" and version "1.1", adjacent, 20 bytes
//   20 uint32 number of entries
//   24 uint32 length of the string table that follows the entries
//   28 uint8  flags; flags & 3 is the byte order ldconfig wrote
//   29 3 bytes padding, then 4 uint32 reserved (glibc 2.33+ keeps the offset of an extension
//      section in the first; nothing here needs it)
constexpr std::string_view kNewMagic = "glibc-ld.so.cache1.1";
constexpr uint64_t kNewHeaderSize = 48;
constexpr uint64_t kNewCountOffset = 20;
constexpr uint64_t kNewStringsLengthOffset = 24;
constexpr uint64_t kNewFlagsOffset = 28;
// Current format entry (struct file_entry_new), 24 bytes: int32 flags, uint32 key (soname) and
// value (path) string offsets, uint32 required OS version, uint64 hwcap.
constexpr uint64_t kNewEntrySize = 24;
constexpr uint64_t kNewKeyOffset = 4;
constexpr uint64_t kNewValueOffset = 8;
// The current header sits at a multiple of its alignment (8: the entries hold a uint64).
constexpr uint64_t kNewHeaderAlignment = 8;

// Old format (struct cache_file): 11-byte magic padded to 12, uint32 number of entries, then
// 12-byte entries (int32 flags, uint32 key, uint32 value).
constexpr std::string_view kOldMagic = "ld.so-1.7.0";
constexpr uint64_t kOldHeaderSize = 16;
constexpr uint64_t kOldCountOffset = 12;
constexpr uint64_t kOldEntrySize = 12;

// Byte-order marks in the header's flags & 3.
constexpr uint8_t kByteOrderUnknown = 0;  // an ldconfig older than the mark wrote it
constexpr uint8_t kByteOrderInvalid = 1;  // ldconfig marked the file unusable
constexpr uint8_t kByteOrderNative = std::endian::native == std::endian::little ? 2 : 3;

Status Corrupt(const std::string& path, std::string_view why) {
  return Status::InvalidArgument(path + ": not a usable ld.so.cache: " + std::string(why));
}

// Reads a host-order uint32 at `offset`; the caller has checked that 4 bytes are there.
uint32_t LoadU32(std::string_view data, uint64_t offset) {
  uint32_t value;
  std::memcpy(&value, data.data() + offset, sizeof value);
  return value;
}

// Where the current-format header starts: 0, or after the old table in the compat layout.
Result<uint64_t> FindNewHeader(std::string_view data, const std::string& path) {
  if (data.starts_with(kNewMagic)) return uint64_t{0};
  if (!data.starts_with(kOldMagic)) return Corrupt(path, "unknown magic");
  if (data.size() < kOldHeaderSize) return Corrupt(path, "old header truncated");
  const uint64_t old_end =
      kOldHeaderSize + uint64_t{LoadU32(data, kOldCountOffset)} * kOldEntrySize;
  if (old_end > data.size()) return Corrupt(path, "old entries run past the end of the file");
  const uint64_t aligned = (old_end + kNewHeaderAlignment - 1) & ~(kNewHeaderAlignment - 1);
  if (aligned <= data.size() && data.substr(aligned).starts_with(kNewMagic)) return aligned;
  return Corrupt(path, "old format only (ldconfig -c old); regenerate it with ldconfig");
}

// The NUL-terminated string at `offset` from `base`, which must end inside the file.
Result<std::string> StringAt(std::string_view data, uint64_t base, uint32_t offset,
                             const std::string& path) {
  const uint64_t start = base + offset;
  if (start >= data.size()) return Corrupt(path, "string offset past the end of the file");
  const size_t end = data.find('\0', start);
  if (end == std::string_view::npos) return Corrupt(path, "unterminated string");
  return std::string(data.substr(start, end - start));
}

Status CheckByteOrder(uint8_t flags, const std::string& path) {
  const uint8_t order = flags & 3;
  if (order == kByteOrderInvalid) return Corrupt(path, "ldconfig marked it invalid");
  if (order != kByteOrderUnknown && order != kByteOrderNative) {
    return Corrupt(path, "written for the other byte order");
  }
  return Status::Ok();
}

Result<std::vector<LdCacheEntry>> ParseNew(std::string_view data, uint64_t base,
                                           const std::string& path) {
  if (data.size() - base < kNewHeaderSize) return Corrupt(path, "header truncated");
  PADDOCK_RETURN_IF_ERROR(CheckByteOrder(static_cast<uint8_t>(data[base + kNewFlagsOffset]), path));
  const uint32_t count = LoadU32(data, base + kNewCountOffset);
  const uint64_t entries = base + kNewHeaderSize;
  const uint64_t strings_end =
      entries + uint64_t{count} * kNewEntrySize + LoadU32(data, base + kNewStringsLengthOffset);
  // The string table ends where ldconfig says; a file cut anywhere before that is incomplete even
  // when the strings the entries name happen to survive.
  if (strings_end > data.size()) return Corrupt(path, "entries or strings truncated");

  std::vector<LdCacheEntry> out;
  out.reserve(count);  // bounded: count entries fit in the file
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t entry = entries + i * kNewEntrySize;
    Result<std::string> soname = StringAt(data, base, LoadU32(data, entry + kNewKeyOffset), path);
    if (!soname.ok()) return soname.status();
    Result<std::string> lib = StringAt(data, base, LoadU32(data, entry + kNewValueOffset), path);
    if (!lib.ok()) return lib.status();
    out.push_back({std::move(*soname), std::move(*lib), LoadU32(data, entry)});
  }
  return out;
}

}  // namespace

Result<std::vector<LdCacheEntry>> ReadLdCache(const std::string& path) {
  // One read of the whole file: ldconfig replaces the cache by rename, so the bytes read are one
  // consistent version even if it runs meanwhile.
  Result<std::string> data = ReadFileToString(path);
  if (!data.ok()) return data.status();
  Result<uint64_t> base = FindNewHeader(*data, path);
  if (!base.ok()) return base.status();
  return ParseNew(*data, *base, path);
}

bool IsNativeLdCacheFlags(uint32_t flags) {
#if defined(__x86_64__) && !defined(__ILP32__)
  return flags == (kLdCacheTypeElfLibc6 | kLdCacheArchX8664Lib64);
#elif defined(__aarch64__) && defined(__LP64__)
  return flags == (kLdCacheTypeElfLibc6 | kLdCacheArchAarch64Lib64);
#else
  // glibc's generic rule, for ABIs without an architecture byte.
  return flags == kLdCacheTypeElf || flags == kLdCacheTypeElfLibc6;
#endif
}

}  // namespace paddock::gpu
