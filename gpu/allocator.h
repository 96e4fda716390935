// GPU units and the allocator that hands them to owners (sandboxes, jobs).
//
// Contracts:
// - A Unit is what one owner can hold: a whole GPU ("gpu0"), one MIG instance ("gpu0/mig/1", by
//   GPU instance id) or one share of a shared GPU ("gpu0/share/2", with a memory cap).
//   BuildUnits() derives them from the discovered GPUs and the configured partitions; a MIG
//   partition yields the MIG instances that exist on the GPU (after the daemon applied its
//   layout, see gpu/mig_layout.h), not the ones configured.
// - Allocator is pure logic: no I/O, no clock, no randomness. It is not thread-safe; the daemon
//   serialises calls. Every decision is deterministic for the same state and request.
// - Allocate() is all-or-nothing: on failure nothing changes. Its errors:
//     kInvalidArgument    the request is malformed, names an unknown UUID, a MIG profile no GPU
//                         offers, or the owner is empty;
//     kResourceExhausted  the machine could serve it, but not now (units held by others);
//     kFailedPrecondition the machine can never serve it as configured (more whole GPUs than it
//                         has, an NVLink group or NUMA node larger than any, ...).
// - A whole GPU is free only when no unit on that GPU is held, and a MIG or share unit only when
//   its GPU's whole unit (if any) is not held; MIG and share units of one GPU are independent of
//   each other. No unit is ever held by two owners.
// - Whole-GPU placement (GpuRequest::count) is exactly optimal for this objective, compared
//   lexicographically over the sets S of free whole GPUs that satisfy the constraints:
//     (a) the sum over pairs in S of the link kind's value (NVLink 1 ... system 5);
//     (b) fragmentation: for each level L from NVLink to NUMA node, the number of free whole GPUs
//         outside S linked to some GPU of S at level L or closer (NVLink level compared first);
//     (c) the lowest sorted list of GPU indexes.
//   (b) keeps an NVLink pair whole for a one-GPU request while loose GPUs exist and keeps a NUMA
//   node's GPUs together; (c) makes the choice deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "gpu/gpu_info.h"

namespace paddock::gpu {

enum class UnitKind { kWhole, kMig, kShare };

struct Unit {
  std::string id;  // "gpu0", "gpu0/mig/1" (by GPU instance id), "gpu0/share/2"
  uint32_t gpu = 0;
  UnitKind kind = UnitKind::kWhole;
  std::string profile;        // MIG profile name; "" otherwise
  uint64_t memory_bytes = 0;  // MIG instance memory; share cap; whole: GPU memory (0: unknown)
  std::string uuid;           // the GPU's uuid, or the MIG instance's uuid
};

// How the administrator splits one GPU.
struct GpuPartition {
  enum class Mode { kExclusive, kMig, kShared } mode = Mode::kExclusive;
  std::vector<std::string> mig_layout;  // kMig: profile names, see gpu/mig_layout.h
  uint32_t shares = 0;                  // kShared: how many owners at once (>= 1)
  uint64_t share_memory_bytes = 0;      // kShared: each share's cap; 0: memory_total / shares
};

// Units of every GPU in `gpus`, ordered by GPU index, then MIG GPU instance id or share number.
// GPUs without an entry in `partitions` (keyed by GPU index) are exclusive. kInvalidArgument,
// naming the GPU, for a partition of a GPU that does not exist, a MIG partition of a GPU that
// is not MIG-capable, a shared partition with no shares, or shares of a GPU whose memory is
// unknown without share_memory_bytes.
Result<std::vector<Unit>> BuildUnits(const std::vector<GpuInfo>& gpus,
                                     const std::map<uint32_t, GpuPartition>& partitions);

// What an owner asks for. Exactly one of count, mig_profile, share_memory_bytes and uuids is set.
struct GpuRequest {
  uint32_t count = 0;               // whole GPUs
  std::string mig_profile;          // one MIG instance of this profile
  uint64_t share_memory_bytes = 0;  // one share with at least this cap
  std::vector<std::string> uuids;   // exactly these GPUs (whole) or MIG instances
  bool same_numa = false;           // count: all on one NUMA node
  bool nvlink = false;              // count: every pair linked by NVLink
};

struct Allocation {
  std::vector<std::string> unit_ids;  // in units() order
  std::vector<uint32_t> gpus;         // GPU indexes, sorted, each once
};

class Allocator {
 public:
  // `gpus` gives index, uuid, NUMA nodes, MIG profiles (for error messages); `links[i][j]` is how
  // GPU index i reaches GPU index j (missing entries count as kSystem; an asymmetric pair counts
  // as the worse of its two kinds); `units` usually comes from BuildUnits(). Inconsistent input
  // (a unit on a GPU not in `gpus`, a unit id given twice, more than 64 GPUs) is reported by
  // status() and makes every Allocate() fail with kInternal.
  Allocator(std::vector<GpuInfo> gpus, std::vector<std::vector<LinkKind>> links,
            std::vector<Unit> units);

  const Status& status() const { return init_status_; }

  Result<Allocation> Allocate(const GpuRequest& request, const std::string& owner);
  // Frees every unit `owner` holds; unknown owners are ignored.
  void Release(const std::string& owner);
  // Marks `unit_ids` as held by `owner` again (after a daemon restart), all or nothing:
  // kNotFound for a unit that no longer exists, kConflict for one held by another owner (or
  // blocked by another owner's unit on the same GPU). Units `owner` holds already are fine.
  Status Restore(const std::string& owner, const std::vector<std::string>& unit_ids);

  std::optional<std::string> HolderOf(const std::string& unit_id) const;
  const std::vector<Unit>& units() const { return units_; }
  // unit id -> owner, for every held unit.
  std::map<std::string, std::string> Holders() const;

 private:
  struct GpuState;
  struct Search;

  void Index();
  bool IsFree(size_t unit) const;
  void Hold(size_t unit, const std::string& owner);
  Allocation MakeAllocation(const std::vector<size_t>& units) const;
  int PositionOf(uint32_t gpu_index) const;
  LinkKind Link(size_t a, size_t b) const;  // by position in gpus_

  Result<Allocation> AllocateWhole(const GpuRequest& request, const std::string& owner);
  Result<Allocation> AllocateMig(const GpuRequest& request, const std::string& owner);
  Result<Allocation> AllocateShare(const GpuRequest& request, const std::string& owner);
  Result<Allocation> AllocateByUuid(const GpuRequest& request, const std::string& owner);
  Status WholeNeverFits(const GpuRequest& request) const;
  // The best set of free whole GPUs (bit = position in gpus_) or 0 when none satisfies.
  uint64_t BestWholeSet(const GpuRequest& request) const;

  std::vector<GpuInfo> gpus_;
  std::vector<std::vector<LinkKind>> links_;
  std::vector<Unit> units_;
  Status init_status_;

  // Derived at construction.
  std::vector<int> unit_gpu_;         // unit -> position in gpus_
  std::vector<int> whole_unit_;       // position -> its whole unit, -1 when none
  std::vector<LinkKind> link_;        // position-major matrix, symmetric
  std::vector<uint64_t> within_;      // [pos * 6 + level]: GPUs linked at <= level (self included)
  std::vector<uint64_t> exactly_;     // [pos * 6 + level]: other GPUs linked at exactly level
  std::vector<int> numa_key_;         // position -> id of its (sorted) NUMA node list
  std::vector<uint64_t> numa_masks_;  // per NUMA node: whole GPUs on it (one mask if none known)
  uint64_t whole_mask_ = 0;           // positions with a whole unit
  std::unordered_map<std::string, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_uuid_;  // GPU uuid -> whole unit; MIG uuid -> unit
  // Largest set of whole GPUs satisfying [nvlink][same_numa] (0/1 each), for kFailedPrecondition.
  int max_group_[2][2] = {{0, 0}, {0, 0}};

  // Holdings.
  std::vector<std::string> holder_;  // per unit; "" when free
  std::vector<int> held_on_gpu_;     // per position: held units of any kind
  std::vector<int> held_mig_;        // per position: held MIG units
  std::vector<int> held_share_;      // per position: held share units
  std::unordered_map<std::string, std::vector<size_t>> by_owner_;
};

}  // namespace paddock::gpu
