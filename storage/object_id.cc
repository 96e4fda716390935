#include "storage/object_id.h"

#include <openssl/evp.h>

namespace paddock::storage {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ObjectId ObjectId::Hash(std::string_view data) {
  ObjectId id;
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), id.bytes_.data(), &length, EVP_sha256(), nullptr);
  return id;
}

Result<ObjectId> ObjectId::FromHex(std::string_view hex) {
  if (hex.size() != kSize * 2) {
    return Status::InvalidArgument("object ids are 64 hex digits, got " +
                                   std::to_string(hex.size()) + " characters");
  }
  ObjectId id;
  for (size_t i = 0; i < kSize; ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("object id has a non-hex digit");
    id.bytes_[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return id;
}

std::string ObjectId::ToHex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kSize * 2);
  for (uint8_t b : bytes_) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

}  // namespace paddock::storage
