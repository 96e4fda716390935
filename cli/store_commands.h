// `paddock store ...`: the versioned store of paddockd through /api/v1/repos and /api/v1/store.
//
// Host directories travel two ways. Over the unix socket the daemon reads and writes them itself,
// as the caller (it knows the caller's uid), so the CLI only sends absolute paths. Over TCP a
// caller may not name host paths: the CLI packs the directory into a tar stream itself for a
// commit, and downloads the archive and unpacks it for a checkout.
#pragma once

#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/output.h"
#include "cli/store_format.h"

namespace paddock::cli {

// What every command below gets, already checked by the command line (store_cli.cc): names are
// valid, host paths absolute.
struct StoreCommitArgs {
  RepoRef target;  // rev: the branch, empty for the daemon's default
  std::string dir;
  std::string message;
  std::optional<Json> metadata;
  bool allow_empty = false;
};

struct StoreImportArgs {
  RepoRef target;
  std::string file;  // "-": standard input
  std::string message;
};

struct StoreBranchArgs {
  std::string repo;
  std::string name;    // empty: list
  std::string rev;     // where a new branch starts (branch: default "main")
  std::string remove;  // -d NAME
};

struct StoreCheckoutArgs {
  RepoRef source;
  std::string dir;
  bool read_only = false;
};

// GET /api/v1/repos.
ExitCode RunStoreList(const CommandContext& context);
// POST /api/v1/repos.
ExitCode RunStoreInit(const CommandContext& context, const std::string& repo);
// DELETE /api/v1/repos/{repo}.
ExitCode RunStoreRemove(const CommandContext& context, const std::string& repo);
// POST .../commits: the directory's path over the socket, a tar of it over TCP.
ExitCode RunStoreCommit(const CommandContext& context, const StoreCommitArgs& args);
// POST .../commits with a tar archive from a file or standard input.
ExitCode RunStoreImport(const CommandContext& context, const StoreImportArgs& args);
// GET .../commits?rev=&limit=, newest first.
ExitCode RunStoreLog(const CommandContext& context, const RepoRef& ref, int64_t limit,
                     bool oneline);
// GET .../commits/{rev}, and what it changed against its first parent.
ExitCode RunStoreShow(const CommandContext& context, const RepoRef& ref);
// GET .../tree/{rev}?path=&recursive=.
ExitCode RunStoreLs(const CommandContext& context, const RepoRef& ref, const std::string& path,
                    bool recursive);
// GET .../files/{rev}?path=, raw bytes to standard output.
ExitCode RunStoreCat(const CommandContext& context, const RepoRef& ref, const std::string& path,
                     const std::optional<ByteRange>& range);
// GET .../diff?from=&to=, or ?from=&path= when `dir` (absolute) is set.
ExitCode RunStoreDiff(const CommandContext& context, const RepoRef& from, const std::string& to,
                      const std::string& dir);
// Lists, creates or deletes branches (`tags`: tags).
ExitCode RunStoreRefs(const CommandContext& context, const StoreBranchArgs& args, bool tags);
// POST .../merge; a conflict prints the paths and exits 4.
ExitCode RunStoreMerge(const CommandContext& context, const RepoRef& into, const std::string& from,
                       const std::string& message);
// POST .../revert.
ExitCode RunStoreRevert(const CommandContext& context, const RepoRef& branch,
                        const std::string& rev);
// POST .../checkout over the socket; the archive, unpacked here, over TCP.
ExitCode RunStoreCheckout(const CommandContext& context, const StoreCheckoutArgs& args);
// GET .../archive/{rev} to a file (written beside it, renamed when complete) or standard output.
ExitCode RunStoreExport(const CommandContext& context, const RepoRef& ref, const std::string& file);
// POST /api/v1/store/gc.
ExitCode RunStoreGc(const CommandContext& context, bool dry_run);
// GET /api/v1/store/fsck; exits 1 when the store is damaged.
ExitCode RunStoreFsck(const CommandContext& context);

}  // namespace paddock::cli
