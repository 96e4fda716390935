#include "storage/objects.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "storage/pack_format.h"
#include "storage/wire.h"

namespace paddock::storage {
namespace {

// Each encoding starts with a distinct 4-byte magic carrying the format version, so an object's
// bytes say what they are and a future version can coexist.
constexpr std::string_view kFileMagic = "PKF1";
constexpr std::string_view kTreeMagic = "PKT1";
constexpr std::string_view kCommitMagic = "PKC1";

constexpr size_t kChunkRefSize = ObjectId::kSize + 4;
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTargetLength = 4095;
constexpr size_t kMaxParents = 256;
constexpr size_t kMaxAuthorLength = 1024;
constexpr size_t kMaxTextLength = 1u << 20;
// The smallest encoded tree entry: kind, name length, one-byte name, symlink target length and
// a one-byte target. Bounds how many entries a count may claim before any are read.
constexpr size_t kMinTreeEntrySize = 1 + 2 + 1 + 2 + 1;

Status Invalid(std::string_view what, std::string why) {
  return Status::InvalidArgument(std::string(what) + ": " + std::move(why));
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    int extra = 0;
    uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i <= static_cast<size_t>(extra)) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

Status CheckText(std::string_view field, std::string_view text, size_t max) {
  if (text.size() > max) return Invalid(field, "longer than " + std::to_string(max) + " bytes");
  if (HasNul(text) || !IsValidUtf8(text)) return Invalid(field, "not UTF-8 text without NUL");
  return Status::Ok();
}

Status CheckMagic(WireReader* r, std::string_view magic, std::string_view what) {
  std::string_view found;
  if (!r->ReadBytes(magic.size(), &found) || found != magic) {
    return Invalid(what, "bad magic (not a " + std::string(what) + " object)");
  }
  return Status::Ok();
}

// Reads a u32 count of items at least `min_item_size` bytes each, rejecting counts the
// remaining input cannot hold, so a hostile count cannot trigger a huge allocation.
bool ReadCount(WireReader* r, size_t min_item_size, uint32_t* count) {
  return r->ReadU32(count) && uint64_t{*count} * min_item_size <= r->remaining();
}

// ---- trees ----

Status CheckName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return Invalid("tree entry name", "must be 1..255 bytes");
  }
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos || HasNul(name)) {
    return Invalid("tree entry name", "'" + std::string(name) + "' is not a plain file name");
  }
  return Status::Ok();
}

Status CheckEntry(const TreeEntry& e) {
  PADDOCK_RETURN_IF_ERROR(CheckName(e.name));
  const std::string what = "tree entry '" + e.name + "'";
  switch (e.kind) {
    case EntryKind::kFile:
    case EntryKind::kExecutable:
      if (!e.target.empty()) return Invalid(what, "a file has no symlink target");
      if ((e.size == 0) != (e.id == EmptyFileId())) {
        return Invalid(what, "size 0 exactly when the id is the empty file's");
      }
      return Status::Ok();
    case EntryKind::kSymlink:
      if (e.target.empty() || e.target.size() > kMaxTargetLength || HasNul(e.target)) {
        return Invalid(what, "symlink target must be 1..4095 bytes without NUL");
      }
      if (e.id != ObjectId() || e.size != 0) return Invalid(what, "a symlink has no id or size");
      return Status::Ok();
    case EntryKind::kDirectory:
      if (!e.target.empty() || e.size != 0) {
        return Invalid(what, "a directory has no target or size");
      }
      return Status::Ok();
  }
  return Invalid(what, "unknown kind " + std::to_string(static_cast<int>(e.kind)));
}

void AppendEntry(const TreeEntry& e, std::string* out) {
  PutU8(out, static_cast<uint8_t>(e.kind));
  PutU16(out, static_cast<uint16_t>(e.name.size()));
  out->append(e.name);
  if (e.kind == EntryKind::kSymlink) {
    PutU16(out, static_cast<uint16_t>(e.target.size()));
    out->append(e.target);
    return;
  }
  PutId(out, e.id);
  if (e.kind != EntryKind::kDirectory) PutU64(out, e.size);
}

// Reads one entry's fields; CheckEntry then applies the rules shared with encoding.
bool ReadEntry(WireReader* r, TreeEntry* e) {
  uint8_t kind = 0;
  uint16_t name_length = 0;
  std::string_view name;
  if (!r->ReadU8(&kind) || !r->ReadU16(&name_length) || !r->ReadBytes(name_length, &name)) {
    return false;
  }
  e->kind = static_cast<EntryKind>(kind);
  e->name = name;
  if (e->kind == EntryKind::kSymlink) {
    uint16_t target_length = 0;
    std::string_view target;
    if (!r->ReadU16(&target_length) || !r->ReadBytes(target_length, &target)) return false;
    e->target = target;
    return true;
  }
  if (!r->ReadId(&e->id)) return false;
  return e->kind == EntryKind::kDirectory || r->ReadU64(&e->size);
}

// ---- commits ----

Status CheckCommit(const Commit& c) {
  if (c.parents.size() > kMaxParents) return Invalid("commit", "more than 256 parents");
  for (size_t i = 0; i < c.parents.size(); ++i) {
    if (std::find(c.parents.begin(), c.parents.begin() + i, c.parents[i]) !=
        c.parents.begin() + i) {
      return Invalid("commit", "parent " + c.parents[i].ToHex() + " listed twice");
    }
  }
  if (c.time_ms < 0) return Invalid("commit", "time before 1970");
  PADDOCK_RETURN_IF_ERROR(CheckText("commit author", c.author, kMaxAuthorLength));
  PADDOCK_RETURN_IF_ERROR(CheckText("commit message", c.message, kMaxTextLength));
  if (c.metadata_json.empty()) return Status::Ok();
  PADDOCK_RETURN_IF_ERROR(CheckText("commit metadata", c.metadata_json, kMaxTextLength));
  // Parsed without exceptions: the library boundary never throws.
  const nlohmann::json parsed = nlohmann::json::parse(c.metadata_json, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Invalid("commit metadata", "not a JSON object");
  }
  return Status::Ok();
}

void PutText(std::string* out, std::string_view text) {
  PutU32(out, static_cast<uint32_t>(text.size()));
  out->append(text);
}

bool ReadText(WireReader* r, std::string* text) {
  uint32_t length = 0;
  std::string_view bytes;
  if (!r->ReadU32(&length) || !r->ReadBytes(length, &bytes)) return false;
  *text = bytes;
  return true;
}

}  // namespace

// ---- files ----

uint64_t FileObject::size() const {
  uint64_t total = 0;
  for (const ChunkRef& c : chunks) total += c.size;
  return total;
}

Result<std::string> EncodeFile(const FileObject& file) {
  if ((file.chunks.size() * kChunkRefSize) + 8 > kMaxObjectSize) {
    return Invalid("file", "too many chunks for one object");
  }
  std::string out(kFileMagic);
  out.reserve(8 + file.chunks.size() * kChunkRefSize);
  PutU32(&out, static_cast<uint32_t>(file.chunks.size()));
  for (const ChunkRef& c : file.chunks) {
    if (c.size == 0) return Invalid("file", "chunk " + c.id.ToHex() + " has size 0");
    PutId(&out, c.id);
    PutU32(&out, c.size);
  }
  return out;
}

Result<FileObject> DecodeFile(std::string_view bytes) {
  WireReader r(bytes);
  PADDOCK_RETURN_IF_ERROR(CheckMagic(&r, kFileMagic, "file"));
  uint32_t count = 0;
  if (!r.ReadU32(&count) || r.remaining() != uint64_t{count} * kChunkRefSize) {
    return Invalid("file", "length does not match the chunk count");
  }
  FileObject file;
  file.chunks.resize(count);
  for (ChunkRef& c : file.chunks) {
    r.ReadId(&c.id);
    r.ReadU32(&c.size);
    if (c.size == 0) return Invalid("file", "chunk " + c.id.ToHex() + " has size 0");
  }
  return file;
}

ObjectId EmptyFileId() {
  static const ObjectId id = ObjectId::Hash(EncodeFile(FileObject{}).value());
  return id;
}

// ---- trees ----

Result<std::string> EncodeTree(const Tree& tree) {
  std::vector<const TreeEntry*> sorted;
  sorted.reserve(tree.entries.size());
  for (const TreeEntry& e : tree.entries) {
    PADDOCK_RETURN_IF_ERROR(CheckEntry(e));
    sorted.push_back(&e);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const TreeEntry* a, const TreeEntry* b) { return a->name < b->name; });
  std::string out(kTreeMagic);
  PutU32(&out, static_cast<uint32_t>(sorted.size()));
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && sorted[i - 1]->name == sorted[i]->name) {
      return Invalid("tree", "name '" + sorted[i]->name + "' appears twice");
    }
    AppendEntry(*sorted[i], &out);
  }
  if (out.size() > kMaxObjectSize) return Invalid("tree", "encoding over 1 GiB");
  return out;
}

Result<Tree> DecodeTree(std::string_view bytes) {
  WireReader r(bytes);
  PADDOCK_RETURN_IF_ERROR(CheckMagic(&r, kTreeMagic, "tree"));
  uint32_t count = 0;
  if (!ReadCount(&r, kMinTreeEntrySize, &count)) return Invalid("tree", "bad entry count");
  Tree tree;
  tree.entries.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    TreeEntry& e = tree.entries[i];
    if (!ReadEntry(&r, &e)) return Invalid("tree", "truncated entry " + std::to_string(i));
    PADDOCK_RETURN_IF_ERROR(CheckEntry(e));
    // Strictly ascending: canonical order and no duplicates in one comparison.
    if (i > 0 && !(tree.entries[i - 1].name < e.name)) {
      return Invalid("tree", "entries not in strictly ascending name order at '" + e.name + "'");
    }
  }
  if (!r.AtEnd()) return Invalid("tree", "trailing bytes");
  return tree;
}

// ---- commits ----

Result<std::string> EncodeCommit(const Commit& commit) {
  PADDOCK_RETURN_IF_ERROR(CheckCommit(commit));
  std::string out(kCommitMagic);
  PutId(&out, commit.tree);
  PutU32(&out, static_cast<uint32_t>(commit.parents.size()));
  for (const ObjectId& p : commit.parents) PutId(&out, p);
  PutU64(&out, static_cast<uint64_t>(commit.time_ms));
  PutText(&out, commit.author);
  PutText(&out, commit.message);
  PutText(&out, commit.metadata_json);
  return out;
}

Result<Commit> DecodeCommit(std::string_view bytes) {
  WireReader r(bytes);
  PADDOCK_RETURN_IF_ERROR(CheckMagic(&r, kCommitMagic, "commit"));
  Commit c;
  uint32_t parents = 0;
  if (!r.ReadId(&c.tree) || !ReadCount(&r, ObjectId::kSize, &parents)) {
    return Invalid("commit", "truncated header");
  }
  c.parents.resize(parents);
  for (ObjectId& p : c.parents) r.ReadId(&p);
  uint64_t time = 0;
  if (!r.ReadU64(&time) || !ReadText(&r, &c.author) || !ReadText(&r, &c.message) ||
      !ReadText(&r, &c.metadata_json)) {
    return Invalid("commit", "truncated");
  }
  if (!r.AtEnd()) return Invalid("commit", "trailing bytes");
  c.time_ms = static_cast<int64_t>(time);
  PADDOCK_RETURN_IF_ERROR(CheckCommit(c));
  return c;
}

}  // namespace paddock::storage
