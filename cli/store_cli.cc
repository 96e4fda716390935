#include "cli/store_cli.h"

#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "cli/exit_code.h"
#include "cli/sandbox_options.h"
#include "cli/store_format.h"

namespace paddock::cli {
namespace {

constexpr char kStoreFooter[] =
    "\nREPO@REF names a revision: a branch, a tag or a commit id (6+ hex digits), followed by\n"
    "any of ~N (N-th first-parent ancestor) and ^N (N-th parent), e.g. data@main~2. The first\n"
    "'@' splits: repository names cannot contain one.\n"
    "\nOver the socket the daemon reads and writes host directories as you. With --url it may\n"
    "not: commit sends a tar of DIR, checkout downloads the archive and unpacks it here.\n";

// The daemon's largest page of commits.
constexpr int64_t kMaxLogCount = 100000;

// The argument `name` as REPO[@REF], or a usage error naming it.
RepoRef ParseRepoArgument(const std::string& name, const std::string& text, RevisionUse use) {
  Result<RepoRef> parsed = ParseRepoRef(text, use);
  if (!parsed.ok()) throw CLI::ValidationError(name, parsed.status().message());
  return std::move(*parsed);
}

// An existing host directory, absolute with symlinks resolved: what the daemon reads as us.
std::string ExistingDirectory(const std::string& name, const std::string& text) {
  Result<std::string> resolved = ResolveDirectory(text);
  if (!resolved.ok()) throw CLI::ValidationError(name, resolved.status().message());
  return std::move(*resolved);
}

// A directory that may not exist yet (a checkout target), made absolute: the daemon cannot know
// our working directory. Existing parts are resolved, the rest kept as typed.
std::string TargetDirectory(const std::string& name, const std::string& text) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(text, error);
  if (error) throw CLI::ValidationError(name, text + ": " + error.message());
  std::filesystem::path resolved = std::filesystem::weakly_canonical(absolute, error);
  if (error) throw CLI::ValidationError(name, text + ": " + error.message());
  std::string path = resolved.string();
  while (path.size() > 1 && path.ends_with('/')) path.pop_back();
  return path;
}

void CheckRefArgument(const std::string& name, const std::string& text, bool revision) {
  const Status checked = revision ? CheckRevision(text) : CheckRefName(text);
  if (!checked.ok()) throw CLI::ValidationError(name, checked.message());
}

template <typename Run>
void SetCommand(CLI::App* sub, Command& command, Run make) {
  sub->callback([&command, make] { command = make(); });
}

void AddRepositoryCommands(CLI::App& store, StoreArgs& args, Command& command) {
  CLI::App* init = store.add_subcommand("init", "Create a repository");
  init->add_option("REPO", args.target, "Repository name: 1-100 of [A-Za-z0-9._-]")->required();
  SetCommand(init, command, [&args] {
    const RepoRef ref = ParseRepoArgument("REPO", args.target, RevisionUse::kNone);
    return Command([ref](const CommandContext& c) { return RunStoreInit(c, ref.repo); });
  });

  CLI::App* remove = store.add_subcommand("rm", "Delete a repository (its data goes at gc)");
  remove->add_option("REPO", args.target, "Repository name")->required();
  SetCommand(remove, command, [&args] {
    const RepoRef ref = ParseRepoArgument("REPO", args.target, RevisionUse::kNone);
    return Command([ref](const CommandContext& c) { return RunStoreRemove(c, ref.repo); });
  });
}

void AddCommitCommands(CLI::App& store, StoreArgs& args, Command& command) {
  CLI::App* commit = store.add_subcommand("commit", "Commit a host directory onto a branch");
  commit->add_option("REPO[@BRANCH]", args.target, "Repository, and branch (default main)")
      ->required();
  commit->add_option("DIR", args.second, "Directory to commit")->required();
  commit->add_option("-m,--message", args.message, "Commit message")->required();
  commit->add_option("--metadata", args.metadata, "JSON object kept with the commit")
      ->type_name("JSON");
  commit->add_flag("--allow-empty", args.allow_empty, "Commit even when nothing changed");
  SetCommand(commit, command, [&args] {
    StoreCommitArgs typed;
    typed.target = ParseRepoArgument("REPO[@BRANCH]", args.target, RevisionUse::kOptionalBranch);
    typed.dir = ExistingDirectory("DIR", args.second);
    typed.message = args.message;
    if (!args.metadata.empty()) {
      Result<Json> metadata = ParseMetadata(args.metadata);
      if (!metadata.ok()) throw CLI::ValidationError("--metadata", metadata.status().message());
      typed.metadata = std::move(*metadata);
    }
    typed.allow_empty = args.allow_empty;
    return Command([typed](const CommandContext& c) { return RunStoreCommit(c, typed); });
  });

  CLI::App* import = store.add_subcommand("import", "Commit a tar archive onto a branch");
  import->add_option("REPO[@BRANCH]", args.target, "Repository, and branch (default main)")
      ->required();
  import->add_option("FILE", args.second, "Tar archive (plain, gzip, xz or zstd), - for stdin")
      ->required();
  import->add_option("-m,--message", args.message, "Commit message")->required();
  SetCommand(import, command, [&args] {
    StoreImportArgs typed;
    typed.target = ParseRepoArgument("REPO[@BRANCH]", args.target, RevisionUse::kOptionalBranch);
    typed.file = args.second;
    typed.message = args.message;
    return Command([typed](const CommandContext& c) { return RunStoreImport(c, typed); });
  });
}

void AddHistoryCommands(CLI::App& store, StoreArgs& args, Command& command) {
  CLI::App* log = store.add_subcommand("log", "List commits, newest first");
  log->add_option("REPO[@REF]", args.target, "Repository, and where to start (default main)")
      ->required();
  log->add_option("-n,--max-count", args.limit, "Show at most N commits")
      ->check(CLI::Range(int64_t{1}, kMaxLogCount))
      ->type_name("N");
  log->add_flag("--oneline", args.oneline, "One line per commit: short id and subject");
  SetCommand(log, command, [&args] {
    const RepoRef ref = ParseRepoArgument("REPO[@REF]", args.target, RevisionUse::kOptional);
    return Command([ref, limit = args.limit, oneline = args.oneline](const CommandContext& c) {
      return RunStoreLog(c, ref, limit, oneline);
    });
  });

  CLI::App* show = store.add_subcommand("show", "Show a commit and what it changed");
  show->add_option("REPO@REF", args.target, "The commit")->required();
  SetCommand(show, command, [&args] {
    const RepoRef ref = ParseRepoArgument("REPO@REF", args.target, RevisionUse::kRequired);
    return Command([ref](const CommandContext& c) { return RunStoreShow(c, ref); });
  });

  CLI::App* diff =
      store.add_subcommand("diff", "Compare two commits, or a commit with a directory");
  diff->add_option("REPO@A", args.target, "The old side")->required();
  diff->add_option("REPO@B|DIR", args.second,
                   "The new side: a commit, or a host directory (./DIR when it has an '@')")
      ->required();
  SetCommand(diff, command, [&args] {
    const RepoRef from = ParseRepoArgument("REPO@A", args.target, RevisionUse::kRequired);
    std::string to;
    std::string dir;
    if (NamesDirectory(args.second)) {
      dir = ExistingDirectory("DIR", args.second);
    } else {
      const RepoRef other = ParseRepoArgument("REPO@B", args.second, RevisionUse::kRequired);
      if (other.repo != from.repo) {
        throw CLI::ValidationError("REPO@B", "compare commits of one repository (" + from.repo +
                                                 ", not " + other.repo + ")");
      }
      to = other.rev;
    }
    return Command(
        [from, to, dir](const CommandContext& c) { return RunStoreDiff(c, from, to, dir); });
  });
}

void AddTreeCommands(CLI::App& store, StoreArgs& args, Command& command) {
  CLI::App* ls = store.add_subcommand("ls", "List repositories, or the files of a commit");
  ls->add_option("REPO@REF", args.target, "The commit (none: list the repositories)");
  ls->add_option("PATH", args.second, "Directory or file inside the commit (default: its root)");
  ls->add_flag("-r,--recursive", args.recursive, "Every file below, not only direct entries");
  SetCommand(ls, command, [&args] {
    if (args.target.empty()) {
      if (args.recursive) throw CLI::ValidationError("--recursive", "needs REPO@REF");
      return Command(RunStoreList);
    }
    const RepoRef ref = ParseRepoArgument("REPO@REF", args.target, RevisionUse::kRequired);
    return Command([ref, path = args.second, recursive = args.recursive](const CommandContext& c) {
      return RunStoreLs(c, ref, path, recursive);
    });
  });

  CLI::App* cat = store.add_subcommand("cat", "Write a file of a commit to standard output");
  cat->add_option("REPO@REF", args.target, "The commit")->required();
  cat->add_option("PATH", args.second, "File inside the commit")->required();
  cat->add_option("--range", args.range, "Only bytes FIRST to LAST (from 0, both included)")
      ->type_name("FIRST-[LAST]");
  SetCommand(cat, command, [&args] {
    const RepoRef ref = ParseRepoArgument("REPO@REF", args.target, RevisionUse::kRequired);
    std::optional<ByteRange> range;
    if (!args.range.empty()) {
      Result<ByteRange> parsed = ParseByteRange(args.range);
      if (!parsed.ok()) throw CLI::ValidationError("--range", parsed.status().message());
      range = *parsed;
    }
    return Command([ref, path = args.second, range](const CommandContext& c) {
      return RunStoreCat(c, ref, path, range);
    });
  });
}

void AddRefCommand(CLI::App& store, StoreArgs& args, Command& command, bool tags) {
  const std::string noun = tags ? "tag" : "branch";
  CLI::App* sub = store.add_subcommand(
      noun, tags ? "List, create or delete tags (immutable)" : "List, create or delete branches");
  sub->add_option("REPO", args.target, "Repository")->required();
  CLI::Option* name = sub->add_option("NAME", args.second, "The new " + noun);
  sub->add_option("REV", args.third,
                  tags ? "The commit it names" : "Where it starts (default main)");
  sub->add_option("-d,--delete", args.remove, "Delete this " + noun)
      ->type_name("NAME")
      ->excludes(name);
  SetCommand(sub, command, [&args, tags] {
    StoreBranchArgs typed;
    typed.repo = ParseRepoArgument("REPO", args.target, RevisionUse::kNone).repo;
    typed.name = args.second;
    typed.rev = args.third;
    typed.remove = args.remove;
    if (!typed.name.empty()) CheckRefArgument("NAME", typed.name, /*revision=*/false);
    if (!typed.rev.empty()) CheckRefArgument("REV", typed.rev, /*revision=*/true);
    if (!typed.remove.empty()) CheckRefArgument("--delete", typed.remove, /*revision=*/false);
    if (tags && !typed.name.empty() && typed.rev.empty()) {
      throw CLI::ValidationError("REV", "a new tag needs the commit it names");
    }
    return Command([typed, tags](const CommandContext& c) { return RunStoreRefs(c, typed, tags); });
  });
}

void AddMergeCommands(CLI::App& store, StoreArgs& args, Command& command) {
  CLI::App* merge = store.add_subcommand("merge", "Merge a revision into a branch");
  merge->add_option("REPO@BRANCH", args.target, "The branch to merge into")->required();
  merge->add_option("FROM", args.second, "The revision to merge")->required();
  merge->add_option("-m,--message", args.message, "Message of a merge commit");
  merge->footer(
      std::string("\nWhen files conflict nothing is merged: their paths are printed and the\n"
                  "exit status is 4.\n\n") +
      kExitStatusHelp);
  SetCommand(merge, command, [&args] {
    const RepoRef into =
        ParseRepoArgument("REPO@BRANCH", args.target, RevisionUse::kRequiredBranch);
    CheckRefArgument("FROM", args.second, /*revision=*/true);
    return Command([into, from = args.second, message = args.message](const CommandContext& c) {
      return RunStoreMerge(c, into, from, message);
    });
  });

  CLI::App* revert = store.add_subcommand("revert", "Commit the undoing of a revision");
  revert->add_option("REPO@BRANCH", args.target, "The branch to commit onto")->required();
  revert->add_option("REV", args.second, "The commit to undo")->required();
  SetCommand(revert, command, [&args] {
    const RepoRef branch =
        ParseRepoArgument("REPO@BRANCH", args.target, RevisionUse::kRequiredBranch);
    CheckRefArgument("REV", args.second, /*revision=*/true);
    return Command([branch, rev = args.second](const CommandContext& c) {
      return RunStoreRevert(c, branch, rev);
    });
  });
}

void AddTransferCommands(CLI::App& store, StoreArgs& args, Command& command) {
  CLI::App* checkout = store.add_subcommand("checkout", "Write a commit's files into a directory");
  checkout->add_option("REPO@REF", args.target, "The commit")->required();
  checkout->add_option("DIR", args.second, "Target: absent (created) or an empty directory")
      ->required();
  checkout->add_flag("--read-only", args.read_only,
                     "Files read-only (0444/0555), sharing the daemon's cache where it can");
  SetCommand(checkout, command, [&args] {
    StoreCheckoutArgs typed;
    typed.source = ParseRepoArgument("REPO@REF", args.target, RevisionUse::kRequired);
    typed.dir = TargetDirectory("DIR", args.second);
    typed.read_only = args.read_only;
    return Command([typed](const CommandContext& c) { return RunStoreCheckout(c, typed); });
  });

  CLI::App* export_cmd = store.add_subcommand("export", "Write a commit as a tar archive");
  export_cmd->add_option("REPO@REF", args.target, "The commit")->required();
  export_cmd->add_option("FILE", args.second, "Archive to write, - for stdout")->required();
  SetCommand(export_cmd, command, [&args] {
    const RepoRef ref = ParseRepoArgument("REPO@REF", args.target, RevisionUse::kRequired);
    return Command([ref, file = args.second](const CommandContext& c) {
      return RunStoreExport(c, ref, file);
    });
  });
}

void AddMaintenanceCommands(CLI::App& store, StoreArgs& args, Command& command) {
  CLI::App* gc = store.add_subcommand("gc", "Reclaim unreferenced data (admin only)");
  gc->add_flag("--dry-run", args.dry_run, "Only report what would be reclaimed");
  SetCommand(gc, command, [&args] {
    return Command(
        [dry_run = args.dry_run](const CommandContext& c) { return RunStoreGc(c, dry_run); });
  });

  CLI::App* fsck = store.add_subcommand("fsck", "Verify every object of the store (admin only)");
  fsck->footer(
      std::string("\nExit status 1 when damage is found; each problem names the paths using "
                  "it.\n\n") +
      kExitStatusHelp);
  SetCommand(fsck, command, [] { return Command(RunStoreFsck); });
}

}  // namespace

void AddStoreCommands(CLI::App& app, StoreArgs& args, Command& command) {
  CLI::App* store =
      app.add_subcommand("store", "Versioned data sets: repositories of commits, branches, tags");
  // The sub-commands inherit it; the exit statuses are the same as everywhere.
  store->footer(std::string(kStoreFooter) + "\n" + kExitStatusHelp);
  AddRepositoryCommands(*store, args, command);
  AddCommitCommands(*store, args, command);
  AddHistoryCommands(*store, args, command);
  AddTreeCommands(*store, args, command);
  AddRefCommand(*store, args, command, /*tags=*/false);
  AddRefCommand(*store, args, command, /*tags=*/true);
  AddMergeCommands(*store, args, command);
  AddTransferCommands(*store, args, command);
  AddMaintenanceCommands(*store, args, command);
}

}  // namespace paddock::cli
