// `paddock store`: reading its arguments (REPO@REF, --range, --metadata) and printing the API's
// answers for people. Pure functions, so that parsing and layout are tested without a daemon.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "cli/output.h"

namespace paddock::cli {

// A repository and, optionally, a revision in it, as typed: "data" or "data@main~2".
struct RepoRef {
  std::string repo;
  std::string rev;  // empty when no '@' was given
};

// What an argument may say after the '@'.
enum class RevisionUse {
  kNone,            // REPO only (init, branch, tag)
  kOptional,        // REPO[@REF] (log)
  kRequired,        // REPO@REF (show, ls, cat, diff, checkout, export)
  kOptionalBranch,  // REPO[@BRANCH] (commit, import): a branch name, no revision suffixes
  kRequiredBranch,  // REPO@BRANCH (merge, revert)
};

// Splits at the first '@' (repository names cannot contain one; branch names may) and checks
// both parts. kInvalidArgument with a message for a usage error, e.g. "give a revision after
// '@' (data@main)".
Result<RepoRef> ParseRepoRef(std::string_view text, RevisionUse use);

// 1..100 of [A-Za-z0-9._-], not starting with '.' or '-' (the daemon's rule, checked early so
// that a typo is a usage error and not an HTTP round trip).
Status CheckRepoName(std::string_view name);

// A branch or tag name: the base of a revision, without suffixes; no spaces, control characters
// or any of ~^:?*[\ (the characters the daemon's revision syntax and name rules reserve).
Status CheckRefName(std::string_view name);

// A revision: a ref name, a tag or a commit id (prefix), then any of ~, ~N, ^, ^N.
Status CheckRevision(std::string_view rev);

// `store cat --range`: "A-B" (bytes A to B, both included, as HTTP counts) or "A-" (from A to
// the end of the file).
struct ByteRange {
  uint64_t first = 0;
  std::optional<uint64_t> last;
};
Result<ByteRange> ParseByteRange(std::string_view text);
// "Range: bytes=A-B" for the request.
std::string RangeHeader(const ByteRange& range);

// `--metadata`: a JSON object, kept as typed.
Result<Json> ParseMetadata(std::string_view text);

// Whether the second argument of `store diff` names a host directory rather than REPO@REF: any
// text with a '/' in it, or without an '@' (so "./a@b" is the directory a@b).
bool NamesDirectory(std::string_view text);

// The first 12 hex digits of a commit or object id, enough to be unique and to type again.
std::string ShortId(std::string_view id);

// A commit's time as "2026-11-03 12:34:56 UTC": from milliseconds since the epoch or an RFC
// 3339 string; anything else as DisplayValue shows it.
std::string FormatCommitTime(const Json& time);

// `store ls` without a repository: {"repos": [...]} as a table (NAME, BRANCHES, TAGS, CREATED).
std::string FormatRepoList(const Json& body);

// `store log`: {"commits": [...]}, newest first, each as `git log` shows one (short id, merge
// parents, author, date, indented message), or one line each with `oneline`.
std::string FormatLog(const Json& body, bool oneline);

// `store show`: one commit's header as FormatLog writes it, plus its tree and metadata.
std::string FormatCommit(const Json& commit);

// `store ls REPO@REF`: {"entries": [...]} as `ls -l` would: mode, size, path (-> target).
std::string FormatTree(const Json& body);

// `store diff`: {"changes": [...]} as "A path", "M path", "D path", "T path" (the kind changed,
// e.g. a file became a symlink) and "R old -> new".
std::string FormatChanges(const Json& body);

// `store branch` / `store tag` without a name: {member: [...]} as "name  short-id" lines.
std::string FormatRefs(const Json& body, std::string_view member);

// `store commit`, `store import`, `store revert`: "[main 3fa94c1b2d3e] message", then what was
// read and stored, or that nothing changed.
std::string FormatCommitOutcome(const Json& body, std::string_view branch);

// `store merge`: fast-forward, up to date, or the new merge commit.
std::string FormatMergeOutcome(const Json& body, std::string_view branch);

// The "conflicts" of a merge-conflict problem as "CONFLICT (kind): path" lines; "" when it has
// none.
std::string FormatConflicts(const Json& problem);

// `store gc`: what was (or, dry run, would be) reclaimed and what stays.
std::string FormatGcReport(const Json& report, bool dry_run);

// `store fsck`: "store ok: ..." or one line per problem with the paths using each.
std::string FormatFsckReport(const Json& report);

// Whether an fsck report says the store is damaged: "ok" false or any problem listed.
bool FsckFoundDamage(const Json& report);

}  // namespace paddock::cli
