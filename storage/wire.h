// Little-endian integer encoding for the store's on-disk formats (packs, indexes, objects).
//
// Writers append to a std::string. WireReader reads from a byte range it does not own: the
// bytes behind the string_view given to its constructor must remain live and unchanged while the
// reader is used. Every read is bounds-checked; a read past the end fails (returns false) and
// leaves the reader failed, so a decoder can chain reads and test once. Never UB on any input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/object_id.h"

namespace paddock::storage {

void PutU8(std::string* out, uint8_t v);
void PutU16(std::string* out, uint16_t v);
void PutU32(std::string* out, uint32_t v);
void PutU64(std::string* out, uint64_t v);
void PutId(std::string* out, const ObjectId& id);

// The id whose 32 raw bytes are the first 32 of `bytes`; the caller guarantees they exist.
ObjectId IdFromBytes(std::string_view bytes);

// Decodes an integer from the first bytes of `p`; the caller guarantees they exist.
uint32_t LoadU32(const uint8_t* p);
uint64_t LoadU64(const uint8_t* p);

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  // Each returns false (and stays failed) if fewer bytes remain than the value needs.
  bool ReadU8(uint8_t* v);
  bool ReadU16(uint16_t* v);
  bool ReadU32(uint32_t* v);
  bool ReadU64(uint64_t* v);
  bool ReadId(ObjectId* id);
  // *bytes points into the reader's input: valid only as long as that input is.
  bool ReadBytes(size_t n, std::string_view* bytes);

  size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }
  bool failed() const { return failed_; }
  // True when every byte was consumed and no read failed.
  bool AtEnd() const { return !failed_ && pos_ == data_.size(); }

 private:
  bool Take(size_t n, const uint8_t** p);

  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace paddock::storage
