// PackFile: one pack file on disk (layout in pack_format.h and docs/store-format.md), open for
// positional reads and, for the pack being filled, appends.
//
// Thread-safety: ReadAt() may run concurrently with anything. Append(), Sync() and length() must
// be serialized by the caller (PackStore holds its mutex around them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/unique_fd.h"
#include "storage/pack_format.h"

namespace paddock::storage {

class PackFile {
 public:
  // Mode of pack and index files: stored data may be private, so not world-readable.
  static constexpr mode_t kFileMode = 0640;

  // Creates `dir`/PackFileName(sequence) holding only the pack header, open for appending.
  // Fails with kAlreadyExists if the file exists. Nothing is durable until Sync().
  static Result<std::unique_ptr<PackFile>> Create(const std::string& dir, uint64_t sequence);

  // Opens an existing pack whose first `length` bytes an index vouches for; checks its header
  // and that the file holds at least `length` bytes (kInternal otherwise: the pack lost data).
  // When `writable`, bytes past `length` -- a tail written but never made durable, left by a
  // crash -- are cut off (and the cut made durable) and the pack may be appended to; otherwise
  // they are ignored.
  static Result<std::unique_ptr<PackFile>> Open(const std::string& dir, uint64_t sequence,
                                                uint64_t length, bool writable);

  PackFile(const PackFile&) = delete;
  PackFile& operator=(const PackFile&) = delete;

  // Appends `header` and `stored` (header.stored_length bytes) at length() and returns the
  // entry's offset. On failure the pack is cut back to its previous length; if even that fails
  // the pack is marked broken() and refuses further appends.
  Result<uint64_t> Append(const EntryHeader& header, std::string_view stored);
  // Returns once everything appended so far is on stable storage (fdatasync).
  Status Sync();
  // Reads exactly `size` bytes at `offset` into *out (replacing its contents). A read past the
  // end of the file fails with kInternal; an I/O error with kIoError.
  Status ReadAt(uint64_t offset, size_t size, std::string* out) const;

  uint64_t sequence() const { return sequence_; }
  const std::string& name() const { return name_; }
  // Bytes of valid pack data: the header and every appended entry.
  uint64_t length() const { return length_; }
  bool broken() const { return broken_; }

 private:
  PackFile(UniqueFd fd, uint64_t sequence, std::string name, uint64_t length);

  UniqueFd fd_;
  uint64_t sequence_;
  std::string name_;  // file name, without the directory: used in messages
  uint64_t length_;
  bool broken_ = false;
};

}  // namespace paddock::storage
