#include "storage/gc.h"

#include <algorithm>
#include <vector>

#include "storage/reachability.h"

namespace paddock::storage {
namespace {

// What the sweep does with one pack.
enum class PackAction {
  kInUse,    // used within the grace period (or active): not touched
  kKeep,     // mostly live: left as it is
  kDelete,   // nothing live
  kRewrite,  // live objects copied to a new pack, then deleted
};

struct PackPlan {
  PackInfo info;
  PackAction action = PackAction::kKeep;
  uint64_t live_objects = 0;
  uint64_t live_bytes = 0;    // entry headers included, as in the pack
  uint64_t dead_objects = 0;  // unreachable objects whose only copy is here
};

uint64_t EntryBytes(const IndexEntry& e) { return kEntryHeaderSize + uint64_t{e.stored_length}; }

Status CheckOptions(const PackStore& store, const GcOptions& options) {
  if (store.options().read_only && !options.dry_run) {
    return Status::InvalidArgument("garbage collection needs a writable store");
  }
  if (options.grace_period.count() < 0) return Status::InvalidArgument("negative grace period");
  if (!(options.repack_live_ratio >= 0 && options.repack_live_ratio <= 1)) {
    return Status::InvalidArgument("repack_live_ratio must be within 0..1");
  }
  return Status::Ok();
}

// Counts the pack's live and dead objects. Only the copy that Get() reads counts: a duplicate
// (left by an interrupted collection) is dead weight, neither live nor an object to reclaim.
Status CountObjects(const PackStore& store, const Reachability& reach, PackPlan* plan) {
  Result<std::vector<IndexEntry>> entries = store.PackEntries(plan->info.sequence);
  if (!entries.ok()) return entries.status();
  for (const IndexEntry& e : *entries) {
    const std::optional<ObjectLocation> where = store.Locate(e.id);
    if (!where || where->pack_sequence != plan->info.sequence) continue;
    if (reach.IsMarked(e.id)) {
      ++plan->live_objects;
      plan->live_bytes += EntryBytes(e);
    } else {
      ++plan->dead_objects;
    }
  }
  return Status::Ok();
}

PackAction ChooseAction(const PackPlan& plan, const GcOptions& options, int64_t cutoff_ms) {
  // A dry run plans as if the idle active pack had been sealed, as a real run does first.
  const bool active = plan.info.active && !options.dry_run;
  if (active || plan.info.last_use_ms > cutoff_ms) return PackAction::kInUse;
  if (plan.live_objects == 0) return PackAction::kDelete;
  if (plan.dead_objects == 0) return PackAction::kKeep;
  const double payload = static_cast<double>(plan.info.length - kPackHeaderSize);
  return static_cast<double>(plan.live_bytes) < options.repack_live_ratio * payload
             ? PackAction::kRewrite
             : PackAction::kKeep;
}

Result<std::vector<PackPlan>> PlanPacks(const PackStore& store, const Reachability& reach,
                                        const GcOptions& options, int64_t cutoff_ms) {
  std::vector<PackPlan> plans;
  for (const PackInfo& info : store.ListPacks()) {
    PackPlan plan;
    plan.info = info;
    Status s = CountObjects(store, reach, &plan);
    if (s.code() == StatusCode::kNotFound) continue;  // removed meanwhile by another collection
    if (!s.ok()) return s.WithContext("garbage collection");
    plan.action = ChooseAction(plan, options, cutoff_ms);
    plans.push_back(std::move(plan));
  }
  return plans;
}

struct RewriteEstimate {
  uint64_t packs = 0;
  uint64_t bytes = 0;
};

// What RewritePacks() would write for the packs to rewrite: their live entries plus a header per
// new pack, grouped the same way (about one pack size limit of copies per new pack).
RewriteEstimate EstimateRewrite(const std::vector<PackPlan>& plans, uint64_t pack_size_limit) {
  RewriteEstimate estimate;
  uint64_t group = 0;
  for (const PackPlan& p : plans) {
    if (p.action != PackAction::kRewrite) continue;
    if (group == 0) {
      ++estimate.packs;
      estimate.bytes += kPackHeaderSize;
    }
    group += p.live_bytes;
    estimate.bytes += p.live_bytes;
    if (group >= pack_size_limit) group = 0;
  }
  return estimate;
}

void ReportPlan(const std::vector<PackPlan>& plans, const PackStore& store, GcReport* report) {
  uint64_t removed_bytes = 0;
  for (const PackPlan& p : plans) {
    report->objects_live += p.live_objects;
    report->bytes_live += p.live_bytes;
    switch (p.action) {
      case PackAction::kInUse:
        ++report->packs_in_use;
        report->objects_dead_kept += p.dead_objects;
        break;
      case PackAction::kKeep:
        report->objects_dead_kept += p.dead_objects;
        break;
      case PackAction::kDelete:
      case PackAction::kRewrite:
        (p.action == PackAction::kDelete ? report->packs_deleted : report->packs_rewritten) += 1;
        report->objects_reclaimed += p.dead_objects;
        removed_bytes += p.info.length;
        break;
    }
  }
  const RewriteEstimate written = EstimateRewrite(plans, store.options().pack_size_limit);
  report->packs_created = written.packs;
  report->bytes_reclaimed = removed_bytes > written.bytes ? removed_bytes - written.bytes : 0;
}

// Replaces the plan's figures for the sweep with what RewritePacks() did: packs used since the
// plan was made were skipped.
void ReportSweep(const std::vector<PackPlan>& plans, const PackRewriteResult& done,
                 GcReport* report) {
  report->packs_deleted = done.deleted.size();
  report->packs_rewritten = done.rewritten.size();
  report->packs_created = done.created.size();
  report->objects_reclaimed = done.objects_dropped;
  report->bytes_reclaimed =
      done.bytes_removed > done.bytes_written ? done.bytes_removed - done.bytes_written : 0;
  for (const PackPlan& p : plans) {
    if (std::find(done.skipped.begin(), done.skipped.end(), p.info.sequence) ==
        done.skipped.end()) {
      continue;
    }
    ++report->packs_in_use;
    report->objects_dead_kept += p.dead_objects;
  }
}

Status RefuseIncompleteMark(const Reachability& reach) {
  for (const ReachabilityProblem& p : reach.problems()) {
    if (p.type == ObjectType::kChunk || p.kind == ReachabilityProblem::Kind::kSizeMismatch) {
      continue;
    }
    return Status::FailedPrecondition(
        "garbage collection stopped before deleting anything: " + p.detail +
        "; what it references cannot be told from garbage (run fsck)");
  }
  return Status::FailedPrecondition("garbage collection stopped: incomplete mark");
}

}  // namespace

Result<GcReport> CollectGarbage(PackStore* store, std::span<const ObjectId> roots,
                                const GcOptions& options) {
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  PADDOCK_RETURN_IF_ERROR(CheckOptions(*store, options));
  // Taken first: a later cutoff would protect fewer packs.
  const int64_t cutoff_ms = store->NowMs() - options.grace_period.count();
  if (!options.dry_run) PADDOCK_RETURN_IF_ERROR(store->SealActivePackIfUnused(cutoff_ms));

  Reachability reach(*store);
  reach.MarkFromCommits(roots);
  if (!reach.complete()) return RefuseIncompleteMark(reach);

  Result<std::vector<PackPlan>> plans = PlanPacks(*store, reach, options, cutoff_ms);
  if (!plans.ok()) return plans.status();
  GcReport report;
  ReportPlan(*plans, *store, &report);
  if (!options.dry_run) {
    std::vector<uint64_t> doomed;
    for (const PackPlan& p : *plans) {
      if (p.action == PackAction::kDelete || p.action == PackAction::kRewrite) {
        doomed.push_back(p.info.sequence);
      }
    }
    const auto keep = [&reach](const ObjectId& id) { return reach.IsMarked(id); };
    Result<PackRewriteResult> done = store->RewritePacks(doomed, keep, cutoff_ms);
    if (!done.ok()) return done.status().WithContext("garbage collection");
    ReportSweep(*plans, *done, &report);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace paddock::storage
