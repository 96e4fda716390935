// fsck for a pack store: finds every damaged, malformed or missing object and says where it is
// and which paths of which commits use it.
//
// Checks, in order:
//   1. packs: every pack the store cannot load (read-only open with skip_damaged_packs: a
//      truncated or corrupt index, a missing or short pack) is a problem of its own;
//   2. objects: every entry of every loaded pack is read and verified as Get() does (entry header
//      equals the index entry, zstd frame decodes to raw_length bytes, SHA-256 of the raw bytes
//      equals the id), and an entry typed file, tree or commit must decode as one;
//   3. reachability from `roots` (commit ids): every object they reach exists and decodes as
//      what references it (a commit's tree is a tree, a tree's directory entry a tree, a file
//      entry a file object), a chunk's stored length equals the size its file lists, and a file
//      entry's size equals its file object's size (checked where the walk first meets the file);
//   4. paths: for each problem object, up to max_paths_per_object places that use it, walking
//      the trees of the roots and their ancestors: "commit 0123456789ab: data/train/x.csv".
// An object bad in several ways is one problem (the first found, with the others' details).
// Duplicates of an object in several packs (left by an interrupted garbage collection) are
// harmless and not reported.
//
// Thread-safety: runs concurrently with writers and readers of the store (it reads only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "storage/object_id.h"
#include "storage/pack_store.h"

namespace paddock::storage {

struct FsckOptions {
  // Paths listed per problem object; enough to find the data, few enough to read.
  size_t max_paths_per_object = 10;
};

struct FsckProblem {
  enum class Kind {
    kDamagedPack,   // a pack (or its index) the store could not load; `id` is zero
    kCorrupt,       // stored bytes fail verification
    kMalformed,     // verified bytes that do not decode as what they should be
    kMissing,       // reachable but not in the store
    kSizeMismatch,  // a size stated by this file or tree object is wrong
  };
  Kind kind = Kind::kCorrupt;
  ObjectId id;                     // the object; all zero for kDamagedPack
  std::string type;                // "chunk", "file", "tree", "commit" as stored or as referenced
  std::string pack;                // pack file name holding it; empty when missing
  uint64_t offset = 0;             // of its entry in `pack`
  std::string detail;              // what is wrong, for people
  std::vector<std::string> paths;  // where it is used, e.g. "commit 0123456789ab: data/x.csv"
  bool more_paths = false;         // paths beyond FsckOptions::max_paths_per_object exist

  // One line: "<kind> <type> <id> in pack <pack> at offset <n>: <detail>; used by <paths>", or
  // for a damaged pack "damaged pack <pack>: <detail>".
  std::string ToString() const;
};

std::string_view FsckProblemKindName(FsckProblem::Kind kind);  // "corrupt", "missing", ...

struct FsckReport {
  uint64_t packs_checked = 0;
  uint64_t objects_checked = 0;    // pack entries read and verified
  uint64_t objects_reachable = 0;  // distinct objects the roots reach (missing ones included)
  uint64_t commits_reachable = 0;
  std::vector<FsckProblem> problems;
  // True when no problem was found: what a CLI turns into its exit status.
  bool ok() const { return problems.empty(); }
};

// Checks an open store (read-only or writable).
FsckReport CheckStore(const PackStore& store, std::span<const ObjectId> roots,
                      const FsckOptions& options = {});

// Opens the store in `dir` read-only, skipping damaged packs (each reported), and checks it with
// CheckStore. A store that cannot be opened at all is one kDamagedPack problem naming why.
FsckReport CheckStoreDirectory(const std::string& dir, std::span<const ObjectId> roots,
                               const FsckOptions& options = {});

}  // namespace paddock::storage
