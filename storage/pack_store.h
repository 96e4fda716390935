// PackStore: the content-addressed object store under a directory of pack files.
//
// Objects (chunks, file chunk lists, trees, commits) are named by the SHA-256 of their raw bytes.
// Put() compresses an object with zstd when that makes it smaller and appends it to the active
// pack; packs rotate once they reach PackStoreOptions::pack_size_limit. Each pack has an index
// file, rewritten atomically by Flush(). Format: docs/store-format.md.
//
// Durability: an object is durable once a Flush() that started after its Put() returned OK.
// Flush() fdatasyncs the pack, writes the pack's index to a temporary file, fsyncs it, renames it
// into place and fsyncs the directory. A crash loses at most the objects put since the last
// Flush(); their bytes form an unindexed pack tail (or a pack with no index) that the next
// writable Open() cuts off (or deletes) and a read-only Open() ignores.
//
// Integrity: Get() checks the entry header against the index and the SHA-256 of the raw bytes
// against the id; a mismatch fails with kInternal, naming the object, pack file and offset.
//
// Concurrency: all methods are thread-safe. Puts from several threads hash and compress in
// parallel and serialize only the append (and Flush). Reads take a shared lock for the lookup
// and read without it. One process at a time may open a directory writable (an flock on
// <dir>/LOCK); read-only opens take no lock.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "storage/object_id.h"
#include "storage/pack_file.h"
#include "storage/pack_format.h"

namespace paddock::storage {

struct PackStoreOptions {
  // A pack is sealed once it reaches this many bytes (it may exceed it by one object).
  uint64_t pack_size_limit = 64ull << 20;
  // zstd level for objects that compress; 1..19. Level 3 (zstd's default) balances speed and size.
  int compression_level = 3;
  // Open without the writer lock; Put() and Flush() then fail with kFailedPrecondition.
  bool read_only = false;
};

struct PutResult {
  ObjectId id;
  bool added = false;          // false when the object was present already (dedup)
  uint32_t stored_length = 0;  // bytes written to the pack for it (0 when not added)
};

struct StoredObject {
  ObjectType type = ObjectType::kChunk;
  std::string data;
};

struct PackStoreStats {
  uint64_t objects = 0;     // distinct objects in loaded indexes and written since open
  uint64_t packs = 0;       // pack files
  uint64_t pack_bytes = 0;  // total valid bytes of all packs
};

class PackStore {
 public:
  // Opens the store in `dir` (created, with parents, unless read_only). Loads every index; fails
  // with kInternal if an index is corrupt or its pack is missing or short, and with
  // kFailedPrecondition if another process has the directory open writable.
  static Result<std::unique_ptr<PackStore>> Open(const std::string& dir,
                                                 const PackStoreOptions& options);

  // Flushes on a best-effort basis (a failure is logged): call Flush() to know.
  ~PackStore();
  PackStore(const PackStore&) = delete;
  PackStore& operator=(const PackStore&) = delete;

  // Stores `data` as an object of `type` under ObjectId::Hash(data). Storing an id that exists
  // already is a no-op (the type recorded first is kept: identical bytes are one object).
  // kInvalidArgument for objects over kMaxObjectSize. Not durable until Flush().
  Result<PutResult> Put(ObjectType type, std::string_view data);

  // Returns once every object put before the call is on stable storage.
  Status Flush();

  bool Contains(const ObjectId& id) const;
  // The object's type and raw bytes, verified. kNotFound when absent, kInternal when corrupt.
  Result<StoredObject> Get(const ObjectId& id) const;

  PackStoreStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Location {
    uint32_t pack = 0;  // index into packs_
    IndexEntry entry;
  };
  struct IdHash {
    size_t operator()(const ObjectId& id) const;
  };

  PackStore(std::string dir, const PackStoreOptions& options, UniqueFd lock);

  Status LoadExisting();
  Status LoadPack(uint64_t sequence, bool may_reopen_for_append);
  Status CreateActivePack();
  // Writes the active pack's index if it has unflushed entries; requires mu_ held exclusively.
  Status FlushLocked();
  // Flushes and retires the active pack; the next Put starts a new one. Requires mu_.
  Status SealLocked();
  Status AppendLocked(ObjectType type, const ObjectId& id, std::string_view raw,
                      std::string_view stored, uint8_t flags);
  // After a failed append that left the active pack unusable: seal it, or if even that fails,
  // drop it and remember the failure for every later Flush(). Requires mu_.
  void RetireBrokenPackLocked();
  static Status CorruptionError(const IndexEntry& entry, const PackFile& pack,
                                std::string_view why);

  const std::string dir_;
  const PackStoreOptions options_;
  UniqueFd lock_;  // holds the flock while open writable

  mutable std::shared_mutex mu_;
  std::unordered_map<ObjectId, Location, IdHash> objects_;
  // Packs are never removed while open, so the PackFile pointers handed to readers stay valid.
  std::vector<std::unique_ptr<PackFile>> packs_;
  PackFile* active_ = nullptr;              // pack receiving appends, or null before the first Put
  uint32_t active_index_ = 0;               // its position in packs_
  std::vector<IndexEntry> active_entries_;  // every entry of the active pack, flushed or not
  size_t flushed_entries_ = 0;              // how many of them the index file on disk lists
  uint64_t next_sequence_ = 1;
  Status sticky_error_;  // set when unindexed objects were lost; reopen the store to recover
};

}  // namespace paddock::storage
