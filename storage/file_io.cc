#include "storage/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>

namespace paddock::storage {
namespace {

// Read buffer for WriteFileObject: large enough that syscalls cost little next to hashing, small
// enough to be irrelevant for memory.
constexpr size_t kReadBufferSize = 1u << 20;
// Files this large use the models preset whatever their name.
constexpr uint64_t kModelSizeThreshold = 64ull << 20;

constexpr std::array<std::string_view, 7> kModelExtensions = {
    ".safetensors", ".pt", ".bin", ".ckpt", ".gguf", ".onnx", ".h5"};

bool EndsWithIgnoringCase(std::string_view text, std::string_view suffix) {
  if (text.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), text.end() - suffix.size(), [](char s, char t) {
    const char lower = (t >= 'A' && t <= 'Z') ? static_cast<char>(t - 'A' + 'a') : t;
    return s == lower;
  });
}

// Fetches chunk `ref` and checks its length against the chunk list that named it.
Result<std::string> GetChunk(const PackStore& store, const ChunkRef& ref) {
  Result<StoredObject> chunk = store.Get(ref.id);
  if (!chunk.ok()) return chunk.status();
  if (chunk->data.size() != ref.size) {
    return Status::Internal("chunk " + ref.id.ToHex() + " has " +
                            std::to_string(chunk->data.size()) + " bytes, its file lists " +
                            std::to_string(ref.size));
  }
  return std::move(chunk->data);
}

}  // namespace

ChunkerParams ChooseChunkerParams(std::string_view name, uint64_t size) {
  if (size >= kModelSizeThreshold) return ChunkerParams::Models();
  for (std::string_view extension : kModelExtensions) {
    if (EndsWithIgnoringCase(name, extension)) return ChunkerParams::Models();
  }
  return ChunkerParams::Datasets();
}

Result<FileObjectWriter> FileObjectWriter::Create(PackStore* store, const ChunkerParams& params) {
  Result<Chunker> chunker = Chunker::Create(params);
  if (!chunker.ok()) return chunker.status();
  return FileObjectWriter(store, std::move(chunker.value()));
}

FileObjectWriter::FileObjectWriter(PackStore* store, Chunker chunker)
    : store_(store), chunker_(std::move(chunker)) {}

Status FileObjectWriter::Append(std::string_view data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    bool boundary = false;
    const size_t used = chunker_.FindBoundary(p, left, &boundary);
    const std::string_view piece(reinterpret_cast<const char*>(p), used);
    p += used;
    left -= used;
    if (!boundary) {
      pending_.append(piece);
    } else if (pending_.empty()) {
      // The whole chunk lies in the caller's buffer: store it without copying.
      PADDOCK_RETURN_IF_ERROR(PutChunk(piece));
    } else {
      pending_.append(piece);
      PADDOCK_RETURN_IF_ERROR(PutChunk(pending_));
      pending_.clear();
    }
  }
  return Status::Ok();
}

Status FileObjectWriter::PutChunk(std::string_view bytes) {
  Result<PutResult> put = store_->Put(ObjectType::kChunk, bytes);
  if (!put.ok()) return put.status();
  bytes_stored_ += put->stored_length;
  file_.chunks.push_back(ChunkRef{put->id, static_cast<uint32_t>(bytes.size())});
  return Status::Ok();
}

Result<WrittenFile> FileObjectWriter::Finish() {
  if (!pending_.empty()) {
    PADDOCK_RETURN_IF_ERROR(PutChunk(pending_));
    pending_.clear();
    pending_.shrink_to_fit();
  }
  Result<std::string> encoded = EncodeFile(file_);
  if (!encoded.ok()) return encoded.status();
  Result<PutResult> put = store_->Put(ObjectType::kFile, *encoded);
  if (!put.ok()) return put.status();
  return WrittenFile{put->id, file_.size(), bytes_stored_ + put->stored_length};
}

Result<WrittenFile> WriteFileObject(PackStore* store, int fd, const ChunkerParams& params) {
  Result<FileObjectWriter> writer = FileObjectWriter::Create(store, params);
  if (!writer.ok()) return writer.status();
  // Tells the kernel to read ahead aggressively; failure (a pipe) is harmless.
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  const std::unique_ptr<char[]> buffer(new char[kReadBufferSize]);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.get(), kReadBufferSize);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read");
    }
    if (n == 0) break;
    PADDOCK_RETURN_IF_ERROR(writer->Append(std::string_view(buffer.get(), static_cast<size_t>(n))));
  }
  return writer->Finish();
}

Result<FileObject> GetFileObject(const PackStore& store, const ObjectId& id) {
  Result<StoredObject> object = store.Get(id);
  if (!object.ok()) return object.status();
  Result<FileObject> file = DecodeFile(object->data);
  if (!file.ok()) {
    return Status::InvalidArgument("object " + id.ToHex() +
                                   " is not a file: " + file.status().message());
  }
  return file;
}

Status ReadFileObject(const PackStore& store, const ObjectId& id, int out_fd) {
  Result<FileObject> file = GetFileObject(store, id);
  if (!file.ok()) return file.status();
  for (const ChunkRef& ref : file->chunks) {
    Result<std::string> chunk = GetChunk(store, ref);
    if (!chunk.ok()) return chunk.status();
    PADDOCK_RETURN_IF_ERROR(WriteAll(out_fd, *chunk));
  }
  return Status::Ok();
}

Result<uint64_t> ReadRange(const PackStore& store, const FileObject& file, uint64_t offset,
                           uint64_t length, const ByteSink& sink) {
  const uint64_t size = file.size();
  if (offset > size) {
    return Status::InvalidArgument("range starts at " + std::to_string(offset) +
                                   ", past the end of a file of " + std::to_string(size) +
                                   " bytes");
  }
  const uint64_t end = offset + std::min(length, size - offset);
  uint64_t chunk_start = 0;
  for (const ChunkRef& ref : file.chunks) {
    if (chunk_start >= end) break;
    const uint64_t chunk_end = chunk_start + ref.size;
    if (chunk_end > offset) {
      Result<std::string> chunk = GetChunk(store, ref);
      if (!chunk.ok()) return chunk.status();
      const uint64_t from = std::max(offset, chunk_start) - chunk_start;
      const uint64_t to = std::min(end, chunk_end) - chunk_start;
      PADDOCK_RETURN_IF_ERROR(sink(std::string_view(*chunk).substr(from, to - from)));
    }
    chunk_start = chunk_end;
  }
  return end - offset;
}

Result<uint64_t> ReadRange(const PackStore& store, const ObjectId& file, uint64_t offset,
                           uint64_t length, const ByteSink& sink) {
  Result<FileObject> decoded = GetFileObject(store, file);
  if (!decoded.ok()) return decoded.status();
  return ReadRange(store, *decoded, offset, length, sink);
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace paddock::storage
