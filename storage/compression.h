// zstd compression of pack entries. Each compressed entry is exactly one zstd frame (magic
// number, frame header with the content size, blocks, no dictionary); see docs/store-format.md.
//
// Both functions are thread-safe: each thread keeps its own zstd context, created on first use
// and freed when the thread exits.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace paddock::storage {

// Compresses `raw` at zstd `level` into *frame (replacing its contents) and returns true when the
// frame is strictly shorter than `raw`. Returns false (and leaves *frame unspecified) when
// compression would not shrink the data, which is then stored as it is.
bool CompressIfSmaller(std::string_view raw, int level, std::string* frame);

// Decodes the single zstd frame `frame` into *raw (replacing its contents). Fails with
// kInvalidArgument unless the frame is well formed and decodes to exactly `raw_length` bytes.
Status Decompress(std::string_view frame, size_t raw_length, std::string* raw);

}  // namespace paddock::storage
