// Materialising a tree of the store as a directory, through a whole-file cache.
//
// Every regular file is first materialised once per file id into the file cache
// (`<file_cache_dir>/<file id hex>`, mode 0444; layout in docs/store-format.md, "File cache"),
// then placed in the target by the cheapest method the file system allows:
//   1. reflink (ioctl FICLONE): a new inode sharing the cache file's blocks, copy-on-write;
//   2. hardlink to the cache file: only for read-only views (`read_only_view`), since a write
//      through a hardlink would change the cache, and every later checkout with it;
//   3. copy (copy_file_range, falling back to read/write).
// A second checkout of the same data thus costs a link or a clone per file. Cache files are
// written to a temporary name, fdatasynced and renamed, so a crash never leaves a partial file
// under a final name.
//
// Modes: directories 0755; files 0644, or 0755 when executable, regardless of the umask. In a
// read-only view files are 0444 / 0555 whatever the method: a hardlinked file shares the cache
// file's inode and mode (executables link to a second cache file, `<hex>.x`, mode 0555).
// Symlinks are created as stored, never followed.
//
// Identity: everything in the target is created as CheckoutOptions::identity (null: the calling
// thread's own file system identity), on the walking thread and on every worker, so permission
// checks are the identity's and the files belong to it. The file cache belongs to the store and
// is filled and read with the thread's own identity; a hardlink into the cache is attempted as
// the identity, so an identity that may not reach the cache (or, with fs.protected_hardlinks,
// does not own its files) gets reflinks or copies instead.
//
// Concurrency: the function is thread-safe and several checkouts may share one file cache
// (concurrent materialisations of one id write equal bytes and the last rename wins), but
// EvictFileCache must not run while a checkout using the same cache does.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "base/status.h"
#include "storage/fs_identity.h"
#include "storage/object_id.h"
#include "storage/pack_store.h"

namespace paddock::storage {

struct CheckoutOptions {
  // The whole-file cache (the repository layer uses <store>/files); created (0750) if absent.
  // Required. It must be on the target's file system for reflinks and hardlinks to work.
  std::string file_cache_dir;
  // The target will never be written to (e.g. it is mounted read-only into a sandbox): allows
  // hardlinks into the cache. A writable checkout never shares an inode with the cache.
  bool read_only_view = false;
  // Threads materialising and placing files; 0 picks WorkQueue::DefaultThreads().
  unsigned threads = 0;
  // Who writes the target (see "Identity" above); null: the calling thread. Must outlive the call.
  const FsIdentity* identity = nullptr;
};

struct CheckoutResult {
  uint64_t files = 0;        // regular files placed, empty ones included
  uint64_t directories = 0;  // directories created, the target included
  uint64_t symlinks = 0;
  uint64_t bytes = 0;  // total size of the files
  // Non-empty files by placement method (empty files are simply created).
  uint64_t reflinked = 0;
  uint64_t hardlinked = 0;
  uint64_t copied = 0;
  uint64_t cache_files_added = 0;  // files this checkout wrote into the file cache
  uint64_t cache_bytes_added = 0;
};

// Writes tree `tree` of `store` into `target`. `target` must be absent (it is created, 0755; its
// parent must exist) or an empty directory; otherwise kFailedPrecondition. Errors: kNotFound /
// kInternal for missing or corrupt objects, kPermissionDenied naming the path, kIoError. On
// failure the target is left partially written; the caller removes it.
Result<CheckoutResult> CheckoutTree(const PackStore& store, const ObjectId& tree,
                                    const std::string& target, const CheckoutOptions& options);

// Removes from the file cache every file whose id is not in `keep`, and temporary files left by
// interrupted checkouts; other names are left alone. Returns the number of files removed. For GC,
// which must not run it concurrently with a checkout using the same cache.
Result<uint64_t> EvictFileCache(const std::string& file_cache_dir, const std::set<ObjectId>& keep);

}  // namespace paddock::storage
