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
//
// Removing packs (RewritePacks, used by garbage collection in gc.h): packs other than the active
// one can be deleted, or rewritten into new packs holding only the objects the caller keeps.
// Readers never notice: the in-memory index is switched under the writer lock, and a Get() that
// looked up an object in a pack just removed still reads it, because each pack file (and its
// descriptor) stays alive until the last reader holding it is done. On disk the new pack and its
// index are durable before the old index and pack are unlinked, so at every instant Open() finds
// every kept object, at worst twice (duplicates are harmless: the lowest-numbered pack wins).
//
// Use of a pack: each pack records when it was last used (last_use_ms): appended to, or holding
// an object that Put() found present (a deduplicated Put) or that Contains() reported present;
// at Open() it is the newer of the pack's and its index's modification times. A writer that
// relies on an existing object thus marks its pack as in use, and RewritePacks() leaves alone
// every pack used after the caller's cutoff. Get() and Locate() do not count as use.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
  // Only with read_only (kInvalidArgument otherwise): a pack whose index is damaged, or whose
  // pack file is missing, short or has a bad header, is left out and listed by damaged_packs()
  // instead of failing Open(). For fsck, which reports it and goes on checking the rest.
  bool skip_damaged_packs = false;
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

struct PackInfo {
  uint64_t sequence = 0;    // the number in its file names
  std::string name;         // pack file name, e.g. "pack-000000000000002a.pack"
  uint64_t length = 0;      // valid bytes
  bool active = false;      // receiving appends
  int64_t last_use_ms = 0;  // see "Use of a pack" above; on the NowMs() clock
};

// Where the copy of an object that Get() reads lives.
struct ObjectLocation {
  uint64_t pack_sequence = 0;
  IndexEntry entry;
};

// A pack that a read-only Open() with skip_damaged_packs left out.
struct DamagedPack {
  uint64_t sequence = 0;
  Status status;  // why; the message names the file at fault (index or pack)
};

struct PackRewriteResult {
  std::vector<uint64_t> deleted;    // packs removed that held no kept object
  std::vector<uint64_t> rewritten;  // packs removed after their kept objects were copied
  std::vector<uint64_t> created;    // new packs holding the copies
  std::vector<uint64_t> skipped;    // left alone: unknown, active, used after the cutoff, or
                                    // retired without a complete index
  uint64_t objects_copied = 0;      // kept objects now in a new pack
  uint64_t objects_dropped = 0;     // objects that left the store (not kept)
  uint64_t bytes_removed = 0;       // pack bytes of the removed packs
  uint64_t bytes_written = 0;       // pack bytes of the new packs
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

  // Whether the object is stored. A yes counts as a use of its pack (see above): a writer that
  // skips a Put() because of it is protected from garbage collection like a deduplicated Put.
  bool Contains(const ObjectId& id) const;
  // The object's type and raw bytes, verified. kNotFound when absent, kInternal when corrupt.
  Result<StoredObject> Get(const ObjectId& id) const;
  // Where Get() would read the object, from the in-memory index alone; nullopt when absent.
  std::optional<ObjectLocation> Locate(const ObjectId& id) const;

  // Every pack of the store, by ascending sequence.
  std::vector<PackInfo> ListPacks() const;
  // The entries of a pack: for the active pack every entry appended so far; for the others what
  // their index file on disk lists, including ids that another pack also holds (Locate() says
  // which copy is used). kNotFound for an unknown pack, kInternal when the index fails validation.
  Result<std::vector<IndexEntry>> PackEntries(uint64_t sequence) const;
  // Reads and verifies (like Get) one entry of one pack, whether or not Get() would use that
  // copy. kNotFound for an unknown pack, kInternal (naming pack and offset) when corrupt.
  Result<StoredObject> ReadEntry(uint64_t sequence, const IndexEntry& entry) const;
  // Packs left out by a read-only Open() with skip_damaged_packs; empty otherwise.
  const std::vector<DamagedPack>& damaged_packs() const { return damaged_packs_; }

  // The clock of PackInfo::last_use_ms, in Unix milliseconds: the wall clock at Open() advanced
  // by a monotonic clock, so that wall-clock jumps cannot shorten a garbage-collection grace
  // period.
  int64_t NowMs() const;
  // Seals the active pack (the next Put() starts a new one) when it was last used at or before
  // `unused_since_ms`, so that it too can be collected; OK and nothing done otherwise.
  // kFailedPrecondition on a read-only store.
  Status SealActivePackIfUnused(int64_t unused_since_ms);
  // Removes the packs `sequences` from the store. Of each, the objects for which `keep(id)` is
  // true and which Get() reads from that pack are first copied, as stored (no recompression),
  // into new packs (about pack_size_limit of copies each); everything else in it leaves the
  // store. Packs that are unknown, active, were used after `unused_since_ms`, or lost part of
  // their index to a failed write are skipped and left exactly as they were.
  // Safe while other threads Put, Flush, Get and read: a pack last used at or before the cutoff
  // is re-checked under the writer lock at the moment it is switched out, so an object that a
  // concurrent Put() deduplicated against (or Contains() confirmed) is never dropped. `keep`
  // must be thread-safe and cheap; it is called without locks held. Crash-safe as described
  // above. One call runs at a time (others wait).
  // kFailedPrecondition on a read-only store. kInternal when a kept object's entry header does
  // not match its index: the packs of that group (and of the groups after it) stay as they
  // were; groups finished before it stay finished.
  Result<PackRewriteResult> RewritePacks(const std::vector<uint64_t>& sequences,
                                         const std::function<bool(const ObjectId&)>& keep,
                                         int64_t unused_since_ms);

  PackStoreStats stats() const;
  const std::string& dir() const { return dir_; }
  const PackStoreOptions& options() const { return options_; }

 private:
  struct Location {
    uint32_t pack = 0;  // index into packs_
    IndexEntry entry;
  };
  struct IdHash {
    size_t operator()(const ObjectId& id) const;
  };
  // One loaded pack. Shared with readers (Get copies `file` under the lock and reads without
  // it), so a pack removed by RewritePacks() stays open until its last reader is done.
  struct PackSlot {
    PackSlot(std::shared_ptr<PackFile> f, int64_t used) : file(std::move(f)), last_use_ms(used) {}
    std::shared_ptr<PackFile> file;
    std::atomic<int64_t> last_use_ms;  // atomic: updated by readers holding mu_ shared
    bool index_complete = true;        // false after a failed write retired it unindexed
  };
  // A pack RewritePacks() is about to remove, with its objects that Get() reads from it.
  struct RewriteSource {
    uint64_t sequence = 0;
    uint32_t slot = 0;
    std::shared_ptr<PackFile> file;
    std::vector<IndexEntry> entries;  // every object Get() reads from this pack
    std::vector<IndexEntry> kept;     // those of them to copy
  };
  // A new pack written by RewritePacks(), not yet visible to readers.
  struct RewriteTarget {
    std::shared_ptr<PackFile> file;
    std::vector<IndexEntry> entries;
    std::vector<size_t> source_of_entry;  // index into the group, per entry
  };

  PackStore(std::string dir, const PackStoreOptions& options, UniqueFd lock);

  Status LoadExisting();
  Status LoadPack(uint64_t sequence, bool may_reopen_for_append);
  uint32_t AddSlotLocked(std::shared_ptr<PackFile> file, int64_t last_use_ms);
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
  // Whether the object is stored; if so, records the use of its pack. Requires mu_ (shared).
  bool ContainsAndNoteUseLocked(const ObjectId& id) const;
  void NoteUse(PackSlot& slot) const;
  static Status CorruptionError(const IndexEntry& entry, const PackFile& pack,
                                std::string_view why);
  static Result<StoredObject> ReadAndVerify(const PackFile& pack, const IndexEntry& e);
  Result<PackIndex> ReadIndexFile(uint64_t sequence) const;

  // The steps of RewritePacks().
  std::optional<RewriteSource> PrepareSource(uint64_t sequence, int64_t unused_since_ms,
                                             const std::function<bool(const ObjectId&)>& keep);
  bool RemovableLocked(uint32_t slot, int64_t unused_since_ms) const;
  Result<RewriteTarget> CopyKeptObjects(const std::vector<RewriteSource>& group);
  // Switches readers from the group's packs to `target` (may be null: nothing to copy) for
  // every source still removable, and returns those sources' sequences.
  std::vector<uint64_t> SwitchOver(const std::vector<RewriteSource>& group, RewriteTarget* target,
                                   int64_t unused_since_ms);
  Status RewriteGroup(const std::vector<RewriteSource>& group, int64_t unused_since_ms,
                      PackRewriteResult* result);
  void UnlinkPack(uint64_t sequence) const;

  const std::string dir_;
  const PackStoreOptions options_;
  UniqueFd lock_;  // holds the flock while open writable
  // NowMs(): wall clock at open plus monotonic time since.
  const int64_t opened_wall_ms_;
  const std::chrono::steady_clock::time_point opened_steady_;

  mutable std::shared_mutex mu_;
  std::unordered_map<ObjectId, Location, IdHash> objects_;
  // By Location::pack. A removed pack leaves a null slot, so that slots never move.
  std::vector<std::unique_ptr<PackSlot>> packs_;
  std::map<uint64_t, uint32_t> slot_by_sequence_;  // loaded packs only
  PackFile* active_ = nullptr;              // pack receiving appends, or null before the first Put
  uint32_t active_index_ = 0;               // its position in packs_
  std::vector<IndexEntry> active_entries_;  // every entry of the active pack, flushed or not
  size_t flushed_entries_ = 0;              // how many of them the index file on disk lists
  uint64_t next_sequence_ = 1;
  Status sticky_error_;  // set when unindexed objects were lost; reopen the store to recover
  std::vector<DamagedPack> damaged_packs_;  // filled by Open() only, then constant

  std::mutex rewrite_mu_;  // one RewritePacks() at a time
};

}  // namespace paddock::storage
