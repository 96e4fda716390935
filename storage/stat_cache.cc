#include "storage/stat_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "base/file_util.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "storage/file_io.h"
#include "storage/wire.h"

namespace paddock::storage {
namespace {

constexpr std::string_view kMagic = "PDSTATC1";
constexpr size_t kHeaderSize = 8 + 8 + 4;
constexpr size_t kTrailerSize = ObjectId::kSize;
// path length, kind, size, mtime, ctime, inode, device, file id (without the path bytes)
constexpr size_t kMinEntrySize = 4 + 1 + 8 + 8 + 8 + 8 + 8 + ObjectId::kSize;

int64_t Nanoseconds(const timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string DirName(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

bool SameStat(const StatCacheEntry& a, const StatCacheEntry& b) {
  return a.kind == b.kind && a.size == b.size && a.mtime_ns == b.mtime_ns &&
         a.ctime_ns == b.ctime_ns && a.inode == b.inode && a.device == b.device;
}

}  // namespace

StatCacheEntry StatCacheEntryFromStat(std::string path, const struct stat& st) {
  StatCacheEntry e;
  e.path = std::move(path);
  e.kind = (st.st_mode & S_IXUSR) ? EntryKind::kExecutable : EntryKind::kFile;
  e.size = static_cast<uint64_t>(st.st_size);
  e.mtime_ns = Nanoseconds(st.st_mtim);
  e.ctime_ns = Nanoseconds(st.st_ctim);
  e.inode = st.st_ino;
  e.device = st.st_dev;
  return e;
}

std::string StatCache::PathFor(const std::string& cache_dir, const std::string& absolute_dir) {
  return JoinPath(cache_dir, ObjectId::Hash(absolute_dir).ToHex());
}

int64_t StatCache::StartTimeNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return Nanoseconds(ts);
}

std::string StatCache::Encode(int64_t start_ns, std::vector<StatCacheEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const StatCacheEntry& a, const StatCacheEntry& b) { return a.path < b.path; });
  std::string out(kMagic);
  PutU64(&out, static_cast<uint64_t>(start_ns));
  PutU32(&out, static_cast<uint32_t>(entries.size()));
  for (const StatCacheEntry& e : entries) {
    PutU32(&out, static_cast<uint32_t>(e.path.size()));
    out += e.path;
    PutU8(&out, static_cast<uint8_t>(e.kind));
    PutU64(&out, e.size);
    PutU64(&out, static_cast<uint64_t>(e.mtime_ns));
    PutU64(&out, static_cast<uint64_t>(e.ctime_ns));
    PutU64(&out, e.inode);
    PutU64(&out, e.device);
    PutId(&out, e.file_id);
  }
  PutId(&out, ObjectId::Hash(out));
  return out;
}

Result<StatCache> StatCache::Decode(std::string_view bytes) {
  if (bytes.size() < kHeaderSize + kTrailerSize || !bytes.starts_with(kMagic)) {
    return Status::InvalidArgument("not a stat cache file");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kTrailerSize);
  if (ObjectId::Hash(body) != IdFromBytes(bytes.substr(body.size()))) {
    return Status::InvalidArgument("stat cache checksum mismatch");
  }
  WireReader in(body.substr(kMagic.size()));
  StatCache cache;
  uint64_t start = 0;
  uint32_t count = 0;
  in.ReadU64(&start);
  in.ReadU32(&count);
  cache.start_ns_ = static_cast<int64_t>(start);
  // Bounds the reservation by what the bytes can hold, whatever the count says.
  cache.entries_.reserve(std::min<size_t>(count, in.remaining() / kMinEntrySize));
  for (uint32_t i = 0; i < count && !in.failed(); ++i) {
    StatCacheEntry e;
    uint32_t path_length = 0;
    std::string_view path;
    uint8_t kind = 0;
    uint64_t mtime = 0, ctime = 0;
    in.ReadU32(&path_length);
    in.ReadBytes(path_length, &path);
    in.ReadU8(&kind);
    in.ReadU64(&e.size);
    in.ReadU64(&mtime);
    in.ReadU64(&ctime);
    in.ReadU64(&e.inode);
    in.ReadU64(&e.device);
    in.ReadId(&e.file_id);
    if (kind != static_cast<uint8_t>(EntryKind::kFile) &&
        kind != static_cast<uint8_t>(EntryKind::kExecutable)) {
      return Status::InvalidArgument("stat cache entry of unknown kind");
    }
    e.path = std::string(path);
    e.kind = static_cast<EntryKind>(kind);
    e.mtime_ns = static_cast<int64_t>(mtime);
    e.ctime_ns = static_cast<int64_t>(ctime);
    cache.entries_.emplace(e.path, std::move(e));
  }
  if (!in.AtEnd()) return Status::InvalidArgument("stat cache truncated or with trailing bytes");
  return cache;
}

StatCache StatCache::Load(const std::string& path) {
  Result<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) {
    if (bytes.status().code() != StatusCode::kNotFound) {
      LogWarning("ignoring stat cache: " + bytes.status().ToString());
    }
    return StatCache();
  }
  Result<StatCache> cache = Decode(*bytes);
  if (!cache.ok()) {
    LogWarning("ignoring stat cache " + path + ": " + cache.status().message());
    return StatCache();
  }
  return std::move(cache.value());
}

Status StatCache::Write(const std::string& path, int64_t start_ns,
                        std::vector<StatCacheEntry> entries) {
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(DirName(path), 0750));
  const std::string bytes = Encode(start_ns, std::move(entries));
  std::string tmp = path + ".tmp.XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return Status::FromErrno("create " + tmp);
  Status s = WriteAll(fd.get(), bytes).WithContext(tmp);
  fd.reset();
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Status::FromErrno("rename " + tmp);
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

const StatCacheEntry* StatCache::FindUnchanged(const std::string& path,
                                               const StatCacheEntry& current) const {
  const auto it = entries_.find(path);
  if (it == entries_.end()) return nullptr;
  const StatCacheEntry& recorded = it->second;
  if (!SameStat(recorded, current)) return nullptr;
  if (recorded.mtime_ns >= start_ns_) return nullptr;  // racily clean
  return &recorded;
}

}  // namespace paddock::storage
