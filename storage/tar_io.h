// Importing a tar archive into the store as a tree, and exporting a tree as a tar archive.
//
// Import accepts tar in any of its dialects (ustar, pax, GNU, v7), uncompressed or compressed
// with gzip, xz or zstd, read as a stream (no temporary files, no seeking): each file's content
// goes straight through the chunker into the store. An archive is hostile input, so import refuses
// (kInvalidArgument, naming the entry) anything that could reach outside the tree when extracted:
//   - absolute names and names with a ".." component (after dropping "." and empty components);
//   - device nodes, FIFOs and sockets;
//   - hardlinks whose target is not an earlier regular-file entry of the archive;
//   - symlinks whose target is absolute, or climbs above the root when resolved lexically against
//     the link's own directory (a -> ../.. at depth one, say); symlinks are stored, never
//     followed, and a consumer that follows them must confine itself (openat2 RESOLVE_IN_ROOT);
//   - entries below a name that is not a directory (x, then x/y): extraction would follow a
//     symlink x;
//   - names or targets longer than 4095 bytes, and names the tree format cannot hold.
// A name appearing twice keeps the later entry, as extraction would (a directory entry for an
// existing directory keeps its contents). Parent directories without an entry of their own are
// created. Recorded per file: content and the owner's exec bit; nothing else (owners, times).
//
// Failure is atomic for the caller: no root id is returned, so nothing becomes visible; chunks
// stored before the refused entry stay in the store unreferenced until GC removes them. Nothing
// is flushed: the caller flushes with the commit that names the tree.
//
// Export writes a pax archive (POSIX.1-2001, ustar headers with pax extended headers only where
// needed; names and targets as raw bytes, hdrcharset=BINARY): directories 0755, files 0644 or
// 0755, symlinks, in tree order with each directory before its contents, owner 0:0, every mtime
// the given commit time. The bytes depend only on the tree and that time, so exports are
// reproducible, and importing an export gives back the same tree id -- provided the tree passes
// the import rules: a tree committed from a directory may hold symlinks that import refuses
// (absolute, or climbing out); export writes them as they are.
//
// Thread-safety: both functions may run concurrently with anything (PackStore is thread-safe).
#pragma once

#include <cstdint>
#include <functional>

#include "base/status.h"
#include "storage/object_id.h"
#include "storage/pack_store.h"

namespace paddock::storage {

// Supplies the archive's bytes: reads up to `capacity` bytes into `buffer` and returns how many,
// 0 at the end. An error stops the import and is returned from it unchanged.
using TarSource = std::function<Result<size_t>(char* buffer, size_t capacity)>;

struct TarImportResult {
  ObjectId root;  // the tree of the archive's contents
  uint64_t files = 0;
  uint64_t directories = 0;  // the root included
  uint64_t symlinks = 0;
  uint64_t bytes = 0;         // total size of the files
  uint64_t bytes_stored = 0;  // bytes appended to packs
};

// Imports the archive read from `source`. Errors: kInvalidArgument for refused entries (above)
// and for data that is not a valid archive, source and store errors as they come.
Result<TarImportResult> ImportTar(PackStore* store, const TarSource& source);
// The same, reading `fd` (a file, pipe or socket) to its end.
Result<TarImportResult> ImportTar(PackStore* store, int fd);

// Writes tree `tree` to `out_fd` as a pax archive with every mtime set to `commit_time_ms`
// (truncated to seconds; >= 0). Errors: kNotFound / kInternal for missing or corrupt objects,
// kInvalidArgument when `tree` is not a tree, kIoError when writing fails.
Status ExportTar(const PackStore& store, const ObjectId& tree, int out_fd, int64_t commit_time_ms);

}  // namespace paddock::storage
