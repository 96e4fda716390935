#include "storage/pack_format.h"

#include <algorithm>
#include <cstdio>

#include "storage/wire.h"

namespace paddock::storage {
namespace {

constexpr std::string_view kPackMagic = "PADDPACK";
constexpr std::string_view kIndexMagic = "PADDINDX";
constexpr std::string_view kPackPrefix = "pack-";

// Rules shared by entry headers and index entries: the type and flags are known, the sizes
// fit, and a compressed entry is strictly smaller than its raw bytes (it is only compressed
// when that shrinks it, so anything else was not written by a correct writer).
Status CheckEntryFields(uint8_t type, uint8_t flags, uint32_t raw, uint32_t stored) {
  if (!IsKnownObjectType(type)) {
    return Status::InvalidArgument("unknown object type " + std::to_string(type));
  }
  if ((flags & ~kKnownEntryFlags) != 0) {
    return Status::InvalidArgument("unknown entry flags " + std::to_string(flags));
  }
  if (raw > kMaxObjectSize) {
    return Status::InvalidArgument("object of " + std::to_string(raw) + " bytes is over 1 GiB");
  }
  const bool zstd = (flags & kEntryFlagZstd) != 0;
  if (zstd ? stored >= raw : stored != raw) {
    return Status::InvalidArgument("stored length " + std::to_string(stored) +
                                   " inconsistent with raw length " + std::to_string(raw));
  }
  return Status::Ok();
}

Status CheckEntriesInsidePack(const PackIndex& index) {
  std::vector<const IndexEntry*> by_offset;
  by_offset.reserve(index.entries.size());
  for (const IndexEntry& e : index.entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const IndexEntry* a, const IndexEntry* b) { return a->offset < b->offset; });
  uint64_t next_free = kPackHeaderSize;
  for (const IndexEntry* e : by_offset) {
    if (e->offset < next_free) {
      return Status::InvalidArgument("index entry at offset " + std::to_string(e->offset) +
                                     " overlaps the pack header or the previous entry");
    }
    // Compared by subtraction: a hostile offset near 2^64 must not wrap around.
    if (e->offset > index.pack_length ||
        index.pack_length - e->offset < kEntryHeaderSize + uint64_t{e->stored_length}) {
      return Status::InvalidArgument("index entry at offset " + std::to_string(e->offset) +
                                     " runs past the covered pack length " +
                                     std::to_string(index.pack_length));
    }
    next_free = e->offset + kEntryHeaderSize + e->stored_length;
  }
  return Status::Ok();
}

}  // namespace

std::string_view ObjectTypeName(ObjectType type) {
  switch (type) {
    case ObjectType::kChunk:
      return "chunk";
    case ObjectType::kFile:
      return "file";
    case ObjectType::kTree:
      return "tree";
    case ObjectType::kCommit:
      return "commit";
  }
  return "unknown";
}

bool IsKnownObjectType(uint8_t byte) { return byte >= 1 && byte <= 4; }

std::string PackFileName(uint64_t sequence) {
  char name[40];
  std::snprintf(name, sizeof name, "pack-%016llx.pack", static_cast<unsigned long long>(sequence));
  return name;
}

std::string IndexFileName(uint64_t sequence) {
  char name[40];
  std::snprintf(name, sizeof name, "pack-%016llx.idx", static_cast<unsigned long long>(sequence));
  return name;
}

bool ParsePackFileName(std::string_view name, bool index, uint64_t* sequence) {
  const std::string_view suffix = index ? ".idx" : ".pack";
  if (!name.starts_with(kPackPrefix) || !name.ends_with(suffix)) return false;
  const std::string_view digits =
      name.substr(kPackPrefix.size(), name.size() - kPackPrefix.size() - suffix.size());
  if (digits.size() != 16) return false;
  uint64_t v = 0;
  for (char c : digits) {
    // Lower case only, so every sequence has exactly one name.
    const int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *sequence = v;
  return true;
}

std::string EncodePackHeader(uint64_t sequence) {
  std::string out(kPackMagic);
  PutU32(&out, kPackFormatVersion);
  PutU32(&out, 0);
  PutU64(&out, sequence);
  return out;
}

Status DecodePackHeader(std::string_view bytes, uint64_t* sequence) {
  WireReader r(bytes);
  std::string_view magic;
  uint32_t version = 0, reserved = 0;
  if (!r.ReadBytes(kPackMagic.size(), &magic) || !r.ReadU32(&version) || !r.ReadU32(&reserved) ||
      !r.ReadU64(sequence)) {
    return Status::InvalidArgument("pack header truncated");
  }
  if (magic != kPackMagic) return Status::InvalidArgument("not a pack file (bad magic)");
  if (version != kPackFormatVersion || reserved != 0) {
    return Status::InvalidArgument("unsupported pack version " + std::to_string(version));
  }
  return Status::Ok();
}

void AppendEntryHeader(const EntryHeader& header, std::string* out) {
  PutId(out, header.id);
  PutU8(out, static_cast<uint8_t>(header.type));
  PutU8(out, header.flags);
  PutU16(out, 0);
  PutU32(out, header.raw_length);
  PutU32(out, header.stored_length);
}

Result<EntryHeader> DecodeEntryHeader(std::string_view bytes) {
  WireReader r(bytes.substr(0, kEntryHeaderSize));
  EntryHeader h;
  uint8_t type = 0;
  uint16_t reserved = 0;
  if (!r.ReadId(&h.id) || !r.ReadU8(&type) || !r.ReadU8(&h.flags) || !r.ReadU16(&reserved) ||
      !r.ReadU32(&h.raw_length) || !r.ReadU32(&h.stored_length)) {
    return Status::InvalidArgument("entry header truncated");
  }
  if (reserved != 0) return Status::InvalidArgument("entry header reserved field not zero");
  PADDOCK_RETURN_IF_ERROR(CheckEntryFields(type, h.flags, h.raw_length, h.stored_length));
  h.type = static_cast<ObjectType>(type);
  return h;
}

std::string EncodePackIndex(PackIndex index) {
  std::sort(index.entries.begin(), index.entries.end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.id < b.id; });
  std::string out(kIndexMagic);
  out.reserve(kIndexHeaderSize + index.entries.size() * kIndexEntrySize + kIndexTrailerSize);
  PutU32(&out, kPackFormatVersion);
  PutU32(&out, static_cast<uint32_t>(index.entries.size()));
  PutU64(&out, index.pack_sequence);
  PutU64(&out, index.pack_length);
  for (const IndexEntry& e : index.entries) {
    PutId(&out, e.id);
    PutU64(&out, e.offset);
    PutU32(&out, e.stored_length);
    PutU32(&out, e.raw_length);
    PutU8(&out, static_cast<uint8_t>(e.type));
    PutU8(&out, e.flags);
    PutU16(&out, 0);
  }
  PutId(&out, ObjectId::Hash(out));
  return out;
}

Result<PackIndex> DecodePackIndex(std::string_view bytes) {
  if (bytes.size() < kIndexHeaderSize + kIndexTrailerSize) {
    return Status::InvalidArgument("index file truncated: " + std::to_string(bytes.size()) +
                                   " bytes, less than an empty index");
  }
  // The size is checked before the checksum so that a cut-off file is reported as such, not as
  // a checksum mismatch. A damaged count can only make this message wrong: a file shorter than
  // its count claims is rejected either way.
  const uint64_t declared = LoadU32(reinterpret_cast<const uint8_t*>(bytes.data()) + 12);
  const uint64_t expected = kIndexHeaderSize + declared * kIndexEntrySize + kIndexTrailerSize;
  if (bytes.size() < expected && bytes.substr(0, kIndexMagic.size()) == kIndexMagic) {
    return Status::InvalidArgument("index file truncated: " + std::to_string(bytes.size()) +
                                   " bytes, its header declares " + std::to_string(declared) +
                                   " entries (" + std::to_string(expected) + " bytes)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kIndexTrailerSize);
  if (IdFromBytes(bytes.substr(body.size())) != ObjectId::Hash(body)) {
    return Status::InvalidArgument("index checksum mismatch");
  }
  WireReader r(body);
  std::string_view magic;
  uint32_t version = 0, count = 0;
  PackIndex index;
  r.ReadBytes(kIndexMagic.size(), &magic);
  r.ReadU32(&version);
  r.ReadU32(&count);
  r.ReadU64(&index.pack_sequence);
  r.ReadU64(&index.pack_length);
  if (magic != kIndexMagic) return Status::InvalidArgument("not a pack index (bad magic)");
  if (version != kPackFormatVersion) {
    return Status::InvalidArgument("unsupported index version " + std::to_string(version));
  }
  if (index.pack_length < kPackHeaderSize) {
    return Status::InvalidArgument("index covers less than a pack header");
  }
  if (r.remaining() != uint64_t{count} * kIndexEntrySize) {
    return Status::InvalidArgument("index size does not match its entry count");
  }
  index.entries.resize(count);
  for (IndexEntry& e : index.entries) {
    uint8_t type = 0;
    uint16_t reserved = 0;
    r.ReadId(&e.id);
    r.ReadU64(&e.offset);
    r.ReadU32(&e.stored_length);
    r.ReadU32(&e.raw_length);
    r.ReadU8(&type);
    r.ReadU8(&e.flags);
    r.ReadU16(&reserved);
    if (reserved != 0) return Status::InvalidArgument("index entry reserved field not zero");
    PADDOCK_RETURN_IF_ERROR(CheckEntryFields(type, e.flags, e.raw_length, e.stored_length));
    e.type = static_cast<ObjectType>(type);
    if (&e != index.entries.data() && !((&e - 1)->id < e.id)) {
      return Status::InvalidArgument("index ids not strictly ascending");
    }
  }
  PADDOCK_RETURN_IF_ERROR(CheckEntriesInsidePack(index));
  return index;
}

}  // namespace paddock::storage
