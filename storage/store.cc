#include "storage/store.h"

#include <dirent.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <utility>

#include "base/clock.h"
#include "base/file_util.h"
#include "base/log.h"
#include "storage/commit_writer.h"
#include "storage/ref_names.h"
#include "storage/tree_loader.h"

namespace paddock::storage {
namespace {

constexpr mode_t kDirectoryMode = 0750;
// Conflicting paths named in a kConflict message; the rest are counted.
constexpr size_t kConflictsInMessage = 20;
// How often Merge and Revert start over when the branch moves under them.
constexpr int kMaxAttempts = 100;

// A full disk is the one store failure users can fix themselves, so it gets a plain message.
Status ExplainDiskFull(const Status& s, const std::string& dir) {
  if (s.code() != StatusCode::kResourceExhausted) return s;
  return Status(StatusCode::kResourceExhausted,
                "the disk holding the store " + dir +
                    " is full: nothing was committed and no branch moved; free space and retry (" +
                    s.message() + ")");
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string DescribeConflicts(const std::vector<MergeConflict>& conflicts) {
  std::string text = std::to_string(conflicts.size()) + " conflicting path" +
                     (conflicts.size() == 1 ? "" : "s") + ": ";
  for (size_t i = 0; i < conflicts.size() && i < kConflictsInMessage; ++i) {
    if (i > 0) text += ", ";
    text += conflicts[i].path + " (" + std::string(ConflictKindName(conflicts[i].kind)) + ")";
  }
  if (conflicts.size() > kConflictsInMessage) {
    text += " and " + std::to_string(conflicts.size() - kConflictsInMessage) + " more";
  }
  return text;
}

// Cheap checks of a commit request, so that a bad one fails before a long snapshot.
Status CheckRequest(const CommitRequest& request) {
  PADDOCK_RETURN_IF_ERROR(ValidateBranchName(request.branch));
  Commit probe{ObjectId(), {}, 0, request.author, request.message, request.metadata_json};
  return EncodeCommit(probe).status();
}

}  // namespace

struct Store::Impl {
  std::string dir;
  StoreOptions options;
  std::unique_ptr<PackStore> packs;
  std::unique_ptr<RefDb> refs;
  std::unique_ptr<CommitWriter> writer;
  // Checkouts read the file cache (shared); Gc's eviction must not run meanwhile (exclusive).
  std::shared_mutex file_cache_mu;
  std::mutex gc_mu;  // one collection at a time

  std::string FilesDir() const { return JoinPath(dir, "files"); }
  std::string StatCacheDir(const FsIdentity* identity) const;

  Status RequireRepo(std::string_view repo) const { return refs->ListBranches(repo).status(); }
  Result<Commit> ReadCommit(const ObjectId& id) const { return TreeLoader(*packs).ReadCommit(id); }
  Result<ObjectId> TreeOf(std::string_view repo, std::string_view rev) const;
  Result<ObjectId> TreeOf(const ObjectId& commit) const;
  // Resolve() for a commit that something is about to refer to: its object must still exist.
  Result<ObjectId> ResolveStored(std::string_view repo, std::string_view rev) const;
  Result<SnapshotResult> Snapshot(const std::string& path, const FsIdentity* identity);
  Result<MergeOutcome> MergeOnce(std::string_view repo, std::string_view into_branch,
                                 std::string_view from_rev, const std::string& message,
                                 const std::string& author);
  Result<CommitOutcome> RevertOnce(std::string_view repo, std::string_view branch,
                                   const ObjectId& target, const std::string& author,
                                   std::vector<MergeConflict>* conflicts);
  Result<uint64_t> EvictUnstoredCacheFiles();
};

// A cache hit skips opening the file, so one identity's cache must never answer for another:
// each identity (uid, gid and the set of groups) gets a directory of its own.
std::string Store::Impl::StatCacheDir(const FsIdentity* identity) const {
  const std::string root = JoinPath(dir, "statcache");
  if (identity == nullptr) return JoinPath(root, "self");
  std::vector<gid_t> groups = identity->groups;
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  std::string list;
  for (gid_t g : groups) list += std::to_string(g) + ",";
  return JoinPath(root, std::to_string(identity->uid) + "-" + std::to_string(identity->gid) + "-" +
                            ObjectId::Hash(list).ToHex().substr(0, 16));
}

Result<ObjectId> Store::Impl::TreeOf(std::string_view repo, std::string_view rev) const {
  Result<ObjectId> id = refs->Resolve(repo, rev);
  if (!id.ok()) return id.status();
  return TreeOf(*id);
}

Result<ObjectId> Store::Impl::TreeOf(const ObjectId& commit) const {
  Result<Commit> read = ReadCommit(commit);
  if (!read.ok()) return read.status();
  return read->tree;
}

Result<ObjectId> Store::Impl::ResolveStored(std::string_view repo, std::string_view rev) const {
  Result<ObjectId> id = refs->Resolve(repo, rev);
  if (!id.ok()) return id.status();
  // Contains() also marks the commit's pack as in use, so a concurrent Gc keeps it.
  if (!packs->Contains(*id)) {
    return Status::NotFound("commit " + id->ToHex() + " (" + std::string(rev) +
                            ") is no longer in the store: nothing referred to it, and garbage "
                            "collection removed it");
  }
  return id;
}

Result<SnapshotResult> Store::Impl::Snapshot(const std::string& path, const FsIdentity* identity) {
  SnapshotOptions snapshot_options;
  snapshot_options.stat_cache_dir = StatCacheDir(identity);
  snapshot_options.threads = options.threads;
  snapshot_options.identity = identity;
  Result<SnapshotResult> snapshot = SnapshotDirectory(packs.get(), path, snapshot_options);
  if (!snapshot.ok()) return ExplainDiskFull(snapshot.status(), dir);
  return snapshot;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir, const StoreOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(dir, kDirectoryMode));
  PackStoreOptions pack_options;
  pack_options.pack_size_limit = options.pack_size_limit;
  // First: its writer lock is what keeps a second process out of the whole directory.
  Result<std::unique_ptr<PackStore>> packs = PackStore::Open(JoinPath(dir, "packs"), pack_options);
  if (!packs.ok()) return packs.status();
  impl->packs = std::move(packs.value());
  Result<std::unique_ptr<RefDb>> refs = RefDb::Open(JoinPath(dir, "refs.db"));
  if (!refs.ok()) return refs.status();
  impl->refs = std::move(refs.value());
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, "statcache"), kDirectoryMode));
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(impl->FilesDir(), kDirectoryMode));
  impl->writer = std::make_unique<CommitWriter>(impl->packs.get(), impl->refs.get());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::dir() const { return impl_->dir; }

// --- Repositories.

Status Store::CreateRepo(std::string_view name) { return impl_->refs->CreateRepo(name); }
Result<std::vector<RepoInfo>> Store::ListRepos() const { return impl_->refs->ListRepos(); }
Status Store::DeleteRepo(std::string_view name) { return impl_->refs->DeleteRepo(name); }

// --- Commits.

Result<CommitOutcome> Store::CommitDirectory(const CommitRequest& request, const std::string& dir,
                                             const FsIdentity* identity) {
  PADDOCK_RETURN_IF_ERROR(CheckRequest(request));
  PADDOCK_RETURN_IF_ERROR(impl_->RequireRepo(request.repo));
  Result<SnapshotResult> snapshot = impl_->Snapshot(dir, identity);
  if (!snapshot.ok()) return snapshot.status();
  Result<CommitOutcome> outcome = impl_->writer->CommitTree(request, snapshot->root);
  if (!outcome.ok()) return ExplainDiskFull(outcome.status(), impl_->dir);
  outcome->snapshot = std::move(snapshot.value());
  return outcome;
}

Result<CommitOutcome> Store::CommitTar(const CommitRequest& request, const TarSource& source) {
  PADDOCK_RETURN_IF_ERROR(CheckRequest(request));
  PADDOCK_RETURN_IF_ERROR(impl_->RequireRepo(request.repo));
  Result<TarImportResult> imported = ImportTar(impl_->packs.get(), source);
  if (!imported.ok()) return ExplainDiskFull(imported.status(), impl_->dir);
  Result<CommitOutcome> outcome = impl_->writer->CommitTree(request, imported->root);
  if (!outcome.ok()) return ExplainDiskFull(outcome.status(), impl_->dir);
  SnapshotResult& counts = outcome->snapshot;
  counts.root = imported->root;
  counts.files = imported->files;
  counts.directories = imported->directories;
  counts.symlinks = imported->symlinks;
  counts.bytes = imported->bytes;
  counts.bytes_stored = imported->bytes_stored;
  return outcome;
}

// --- Reading history and trees.

Result<ObjectId> Store::Resolve(std::string_view repo, std::string_view rev) const {
  return impl_->refs->Resolve(repo, rev);
}

Result<std::vector<CommitInfo>> Store::Log(std::string_view repo, std::string_view rev,
                                           size_t limit) const {
  Result<ObjectId> start = Resolve(repo, rev);
  if (!start.ok()) return start.status();
  Result<std::vector<CommitNode>> nodes = impl_->refs->Log(repo, *start, limit);
  if (!nodes.ok()) return nodes.status();
  std::vector<CommitInfo> log;
  log.reserve(nodes->size());
  for (const CommitNode& node : *nodes) {
    Result<Commit> commit = impl_->ReadCommit(node.id);
    if (!commit.ok()) return commit.status();
    log.push_back(CommitInfo{node.id, std::move(commit.value())});
  }
  return log;
}

Result<CommitInfo> Store::Show(std::string_view repo, std::string_view rev) const {
  Result<ObjectId> id = Resolve(repo, rev);
  if (!id.ok()) return id.status();
  Result<Commit> commit = impl_->ReadCommit(*id);
  if (!commit.ok()) return commit.status();
  return CommitInfo{*id, std::move(commit.value())};
}

Result<std::vector<ListEntry>> Store::List(std::string_view repo, std::string_view rev,
                                           std::string_view path, bool recursive) const {
  Result<TreeEntry> dir = Stat(repo, rev, path);
  if (!dir.ok()) return dir.status();
  if (dir->kind != EntryKind::kDirectory) {
    return Status::InvalidArgument(std::string(path) + " is not a directory");
  }
  Result<std::vector<std::string>> components = SplitTreePath(path);
  if (!components.ok()) return components.status();
  return ListTreeDirectory(TreeLoader(*impl_->packs), dir->id, JoinTreePath(*components),
                           recursive);
}

Result<TreeEntry> Store::Stat(std::string_view repo, std::string_view rev,
                              std::string_view path) const {
  Result<ObjectId> tree = impl_->TreeOf(repo, rev);
  if (!tree.ok()) return tree.status();
  return LookupTreePath(TreeLoader(*impl_->packs), *tree, path);
}

Result<uint64_t> Store::Cat(std::string_view repo, std::string_view rev, std::string_view path,
                            uint64_t offset, uint64_t length, const ByteSink& sink) const {
  Result<TreeEntry> file = Stat(repo, rev, path);
  if (!file.ok()) return file.status();
  if (file->kind != EntryKind::kFile && file->kind != EntryKind::kExecutable) {
    return Status::InvalidArgument(std::string(path) + " is not a regular file");
  }
  // The empty file's object need not be stored; there is nothing to read anyway.
  if (file->size == 0) {
    if (offset > 0) {
      return Status::InvalidArgument("range starts at " + std::to_string(offset) +
                                     ", past the end of an empty file");
    }
    return uint64_t{0};
  }
  return ReadRange(*impl_->packs, file->id, offset, length, sink);
}

Result<std::vector<TreeChange>> Store::Diff(std::string_view repo, std::string_view from,
                                            std::string_view to) const {
  Result<ObjectId> old_tree = impl_->TreeOf(repo, from);
  if (!old_tree.ok()) return old_tree.status();
  Result<ObjectId> new_tree = impl_->TreeOf(repo, to);
  if (!new_tree.ok()) return new_tree.status();
  return DiffTrees(*impl_->packs, *old_tree, *new_tree);
}

Result<std::vector<TreeChange>> Store::DiffDirectory(std::string_view repo, std::string_view rev,
                                                     const std::string& dir,
                                                     const FsIdentity* identity) {
  Result<ObjectId> old_tree = impl_->TreeOf(repo, rev);
  if (!old_tree.ok()) return old_tree.status();
  Result<SnapshotResult> snapshot = impl_->Snapshot(dir, identity);
  if (!snapshot.ok()) return snapshot.status();
  return DiffTrees(*impl_->packs, *old_tree, snapshot->root);
}

// --- Branches and tags.

Status Store::CreateBranch(std::string_view repo, std::string_view name, std::string_view at_rev) {
  Result<ObjectId> target = impl_->ResolveStored(repo, at_rev);
  if (!target.ok()) return target.status();
  return impl_->refs->CreateBranch(repo, name, *target);
}

Status Store::DeleteBranch(std::string_view repo, std::string_view name) {
  return impl_->refs->DeleteBranch(repo, name);
}

Result<std::vector<RefEntry>> Store::ListBranches(std::string_view repo) const {
  return impl_->refs->ListBranches(repo);
}

Status Store::CreateTag(std::string_view repo, std::string_view name, std::string_view at_rev) {
  Result<ObjectId> target = impl_->ResolveStored(repo, at_rev);
  if (!target.ok()) return target.status();
  return impl_->refs->CreateTag(repo, name, *target);
}

Status Store::DeleteTag(std::string_view repo, std::string_view name) {
  return impl_->refs->DeleteTag(repo, name);
}

Result<std::vector<RefEntry>> Store::ListTags(std::string_view repo) const {
  return impl_->refs->ListTags(repo);
}

// --- Merge and revert.

// One attempt; kConflict only when the branch moved meanwhile (merge conflicts are data here).
Result<MergeOutcome> Store::Impl::MergeOnce(std::string_view repo, std::string_view into_branch,
                                            std::string_view from_rev, const std::string& message,
                                            const std::string& author) {
  Result<ObjectId> into = refs->GetBranch(repo, into_branch);
  if (!into.ok()) return into.status();
  Result<ObjectId> from = ResolveStored(repo, from_rev);
  if (!from.ok()) return from.status();
  MergeOutcome outcome;
  outcome.commit = *into;
  Result<bool> merged_already = refs->IsAncestor(repo, *from, *into);
  if (!merged_already.ok()) return merged_already.status();
  if (*merged_already) {
    outcome.up_to_date = true;
    return outcome;
  }
  Result<bool> behind = refs->IsAncestor(repo, *into, *from);
  if (!behind.ok()) return behind.status();
  if (*behind) {
    PADDOCK_RETURN_IF_ERROR(refs->UpdateBranch(repo, into_branch, *into, *from));
    outcome.commit = *from;
    outcome.fast_forward = true;
    return outcome;
  }
  Result<std::optional<ObjectId>> base = refs->MergeBase(repo, *into, *from);
  if (!base.ok()) return base.status();
  Result<ObjectId> base_tree = ObjectId();  // unrelated histories: merge against the empty tree
  if (*base) base_tree = TreeOf(**base);
  Result<ObjectId> ours = TreeOf(*into);
  Result<ObjectId> theirs = TreeOf(*from);
  for (const auto* tree : {&base_tree, &ours, &theirs}) {
    if (!tree->ok()) return tree->status();
  }
  Result<MergeResult> merged = MergeTrees(*packs, *base_tree, *ours, *theirs);
  if (!merged.ok()) return merged.status();
  if (!merged->clean()) {
    outcome.conflicts = std::move(merged->conflicts);
    return outcome;
  }
  const std::string text =
      message.empty() ? "Merge " + std::string(from_rev) + " into " + std::string(into_branch)
                      : message;
  Commit commit{merged->tree, {*into, *from}, 0, author, text, ""};
  Result<ObjectId> id = writer->WriteCommit(repo, &commit);
  if (!id.ok()) return id.status();
  PADDOCK_RETURN_IF_ERROR(refs->UpdateBranch(repo, into_branch, *into, *id));
  outcome.commit = *id;
  return outcome;
}

Result<MergeOutcome> Store::TryMerge(std::string_view repo, std::string_view into_branch,
                                     std::string_view from_rev, const std::string& message,
                                     const std::string& author) {
  for (int attempt = 1;; ++attempt) {
    Result<MergeOutcome> outcome = impl_->MergeOnce(repo, into_branch, from_rev, message, author);
    if (outcome.ok()) return outcome;
    if (outcome.status().code() != StatusCode::kConflict || attempt == kMaxAttempts) {
      return ExplainDiskFull(outcome.status(), impl_->dir);
    }
  }
}

Result<MergeOutcome> Store::Merge(std::string_view repo, std::string_view into_branch,
                                  std::string_view from_rev, const std::string& message,
                                  const std::string& author) {
  Result<MergeOutcome> outcome = TryMerge(repo, into_branch, from_rev, message, author);
  if (outcome.ok() && !outcome->conflicts.empty()) {
    return Status::Conflict("merging " + std::string(from_rev) + " into " +
                            std::string(into_branch) + " left " +
                            DescribeConflicts(outcome->conflicts) + "; nothing was committed");
  }
  return outcome;
}

// One attempt; kConflict either with `conflicts` filled (the branch changed what `target`
// changed) or without (the branch moved meanwhile).
Result<CommitOutcome> Store::Impl::RevertOnce(std::string_view repo, std::string_view branch,
                                              const ObjectId& target, const std::string& author,
                                              std::vector<MergeConflict>* conflicts) {
  Result<ObjectId> head = refs->GetBranch(repo, branch);
  if (!head.ok()) return head.status();
  Result<Commit> reverted = ReadCommit(target);
  if (!reverted.ok()) return reverted.status();
  Result<ObjectId> onto = TreeOf(*head);
  if (!onto.ok()) return onto.status();
  Result<MergeResult> undone = storage::Revert(*packs, target, *onto);
  if (!undone.ok()) return undone.status();
  if (!undone->clean()) {
    *conflicts = std::move(undone->conflicts);
    return Status::Conflict("reverting " + target.ToHex() + " on " + std::string(branch) +
                            " left " + DescribeConflicts(*conflicts) + "; nothing was committed");
  }
  CommitRequest request;
  request.repo = std::string(repo);
  request.branch = std::string(branch);
  request.author = author;
  request.message = "Revert \"" + FirstLine(reverted->message) + "\"\n\nThis reverts commit " +
                    target.ToHex() + ".";
  request.expected_parent = *head;
  return writer->CommitTree(request, undone->tree);
}

Result<CommitOutcome> Store::Revert(std::string_view repo, std::string_view branch,
                                    std::string_view rev, const std::string& author) {
  Result<ObjectId> target = impl_->ResolveStored(repo, rev);
  if (!target.ok()) return target.status();
  for (int attempt = 1;; ++attempt) {
    std::vector<MergeConflict> conflicts;
    Result<CommitOutcome> outcome = impl_->RevertOnce(repo, branch, *target, author, &conflicts);
    if (outcome.ok()) return outcome;
    const bool moved = outcome.status().code() == StatusCode::kConflict && conflicts.empty();
    if (!moved || attempt == kMaxAttempts) return ExplainDiskFull(outcome.status(), impl_->dir);
  }
}

// --- Checkout and export.

Result<CheckoutResult> Store::Checkout(std::string_view repo, std::string_view rev,
                                       const std::string& target, bool read_only_view,
                                       const FsIdentity* identity) {
  Result<ObjectId> tree = impl_->TreeOf(repo, rev);
  if (!tree.ok()) return tree.status();
  CheckoutOptions options;
  options.file_cache_dir = impl_->FilesDir();
  options.read_only_view = read_only_view;
  options.threads = impl_->options.threads;
  options.identity = identity;
  std::shared_lock cache_in_use(impl_->file_cache_mu);
  return CheckoutTree(*impl_->packs, *tree, target, options);
}

Status Store::Export(std::string_view repo, std::string_view rev, int out_fd) const {
  Result<CommitInfo> commit = Show(repo, rev);
  if (!commit.ok()) return commit.status();
  return ExportTar(*impl_->packs, commit->commit.tree, out_fd, commit->commit.time_ms);
}

// --- Maintenance.

Result<uint64_t> Store::Impl::EvictUnstoredCacheFiles() {
  // Cache files are named by file id (plus ".x" for executables' twins); keep those whose file
  // object is still stored, so that the cache never serves content the store has given up.
  std::set<ObjectId> keep;
  const std::string files = FilesDir();
  std::unique_lock no_checkouts(file_cache_mu);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(files.c_str()), &::closedir);
  if (!d) return Status::FromErrno("open directory " + files);
  while (const dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name.ends_with(".x")) name.remove_suffix(2);
    Result<ObjectId> id = ObjectId::FromHex(name);
    if (id.ok() && packs->Locate(*id)) keep.insert(*id);
  }
  return EvictFileCache(files, keep);
}

Result<GcReport> Store::Gc(bool dry_run) {
  std::lock_guard one_at_a_time(impl_->gc_mu);
  Result<std::vector<ObjectId>> roots = impl_->refs->AllRefTargets();
  if (!roots.ok()) return roots.status();
  const auto grace = impl_->options.gc_grace;
  // Commits recorded within the grace period may be about to become a branch's head.
  Result<std::vector<ObjectId>> recent =
      impl_->refs->CommitsSince(UnixNowMs() - static_cast<int64_t>(grace.count()));
  if (!recent.ok()) return recent.status();
  roots->insert(roots->end(), recent->begin(), recent->end());
  std::sort(roots->begin(), roots->end());
  roots->erase(std::unique(roots->begin(), roots->end()), roots->end());
  GcOptions options;
  options.grace_period = grace;
  options.dry_run = dry_run;
  Result<GcReport> report = CollectGarbage(impl_->packs.get(), *roots, options);
  if (!report.ok() || dry_run) return report;
  Result<uint64_t> evicted = impl_->EvictUnstoredCacheFiles();
  if (!evicted.ok()) return evicted.status().WithContext("evicting the file cache");
  if (*evicted > 0) LogInfo("gc evicted " + std::to_string(*evicted) + " file cache entries");
  return report;
}

Result<FsckReport> Store::Fsck() const {
  Result<std::vector<ObjectId>> roots = impl_->refs->AllRefTargets();
  if (!roots.ok()) return roots.status();
  return CheckStoreDirectory(JoinPath(impl_->dir, "packs"), *roots);
}

}  // namespace paddock::storage
