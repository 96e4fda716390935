// JSON forms of the versioned store's values, as the /api/v1/repos and /api/v1/store routes send
// them. The shapes are the API's contract: docs/api.md ("Repositories") describes them and
// daemon/openapi.json has their schemas (Commit, TreeEntry, Change, ...). Ids are 64 lower-case
// hex digits; times are RFC 3339 in UTC with milliseconds. Pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "storage/store.h"

namespace paddock {

// "2026-11-23T15:04:05.123Z" for milliseconds since the Unix epoch.
std::string FormatTimeMs(int64_t unix_ms);

// "file", "executable", "symlink", "directory".
std::string_view EntryKindName(storage::EntryKind kind);

// {"id", "tree", "parents": [ids], "author", "message", "time", "metadata": object or null}
nlohmann::json CommitJson(const storage::CommitInfo& commit);

// {"kind", "size", "id", "target"}: `size` is a file's length (0 otherwise), `id` the file's or
// directory's object id (null for a symlink), `target` a symlink's target (null otherwise).
nlohmann::json EntryJson(const storage::TreeEntry& entry);

// EntryJson with "path" (relative to the tree's root) first.
nlohmann::json ListEntryJson(const storage::ListEntry& entry);

// {"kind": "added|modified|deleted|renamed|type_changed", "path", "old_path" (renames; null
// otherwise), "old": EntryJson or null, "new": EntryJson or null}
nlohmann::json ChangeJson(const storage::TreeChange& change);

// {"path", "kind": "both_modified|modify_delete|add_add|file_directory"}
nlohmann::json ConflictJson(const storage::MergeConflict& conflict);

// {"name", "commit": id}
nlohmann::json RefJson(const storage::RefEntry& ref);

// The counts of a commit: {"changed", "files", "directories", "symlinks", "bytes",
// "bytes_stored", "files_hashed", "warnings": [...]} (the commit itself is added by the caller).
nlohmann::json CommitOutcomeJson(const storage::CommitOutcome& outcome);

// {"files", "directories", "symlinks", "bytes", "reflinked", "hardlinked", "copied"}
nlohmann::json CheckoutJson(const storage::CheckoutResult& result);

// Every GcReport counter by its field name, plus "dry_run".
nlohmann::json GcReportJson(const storage::GcReport& report, bool dry_run);

// {"ok", "objects", "packs", "objects_reachable", "commits_reachable", "problems": [{"kind",
// "type", "id" (null for a damaged pack), "pack", "offset", "detail", "paths", "more_paths"}]}
nlohmann::json FsckReportJson(const storage::FsckReport& report);

}  // namespace paddock
