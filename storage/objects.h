// Encodings of the store's structured objects: a file's chunk list, a directory tree and a
// commit. Each has one canonical binary encoding (docs/store-format.md, "Objects"); the object's
// id is ObjectId::Hash of that encoding, so equal content always has equal ids.
//
// Encode* validate their input and fail with kInvalidArgument rather than encode something the
// matching Decode* would reject; for any value they accept, Decode(Encode(x)) == x (trees
// come back sorted). Decode* accept exactly the canonical encodings and fail with
// kInvalidArgument on anything else (truncation, trailing bytes, bad counts, unsorted or
// duplicate names, ...); they never read out of bounds and never allocate more than a small
// multiple of their input. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/object_id.h"

namespace paddock::storage {

// One chunk of a file, in file order.
struct ChunkRef {
  ObjectId id;        // the chunk object: SHA-256 of its raw bytes
  uint32_t size = 0;  // its raw length, > 0
  friend bool operator==(const ChunkRef&, const ChunkRef&) = default;
};

// A regular file's contents: its chunks in order. An empty file has no chunks.
struct FileObject {
  std::vector<ChunkRef> chunks;
  uint64_t size() const;  // sum of the chunk sizes
  friend bool operator==(const FileObject&, const FileObject&) = default;
};

Result<std::string> EncodeFile(const FileObject& file);
Result<FileObject> DecodeFile(std::string_view bytes);
// The id of the empty file (no chunks), which every empty regular file in a tree points to.
ObjectId EmptyFileId();

enum class EntryKind : uint8_t {
  kFile = 1,        // regular file, not executable
  kExecutable = 2,  // regular file with the owner's exec bit set
  kSymlink = 3,     // symbolic link; the target is stored, never followed
  kDirectory = 4,
};

// One name in a directory. Which fields are meaningful depends on `kind`; the others must be
// left at their defaults (Encode rejects them otherwise, so no information is silently lost):
//   kFile, kExecutable: id = the FileObject's id, size = the file's length (0 exactly when id
//                       is EmptyFileId()).
//   kSymlink:           target = the link's contents, 1..4095 bytes without NUL.
//   kDirectory:         id = the child Tree's id.
struct TreeEntry {
  std::string name;  // 1..255 bytes, no '/' or NUL, not "." or ".."; any other bytes allowed
  EntryKind kind = EntryKind::kFile;
  ObjectId id;
  uint64_t size = 0;
  std::string target;
  friend bool operator==(const TreeEntry&, const TreeEntry&) = default;
};

// A directory: its entries sorted by name (bytewise, unsigned), names unique.
struct Tree {
  std::vector<TreeEntry> entries;
  friend bool operator==(const Tree&, const Tree&) = default;
};

// Sorts the entries; rejects duplicate names and any entry breaking the TreeEntry rules.
Result<std::string> EncodeTree(const Tree& tree);
Result<Tree> DecodeTree(std::string_view bytes);

struct Commit {
  ObjectId tree;                  // root directory
  std::vector<ObjectId> parents;  // first parent first; none for a root; <= 256, no repeats
  int64_t time_ms = 0;            // milliseconds since the Unix epoch, UTC, >= 0
  std::string author;             // UTF-8, no NUL, at most 1 KiB
  std::string message;            // UTF-8, no NUL, at most 1 MiB
  std::string metadata_json;      // empty, or a JSON object of at most 1 MiB
  friend bool operator==(const Commit&, const Commit&) = default;
};

Result<std::string> EncodeCommit(const Commit& commit);
Result<Commit> DecodeCommit(std::string_view bytes);

}  // namespace paddock::storage
