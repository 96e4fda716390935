#include "storage/pack_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>

#include "base/clock.h"
#include "base/file_util.h"
#include "base/log.h"
#include "storage/compression.h"
#include "storage/wire.h"

namespace paddock::storage {
namespace {

constexpr std::string_view kLockFileName = "LOCK";

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

struct DirectoryListing {
  std::set<uint64_t> packs;
  std::set<uint64_t> indexes;
  std::vector<std::string> temporaries;  // left by an interrupted index write
};

Result<DirectoryListing> ListDirectory(const std::string& dir) {
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (!d) return Status::FromErrno("open directory " + dir);
  DirectoryListing listing;
  errno = 0;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string_view name = e->d_name;
    uint64_t sequence = 0;
    if (ParsePackFileName(name, /*index=*/false, &sequence)) {
      listing.packs.insert(sequence);
    } else if (ParsePackFileName(name, /*index=*/true, &sequence)) {
      listing.indexes.insert(sequence);
    } else if (name.starts_with("pack-") && name.find(".tmp.") != std::string_view::npos) {
      listing.temporaries.emplace_back(name);
    }
  }
  if (errno != 0) return Status::FromErrno("read directory " + dir);
  return listing;
}

Result<UniqueFd> LockDirectory(const std::string& dir) {
  const std::string path = JoinPath(dir, kLockFileName);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, PackFile::kFileMode));
  if (!fd) return Status::FromErrno("open " + path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::FailedPrecondition("store " + dir + " is open for writing elsewhere");
    }
    return Status::FromErrno("lock " + path);
  }
  return fd;
}

void RemoveLeftover(const std::string& dir, const std::string& name, std::string_view why) {
  const std::string path = JoinPath(dir, name);
  LogWarning("removing " + path + ": " + std::string(why));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    LogWarning(Status::FromErrno("unlink " + path).ToString());
  }
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Modification time in Unix milliseconds; 0 when it cannot be read (the file then looks old,
// which only matters to a read-only store, where nothing is collected).
int64_t ModifiedTimeMs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1000000;
}

Status SyncDirectory(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno("open directory " + dir);
  if (::fsync(fd.get()) != 0) return Status::FromErrno("fsync directory " + dir);
  return Status::Ok();
}

// Unlinks `name` in `dir`; true when it is gone (also when it was gone already).
bool UnlinkIfPresent(const std::string& dir, const std::string& name) {
  const std::string path = JoinPath(dir, name);
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return true;
  LogWarning(Status::FromErrno("unlink " + path).ToString());
  return false;
}

uint64_t EntryBytes(const IndexEntry& e) { return kEntryHeaderSize + uint64_t{e.stored_length}; }

}  // namespace

size_t PackStore::IdHash::operator()(const ObjectId& id) const {
  // Ids are SHA-256 digests, so any 8 of their bytes are already a uniform hash.
  return static_cast<size_t>(LoadU64(id.bytes().data()));
}

PackStore::PackStore(std::string dir, const PackStoreOptions& options, UniqueFd lock)
    : dir_(std::move(dir)),
      options_(options),
      lock_(std::move(lock)),
      opened_wall_ms_(UnixNowMs()),
      opened_steady_(std::chrono::steady_clock::now()) {}

Result<std::unique_ptr<PackStore>> PackStore::Open(const std::string& dir,
                                                   const PackStoreOptions& options) {
  if (options.compression_level < 1 || options.compression_level > 19) {
    return Status::InvalidArgument("compression level must be 1..19");
  }
  if (options.skip_damaged_packs && !options.read_only) {
    // A writer that ignored a pack could later reuse or lose what it holds.
    return Status::InvalidArgument("skip_damaged_packs needs read_only");
  }
  UniqueFd lock;
  if (!options.read_only) {
    PADDOCK_RETURN_IF_ERROR(MakeDirectories(dir, 0750));
    Result<UniqueFd> locked = LockDirectory(dir);
    if (!locked.ok()) return locked.status();
    lock = std::move(locked.value());
  }
  std::unique_ptr<PackStore> store(new PackStore(dir, options, std::move(lock)));
  PADDOCK_RETURN_IF_ERROR(store->LoadExisting());
  return store;
}

PackStore::~PackStore() {
  if (options_.read_only) return;
  const Status s = Flush();
  if (!s.ok()) LogWarning("pack store " + dir_ + " not flushed on close: " + s.ToString());
}

int64_t PackStore::NowMs() const {
  const auto elapsed = std::chrono::steady_clock::now() - opened_steady_;
  return opened_wall_ms_ + std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
}

Status PackStore::LoadExisting() {
  Result<DirectoryListing> listing = ListDirectory(dir_);
  if (!listing.ok()) return listing.status();
  const bool writable = !options_.read_only;
  if (writable) {
    for (const std::string& name : listing->temporaries) {
      RemoveLeftover(dir_, name, "temporary file of an interrupted index write");
    }
  }
  for (uint64_t sequence : listing->packs) {
    next_sequence_ = std::max(next_sequence_, sequence + 1);
    // A pack without an index never had a Flush() complete, or lost its index to a garbage
    // collection that was interrupted before unlinking the pack: nothing in it is needed.
    if (writable && !listing->indexes.contains(sequence)) {
      RemoveLeftover(dir_, PackFileName(sequence), "pack without an index (interrupted write)");
    }
  }
  for (uint64_t sequence : listing->indexes) {
    next_sequence_ = std::max(next_sequence_, sequence + 1);
    const std::string index_path = JoinPath(dir_, IndexFileName(sequence));
    const bool last = sequence == *listing->indexes.rbegin();
    Status s = listing->packs.contains(sequence)
                   ? LoadPack(sequence, writable && last)
                   : Status::Internal("index " + index_path + " has no pack file");
    if (s.ok()) continue;
    // A writer's garbage collection removes an index and then its pack; a reader listing the
    // directory meanwhile may see either without the other. Once the index is gone, so is the
    // pack from the store: nothing is missing.
    if (options_.read_only && !FileExists(index_path)) continue;
    if (!options_.skip_damaged_packs) return s;
    damaged_packs_.push_back({sequence, std::move(s)});
  }
  return Status::Ok();
}

Result<PackIndex> PackStore::ReadIndexFile(uint64_t sequence) const {
  const std::string index_path = JoinPath(dir_, IndexFileName(sequence));
  Result<std::string> bytes = ReadFileToString(index_path);
  if (!bytes.ok()) return bytes.status();
  Result<PackIndex> index = DecodePackIndex(*bytes);
  if (!index.ok()) {
    return Status::Internal("index " + index_path + " is corrupt: " + index.status().message());
  }
  if (index->pack_sequence != sequence) {
    return Status::Internal("index " + index_path + " describes pack " +
                            std::to_string(index->pack_sequence));
  }
  return index;
}

Status PackStore::LoadPack(uint64_t sequence, bool may_reopen_for_append) {
  Result<PackIndex> index = ReadIndexFile(sequence);
  if (!index.ok()) return index.status();
  Result<std::unique_ptr<PackFile>> pack =
      PackFile::Open(dir_, sequence, index->pack_length, !options_.read_only);
  if (!pack.ok()) return pack.status();
  const int64_t last_use = std::max(ModifiedTimeMs(JoinPath(dir_, PackFileName(sequence))),
                                    ModifiedTimeMs(JoinPath(dir_, IndexFileName(sequence))));
  PackFile* file = pack->get();
  const uint32_t slot = AddSlotLocked(std::move(pack.value()), last_use);
  for (const IndexEntry& e : index->entries) objects_.try_emplace(e.id, Location{slot, e});
  // Appending to the newest pack when it has room keeps short sessions (one commit per CLI run)
  // from leaving a trail of tiny packs.
  if (may_reopen_for_append && index->pack_length < options_.pack_size_limit) {
    active_ = file;
    active_index_ = slot;
    active_entries_ = std::move(index->entries);
    flushed_entries_ = active_entries_.size();
  }
  return Status::Ok();
}

uint32_t PackStore::AddSlotLocked(std::shared_ptr<PackFile> file, int64_t last_use_ms) {
  const uint32_t slot = static_cast<uint32_t>(packs_.size());
  slot_by_sequence_[file->sequence()] = slot;
  packs_.push_back(std::make_unique<PackSlot>(std::move(file), last_use_ms));
  return slot;
}

Result<PutResult> PackStore::Put(ObjectType type, std::string_view data) {
  if (options_.read_only) return Status::FailedPrecondition("store " + dir_ + " is read-only");
  if (data.size() > kMaxObjectSize) {
    return Status::InvalidArgument("object of " + std::to_string(data.size()) +
                                   " bytes is over the 1 GiB limit");
  }
  PutResult result;
  result.id = ObjectId::Hash(data);
  if (Contains(result.id)) return result;
  // Compress before taking the lock so several writers compress in parallel. The buffer is
  // per thread so that chunk-sized allocations (and their page faults) are not paid per Put.
  // Objects above kScratchLimit (rare: large file chunk lists) get a buffer of their own, so a
  // thread does not keep a huge one alive.
  constexpr size_t kScratchLimit = 4u << 20;
  thread_local std::string scratch;
  std::string own;
  std::string& frame = data.size() <= kScratchLimit ? scratch : own;
  const bool compressed = CompressIfSmaller(data, options_.compression_level, &frame);
  const std::string_view stored = compressed ? std::string_view(frame) : data;
  std::unique_lock lock(mu_);
  // Another writer stored it meanwhile (or it was there and a rewrite moved it).
  if (ContainsAndNoteUseLocked(result.id)) return result;
  PADDOCK_RETURN_IF_ERROR(
      AppendLocked(type, result.id, data, stored, compressed ? kEntryFlagZstd : 0));
  result.added = true;
  result.stored_length = static_cast<uint32_t>(stored.size());
  return result;
}

Status PackStore::AppendLocked(ObjectType type, const ObjectId& id, std::string_view raw,
                               std::string_view stored, uint8_t flags) {
  if (active_ == nullptr) PADDOCK_RETURN_IF_ERROR(CreateActivePack());
  const EntryHeader header{id, type, flags, static_cast<uint32_t>(raw.size()),
                           static_cast<uint32_t>(stored.size())};
  Result<uint64_t> offset = active_->Append(header, stored);
  if (!offset.ok()) {
    // A pack that could not even be cut back is retired; its index (if it can be written)
    // covers only the good prefix.
    if (active_->broken()) RetireBrokenPackLocked();
    return offset.status();
  }
  const IndexEntry entry{id, *offset, header.stored_length, header.raw_length, type, flags};
  active_entries_.push_back(entry);
  objects_.emplace(id, Location{active_index_, entry});
  NoteUse(*packs_[active_index_]);
  if (active_->length() >= options_.pack_size_limit) {
    // The object is stored either way; a failed seal is retried by the next Flush(), which
    // reports it.
    const Status s = SealLocked();
    if (!s.ok()) LogWarning("sealing " + active_->name() + " failed: " + s.ToString());
  }
  return Status::Ok();
}

Status PackStore::CreateActivePack() {
  for (;;) {
    Result<std::unique_ptr<PackFile>> pack = PackFile::Create(dir_, next_sequence_++);
    // A name taken by a file this process did not list (a concurrent read-only opener cannot
    // create packs, so this is a leftover) is skipped rather than overwritten.
    if (pack.status().code() == StatusCode::kAlreadyExists) continue;
    if (!pack.ok()) return pack.status();
    active_ = pack->get();
    active_index_ = AddSlotLocked(std::move(pack.value()), NowMs());
    active_entries_.clear();
    flushed_entries_ = 0;
    return Status::Ok();
  }
}

Status PackStore::Flush() {
  if (options_.read_only) return Status::FailedPrecondition("store " + dir_ + " is read-only");
  std::unique_lock lock(mu_);
  return FlushLocked();
}

Status PackStore::FlushLocked() {
  if (!sticky_error_.ok()) return sticky_error_;
  if (active_ == nullptr || flushed_entries_ == active_entries_.size()) return Status::Ok();
  // Pack data first: an index must never vouch for bytes that are not on disk.
  PADDOCK_RETURN_IF_ERROR(active_->Sync());
  PackIndex index{active_->sequence(), active_->length(), active_entries_};
  // WriteFileAtomically fsyncs the directory, which also makes the pack's own name durable.
  PADDOCK_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(dir_, IndexFileName(active_->sequence())),
                                              EncodePackIndex(std::move(index)),
                                              PackFile::kFileMode));
  flushed_entries_ = active_entries_.size();
  return Status::Ok();
}

void PackStore::RetireBrokenPackLocked() {
  const Status s = SealLocked();
  if (s.ok()) return;
  // Objects of this pack are in objects_ (so later Puts dedup against them) but not indexed on
  // disk: they would silently vanish at the next open. Every later Flush() says so instead.
  sticky_error_ = s.WithContext("pack " + active_->name() + " retired without its index");
  // Its index on disk does not list everything readers find in it: never rewrite it.
  packs_[active_index_]->index_complete = false;
  active_ = nullptr;
  active_entries_.clear();
  flushed_entries_ = 0;
}

Status PackStore::SealLocked() {
  PADDOCK_RETURN_IF_ERROR(FlushLocked());
  active_ = nullptr;
  active_entries_.clear();
  flushed_entries_ = 0;
  return Status::Ok();
}

Status PackStore::SealActivePackIfUnused(int64_t unused_since_ms) {
  if (options_.read_only) return Status::FailedPrecondition("store " + dir_ + " is read-only");
  std::unique_lock lock(mu_);
  if (active_ == nullptr) return Status::Ok();
  if (packs_[active_index_]->last_use_ms.load(std::memory_order_relaxed) > unused_since_ms) {
    return Status::Ok();
  }
  return SealLocked();
}

void PackStore::NoteUse(PackSlot& slot) const {
  if (options_.read_only) return;  // nothing is collected through a read-only store
  const int64_t now = NowMs();
  // Read first: most uses find the time current, and a store would make the cache line bounce
  // between threads deduplicating in parallel.
  if (slot.last_use_ms.load(std::memory_order_relaxed) < now) {
    slot.last_use_ms.store(now, std::memory_order_relaxed);
  }
}

bool PackStore::ContainsAndNoteUseLocked(const ObjectId& id) const {
  const auto it = objects_.find(id);
  if (it == objects_.end()) return false;
  // Recorded while mu_ is held (shared suffices), so RewritePacks(), which checks the time
  // under mu_ held exclusively before switching a pack out, sees it: either this use happened
  // first and the pack stays, or the switch did and this lookup finds the object absent.
  NoteUse(*packs_[it->second.pack]);
  return true;
}

bool PackStore::Contains(const ObjectId& id) const {
  std::shared_lock lock(mu_);
  return ContainsAndNoteUseLocked(id);
}

std::optional<ObjectLocation> PackStore::Locate(const ObjectId& id) const {
  std::shared_lock lock(mu_);
  const auto it = objects_.find(id);
  if (it == objects_.end()) return std::nullopt;
  return ObjectLocation{packs_[it->second.pack]->file->sequence(), it->second.entry};
}

Status PackStore::CorruptionError(const IndexEntry& entry, const PackFile& pack,
                                  std::string_view why) {
  return Status::Internal(std::string(ObjectTypeName(entry.type)) + " " + entry.id.ToHex() +
                          " in pack " + pack.name() + " at offset " + std::to_string(entry.offset) +
                          " is corrupt: " + std::string(why));
}

Result<StoredObject> PackStore::ReadAndVerify(const PackFile& pack, const IndexEntry& e) {
  std::string bytes;
  const Status read = pack.ReadAt(e.offset, kEntryHeaderSize + e.stored_length, &bytes);
  if (read.code() == StatusCode::kInternal) return CorruptionError(e, pack, read.message());
  if (!read.ok()) return read.WithContext("reading object " + e.id.ToHex());
  Result<EntryHeader> header = DecodeEntryHeader(bytes);
  if (!header.ok()) return CorruptionError(e, pack, header.status().message());
  const EntryHeader expected{e.id, e.type, e.flags, e.raw_length, e.stored_length};
  if (!(*header == expected))
    return CorruptionError(e, pack, "entry header differs from the index");
  StoredObject out;
  out.type = e.type;
  if ((e.flags & kEntryFlagZstd) != 0) {
    const Status s =
        Decompress(std::string_view(bytes).substr(kEntryHeaderSize), e.raw_length, &out.data);
    if (!s.ok()) return CorruptionError(e, pack, s.message());
  } else {
    bytes.erase(0, kEntryHeaderSize);
    out.data = std::move(bytes);
  }
  if (ObjectId::Hash(out.data) != e.id) {
    return CorruptionError(e, pack, "content does not hash to its id");
  }
  return out;
}

Result<StoredObject> PackStore::Get(const ObjectId& id) const {
  IndexEntry e;
  std::shared_ptr<const PackFile> pack;  // keeps the pack open should a rewrite remove it
  {
    std::shared_lock lock(mu_);
    const auto it = objects_.find(id);
    if (it == objects_.end()) return Status::NotFound("object " + id.ToHex() + " not in store");
    e = it->second.entry;
    pack = packs_[it->second.pack]->file;
  }
  return ReadAndVerify(*pack, e);
}

Result<StoredObject> PackStore::ReadEntry(uint64_t sequence, const IndexEntry& entry) const {
  std::shared_ptr<const PackFile> pack;
  {
    std::shared_lock lock(mu_);
    const auto it = slot_by_sequence_.find(sequence);
    if (it == slot_by_sequence_.end()) {
      return Status::NotFound("pack " + PackFileName(sequence) + " not in store");
    }
    pack = packs_[it->second]->file;
  }
  return ReadAndVerify(*pack, entry);
}

std::vector<PackInfo> PackStore::ListPacks() const {
  std::shared_lock lock(mu_);
  std::vector<PackInfo> out;
  out.reserve(slot_by_sequence_.size());
  for (const auto& [sequence, slot] : slot_by_sequence_) {
    const PackSlot& p = *packs_[slot];
    out.push_back({sequence, p.file->name(), p.file->length(), p.file.get() == active_,
                   p.last_use_ms.load(std::memory_order_relaxed)});
  }
  return out;
}

Result<std::vector<IndexEntry>> PackStore::PackEntries(uint64_t sequence) const {
  {
    std::shared_lock lock(mu_);
    const auto it = slot_by_sequence_.find(sequence);
    if (it == slot_by_sequence_.end()) {
      return Status::NotFound("pack " + PackFileName(sequence) + " not in store");
    }
    // The active pack's index on disk lags behind its appends.
    if (packs_[it->second]->file.get() == active_) return active_entries_;
  }
  Result<PackIndex> index = ReadIndexFile(sequence);
  if (!index.ok()) return index.status();
  return std::move(index->entries);
}

PackStoreStats PackStore::stats() const {
  std::shared_lock lock(mu_);
  PackStoreStats s;
  s.objects = objects_.size();
  s.packs = slot_by_sequence_.size();
  for (const auto& [sequence, slot] : slot_by_sequence_)
    s.pack_bytes += packs_[slot]->file->length();
  return s;
}

// ---- removing packs ----

Result<PackRewriteResult> PackStore::RewritePacks(const std::vector<uint64_t>& sequences,
                                                  const std::function<bool(const ObjectId&)>& keep,
                                                  int64_t unused_since_ms) {
  if (options_.read_only) return Status::FailedPrecondition("store " + dir_ + " is read-only");
  std::lock_guard one_at_a_time(rewrite_mu_);
  PackRewriteResult result;
  // Packs are prepared one at a time and handled in batches, so that memory holds the entries
  // of about one pack's worth of copies (plus a batch of dead packs), whatever the store's size.
  constexpr size_t kDeleteBatch = 64;  // dead packs removed per switch and directory fsync
  std::vector<RewriteSource> dead, live;
  uint64_t live_bytes = 0;
  for (uint64_t sequence : std::set<uint64_t>(sequences.begin(), sequences.end())) {
    std::optional<RewriteSource> source = PrepareSource(sequence, unused_since_ms, keep);
    if (!source) {
      result.skipped.push_back(sequence);
      continue;
    }
    for (const IndexEntry& e : source->kept) live_bytes += EntryBytes(e);
    auto& batch = source->kept.empty() ? dead : live;
    batch.push_back(std::move(*source));
    if (dead.size() >= kDeleteBatch) {
      PADDOCK_RETURN_IF_ERROR(RewriteGroup(dead, unused_since_ms, &result));
      dead.clear();
    }
    if (live_bytes >= options_.pack_size_limit) {
      PADDOCK_RETURN_IF_ERROR(RewriteGroup(live, unused_since_ms, &result));
      live.clear();
      live_bytes = 0;
    }
  }
  if (!dead.empty()) PADDOCK_RETURN_IF_ERROR(RewriteGroup(dead, unused_since_ms, &result));
  if (!live.empty()) PADDOCK_RETURN_IF_ERROR(RewriteGroup(live, unused_since_ms, &result));
  return result;
}

bool PackStore::RemovableLocked(uint32_t slot, int64_t unused_since_ms) const {
  const PackSlot* p = packs_[slot].get();
  return p != nullptr && p->file.get() != active_ && p->index_complete &&
         p->last_use_ms.load(std::memory_order_relaxed) <= unused_since_ms;
}

std::optional<PackStore::RewriteSource> PackStore::PrepareSource(
    uint64_t sequence, int64_t unused_since_ms, const std::function<bool(const ObjectId&)>& keep) {
  RewriteSource source;
  source.sequence = sequence;
  {
    std::shared_lock lock(mu_);
    const auto it = slot_by_sequence_.find(sequence);
    if (it == slot_by_sequence_.end() || !RemovableLocked(it->second, unused_since_ms)) {
      return std::nullopt;
    }
    source.slot = it->second;
    source.file = packs_[it->second]->file;
  }
  // Not active, so its index is complete and final: read it without holding the lock.
  Result<PackIndex> index = ReadIndexFile(sequence);
  if (!index.ok()) {
    LogWarning("not rewriting " + PackFileName(sequence) + ": " + index.status().ToString());
    return std::nullopt;
  }
  {
    // Only the copy Get() reads matters; a duplicate of an object whose copy lives elsewhere
    // is dropped with its pack. Locations change only in RewritePacks (serialized), so this
    // stays true until the switch.
    std::shared_lock lock(mu_);
    for (const IndexEntry& e : index->entries) {
      const auto it = objects_.find(e.id);
      if (it != objects_.end() && it->second.pack == source.slot) source.entries.push_back(e);
    }
  }
  for (const IndexEntry& e : source.entries) {
    if (keep(e.id)) source.kept.push_back(e);
  }
  return source;
}

Status PackStore::RewriteGroup(const std::vector<RewriteSource>& group, int64_t unused_since_ms,
                               PackRewriteResult* result) {
  std::optional<RewriteTarget> target;
  const bool copies = std::any_of(group.begin(), group.end(),
                                  [](const RewriteSource& s) { return !s.kept.empty(); });
  if (copies) {
    Result<RewriteTarget> written = CopyKeptObjects(group);
    if (!written.ok()) return written.status();
    target = std::move(written.value());
  }
  const std::vector<uint64_t> removed =
      SwitchOver(group, target ? &*target : nullptr, unused_since_ms);
  // Old index before old pack: a crash in between leaves a pack without an index, which the
  // next writer deletes; the other order would leave an index without its pack, which fails
  // Open(). A pack whose index could not be unlinked is kept for the same reason.
  for (uint64_t sequence : removed) UnlinkPack(sequence);
  bool target_used = false;
  for (size_t i = 0; i < group.size(); ++i) {
    const RewriteSource& s = group[i];
    if (std::find(removed.begin(), removed.end(), s.sequence) == removed.end()) {
      result->skipped.push_back(s.sequence);
      continue;
    }
    (s.kept.empty() ? result->deleted : result->rewritten).push_back(s.sequence);
    target_used |= !s.kept.empty();
    result->objects_copied += s.kept.size();
    result->objects_dropped += s.entries.size() - s.kept.size();
    result->bytes_removed += s.file->length();
  }
  if (target && target_used) {
    result->created.push_back(target->file->sequence());
    result->bytes_written += target->file->length();
  } else if (target) {
    UnlinkPack(target->file->sequence());  // every source was used meanwhile: not needed
  }
  const Status synced = SyncDirectory(dir_);
  if (!synced.ok()) LogWarning(synced.ToString());  // the unlinks happen at the latest on reboot
  return Status::Ok();
}

Result<PackStore::RewriteTarget> PackStore::CopyKeptObjects(
    const std::vector<RewriteSource>& group) {
  RewriteTarget target;
  for (;;) {
    uint64_t sequence = 0;
    {
      std::unique_lock lock(mu_);
      sequence = next_sequence_++;
    }
    Result<std::unique_ptr<PackFile>> pack = PackFile::Create(dir_, sequence);
    if (pack.status().code() == StatusCode::kAlreadyExists) continue;  // a leftover: skip it
    if (!pack.ok()) return pack.status();
    target.file = std::move(pack.value());
    break;
  }
  PackFile& out = *target.file;
  // Until its index is in place the new pack is invisible (and a crash leaves a pack without
  // an index, which the next writer deletes); after a failure it is removed here.
  Status s = Status::Ok();
  std::string bytes;
  for (size_t i = 0; i < group.size() && s.ok(); ++i) {
    const PackFile& in = *group[i].file;
    for (const IndexEntry& e : group[i].kept) {
      s = in.ReadAt(e.offset, EntryBytes(e), &bytes);
      if (s.code() == StatusCode::kInternal) s = CorruptionError(e, in, s.message());
      if (!s.ok()) break;
      // The header is checked (cheap) but the content is not re-hashed: a copy as stored
      // keeps any damage detectable by Get() and fsck, exactly as it was.
      const EntryHeader expected{e.id, e.type, e.flags, e.raw_length, e.stored_length};
      Result<EntryHeader> header = DecodeEntryHeader(bytes);
      if (!header.ok() || !(*header == expected)) {
        s = CorruptionError(e, in, "entry header differs from the index; run fsck");
        break;
      }
      Result<uint64_t> offset =
          out.Append(expected, std::string_view(bytes).substr(kEntryHeaderSize));
      if (!offset.ok()) {
        s = offset.status();
        break;
      }
      target.entries.push_back({e.id, *offset, e.stored_length, e.raw_length, e.type, e.flags});
      target.source_of_entry.push_back(i);
    }
  }
  // Same order as Flush(): pack data durable before an index vouches for it, and the index
  // (with the directory, by WriteFileAtomically) durable before any old pack is unlinked.
  if (s.ok()) s = out.Sync();
  if (s.ok()) {
    s = WriteFileAtomically(JoinPath(dir_, IndexFileName(out.sequence())),
                            EncodePackIndex({out.sequence(), out.length(), target.entries}),
                            PackFile::kFileMode);
  }
  if (!s.ok()) {
    UnlinkPack(out.sequence());
    return s.WithContext("rewriting packs into " + out.name());
  }
  return target;
}

std::vector<uint64_t> PackStore::SwitchOver(const std::vector<RewriteSource>& group,
                                            RewriteTarget* target, int64_t unused_since_ms) {
  std::unique_lock lock(mu_);
  // Re-checked here, under the exclusive lock, because a Put() may have deduplicated against
  // one of these packs since PrepareSource(): such a pack must keep everything it holds.
  std::vector<bool> removable(group.size());
  bool target_needed = false;
  for (size_t i = 0; i < group.size(); ++i) {
    removable[i] = RemovableLocked(group[i].slot, unused_since_ms);
    target_needed |= removable[i] && !group[i].kept.empty();
  }
  if (target != nullptr && target_needed) {
    const uint32_t slot = AddSlotLocked(target->file, NowMs());
    for (size_t j = 0; j < target->entries.size(); ++j) {
      // Copies from a pack that stays are duplicates; readers keep using the original.
      if (!removable[target->source_of_entry[j]]) continue;
      objects_[target->entries[j].id] = Location{slot, target->entries[j]};
    }
  }
  std::vector<uint64_t> removed;
  for (size_t i = 0; i < group.size(); ++i) {
    if (!removable[i]) continue;
    const RewriteSource& s = group[i];
    for (const IndexEntry& e : s.entries) {
      const auto it = objects_.find(e.id);
      if (it != objects_.end() && it->second.pack == s.slot) objects_.erase(it);
    }
    // Readers that looked the pack up before this point hold their own reference to it.
    packs_[s.slot].reset();
    slot_by_sequence_.erase(s.sequence);
    removed.push_back(s.sequence);
  }
  return removed;
}

void PackStore::UnlinkPack(uint64_t sequence) const {
  if (UnlinkIfPresent(dir_, IndexFileName(sequence))) UnlinkIfPresent(dir_, PackFileName(sequence));
}

}  // namespace paddock::storage
