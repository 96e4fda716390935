#include "storage/commit_writer.h"

#include <algorithm>

#include "base/clock.h"
#include "storage/tree_loader.h"

namespace paddock::storage {

Result<std::optional<ObjectId>> CommitWriter::Head(std::string_view repo,
                                                   std::string_view branch) const {
  Result<ObjectId> head = refs_->GetBranch(repo, branch);
  if (head.ok()) return std::optional<ObjectId>(*head);
  if (head.status().code() != StatusCode::kNotFound) return head.status();
  // kNotFound is also how a missing repository is reported; tell the two apart.
  Result<std::vector<RefEntry>> branches = refs_->ListBranches(repo);
  if (!branches.ok()) return branches.status();
  return std::optional<ObjectId>();
}

Result<int64_t> CommitWriter::CommitTime(std::string_view repo,
                                         const std::vector<ObjectId>& parents) const {
  int64_t time = UnixNowMs();
  for (const ObjectId& parent : parents) {
    Result<CommitNode> node = refs_->GetCommit(repo, parent);
    if (!node.ok()) return node.status();
    time = std::max(time, node->time_ms + 1);
  }
  return time;
}

Result<ObjectId> CommitWriter::WriteCommit(std::string_view repo, Commit* commit) {
  Result<int64_t> time = CommitTime(repo, commit->parents);
  if (!time.ok()) return time.status();
  commit->time_ms = *time;
  Result<std::string> encoded = EncodeCommit(*commit);
  if (!encoded.ok()) return encoded.status();
  Result<PutResult> put = packs_->Put(ObjectType::kCommit, *encoded);
  if (!put.ok()) return put.status();
  // The flush covers the commit and every object its tree reaches that this process put (the
  // snapshot's too): the branch may only ever name a commit that is wholly durable.
  PADDOCK_RETURN_IF_ERROR(packs_->Flush());
  PADDOCK_RETURN_IF_ERROR(refs_->RecordCommit(repo, put->id, *commit));
  return put->id;
}

Result<CommitOutcome> CommitWriter::TryOnce(const CommitRequest& request, const ObjectId& tree) {
  Result<std::optional<ObjectId>> head = Head(request.repo, request.branch);
  if (!head.ok()) return head.status();
  if (request.expected_parent && *head != request.expected_parent) {
    return Status::Conflict("branch '" + request.branch + "' is not at the expected parent " +
                            request.expected_parent->ToHex() + ": " +
                            (*head ? "it points at " + (*head)->ToHex() : "it does not exist"));
  }
  CommitOutcome outcome;
  outcome.tree = tree;
  Commit commit{tree, {}, 0, request.author, request.message, request.metadata_json};
  if (*head) {
    Result<Commit> parent = TreeLoader(*packs_).ReadCommit(**head);
    if (!parent.ok()) return parent.status();
    if (parent->tree == tree && !request.allow_empty) {
      outcome.commit = **head;
      return outcome;
    }
    commit.parents.push_back(**head);
  }
  Result<ObjectId> id = WriteCommit(request.repo, &commit);
  if (!id.ok()) return id.status();
  PADDOCK_RETURN_IF_ERROR(refs_->UpdateBranch(request.repo, request.branch, *head, *id));
  outcome.commit = *id;
  outcome.changed = true;
  return outcome;
}

Result<CommitOutcome> CommitWriter::CommitTree(const CommitRequest& request, const ObjectId& tree) {
  for (int attempt = 1;; ++attempt) {
    Result<CommitOutcome> outcome = TryOnce(request, tree);
    const bool retry = outcome.status().code() == StatusCode::kConflict &&
                       !request.expected_parent && attempt < kMaxAttempts;
    if (!retry) return outcome;
  }
}

}  // namespace paddock::storage
