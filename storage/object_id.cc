#include "storage/object_id.h"

#include <openssl/evp.h>

#include "base/hex.h"

namespace paddock::storage {
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
    const int hi = HexDigitValue(hex[2 * i]);
    const int lo = HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("object id has a non-hex digit");
    id.bytes_[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return id;
}

std::string ObjectId::ToHex() const { return HexEncode(bytes_.data(), bytes_.size()); }

}  // namespace paddock::storage
