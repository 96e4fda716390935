// ObjectId: the SHA-256 name of a stored object (chunk, file, tree or commit) in the versioned
// store. Computed with OpenSSL, which uses the CPU's SHA extensions where present.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace paddock::storage {

class ObjectId {
 public:
  static constexpr size_t kSize = 32;

  ObjectId() = default;
  // The id of `data`.
  static ObjectId Hash(std::string_view data);
  // Parses 64 lower- or upper-case hex digits.
  static Result<ObjectId> FromHex(std::string_view hex);

  // 64 lower-case hex digits.
  std::string ToHex() const;
  const std::array<uint8_t, kSize>& bytes() const { return bytes_; }
  friend auto operator<=>(const ObjectId&, const ObjectId&) = default;

 private:
  std::array<uint8_t, kSize> bytes_{};
};

}  // namespace paddock::storage
