#include "storage/fsck.h"

#include <unordered_map>
#include <utility>

#include "storage/objects.h"
#include "storage/path_finder.h"
#include "storage/reachability.h"

namespace paddock::storage {
namespace {

// Collects problems, one per object: later findings about an object already reported add their
// detail to it.
class ProblemList {
 public:
  explicit ProblemList(std::vector<FsckProblem>* out) : out_(out) {}

  void Add(FsckProblem problem) {
    if (problem.kind == FsckProblem::Kind::kDamagedPack) {
      out_->push_back(std::move(problem));
      return;
    }
    const auto [it, added] = by_id_.try_emplace(problem.id, out_->size());
    if (added) {
      out_->push_back(std::move(problem));
      return;
    }
    FsckProblem& known = (*out_)[it->second];
    if (known.detail.find(problem.detail) == std::string::npos) {
      known.detail += "; " + problem.detail;
    }
  }

  std::vector<ObjectId> Ids() const {
    std::vector<ObjectId> ids;
    ids.reserve(by_id_.size());
    for (const auto& [id, index] : by_id_) ids.push_back(id);
    return ids;
  }

 private:
  std::vector<FsckProblem>* out_;
  std::unordered_map<ObjectId, size_t, ObjectIdHash> by_id_;
};

// Whether verified bytes stored under `type` decode as that type ("" when they do).
std::string DecodeError(ObjectType type, std::string_view bytes) {
  Status s;
  switch (type) {
    case ObjectType::kChunk:
      return "";  // any bytes are a chunk
    case ObjectType::kFile:
      s = DecodeFile(bytes).status();
      break;
    case ObjectType::kTree:
      s = DecodeTree(bytes).status();
      break;
    case ObjectType::kCommit:
      s = DecodeCommit(bytes).status();
      break;
  }
  return s.ok() ? ""
                : "stored as a " + std::string(ObjectTypeName(type)) +
                      " but does not decode as one: " + s.message();
}

void CheckPackEntries(const PackStore& store, const PackInfo& pack, FsckReport* report,
                      ProblemList* problems) {
  Result<std::vector<IndexEntry>> entries = store.PackEntries(pack.sequence);
  if (!entries.ok()) {
    problems->Add({FsckProblem::Kind::kDamagedPack,
                   ObjectId(),
                   "",
                   pack.name,
                   0,
                   entries.status().message(),
                   {},
                   false});
    return;
  }
  for (const IndexEntry& e : *entries) {
    ++report->objects_checked;
    const std::string type(ObjectTypeName(e.type));
    Result<StoredObject> object = store.ReadEntry(pack.sequence, e);
    if (!object.ok()) {
      problems->Add({FsckProblem::Kind::kCorrupt,
                     e.id,
                     type,
                     pack.name,
                     e.offset,
                     object.status().message(),
                     {},
                     false});
      continue;
    }
    std::string malformed = DecodeError(e.type, object->data);
    if (!malformed.empty()) {
      problems->Add({FsckProblem::Kind::kMalformed,
                     e.id,
                     type,
                     pack.name,
                     e.offset,
                     std::move(malformed),
                     {},
                     false});
    }
  }
}

FsckProblem::Kind KindOf(ReachabilityProblem::Kind kind) {
  switch (kind) {
    case ReachabilityProblem::Kind::kMissing:
      return FsckProblem::Kind::kMissing;
    case ReachabilityProblem::Kind::kUnreadable:
      return FsckProblem::Kind::kCorrupt;
    case ReachabilityProblem::Kind::kMalformed:
      return FsckProblem::Kind::kMalformed;
    case ReachabilityProblem::Kind::kSizeMismatch:
      return FsckProblem::Kind::kSizeMismatch;
  }
  return FsckProblem::Kind::kCorrupt;
}

FsckProblem FromReachability(const PackStore& store, const ReachabilityProblem& p) {
  FsckProblem out{KindOf(p.kind), p.id, std::string(ObjectTypeName(p.type)), "", 0, p.detail, {},
                  false};
  if (const std::optional<ObjectLocation> where = store.Locate(p.id)) {
    out.pack = PackFileName(where->pack_sequence);
    out.offset = where->entry.offset;
  }
  const bool root = p.referrer == ObjectId();
  if (p.kind == ReachabilityProblem::Kind::kMissing) {
    out.detail = root ? "root commit is not in the store"
                      : "not in the store; referenced by " + p.referrer.ToHex();
  }
  return out;
}

// Roots first: their paths are the ones people know; then the history behind them, and commits
// that could not be read (their path is the commit itself).
std::vector<ObjectId> CommitsToSearch(std::span<const ObjectId> roots, const Reachability& reach,
                                      const std::vector<FsckProblem>& problems) {
  std::vector<ObjectId> commits(roots.begin(), roots.end());
  commits.insert(commits.end(), reach.commits().begin(), reach.commits().end());
  for (const FsckProblem& p : problems) {
    if (p.type == ObjectTypeName(ObjectType::kCommit)) commits.push_back(p.id);
  }
  return commits;
}

void AddPaths(const PackStore& store, std::span<const ObjectId> roots, const Reachability& reach,
              const ProblemList& list, const FsckOptions& options, FsckReport* report) {
  const std::vector<ObjectId> targets = list.Ids();
  if (targets.empty()) return;
  PathFinder finder(store, targets, options.max_paths_per_object);
  std::unordered_map<ObjectId, bool, ObjectIdHash> searched;
  for (const ObjectId& commit : CommitsToSearch(roots, reach, report->problems)) {
    if (finder.Done()) break;
    if (!searched.try_emplace(commit, true).second) continue;
    finder.SearchCommit(commit);
  }
  for (FsckProblem& p : report->problems) {
    if (p.kind == FsckProblem::Kind::kDamagedPack) continue;
    const PathFinder::Found& found = finder.PathsOf(p.id);
    p.paths = found.paths;
    p.more_paths = found.truncated;
  }
}

}  // namespace

std::string_view FsckProblemKindName(FsckProblem::Kind kind) {
  switch (kind) {
    case FsckProblem::Kind::kDamagedPack:
      return "damaged pack";
    case FsckProblem::Kind::kCorrupt:
      return "corrupt";
    case FsckProblem::Kind::kMalformed:
      return "malformed";
    case FsckProblem::Kind::kMissing:
      return "missing";
    case FsckProblem::Kind::kSizeMismatch:
      return "size mismatch";
  }
  return "unknown";
}

std::string FsckProblem::ToString() const {
  std::string out(FsckProblemKindName(kind));
  if (kind == Kind::kDamagedPack) {
    if (!pack.empty()) out += " " + pack;
  } else {
    out += " " + type + " " + id.ToHex();
    if (!pack.empty()) out += " in pack " + pack + " at offset " + std::to_string(offset);
  }
  out += ": " + detail;
  for (size_t i = 0; i < paths.size(); ++i) out += (i == 0 ? "; used by " : ", ") + paths[i];
  if (more_paths) out += ", ...";
  return out;
}

FsckReport CheckStore(const PackStore& store, std::span<const ObjectId> roots,
                      const FsckOptions& options) {
  FsckReport report;
  ProblemList problems(&report.problems);
  for (const DamagedPack& d : store.damaged_packs()) {
    problems.Add({FsckProblem::Kind::kDamagedPack,
                  ObjectId(),
                  "",
                  PackFileName(d.sequence),
                  0,
                  d.status.message(),
                  {},
                  false});
  }
  for (const PackInfo& pack : store.ListPacks()) {
    ++report.packs_checked;
    CheckPackEntries(store, pack, &report, &problems);
  }
  Reachability reach(store);
  reach.MarkFromCommits(roots);
  report.objects_reachable = reach.marked().size();
  report.commits_reachable = reach.commits().size();
  for (const ReachabilityProblem& p : reach.problems()) {
    problems.Add(FromReachability(store, p));
  }
  AddPaths(store, roots, reach, problems, options, &report);
  return report;
}

FsckReport CheckStoreDirectory(const std::string& dir, std::span<const ObjectId> roots,
                               const FsckOptions& options) {
  PackStoreOptions open_options;
  open_options.read_only = true;
  open_options.skip_damaged_packs = true;
  Result<std::unique_ptr<PackStore>> store = PackStore::Open(dir, open_options);
  if (!store.ok()) {
    FsckReport report;
    report.problems.push_back({FsckProblem::Kind::kDamagedPack,
                               ObjectId(),
                               "",
                               "",
                               0,
                               "cannot open store " + dir + ": " + store.status().message(),
                               {},
                               false});
    return report;
  }
  return CheckStore(**store, roots, options);
}

}  // namespace paddock::storage
