// Store: the versioned store as its users see it: named repositories of commits, branches and
// tags over one deduplicated object store. The daemon's REST routes and the benchmarks use only
// this class; the parts below it (pack store, refs database, snapshot, checkout, diff, merge, gc,
// fsck, tar) are documented in their own headers and in docs/store-format.md.
//
// Layout of the store directory (created by Open):
//   packs/       the PackStore (objects of every repository: equal content is stored once)
//   refs.db      the RefDb (repositories, branches, tags, commit graph)
//   statcache/   stat caches: statcache/<who>/<one file per committed directory>, where <who> is
//                "self" (null identity) or one directory per FsIdentity (snapshot.h says why)
//   files/       the whole-file cache that checkouts reflink or hardlink from
// All of it belongs to the process that opened the store; identities never touch it.
//
// Revisions (`rev`) take the RefDb syntax: a branch, a tag or a commit id (prefix), followed by
// any of ~N, ^, ^N (docs/store-format.md, "Revision syntax").
//
// Durability: a commit is acknowledged only after its objects are flushed (fsync) and the branch
// moved in a SQLite transaction, in that order; a crash at any instant leaves the branch at the
// old or the new commit, and nothing acknowledged is lost. (Against a crash of the process; the
// refs database syncs with synchronous=NORMAL, so a power loss may undo the last branch moves,
// never leaving a branch at a commit whose objects are not durable.) A failed commit leaves only
// unreferenced objects behind, for Gc. A branch moves by compare-and-swap: two writers
// committing onto one branch never lose a commit (the loser gets kConflict and may retry; the
// commit calls retry by themselves when no expected_parent is given). The protocol, step by
// step: storage/commit_writer.h and docs/store-format.md, "Store directory and operations".
//
// Identity: every operation that reads or writes a host path takes the caller's file system
// identity (FsIdentity) and performs all its file system access with it on every thread it uses
// (setfsuid/setfsgid/groups are per thread), so a user can only commit what they may read and
// only check out where they may write. A null identity means the calling process's own.
//
// Errors: kInvalidArgument (bad names, bad revisions, bad paths), kNotFound (no such repository,
// ref, commit or path), kAlreadyExists (repository, branch or tag exists), kConflict (the branch
// moved meanwhile; merge and revert conflicts, with the paths in the message; TryMerge returns
// them as data),
// kPermissionDenied (naming the host path), kResourceExhausted (disk full: nothing is left
// half-visible), kInternal (damage, naming the object). No exceptions.
//
// Thread-safety: all methods may be called concurrently from any thread. One process at a time
// may open a store directory (PackStore's writer lock); Open fails with kFailedPrecondition
// otherwise.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/checkout.h"
#include "storage/file_io.h"
#include "storage/fs_identity.h"  // FsIdentity: whose permissions apply to host paths
#include "storage/fsck.h"
#include "storage/gc.h"
#include "storage/merge.h"
#include "storage/object_id.h"
#include "storage/objects.h"
#include "storage/ref_db.h"
#include "storage/snapshot.h"
#include "storage/tar_io.h"
#include "storage/tree_diff.h"
#include "storage/tree_paths.h"  // ListEntry: one entry of a tree listing

namespace paddock::storage {

struct StoreOptions {
  unsigned threads = 0;  // for hashing and checkouts; 0: WorkQueue::DefaultThreads()
  // How long a commit may take at most: objects younger than this are never collected, and
  // commits recorded within it are GC roots even when no ref reaches them.
  std::chrono::milliseconds gc_grace = std::chrono::hours(1);
  // Packs are sealed at this size (PackStoreOptions::pack_size_limit); smaller packs let Gc
  // reclaim space in smaller steps. Mostly for tests.
  uint64_t pack_size_limit = 64ull << 20;
};

// A commit with its id, as log and show return it.
struct CommitInfo {
  ObjectId id;
  Commit commit;
};

struct CommitRequest {
  std::string repo;
  std::string branch = "main";  // created by the first commit onto it
  std::string message;
  std::string author;
  std::string metadata_json;  // empty or a JSON object (e.g. the sandbox that produced it)
  // The commit the branch must be at (the new commit's parent); nullopt: wherever it is now.
  // With a value, a moved branch fails with kConflict; without, the commit is retried on top of
  // the branch's new head (the tree does not depend on the parent).
  std::optional<ObjectId> expected_parent;
  // Commit even when the tree equals the parent's (default: return the parent, changed=false).
  bool allow_empty = false;
};
// A commit's time is the wall clock, or one millisecond after its newest parent when the clock is
// behind that, so that Log (newest first) always lists a commit before its parents.

struct CommitOutcome {
  ObjectId commit;  // the new commit, or the parent when nothing changed
  ObjectId tree;
  bool changed = false;
  // CommitDirectory: the counts of the walk. CommitTar: the archive's files, directories,
  // symlinks, bytes and bytes_stored (files_hashed and warnings stay empty).
  SnapshotResult snapshot;
};

struct MergeOutcome {
  ObjectId commit;  // the branch's new head (unchanged when already up to date)
  bool fast_forward = false;
  bool up_to_date = false;
  // Non-empty only from TryMerge: nothing was committed (Merge fails with kConflict instead).
  std::vector<MergeConflict> conflicts;
};

class Store {
 public:
  // Opens (creating when missing) the store in `dir`.
  static Result<std::unique_ptr<Store>> Open(const std::string& dir, const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Repositories.
  Status CreateRepo(std::string_view name);
  Result<std::vector<RepoInfo>> ListRepos() const;
  // Removes the repository's refs and commit records; its objects go at the next Gc().
  Status DeleteRepo(std::string_view name);

  // Commits the host directory `dir` (read as `identity`) onto request.branch.
  Result<CommitOutcome> CommitDirectory(const CommitRequest& request, const std::string& dir,
                                        const FsIdentity* identity);
  // Commits a tar archive read from `source` (hostile entries refused: tar_io.h).
  Result<CommitOutcome> CommitTar(const CommitRequest& request, const TarSource& source);
  // Both: kNotFound when the repository does not exist (checked before reading anything);
  // kInvalidArgument for a bad branch name; kConflict when expected_parent is given and the
  // branch is elsewhere (or absent); kResourceExhausted when the store's disk is full (the
  // branch does not move). Without expected_parent a lost compare-and-swap is retried on the new
  // head (up to 1000 times, then kConflict).

  Result<ObjectId> Resolve(std::string_view repo, std::string_view rev) const;
  // Newest first, following every parent; at most `limit` (0: all).
  Result<std::vector<CommitInfo>> Log(std::string_view repo, std::string_view rev,
                                      size_t limit) const;
  Result<CommitInfo> Show(std::string_view repo, std::string_view rev) const;
  // Paths: '/'-separated, relative to the root; "" (or "/") is the root; a leading or trailing
  // '/' is ignored; empty, "." and ".." components are kInvalidArgument.
  //
  // The entries under the directory `path` at `rev`, sorted by path (bytewise); with `recursive`,
  // every leaf below instead: files, symlinks and empty directories (as tree_diff.h counts them).
  // kInvalidArgument when `path` is not a directory (Stat it instead).
  Result<std::vector<ListEntry>> List(std::string_view repo, std::string_view rev,
                                      std::string_view path, bool recursive) const;
  // The entry at `path` (a file, symlink or directory); the root is a kDirectory entry named "".
  Result<TreeEntry> Stat(std::string_view repo, std::string_view rev, std::string_view path) const;
  // Writes bytes [offset, offset+length) of the file at `path` to `sink`, in order; returns the
  // count written (short at the end of the file). kInvalidArgument for a directory or symlink,
  // and for offset > the file's size.
  Result<uint64_t> Cat(std::string_view repo, std::string_view rev, std::string_view path,
                       uint64_t offset, uint64_t length, const ByteSink& sink) const;

  Result<std::vector<TreeChange>> Diff(std::string_view repo, std::string_view from,
                                       std::string_view to) const;
  // `rev` against the host directory `dir` (read as `identity`): what committing it would change.
  // Snapshots `dir` into the store (like a commit that moves no branch: its new objects stay
  // unreferenced until Gc), so it costs what committing costs and refreshes the stat cache.
  Result<std::vector<TreeChange>> DiffDirectory(std::string_view repo, std::string_view rev,
                                                const std::string& dir, const FsIdentity* identity);

  Status CreateBranch(std::string_view repo, std::string_view name, std::string_view at_rev);
  Status DeleteBranch(std::string_view repo, std::string_view name);
  Result<std::vector<RefEntry>> ListBranches(std::string_view repo) const;
  Status CreateTag(std::string_view repo, std::string_view name, std::string_view at_rev);
  Status DeleteTag(std::string_view repo, std::string_view name);
  Result<std::vector<RefEntry>> ListTags(std::string_view repo) const;

  // Merges `from_rev` into `into_branch`: fast-forward when possible, else a three-way merge
  // commit (two parents, `into` first) at file level; conflicting paths fail with kConflict,
  // listed in the message (TryMerge returns them as data). Unrelated histories merge against
  // the empty tree. A branch moved meanwhile is merged again on its new head. An empty `message`
  // becomes "Merge <from_rev> into <into_branch>".
  Result<MergeOutcome> Merge(std::string_view repo, std::string_view into_branch,
                             std::string_view from_rev, const std::string& message,
                             const std::string& author);
  // As Merge, but conflicts are a result, not an error: OK with `conflicts` listed and nothing
  // committed. For callers that show the conflicts (the REST API's 409 body).
  Result<MergeOutcome> TryMerge(std::string_view repo, std::string_view into_branch,
                                std::string_view from_rev, const std::string& message,
                                const std::string& author);
  // A new commit on `branch` undoing what `rev` changed relative to its first parent (message
  // "Revert \"<first line>\"" naming the reverted commit). Conflicts (the branch changed what
  // `rev` changed since) fail with kConflict listing the paths; nothing is committed. Reverting
  // what the branch no longer has returns its head with changed=false.
  Result<CommitOutcome> Revert(std::string_view repo, std::string_view branch, std::string_view rev,
                               const std::string& author);

  // Materialises `rev` into `target` (absent or empty), written as `identity`. A read-only view
  // shares files with the cache by hardlink where it can (checkout.h).
  Result<CheckoutResult> Checkout(std::string_view repo, std::string_view rev,
                                  const std::string& target, bool read_only_view,
                                  const FsIdentity* identity);
  // A pax tar of `rev` to `out_fd` (reproducible: times are the commit's). Written as the process
  // itself: the caller opened `out_fd`.
  Status Export(std::string_view repo, std::string_view rev, int out_fd) const;

  // Marks from every ref and every commit younger than gc_grace, sweeps the rest, repacks
  // mostly-dead packs, evicts whole-file cache entries whose file object left the store. One
  // collection at a time (a second call waits); checkouts wait while the cache is evicted.
  //
  // Limits: a commit that no ref reaches is collected once it is older than gc_grace, but its
  // record stays in the refs database, so its id still resolves (reads then fail kNotFound).
  // CreateBranch/CreateTag refuse such a commit when its object is gone.
  Result<GcReport> Gc(bool dry_run);
  // Verifies every object and everything reachable from every ref. Reads the packs on disk (a
  // separate read-only open), so damaged index files are found too.
  Result<FsckReport> Fsck() const;

  const std::string& dir() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace paddock::storage
