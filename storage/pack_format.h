// Byte layouts of pack files and pack index files; docs/store-format.md is the specification and
// this file its implementation. Pure functions over bytes: no I/O, thread-safe.
//
// A pack file is a header followed by entries, each an EntryHeader and its stored bytes. A pack's
// index lists, sorted by id, where each entry starts, and ends with a SHA-256 of itself. The
// index also records how many bytes of the pack it covers: bytes past that were never made
// durable and are not part of the pack.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/object_id.h"

namespace paddock::storage {

// What a stored object is. The value is the type byte on disk.
enum class ObjectType : uint8_t {
  kChunk = 1,   // raw bytes of a piece of a file
  kFile = 2,    // a file's chunk list (objects.h)
  kTree = 3,    // a directory (objects.h)
  kCommit = 4,  // a commit (objects.h)
};
std::string_view ObjectTypeName(ObjectType type);  // "chunk", "file", "tree", "commit"
bool IsKnownObjectType(uint8_t byte);

// Entry flag bits; all others must be zero.
inline constexpr uint8_t kEntryFlagZstd = 0x01;  // stored bytes are one zstd frame
inline constexpr uint8_t kKnownEntryFlags = kEntryFlagZstd;

// The largest object the store accepts (raw length), 1 GiB.
inline constexpr uint32_t kMaxObjectSize = 1u << 30;

inline constexpr size_t kPackHeaderSize = 24;
inline constexpr size_t kEntryHeaderSize = 44;
inline constexpr size_t kIndexHeaderSize = 32;
inline constexpr size_t kIndexEntrySize = 52;
inline constexpr size_t kIndexTrailerSize = 32;
inline constexpr uint32_t kPackFormatVersion = 1;

struct EntryHeader {
  ObjectId id;  // SHA-256 of the raw (uncompressed) bytes
  ObjectType type = ObjectType::kChunk;
  uint8_t flags = 0;
  uint32_t raw_length = 0;
  uint32_t stored_length = 0;
  friend bool operator==(const EntryHeader&, const EntryHeader&) = default;
};

struct IndexEntry {
  ObjectId id;
  uint64_t offset = 0;  // of the entry's EntryHeader within the pack
  uint32_t stored_length = 0;
  uint32_t raw_length = 0;
  ObjectType type = ObjectType::kChunk;
  uint8_t flags = 0;
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

struct PackIndex {
  uint64_t pack_sequence = 0;  // the pack's number, also in its file name
  uint64_t pack_length = 0;    // bytes of the pack this index covers
  std::vector<IndexEntry> entries;
};

// "pack-<16 lower-case hex digits>.pack" / ".idx".
std::string PackFileName(uint64_t sequence);
std::string IndexFileName(uint64_t sequence);
// Parses a name made by PackFileName (or IndexFileName when `index`); false for anything else.
bool ParsePackFileName(std::string_view name, bool index, uint64_t* sequence);

std::string EncodePackHeader(uint64_t sequence);
// Checks magic and version; sets *sequence. kInvalidArgument on anything else.
Status DecodePackHeader(std::string_view bytes, uint64_t* sequence);

// Appends the kEntryHeaderSize bytes of `header` to *out.
void AppendEntryHeader(const EntryHeader& header, std::string* out);
// Decodes the first kEntryHeaderSize bytes of `bytes`. kInvalidArgument when they are missing,
// the type is unknown, a flag is unknown or a reserved field is not zero.
Result<EntryHeader> DecodeEntryHeader(std::string_view bytes);

// Encodes `index`, sorting its entries by id. Ids must be unique.
std::string EncodePackIndex(PackIndex index);
// Decodes and validates an index file: magic, version, size, trailing SHA-256, strictly
// ascending ids, known types and flags, and every entry lying inside pack_length after the pack
// header without overlapping the next. kInvalidArgument on any violation.
Result<PackIndex> DecodePackIndex(std::string_view bytes);

}  // namespace paddock::storage
