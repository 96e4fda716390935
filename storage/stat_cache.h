// StatCache: remembers, per committed directory, the stat data and file id of every regular file
// of the last snapshot, so that an unchanged file is not read again (like git's index).
//
// A file counts as unchanged when its size, mtime, ctime (all in ns), inode, device and kind
// (executable or not) equal the recorded ones. ctime is included because it cannot be set from
// user space: restoring an old mtime after an edit (touch -d, tar, rsync -t) still changes it.
//
// Racily clean entries: a file changed twice within one tick of the file system clock can keep
// identical stat data. Every cache records `start_ns`, the CLOCK_REALTIME_COARSE time (the clock
// the kernel stamps files with) taken before the snapshot looked at any file; an entry whose
// mtime is not older than that could have been changed after it was read without its stat
// changing, so FindUnchanged() never trusts it and the file is read again next time. This
// assumes file times come from this machine's clock (local file systems).
//
// The cache is advisory: a missing, unreadable or corrupt cache file is an empty cache, and a
// caller must still check that the store holds the recorded file id. File format:
// docs/store-format.md, "Stat cache files".
//
// Thread-safety: a loaded StatCache is immutable; FindUnchanged() may be called concurrently.
// Write() is safe against concurrent writers of the same file (each writes its own temporary
// file; the last rename wins).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "storage/object_id.h"
#include "storage/objects.h"

namespace paddock::storage {

struct StatCacheEntry {
  std::string path;                   // relative to the committed directory, '/'-separated
  EntryKind kind = EntryKind::kFile;  // kFile or kExecutable
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  ObjectId file_id;
  friend bool operator==(const StatCacheEntry&, const StatCacheEntry&) = default;
};

// The stat fields of `st` as an entry for `path` (file_id left empty).
StatCacheEntry StatCacheEntryFromStat(std::string path, const struct stat& st);

class StatCache {
 public:
  StatCache() = default;  // empty: nothing is known to be unchanged

  // "<cache_dir>/<64 hex digits of SHA-256 of the absolute directory path>".
  static std::string PathFor(const std::string& cache_dir, const std::string& absolute_dir);

  // Loads the cache file at `path`. Never fails: a missing file is an empty cache, and an
  // unreadable or corrupt one too (with a logged warning).
  static StatCache Load(const std::string& path);

  // Replaces the cache file at `path` (its directory is created, 0750) with `entries`, recording
  // `start_ns`. Written to a temporary file and renamed into place, so readers see the old cache
  // or the new one. Not fsynced: a cache torn by a crash fails its checksum and is ignored.
  static Status Write(const std::string& path, int64_t start_ns,
                      std::vector<StatCacheEntry> entries);

  static std::string Encode(int64_t start_ns, std::vector<StatCacheEntry> entries);
  // kInvalidArgument unless `bytes` is a well-formed cache file.
  static Result<StatCache> Decode(std::string_view bytes);

  // The time to record for a snapshot starting now (CLOCK_REALTIME_COARSE, ns).
  static int64_t StartTimeNow();

  // The entry recorded for `path` if `current` (the file's stat data now) equals it and it is not
  // racily clean; otherwise null. The pointer is valid as long as this cache.
  const StatCacheEntry* FindUnchanged(const std::string& path, const StatCacheEntry& current) const;

  int64_t start_ns() const { return start_ns_; }
  size_t size() const { return entries_.size(); }

 private:
  int64_t start_ns_ = 0;
  std::unordered_map<std::string, StatCacheEntry> entries_;
};

}  // namespace paddock::storage
