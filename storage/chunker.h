// Content-defined chunking (FastCDC-style: gear rolling hash, normalized chunking with two masks).
//
// A Chunker splits a byte stream into chunks whose boundaries depend only on nearby content, so
// an edit in the middle of a large file changes only the chunks around the edit. The boundaries
// are part of the on-disk contract (they decide which chunks exist): the gear table, the masks and
// the algorithm below must never change for a given ChunkerParams. docs/store-format.md,
// "Chunking", specifies them for independent implementations.
//
// Streaming: feed the stream in buffers of any size, in order; the boundaries found are the same
// as for one buffer holding the whole stream. The chunker keeps no stream bytes, only a length
// and a 64-bit hash, so a 100 GiB file is chunked in constant memory. A Chunker is not
// thread-safe; use one per stream.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace paddock::storage {

struct ChunkerParams {
  uint32_t min_size = 0;  // no content-defined boundary makes a chunk shorter than this + 1
  uint32_t avg_size = 0;  // normalization point; a power of two
  uint32_t max_size = 0;  // a chunk reaching this length is cut regardless of content

  // For datasets: many files, often small, edited record by record.
  static constexpr ChunkerParams Datasets() { return {16u << 10, 64u << 10, 256u << 10}; }
  // For large model and checkpoint files. Smaller than the usual 1 MiB average on purpose:
  // the product goal is that a 1 GiB file with 1 MiB changed stores < 5 MiB of new chunks, and
  // chunks of ~1 MiB (max 4 MiB) miss it for 12-20% of random edit positions (up to 9 MiB),
  // while these sizes stay under 4 MiB in every trial (mean 1.6 MiB); see docs/store-format.md.
  static constexpr ChunkerParams Models() { return {64u << 10, 256u << 10, 1u << 20}; }

  // OK when 0 < min < avg < max <= kMaxChunkSize and avg is a power of two ≥ 256.
  Status Validate() const;
  friend bool operator==(const ChunkerParams&, const ChunkerParams&) = default;
};

// The largest chunk any parameters may produce (64 MiB).
inline constexpr uint32_t kMaxChunkSize = 64u << 20;

// The 256 gear values: entry i is the first 8 bytes, read big-endian, of SHA-256 of the single
// byte i. Exposed so tests can check the compiled-in table against that rule.
std::span<const uint64_t, 256> GearTable();

class Chunker {
 public:
  // Fails with kInvalidArgument when `params` does not pass Validate().
  static Result<Chunker> Create(const ChunkerParams& params);

  // Scans the next `size` bytes of the stream at `data`. Returns how many leading bytes belong to
  // the current chunk. When the current chunk ends within (or exactly at the end of) those bytes,
  // sets *boundary to true, and the next call starts a new chunk with the bytes after them;
  // otherwise sets *boundary to false and the return value is `size`.
  size_t FindBoundary(const uint8_t* data, size_t size, bool* boundary);

  // Convenience over FindBoundary: appends to *chunk_ends the stream offset just past each chunk
  // that ends within `data`.
  void Update(std::string_view data, std::vector<uint64_t>* chunk_ends);
  // Ends the stream: appends the end of the last chunk if it has any bytes (a stream shorter than
  // min_size is one chunk), then resets for a new stream.
  void Finish(std::vector<uint64_t>* chunk_ends);

  // Bytes fed since creation or the last Finish().
  uint64_t position() const { return position_; }
  // Bytes of the current, unfinished chunk.
  uint32_t pending() const { return length_; }
  const ChunkerParams& params() const { return params_; }

 private:
  explicit Chunker(const ChunkerParams& params);
  // Hashes bytes of `p` while the current chunk is shorter than `end`, using `mask`; sets *cut
  // when a content-defined boundary is found. Returns the bytes consumed.
  size_t ScanRegion(const uint8_t* p, size_t size, uint32_t end, uint64_t mask, bool* cut);

  ChunkerParams params_;
  uint64_t mask_small_;  // before avg_size: more bits, so cuts are rarer
  uint64_t mask_large_;  // from avg_size on: fewer bits, so cuts come soon
  uint32_t length_ = 0;  // bytes of the current chunk seen so far
  uint64_t hash_ = 0;
  uint64_t position_ = 0;
};

// Boundaries of a whole in-memory buffer: the end offset of each chunk, ascending, the last one
// equal to data.size() (none for empty data).
Result<std::vector<uint64_t>> ChunkEnds(const ChunkerParams& params, std::string_view data);

}  // namespace paddock::storage
