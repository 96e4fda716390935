// Moving one regular file's bytes between the file system and the store.
//
// A file is stored as its chunks (ObjectType::kChunk, cut by the Chunker) and a FileObject listing
// them (ObjectType::kFile); the file's id is the id of that list (docs/store-format.md, "File
// objects"). Writing streams the file through the chunker in buffers: memory is one buffer, one
// pending chunk (at most params.max_size) and the growing chunk list (36 bytes per chunk, e.g.
// 14 MB for a 100 GiB file at the models preset), never the file.
//
// Thread-safety: the free functions may run concurrently (PackStore is thread-safe); a
// FileObjectWriter is used by one thread at a time. Nothing here calls PackStore::Flush(): the
// objects written are durable after the caller's next Flush().
//
// Errors: I/O errors on the caller's fd are kIoError (kPermissionDenied for EACCES/EPERM,
// kResourceExhausted for ENOSPC) without a path; callers that know the path add it with
// Status::WithContext. Store errors pass through unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/chunker.h"
#include "storage/object_id.h"
#include "storage/objects.h"
#include "storage/pack_store.h"

namespace paddock::storage {

struct WrittenFile {
  ObjectId id;                // the FileObject's id (EmptyFileId() for an empty file)
  uint64_t size = 0;          // bytes of content written
  uint64_t bytes_stored = 0;  // bytes appended to packs for it: 0 when everything was deduplicated
};

// The chunker parameters for a file, by its name (or path) and size. Rule: Models() for files of
// 64 MiB or more and for model-like extensions (.safetensors .pt .bin .ckpt .gguf .onnx .h5, any
// case), Datasets() for everything else. The choice affects deduplication only, never
// correctness: a file's id is the hash of its chunk list, whatever parameters cut it. Changing
// this rule makes new versions of existing files stop sharing chunks with old ones.
ChunkerParams ChooseChunkerParams(std::string_view name, uint64_t size);

// Streams one file's content into the store: Append() its bytes in order, then Finish().
class FileObjectWriter {
 public:
  // `store` must outlive the writer. kInvalidArgument when `params` are invalid.
  static Result<FileObjectWriter> Create(PackStore* store, const ChunkerParams& params);

  // Chunks `data` and stores every chunk it completes. On failure the writer must be discarded
  // (chunks already stored stay in the store, unreferenced, for GC).
  Status Append(std::string_view data);
  // Stores the last chunk and the file object. The writer must not be used afterwards.
  Result<WrittenFile> Finish();

 private:
  FileObjectWriter(PackStore* store, Chunker chunker);
  Status PutChunk(std::string_view bytes);

  PackStore* store_;
  Chunker chunker_;
  std::string pending_;  // bytes of the chunk being cut, when it spans Append() calls
  FileObject file_;
  uint64_t bytes_stored_ = 0;
};

// Reads `fd` from its current offset to end of file into the store. Small files (up to
// params.min_size bytes) become one chunk; an empty file is EmptyFileId() and stores nothing.
Result<WrittenFile> WriteFileObject(PackStore* store, int fd, const ChunkerParams& params);

// Fetches and decodes file object `id`: kNotFound when absent, kInvalidArgument when `id` names
// something that is not a file object.
Result<FileObject> GetFileObject(const PackStore& store, const ObjectId& id);

// Writes the content of file `id` to `out_fd` (at its current offset). kInternal when a chunk's
// length disagrees with the file object (corruption); errors of GetFileObject and PackStore::Get.
Status ReadFileObject(const PackStore& store, const ObjectId& id, int out_fd);

// Receives consecutive pieces of a range; a non-OK return stops the read and is returned.
using ByteSink = std::function<Status(std::string_view)>;

// Delivers bytes [offset, offset + length) of the file to `sink`, in order, clipped to the end of
// the file (HTTP range reads). Chunks before `offset` are located by their sizes in the chunk list
// and never fetched. kInvalidArgument when offset > file size. Returns the bytes delivered.
Result<uint64_t> ReadRange(const PackStore& store, const FileObject& file, uint64_t offset,
                           uint64_t length, const ByteSink& sink);
Result<uint64_t> ReadRange(const PackStore& store, const ObjectId& file, uint64_t offset,
                           uint64_t length, const ByteSink& sink);

// Writes all of `data` to `fd`, retrying short writes and EINTR. Shared by checkout and tar.
Status WriteAll(int fd, std::string_view data);

}  // namespace paddock::storage
