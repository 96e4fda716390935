#include "storage/pack_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>

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

}  // namespace

size_t PackStore::IdHash::operator()(const ObjectId& id) const {
  // Ids are SHA-256 digests, so any 8 of their bytes are already a uniform hash.
  return static_cast<size_t>(LoadU64(id.bytes().data()));
}

PackStore::PackStore(std::string dir, const PackStoreOptions& options, UniqueFd lock)
    : dir_(std::move(dir)), options_(options), lock_(std::move(lock)) {}

Result<std::unique_ptr<PackStore>> PackStore::Open(const std::string& dir,
                                                   const PackStoreOptions& options) {
  if (options.compression_level < 1 || options.compression_level > 19) {
    return Status::InvalidArgument("compression level must be 1..19");
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
    // A pack without an index never had a Flush() complete: nothing in it was reported durable.
    if (writable && !listing->indexes.contains(sequence)) {
      RemoveLeftover(dir_, PackFileName(sequence), "pack without an index (interrupted write)");
    }
  }
  for (uint64_t sequence : listing->indexes) {
    if (!listing->packs.contains(sequence)) {
      return Status::Internal("index " + JoinPath(dir_, IndexFileName(sequence)) +
                              " has no pack file");
    }
    next_sequence_ = std::max(next_sequence_, sequence + 1);
    const bool last = sequence == *listing->indexes.rbegin();
    PADDOCK_RETURN_IF_ERROR(LoadPack(sequence, writable && last));
  }
  return Status::Ok();
}

Status PackStore::LoadPack(uint64_t sequence, bool may_reopen_for_append) {
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
  Result<std::unique_ptr<PackFile>> pack =
      PackFile::Open(dir_, sequence, index->pack_length, !options_.read_only);
  if (!pack.ok()) return pack.status();
  const uint32_t slot = static_cast<uint32_t>(packs_.size());
  for (const IndexEntry& e : index->entries) objects_.try_emplace(e.id, Location{slot, e});
  // Appending to the newest pack when it has room keeps short sessions (one commit per CLI run)
  // from leaving a trail of tiny packs.
  if (may_reopen_for_append && index->pack_length < options_.pack_size_limit) {
    active_ = pack->get();
    active_index_ = slot;
    active_entries_ = std::move(index->entries);
    flushed_entries_ = active_entries_.size();
  }
  packs_.push_back(std::move(pack.value()));
  return Status::Ok();
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
  if (objects_.contains(result.id)) return result;  // another writer stored it meanwhile
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
    active_index_ = static_cast<uint32_t>(packs_.size());
    active_entries_.clear();
    flushed_entries_ = 0;
    packs_.push_back(std::move(pack.value()));
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

bool PackStore::Contains(const ObjectId& id) const {
  std::shared_lock lock(mu_);
  return objects_.contains(id);
}

Status PackStore::CorruptionError(const IndexEntry& entry, const PackFile& pack,
                                  std::string_view why) {
  return Status::Internal(std::string(ObjectTypeName(entry.type)) + " " + entry.id.ToHex() +
                          " in pack " + pack.name() + " at offset " + std::to_string(entry.offset) +
                          " is corrupt: " + std::string(why));
}

Result<StoredObject> PackStore::Get(const ObjectId& id) const {
  IndexEntry e;
  const PackFile* pack = nullptr;
  {
    std::shared_lock lock(mu_);
    const auto it = objects_.find(id);
    if (it == objects_.end()) return Status::NotFound("object " + id.ToHex() + " not in store");
    e = it->second.entry;
    pack = packs_[it->second.pack].get();
  }
  std::string bytes;
  const Status read = pack->ReadAt(e.offset, kEntryHeaderSize + e.stored_length, &bytes);
  if (read.code() == StatusCode::kInternal) return CorruptionError(e, *pack, read.message());
  if (!read.ok()) return read.WithContext("reading object " + id.ToHex());
  Result<EntryHeader> header = DecodeEntryHeader(bytes);
  if (!header.ok()) return CorruptionError(e, *pack, header.status().message());
  const EntryHeader expected{e.id, e.type, e.flags, e.raw_length, e.stored_length};
  if (!(*header == expected))
    return CorruptionError(e, *pack, "entry header differs from the index");
  StoredObject out;
  out.type = e.type;
  if ((e.flags & kEntryFlagZstd) != 0) {
    const Status s =
        Decompress(std::string_view(bytes).substr(kEntryHeaderSize), e.raw_length, &out.data);
    if (!s.ok()) return CorruptionError(e, *pack, s.message());
  } else {
    bytes.erase(0, kEntryHeaderSize);
    out.data = std::move(bytes);
  }
  if (ObjectId::Hash(out.data) != id) {
    return CorruptionError(e, *pack, "content does not hash to its id");
  }
  return out;
}

PackStoreStats PackStore::stats() const {
  std::shared_lock lock(mu_);
  PackStoreStats s;
  s.objects = objects_.size();
  s.packs = packs_.size();
  for (const auto& pack : packs_) s.pack_bytes += pack->length();
  return s;
}

}  // namespace paddock::storage
