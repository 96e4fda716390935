#include "storage/reachability.h"

#include <utility>

#include "storage/wire.h"

namespace paddock::storage {

size_t ObjectIdHash::operator()(const ObjectId& id) const {
  return static_cast<size_t>(LoadU64(id.bytes().data()));
}

Reachability::Reachability(const PackStore& store) : store_(store) {}

void Reachability::MarkFromCommits(std::span<const ObjectId> roots) {
  // Pushed in reverse so that the first root is visited first.
  for (auto it = roots.rbegin(); it != roots.rend(); ++it) {
    Push(Pending{*it, ObjectType::kCommit, ObjectId(), "", 0});
  }
  while (!stack_.empty()) {
    const Pending item = std::move(stack_.back());
    stack_.pop_back();
    Visit(item);
  }
}

void Reachability::Push(Pending item) {
  if (!marked_.insert(item.id).second) return;
  stack_.push_back(std::move(item));
}

void Reachability::Visit(const Pending& item) {
  // The empty file has no chunks; whether or not it is stored, nothing hides behind it.
  if (item.type == ObjectType::kFile && item.id == EmptyFileId() && !store_.Locate(item.id)) {
    return;
  }
  const std::optional<std::string> bytes = Read(item);
  if (!bytes) return;
  switch (item.type) {
    case ObjectType::kCommit:
      VisitCommit(item, *bytes);
      break;
    case ObjectType::kTree:
      VisitTree(item, *bytes);
      break;
    case ObjectType::kFile:
      VisitFile(item, *bytes);
      break;
    case ObjectType::kChunk:
      break;  // never queued
  }
}

std::optional<std::string> Reachability::Read(const Pending& item) {
  Result<StoredObject> object = store_.Get(item.id);
  if (object.ok()) return std::move(object->data);
  complete_ = false;
  if (object.status().code() == StatusCode::kNotFound) {
    Report(ReachabilityProblem::Kind::kMissing, item.id, item.type, item.referrer,
           std::string(ObjectTypeName(item.type)) + " " + item.id.ToHex() + " is not in the store");
  } else {
    Report(ReachabilityProblem::Kind::kUnreadable, item.id, item.type, item.referrer,
           object.status().message());
  }
  return std::nullopt;
}

void Reachability::VisitCommit(const Pending& item, std::string_view bytes) {
  Result<Commit> commit = DecodeCommit(bytes);
  if (!commit.ok()) {
    complete_ = false;
    Report(ReachabilityProblem::Kind::kMalformed, item.id, item.type, item.referrer,
           "not a commit: " + commit.status().message());
    return;
  }
  commits_.push_back(item.id);
  // Parents pushed before the tree, so the tree is walked first: a commit's own files are
  // marked before its history's.
  for (const ObjectId& parent : commit->parents) {
    Push(Pending{parent, ObjectType::kCommit, item.id, "", 0});
  }
  Push(Pending{commit->tree, ObjectType::kTree, item.id, "", 0});
}

void Reachability::VisitTree(const Pending& item, std::string_view bytes) {
  Result<Tree> tree = DecodeTree(bytes);
  if (!tree.ok()) {
    complete_ = false;
    Report(ReachabilityProblem::Kind::kMalformed, item.id, item.type, item.referrer,
           "not a tree: " + tree.status().message());
    return;
  }
  for (TreeEntry& e : tree->entries) {
    switch (e.kind) {
      case EntryKind::kFile:
      case EntryKind::kExecutable:
        Push(Pending{e.id, ObjectType::kFile, item.id, std::move(e.name), e.size});
        break;
      case EntryKind::kDirectory:
        Push(Pending{e.id, ObjectType::kTree, item.id, "", 0});
        break;
      case EntryKind::kSymlink:
        break;  // the target is stored in the entry; nothing to reach
    }
  }
}

void Reachability::VisitFile(const Pending& item, std::string_view bytes) {
  Result<FileObject> file = DecodeFile(bytes);
  if (!file.ok()) {
    complete_ = false;
    Report(ReachabilityProblem::Kind::kMalformed, item.id, item.type, item.referrer,
           "not a file: " + file.status().message());
    return;
  }
  // Checked on the first visit only: another entry naming the same file with another size is
  // not caught (it would need every file's size kept for the whole walk).
  if (file->size() != item.entry_size) {
    Report(ReachabilityProblem::Kind::kSizeMismatch, item.referrer, ObjectType::kTree, ObjectId(),
           "entry \"" + item.entry_name + "\" states " + std::to_string(item.entry_size) +
               " bytes but file " + item.id.ToHex() + " has " + std::to_string(file->size()));
  }
  const std::string mismatch = MarkChunks(item.id, *file);
  if (!mismatch.empty()) {
    Report(ReachabilityProblem::Kind::kSizeMismatch, item.id, ObjectType::kFile, item.referrer,
           mismatch);
  }
}

std::string Reachability::MarkChunks(const ObjectId& file, const FileObject& object) {
  std::string mismatch;
  for (const ChunkRef& chunk : object.chunks) {
    const bool first_visit = marked_.insert(chunk.id).second;
    // The index is enough: a chunk has no children, and reading every chunk's bytes is fsck's
    // pack scan, not the walk's.
    const std::optional<ObjectLocation> where = store_.Locate(chunk.id);
    if (!where) {
      if (!first_visit) continue;  // reported once
      Report(ReachabilityProblem::Kind::kMissing, chunk.id, ObjectType::kChunk, file,
             "chunk " + chunk.id.ToHex() + " is not in the store");
    } else if (where->entry.raw_length != chunk.size && mismatch.empty()) {
      mismatch = "lists chunk " + chunk.id.ToHex() + " as " + std::to_string(chunk.size) +
                 " bytes but it has " + std::to_string(where->entry.raw_length);
    }
  }
  return mismatch;
}

void Reachability::Report(ReachabilityProblem::Kind kind, const ObjectId& id, ObjectType type,
                          const ObjectId& referrer, std::string detail) {
  problems_.push_back({kind, id, type, referrer, std::move(detail)});
}

}  // namespace paddock::storage
