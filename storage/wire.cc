#include "storage/wire.h"

#include "base/hex.h"

namespace paddock::storage {
namespace {

// Byte-by-byte so the format does not depend on the host's byte order.
void PutLittleEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t LoadLittleEndian(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
void PutU16(std::string* out, uint16_t v) { PutLittleEndian(out, v, 2); }
void PutU32(std::string* out, uint32_t v) { PutLittleEndian(out, v, 4); }
void PutU64(std::string* out, uint64_t v) { PutLittleEndian(out, v, 8); }
void PutId(std::string* out, const ObjectId& id) {
  out->append(reinterpret_cast<const char*>(id.bytes().data()), ObjectId::kSize);
}

ObjectId IdFromBytes(std::string_view bytes) {
  // ObjectId offers no raw-bytes constructor; the hex round trip costs ~100 ns, which is noise
  // next to the I/O that produced the bytes.
  Result<ObjectId> id =
      ObjectId::FromHex(HexEncode(reinterpret_cast<const uint8_t*>(bytes.data()), ObjectId::kSize));
  return id.ok() ? *id : ObjectId();
}

uint32_t LoadU32(const uint8_t* p) { return static_cast<uint32_t>(LoadLittleEndian(p, 4)); }
uint64_t LoadU64(const uint8_t* p) { return LoadLittleEndian(p, 8); }

bool WireReader::Take(size_t n, const uint8_t** p) {
  if (failed_ || data_.size() - pos_ < n) {
    failed_ = true;
    return false;
  }
  *p = reinterpret_cast<const uint8_t*>(data_.data()) + pos_;
  pos_ += n;
  return true;
}

bool WireReader::ReadU8(uint8_t* v) {
  const uint8_t* p;
  if (!Take(1, &p)) return false;
  *v = p[0];
  return true;
}

bool WireReader::ReadU16(uint16_t* v) {
  const uint8_t* p;
  if (!Take(2, &p)) return false;
  *v = static_cast<uint16_t>(LoadLittleEndian(p, 2));
  return true;
}

bool WireReader::ReadU32(uint32_t* v) {
  const uint8_t* p;
  if (!Take(4, &p)) return false;
  *v = LoadU32(p);
  return true;
}

bool WireReader::ReadU64(uint64_t* v) {
  const uint8_t* p;
  if (!Take(8, &p)) return false;
  *v = LoadU64(p);
  return true;
}

bool WireReader::ReadId(ObjectId* id) {
  std::string_view bytes;
  if (!ReadBytes(ObjectId::kSize, &bytes)) return false;
  *id = IdFromBytes(bytes);
  return true;
}

bool WireReader::ReadBytes(size_t n, std::string_view* bytes) {
  const uint8_t* p;
  if (!Take(n, &p)) return false;
  *bytes = std::string_view(reinterpret_cast<const char*>(p), n);
  return true;
}

}  // namespace paddock::storage
