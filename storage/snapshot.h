// Committing a directory of the file system into the store as trees (docs/store-format.md,
// "Tree objects").
//
// What is recorded: regular files (content and the owner's exec bit), symlinks (their target,
// never followed), directories (empty ones too). Owners, other permission bits, times and
// extended attributes are not. FIFOs, sockets and device nodes are skipped with a warning.
//
// Safety: the walk opens every entry relative to its parent directory's fd with O_NOFOLLOW, so a
// symlink (or a directory swapped for one while the walk runs) is never followed out of `dir`.
// Only `dir` itself is resolved normally. A file that vanishes or changes type while the walk
// runs is left out with a warning. Mount points below `dir` are walked into.
//
// Permissions: every host path is opened, listed and stat'ed as SnapshotOptions::identity (or,
// when null, the calling thread's own file system identity), on the walking thread and on every
// reader thread; a file or directory that identity may not read fails the snapshot with
// kPermissionDenied naming its path. The store and the stat cache are written with the thread's
// own identity (they belong to the store, not to the user). Nothing assumes root.
//
// Speed: files are read and chunked in parallel. With a stat cache directory, a file whose stat
// data matches the cache (see stat_cache.h) and whose file object is still in the store is not
// read at all, so re-committing an unchanged tree costs one fstatat per entry.
//
// Thread-safety: snapshots may run concurrently (PackStore is thread-safe). Two snapshots of the
// same directory race only on its stat cache file, where the last one written wins (harmless).
//
// Durability: the objects are not flushed; the caller flushes the store (typically after writing
// the commit that names the tree). A stat cache naming objects lost by a crash is harmless: such
// files are read again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/fs_identity.h"
#include "storage/object_id.h"
#include "storage/pack_store.h"

namespace paddock::storage {

struct SnapshotOptions {
  // Where stat caches live, one file per committed directory (the repository layer uses
  // <store>/statcache). Empty: no cache; every file is read.
  std::string stat_cache_dir;
  // Threads reading files; 0 picks WorkQueue::DefaultThreads().
  unsigned threads = 0;
  // Whose permissions apply to `dir` and everything below it (fs_identity.h); null: the calling
  // thread's. Must outlive the call. A stat cache answers only for the identity that wrote it,
  // so callers serving several identities give each its own stat_cache_dir: a cache hit skips
  // opening the file, and must not vouch for somebody else's right to read it.
  const FsIdentity* identity = nullptr;
};

struct SnapshotResult {
  ObjectId root;              // the tree of `dir`
  uint64_t files = 0;         // regular files committed
  uint64_t directories = 0;   // directories committed, `dir` included
  uint64_t symlinks = 0;      // symlinks committed
  uint64_t bytes = 0;         // total size of the files committed
  uint64_t bytes_stored = 0;  // bytes appended to packs (new chunks, file objects and trees)
  uint64_t files_hashed = 0;  // files read and chunked: not answered by the stat cache
  std::vector<std::string> warnings;  // entries left out, and why; paths relative to `dir`
};

// Commits the directory `dir` into `store` and returns its root tree id with counts. Errors:
// kNotFound when `dir` does not exist, kPermissionDenied (naming the path) when a directory or
// file may not be read, kInvalidArgument when an entry cannot be represented (a symlink target of
// more than 4095 bytes), store errors as they come. On failure objects already stored stay in
// the store, unreferenced (GC removes them), and no stat cache is written.
Result<SnapshotResult> SnapshotDirectory(PackStore* store, const std::string& dir,
                                         const SnapshotOptions& options);

}  // namespace paddock::storage
