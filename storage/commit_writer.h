// CommitWriter: the commit protocol of the store facade (store.h), which turns a tree into a
// commit on a branch:
//
//   1. read the branch's head (the parent);
//   2. unless allowed, stop when the tree equals the parent's: nothing to commit;
//   3. encode the commit (parents, author, time, metadata) and Put it;
//   4. PackStore::Flush(): the commit and every object it reaches are now durable;
//   5. RefDb::RecordCommit: the graph knows the commit (a parent is always recorded first);
//   6. RefDb::UpdateBranch(expected = parent): compare-and-swap the branch onto it.
//
// Crash safety follows from the order: until step 6 nothing refers to the new objects (a crash
// leaves unreferenced objects and at most an unreferenced commit record, both harmless), and
// step 6 is one SQLite transaction that only ever points the branch at a commit whose objects a
// completed flush made durable. Concurrent writers: step 6 fails with kConflict for all but one
// writer that read the same head; a writer whose tree does not depend on the parent goes back to
// step 1 and builds a new commit object (same tree, new parent), so no commit is lost.
//
// Thread-safety: all methods may be called concurrently (PackStore and RefDb are thread-safe).
#pragma once

#include <optional>
#include <string_view>

#include "base/status.h"
#include "storage/object_id.h"
#include "storage/objects.h"
#include "storage/pack_store.h"
#include "storage/ref_db.h"
#include "storage/store.h"

namespace paddock::storage {

class CommitWriter {
 public:
  // How often CommitTree rebuilds on a moved head before giving up with kConflict.
  static constexpr int kMaxAttempts = 1000;

  // Both must outlive the writer.
  CommitWriter(PackStore* packs, RefDb* refs) : packs_(packs), refs_(refs) {}

  // Steps 1-6 for `tree`, retrying step 6's conflicts unless request.expected_parent is given.
  // The repository must exist. outcome.snapshot is left empty for the caller to fill.
  Result<CommitOutcome> CommitTree(const CommitRequest& request, const ObjectId& tree);

  // Steps 3-5 for `commit` (its time_ms is set here: see store.h). Returns the commit's id.
  Result<ObjectId> WriteCommit(std::string_view repo, Commit* commit);

  // The branch's head; nullopt when the branch does not exist.
  Result<std::optional<ObjectId>> Head(std::string_view repo, std::string_view branch) const;

 private:
  // One pass of steps 1-6; kConflict from step 6 (or a moved expected head) is for the caller.
  Result<CommitOutcome> TryOnce(const CommitRequest& request, const ObjectId& tree);
  // The wall clock, or one millisecond after the newest parent when the clock is behind it.
  Result<int64_t> CommitTime(std::string_view repo, const std::vector<ObjectId>& parents) const;

  PackStore* const packs_;
  RefDb* const refs_;
};

}  // namespace paddock::storage
