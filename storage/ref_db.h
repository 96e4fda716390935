// RefDb: the refs database of a store: repositories, their branches and tags, and the commit
// graph, in one SQLite file (schema: docs/store-format.md, "Refs database").
//
// Objects live in the PackStore; RefDb holds only names and the parent links of commits, so that
// logs, ancestry and merge bases are answered without reading a single object.
//
// Consistency: every commit a repository knows is recorded with RecordCommit() after its parents
// (so the recorded graph is closed under parents), and every branch and tag points at a recorded
// commit of its repository. Branches move only by compare-and-swap (UpdateBranch), run as one
// BEGIN IMMEDIATE transaction: of several writers that read the same head and try to advance it,
// exactly one wins and the others get kConflict, whether they are threads of one process or
// different processes on the same file. A writer that retries (reads the new head, rebuilds its
// commit on it, swaps again) therefore never loses anybody's commit. Tags never move.
//
// Thread-safety: all methods are thread-safe. A RefDb holds one SQLite connection and serializes
// its calls with a mutex; use one RefDb per process and share it. Several RefDb objects, in one
// process or several, may open the same file: SQLite's locks (WAL mode) keep them consistent, and
// a writer waits up to RefDbOptions::busy_timeout_ms for another's write lock before failing with
// kUnavailable. A RefDb must not be used across fork().
//
// Errors common to all methods: kNotFound when the repository does not exist ("repository 'x'
// not found"); kUnavailable when the database stayed locked by another writer; kIoError,
// kResourceExhausted or kPermissionDenied when SQLite fails to read or write the file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/object_id.h"
#include "storage/objects.h"

namespace paddock::storage {

class SqliteConnection;

struct RefDbOptions {
  // How long a write waits for another connection's lock before kUnavailable.
  int busy_timeout_ms = 5000;
  // Wall clock (Unix ms) for the created/updated/recorded times; tests substitute their own.
  std::function<int64_t()> clock;
};

struct RepoInfo {
  std::string name;
  int64_t created_ms = 0;
  friend bool operator==(const RepoInfo&, const RepoInfo&) = default;
};

// A branch or tag.
struct RefEntry {
  std::string name;
  ObjectId target;  // a commit recorded in the ref's repository
  friend bool operator==(const RefEntry&, const RefEntry&) = default;
};

// A recorded commit as the graph knows it.
struct CommitNode {
  ObjectId id;
  int64_t time_ms = 0;            // the commit's own time (Commit::time_ms)
  std::vector<ObjectId> parents;  // first parent first
  friend bool operator==(const CommitNode&, const CommitNode&) = default;
};

class RefDb {
 public:
  // The schema version this code writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 1;

  // Opens the database at `path`, creating the file and the schema when absent. Fails with
  // kFailedPrecondition when the file's schema version is newer than kSchemaVersion (written by
  // a newer Paddock), and with kInternal when the file is not an SQLite database or has a schema
  // version this code does not know.
  static Result<std::unique_ptr<RefDb>> Open(const std::string& path,
                                             const RefDbOptions& options = {});

  ~RefDb();
  RefDb(const RefDb&) = delete;
  RefDb& operator=(const RefDb&) = delete;

  // --- Repositories. Names: ValidateRepoName (storage/ref_names.h), kInvalidArgument otherwise.

  // kAlreadyExists when a repository of that name exists.
  Status CreateRepo(std::string_view name);
  // Sorted by name.
  Result<std::vector<RepoInfo>> ListRepos() const;
  // Deletes the repository with its branches, tags and commit records (not its objects: those
  // are shared by the store and collected by GC). kNotFound when absent.
  Status DeleteRepo(std::string_view name);

  // --- Branches. Names: ValidateBranchName, kInvalidArgument otherwise. Targets must be
  // recorded commits of the repository: kFailedPrecondition otherwise.

  // kAlreadyExists when the branch exists.
  Status CreateBranch(std::string_view repo, std::string_view branch, const ObjectId& target);
  // kNotFound when the branch does not exist.
  Status DeleteBranch(std::string_view repo, std::string_view branch);
  // The branch's commit; kNotFound when the branch does not exist.
  Result<ObjectId> GetBranch(std::string_view repo, std::string_view branch) const;
  // Sorted by name (bytewise).
  Result<std::vector<RefEntry>> ListBranches(std::string_view repo) const;
  // Compare-and-swap: points `branch` at `next` if it currently points at `*expected`, or, with
  // `expected` empty, creates it at `next` if it does not exist. Otherwise nothing changes and
  // the result is kConflict, naming the branch and what it points at now (or that it does not
  // exist): another writer won, and the caller may rebuild on the new head and try again.
  Status UpdateBranch(std::string_view repo, std::string_view branch,
                      std::optional<ObjectId> expected, const ObjectId& next);

  // --- Tags. Names: ValidateTagName. Tags are immutable: there is no move, and creating an
  // existing tag is kAlreadyExists even when the target is the same.

  Status CreateTag(std::string_view repo, std::string_view tag, const ObjectId& target);
  // kNotFound when the tag does not exist.
  Status DeleteTag(std::string_view repo, std::string_view tag);
  Result<ObjectId> GetTag(std::string_view repo, std::string_view tag) const;
  Result<std::vector<RefEntry>> ListTags(std::string_view repo) const;

  // --- Commit graph.

  // Records that `repo` has commit `id` with `commit`'s parents and time. Idempotent. Fails with
  // kInvalidArgument when `commit` does not encode (EncodeCommit) to bytes whose id is `id`, and
  // with kFailedPrecondition when a parent is not recorded in `repo` yet (record parents first).
  Status RecordCommit(std::string_view repo, const ObjectId& id, const Commit& commit);
  // kNotFound when `id` is not recorded in `repo`.
  Result<CommitNode> GetCommit(std::string_view repo, const ObjectId& id) const;
  // `start` and all its ancestors, each once, newest first: by time_ms descending, then by id
  // (hex) ascending. At most `limit` commits; 0 means all. kNotFound when `start` is not
  // recorded. Cost: proportional to the number of ancestors, whatever the limit (the order is
  // exact even when clocks were skewed, which a walk that stops early could not promise).
  Result<std::vector<CommitNode>> Log(std::string_view repo, const ObjectId& start,
                                      size_t limit) const;
  // Whether `ancestor` is reachable from `descendant` through parents; a commit is its own
  // ancestor. kNotFound when either is not recorded in `repo`.
  Result<bool> IsAncestor(std::string_view repo, const ObjectId& ancestor,
                          const ObjectId& descendant) const;
  // The best common ancestor of `a` and `b`: a common ancestor that is not an ancestor of another
  // common ancestor; empty when the histories share none. When there are several (criss-cross
  // merges) the newest (time_ms, then smallest id) is returned. kNotFound when `a` or `b` is not
  // recorded.
  Result<std::optional<ObjectId>> MergeBase(std::string_view repo, const ObjectId& a,
                                            const ObjectId& b) const;

  // --- Revisions (syntax: storage/revision.h).

  // The commit `revision` names in `repo`. The base is looked up as a branch first, then as a
  // tag (a branch shadows a tag of the same name, and both shadow a commit id prefix), then as a
  // commit id or unique prefix of at least 6 hex digits among the repository's commits.
  // Errors name the part that failed:
  //   kInvalidArgument  syntax; a prefix shorter than 6 digits; an ambiguous prefix (with the
  //                     number of commits it matches)
  //   kNotFound         no such branch, tag or commit; a suffix that walks past the root
  //                     ("main~5: main has only 3 ancestors on its first-parent line")
  Result<ObjectId> Resolve(std::string_view repo, std::string_view revision) const;

  // --- Garbage collection support (all repositories).

  // Every commit a branch or tag points at, each once, sorted: the roots of reachability.
  Result<std::vector<ObjectId>> AllRefTargets() const;
  // Every commit id first recorded (in any repository) at or after `time_ms` by this database's
  // clock, each once, sorted: commits a writer may be about to point a ref at.
  Result<std::vector<ObjectId>> CommitsSince(int64_t time_ms) const;

 private:
  enum class RefKind { kBranch, kTag };

  RefDb(std::unique_ptr<SqliteConnection> db, std::function<int64_t()> clock);

  Status CreateSchema();
  Status CreateRef(RefKind kind, std::string_view repo, std::string_view name,
                   const ObjectId& target);
  Status DeleteRef(RefKind kind, std::string_view repo, std::string_view name);
  Result<ObjectId> GetRef(RefKind kind, std::string_view repo, std::string_view name) const;
  Result<std::vector<RefEntry>> ListRefs(RefKind kind, std::string_view repo) const;
  // Runs `body` in a transaction under mu_ (write: BEGIN IMMEDIATE; read: one snapshot).
  Status Transaction(bool write, const std::function<Status()>& body) const;

  const std::function<int64_t()> clock_;
  mutable std::mutex mu_;
  std::unique_ptr<SqliteConnection> db_;
};

}  // namespace paddock::storage
