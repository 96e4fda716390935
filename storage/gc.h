// Garbage collection of a PackStore: removes the objects that no root commit reaches.
//
// Mark: every object reachable from `roots` (reachability.h) is live. Sweep: a pack holding no
// live object is deleted; a pack whose live bytes are below `repack_live_ratio` of its bytes is
// rewritten (its live objects copied, as stored, into a new pack; then it is deleted); other
// packs are kept as they are, dead objects included (rewriting a mostly live pack would cost
// more I/O than it frees). Ordering on disk and why a crash at any moment loses nothing:
// PackStore::RewritePacks() and docs/store-format.md, "Garbage collection and fsck".
//
// Concurrent commits. GC may run while other threads Put() objects of a commit that no ref (so
// no root) reaches yet. Such objects are never lost, because GC only touches packs that nobody
// used within the grace period:
//   - objects a commit adds go to the active pack, which is never removed, or to packs sealed
//     after it filled up during the commit, which were written within the grace period;
//   - objects a commit reuses (a Put() that finds the object present, or Contains() saying yes)
//     mark their pack as used at that moment, so it too is left alone for the grace period;
//     PackStore re-checks this under its writer lock when it switches a pack out, so a reuse
//     racing with the sweep either keeps the pack or, if the pack is already gone, stores the
//     object anew;
//   - objects a commit references without reusing them through the store (e.g. subtrees of its
//     parent commit) are reachable from that parent, which the caller must pass as a root.
// So the grace period must be longer than the longest commit, and the caller passes as roots
// every ref and every commit created within the grace period (a commit object exists before
// the ref naming it). The active pack is never rewritten; one that nobody used for the grace
// period is sealed first (the next Put() starts a new pack), so that small stores living in a
// single pack can be collected too.
//
// GC refuses to sweep (kFailedPrecondition) when the mark could not read a commit, tree or file
// object: the objects only it references cannot be told from garbage. Run fsck.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

#include "base/status.h"
#include "storage/object_id.h"
#include "storage/pack_store.h"

namespace paddock::storage {

struct GcOptions {
  // Packs used (appended to, or holding an object a writer reused) within this period, and the
  // active pack while in use, are not touched. Longer than the longest commit; see above.
  std::chrono::milliseconds grace_period = std::chrono::hours(1);
  // A pack with dead objects is rewritten when live bytes / pack bytes is below this. 0 never
  // rewrites (only wholly dead packs are deleted); 1 rewrites every pack with a dead object.
  double repack_live_ratio = 0.5;
  // Plan only: report what would be done, change nothing (not even seal the active pack).
  bool dry_run = false;
};

// What a collection did; for a dry run, what a real run would do now (packs used in between
// are skipped by the real run and counted in packs_in_use instead).
struct GcReport {
  uint64_t objects_live = 0;       // reachable from the roots and stored
  uint64_t bytes_live = 0;         // their bytes in packs (entry headers included)
  uint64_t objects_reclaimed = 0;  // objects removed from the store
  uint64_t bytes_reclaimed = 0;    // pack bytes freed: removed packs minus the packs written
  uint64_t packs_deleted = 0;      // held nothing live
  uint64_t packs_rewritten = 0;    // their live objects moved to new packs
  uint64_t packs_created = 0;      // the new packs
  uint64_t packs_in_use = 0;       // not touched: active, or used within the grace period
  uint64_t objects_dead_kept = 0;  // unreachable objects left in packs in use or mostly live
  double seconds = 0;              // wall time of the whole collection
};

// Collects garbage in `store` (opened writable), keeping everything `roots` (commit ids)
// reach. Thread-safe with every other use of the store; one collection at a time is useful
// (a second one waits inside PackStore::RewritePacks and then finds little to do).
// kInvalidArgument for a read-only store or an option out of range.
Result<GcReport> CollectGarbage(PackStore* store, std::span<const ObjectId> roots,
                                const GcOptions& options);

}  // namespace paddock::storage
