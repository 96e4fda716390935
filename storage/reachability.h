// Reachability: the objects of a PackStore that a set of commits reaches, for garbage collection
// (what to keep) and fsck (what must exist).
//
// From each commit the walk reaches its parents (so all ancestors), its root tree, every entry
// of every tree (directories recurse; files reach their file object and its chunks). Each object
// is visited once: a subtree shared by many commits (the usual case in a Merkle tree) costs one
// visit. Commits, trees and file objects are read and decoded; chunks are only looked up in the
// index (their bytes are not read). The walk is iterative, so history depth is not limited by
// the stack.
//
// An object is visited once, as what its first reference takes it for (a commit, tree or file):
// a second reference taking it for something else is not checked again.
//
// Objects that cannot be found, read or decoded do not stop the walk: they are marked (so that
// garbage collection keeps whatever copy exists) and reported as problems. When a commit, tree
// or file object is missing or unreadable, what it references is unknown, and complete() says
// so: a sweep must then not run, as it could delete objects that only that object reaches.
//
// The empty file (EmptyFileId()) has no chunks and is known without reading it, so it need not
// be stored; when it is, it is marked like any other object.
//
// Thread-safety: one walk per object; reads the store concurrently with other users of it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "storage/object_id.h"
#include "storage/objects.h"
#include "storage/pack_format.h"
#include "storage/pack_store.h"

namespace paddock::storage {

// Hashes an ObjectId for unordered containers: ids are SHA-256 digests, so their first 8 bytes
// are already uniformly distributed.
struct ObjectIdHash {
  size_t operator()(const ObjectId& id) const;
};

struct ReachabilityProblem {
  enum class Kind {
    kMissing,       // not in the store
    kUnreadable,    // in the store, but reading it failed (corrupt, or an I/O error)
    kMalformed,     // read fine, but does not decode as what its referrer takes it for
    kSizeMismatch,  // `id` (a file or tree) states a size that the object it names does not have
  };
  Kind kind = Kind::kMissing;
  ObjectId id;                           // the object at fault
  ObjectType type = ObjectType::kChunk;  // what it was reached as
  ObjectId referrer;                     // the object naming it; all zero for a root
  std::string detail;                    // for people: what exactly is wrong
};

class Reachability {
 public:
  // `store` must outlive this object.
  explicit Reachability(const PackStore& store);
  Reachability(const Reachability&) = delete;
  Reachability& operator=(const Reachability&) = delete;

  // Marks the commits `roots` and everything they reach. May be called again with more roots;
  // what is marked already is not visited twice.
  void MarkFromCommits(std::span<const ObjectId> roots);

  bool IsMarked(const ObjectId& id) const { return marked_.contains(id); }
  // Every marked id, missing ones included.
  const std::unordered_set<ObjectId, ObjectIdHash>& marked() const { return marked_; }
  // The commits reached (those that could be read), in the order visited.
  const std::vector<ObjectId>& commits() const { return commits_; }
  const std::vector<ReachabilityProblem>& problems() const { return problems_; }
  // False when a commit, tree or file object could not be read or decoded, so that what it
  // references may be unmarked.
  bool complete() const { return complete_; }

 private:
  // An object still to visit, and what its referrer says about it.
  struct Pending {
    ObjectId id;
    ObjectType type = ObjectType::kChunk;  // commit, tree or file: chunks are not queued
    ObjectId referrer;
    std::string entry_name;   // for a file: the tree entry naming it
    uint64_t entry_size = 0;  // for a file: the size that entry states
  };

  // Marks `item` and queues it, unless it was marked already.
  void Push(Pending item);
  void Visit(const Pending& item);
  // Reads an object that has children; nullopt (with the problem recorded) when it cannot.
  std::optional<std::string> Read(const Pending& item);
  void VisitCommit(const Pending& item, std::string_view bytes);
  void VisitTree(const Pending& item, std::string_view bytes);
  void VisitFile(const Pending& item, std::string_view bytes);
  // Marks the chunks of file `file`; returns a description of the first size that disagrees
  // with the chunk's stored length, or "" when all agree.
  std::string MarkChunks(const ObjectId& file, const FileObject& object);
  void Report(ReachabilityProblem::Kind kind, const ObjectId& id, ObjectType type,
              const ObjectId& referrer, std::string detail);

  const PackStore& store_;
  std::unordered_set<ObjectId, ObjectIdHash> marked_;
  std::vector<Pending> stack_;
  std::vector<ObjectId> commits_;
  std::vector<ReachabilityProblem> problems_;
  bool complete_ = true;
};

}  // namespace paddock::storage
