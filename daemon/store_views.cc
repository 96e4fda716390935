#include "daemon/store_views.h"

#include <cstdio>
#include <ctime>

namespace paddock {

std::string FormatTimeMs(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc;
  ::gmtime_r(&seconds, &utc);
  char buf[48];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string_view EntryKindName(storage::EntryKind kind) {
  switch (kind) {
    case storage::EntryKind::kFile:
      return "file";
    case storage::EntryKind::kExecutable:
      return "executable";
    case storage::EntryKind::kSymlink:
      return "symlink";
    case storage::EntryKind::kDirectory:
      return "directory";
  }
  return "file";
}

nlohmann::json CommitJson(const storage::CommitInfo& commit) {
  nlohmann::json parents = nlohmann::json::array();
  for (const storage::ObjectId& parent : commit.commit.parents) parents.push_back(parent.ToHex());
  // The store accepts only JSON objects as metadata; a value that does not parse (written by
  // something else) is sent as null rather than failing the whole log.
  nlohmann::json metadata = nullptr;
  if (!commit.commit.metadata_json.empty()) {
    metadata = nlohmann::json::parse(commit.commit.metadata_json, nullptr, false);
    if (metadata.is_discarded()) metadata = nullptr;
  }
  return {{"id", commit.id.ToHex()},          {"tree", commit.commit.tree.ToHex()},
          {"parents", std::move(parents)},    {"author", commit.commit.author},
          {"message", commit.commit.message}, {"time", FormatTimeMs(commit.commit.time_ms)},
          {"metadata", std::move(metadata)}};
}

nlohmann::json EntryJson(const storage::TreeEntry& entry) {
  const bool symlink = entry.kind == storage::EntryKind::kSymlink;
  return {{"kind", EntryKindName(entry.kind)},
          {"size", entry.size},
          {"id", symlink ? nlohmann::json(nullptr) : nlohmann::json(entry.id.ToHex())},
          {"target", symlink ? nlohmann::json(entry.target) : nlohmann::json(nullptr)}};
}

nlohmann::json ListEntryJson(const storage::ListEntry& entry) {
  nlohmann::json out = EntryJson(entry.entry);
  out["path"] = entry.path;
  return out;
}

nlohmann::json ChangeJson(const storage::TreeChange& change) {
  const bool renamed = change.kind == storage::ChangeKind::kRenamed;
  return {{"kind", storage::ChangeKindName(change.kind)},
          {"path", change.path},
          {"old_path", renamed ? nlohmann::json(change.old_path) : nlohmann::json(nullptr)},
          {"old", change.old_entry ? EntryJson(*change.old_entry) : nlohmann::json(nullptr)},
          {"new", change.new_entry ? EntryJson(*change.new_entry) : nlohmann::json(nullptr)}};
}

nlohmann::json ConflictJson(const storage::MergeConflict& conflict) {
  return {{"path", conflict.path}, {"kind", storage::ConflictKindName(conflict.kind)}};
}

nlohmann::json RefJson(const storage::RefEntry& ref) {
  return {{"name", ref.name}, {"commit", ref.target.ToHex()}};
}

nlohmann::json CommitOutcomeJson(const storage::CommitOutcome& outcome) {
  const storage::SnapshotResult& s = outcome.snapshot;
  return {
      {"changed", outcome.changed},     {"files", s.files},      {"directories", s.directories},
      {"symlinks", s.symlinks},         {"bytes", s.bytes},      {"bytes_stored", s.bytes_stored},
      {"files_hashed", s.files_hashed}, {"warnings", s.warnings}};
}

nlohmann::json CheckoutJson(const storage::CheckoutResult& result) {
  return {{"files", result.files},         {"directories", result.directories},
          {"symlinks", result.symlinks},   {"bytes", result.bytes},
          {"reflinked", result.reflinked}, {"hardlinked", result.hardlinked},
          {"copied", result.copied}};
}

nlohmann::json GcReportJson(const storage::GcReport& report, bool dry_run) {
  return {{"dry_run", dry_run},
          {"objects_live", report.objects_live},
          {"bytes_live", report.bytes_live},
          {"objects_reclaimed", report.objects_reclaimed},
          {"bytes_reclaimed", report.bytes_reclaimed},
          {"packs_deleted", report.packs_deleted},
          {"packs_rewritten", report.packs_rewritten},
          {"packs_created", report.packs_created},
          {"packs_in_use", report.packs_in_use},
          {"objects_dead_kept", report.objects_dead_kept},
          {"seconds", report.seconds}};
}

nlohmann::json FsckReportJson(const storage::FsckReport& report) {
  nlohmann::json problems = nlohmann::json::array();
  for (const storage::FsckProblem& p : report.problems) {
    const bool pack_problem = p.kind == storage::FsckProblem::Kind::kDamagedPack;
    problems.push_back(
        {{"kind", storage::FsckProblemKindName(p.kind)},
         {"type", p.type},
         {"id", pack_problem ? nlohmann::json(nullptr) : nlohmann::json(p.id.ToHex())},
         {"pack", p.pack},
         {"offset", p.offset},
         {"detail", p.detail},
         {"paths", p.paths},
         {"more_paths", p.more_paths}});
  }
  return {{"ok", report.ok()},
          {"objects", report.objects_checked},
          {"packs", report.packs_checked},
          {"objects_reachable", report.objects_reachable},
          {"commits_reachable", report.commits_reachable},
          {"problems", std::move(problems)}};
}

}  // namespace paddock
