#include "gpu/allocator.h"

#include <algorithm>
#include <array>
#include <bit>
#include <set>
#include <tuple>

#include "base/byte_size.h"

namespace paddock::gpu {
namespace {

constexpr int kLevels = 6;       // kSelf .. kSystem
constexpr int kFragLevels = 4;   // kNvlink .. kNumaNode
constexpr size_t kMaxGpus = 64;  // GPU sets are bitmasks

uint64_t Bit(size_t pos) { return uint64_t{1} << pos; }
int Level(LinkKind kind) { return static_cast<int>(kind); }

std::string Plural(uint64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string JoinSet(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

// A is before B in the order of sorted index lists (both hold the same number of GPUs): the
// lowest GPU in which they differ is A's.
bool LexLess(uint64_t a, uint64_t b) {
  const uint64_t diff = a ^ b;
  return diff != 0 && (a & diff & (~diff + 1)) != 0;
}

// The `n` lowest set bits of `mask`.
uint64_t LowestBits(uint64_t mask, int n) {
  uint64_t out = 0;
  for (int i = 0; i < n && mask != 0; ++i) {
    const uint64_t low = mask & (~mask + 1);
    out |= low;
    mask ^= low;
  }
  return out;
}

// Largest clique of `adjacent` within `candidates` (plain branch and bound; graphs are small).
int MaxClique(const std::vector<uint64_t>& adjacent, uint64_t candidates, int size, int best) {
  if (candidates == 0) return std::max(size, best);
  if (size + std::popcount(candidates) <= best) return best;
  const int v = std::countr_zero(candidates);
  best = MaxClique(adjacent, candidates & adjacent[v], size + 1, best);
  return MaxClique(adjacent, candidates & ~Bit(v), size, best);
}

}  // namespace

Result<std::vector<Unit>> BuildUnits(const std::vector<GpuInfo>& gpus,
                                     const std::map<uint32_t, GpuPartition>& partitions) {
  for (const auto& [index, partition] : partitions) {
    if (std::none_of(gpus.begin(), gpus.end(),
                     [&](const GpuInfo& g) { return g.index == index; })) {
      return Status::InvalidArgument("partition of gpu " + std::to_string(index) +
                                     ": no such GPU on this machine");
    }
  }
  std::vector<const GpuInfo*> ordered;
  for (const GpuInfo& gpu : gpus) ordered.push_back(&gpu);
  std::sort(ordered.begin(), ordered.end(),
            [](const GpuInfo* a, const GpuInfo* b) { return a->index < b->index; });

  std::vector<Unit> units;
  for (const GpuInfo* gpu : ordered) {
    const std::string name = "gpu" + std::to_string(gpu->index);
    const std::string label = "gpu " + std::to_string(gpu->index) + " (" + gpu->name + ")";
    auto it = partitions.find(gpu->index);
    const GpuPartition partition = it == partitions.end() ? GpuPartition{} : it->second;
    switch (partition.mode) {
      case GpuPartition::Mode::kExclusive:
        units.push_back(
            {name, gpu->index, UnitKind::kWhole, "", gpu->memory_total_bytes, gpu->uuid});
        break;
      case GpuPartition::Mode::kMig: {
        if (!gpu->mig_capable) {
          return Status::InvalidArgument(label +
                                         ": MIG partition, but the GPU does not support MIG");
        }
        std::vector<const MigInstance*> instances;
        for (const MigInstance& mig : gpu->mig_instances) instances.push_back(&mig);
        std::sort(instances.begin(), instances.end(),
                  [](const MigInstance* a, const MigInstance* b) {
                    return a->gpu_instance_id < b->gpu_instance_id;
                  });
        std::set<uint32_t> seen;
        for (const MigInstance* mig : instances) {
          // A GPU instance split into several compute instances is still one unit.
          if (!seen.insert(mig->gpu_instance_id).second) continue;
          units.push_back({name + "/mig/" + std::to_string(mig->gpu_instance_id), gpu->index,
                           UnitKind::kMig, mig->profile, mig->memory_bytes, mig->uuid});
        }
        break;
      }
      case GpuPartition::Mode::kShared: {
        if (partition.shares == 0) {
          return Status::InvalidArgument(label + ": shared partition with 0 shares");
        }
        uint64_t cap = partition.share_memory_bytes;
        if (cap == 0) {
          if (gpu->memory_total_bytes == 0) {
            return Status::InvalidArgument(
                label +
                ": its memory size is unknown, so a shared partition needs an explicit "
                "memory per share");
          }
          cap = gpu->memory_total_bytes / partition.shares;
        } else if (gpu->memory_total_bytes != 0 && cap > gpu->memory_total_bytes) {
          return Status::InvalidArgument(label + ": share memory " + FormatByteSize(cap) +
                                         " exceeds the GPU's " +
                                         FormatByteSize(gpu->memory_total_bytes));
        }
        for (uint32_t s = 0; s < partition.shares; ++s) {
          units.push_back({name + "/share/" + std::to_string(s), gpu->index, UnitKind::kShare, "",
                           cap, gpu->uuid});
        }
        break;
      }
    }
  }
  return units;
}

// ---------------------------------------------------------------------------------------------
// Construction and holdings

Allocator::Allocator(std::vector<GpuInfo> gpus, std::vector<std::vector<LinkKind>> links,
                     std::vector<Unit> units)
    : gpus_(std::move(gpus)), links_(std::move(links)), units_(std::move(units)) {
  Index();
}

int Allocator::PositionOf(uint32_t gpu_index) const {
  for (size_t p = 0; p < gpus_.size(); ++p) {
    if (gpus_[p].index == gpu_index) return static_cast<int>(p);
  }
  return -1;
}

LinkKind Allocator::Link(size_t a, size_t b) const { return link_[a * gpus_.size() + b]; }

void Allocator::Index() {
  const size_t n = gpus_.size();
  if (n > kMaxGpus) {
    init_status_ = Status::Internal("allocator: " + std::to_string(n) + " GPUs, at most " +
                                    std::to_string(kMaxGpus) + " supported");
  }
  holder_.assign(units_.size(), "");
  held_on_gpu_.assign(n, 0);
  held_mig_.assign(n, 0);
  held_share_.assign(n, 0);
  whole_unit_.assign(n, -1);
  for (size_t u = 0; u < units_.size(); ++u) {
    const Unit& unit = units_[u];
    const int pos = PositionOf(unit.gpu);
    unit_gpu_.push_back(pos);
    if (!by_id_.emplace(unit.id, u).second) {
      init_status_ = Status::Internal("allocator: unit " + unit.id + " given twice");
    }
    if (pos < 0) {
      init_status_ = Status::Internal("allocator: unit " + unit.id + " is on gpu " +
                                      std::to_string(unit.gpu) + ", which is not known");
      continue;
    }
    if (unit.kind == UnitKind::kWhole) {
      if (whole_unit_[pos] >= 0) {
        init_status_ =
            Status::Internal("allocator: two whole units on gpu " + std::to_string(unit.gpu));
      }
      whole_unit_[pos] = static_cast<int>(u);
      if (pos < static_cast<int>(kMaxGpus)) whole_mask_ |= Bit(pos);
    }
    if (unit.kind != UnitKind::kShare && !unit.uuid.empty()) by_uuid_.emplace(unit.uuid, u);
  }
  if (n > kMaxGpus) return;

  // Links by position, symmetric (the worse of the two directions), kSystem where unknown.
  link_.assign(n * n, LinkKind::kSystem);
  auto given = [&](uint32_t i, uint32_t j) {
    if (i < links_.size() && j < links_[i].size()) return links_[i][j];
    return LinkKind::kSystem;
  };
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      if (a == b) {
        link_[a * n + b] = LinkKind::kSelf;
        continue;
      }
      const int level = std::max(Level(given(gpus_[a].index, gpus_[b].index)),
                                 Level(given(gpus_[b].index, gpus_[a].index)));
      link_[a * n + b] = static_cast<LinkKind>(std::clamp(level, 1, kLevels - 1));
    }
  }
  within_.assign(n * kLevels, 0);
  exactly_.assign(n * kLevels, 0);
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      const int level = Level(Link(a, b));
      if (a != b) exactly_[a * kLevels + level] |= Bit(b);
      for (int l = level; l < kLevels; ++l) within_[a * kLevels + l] |= Bit(b);
    }
  }

  // NUMA: one mask of whole GPUs per node; a key per distinct node list for twin detection.
  // A GPU of unknown NUMA matches no other, unless no GPU of the machine knows its node.
  std::map<int, uint64_t> per_node;
  std::map<std::vector<int>, int> keys;
  bool any_known = false;
  for (size_t p = 0; p < n; ++p) {
    std::vector<int> nodes = gpus_[p].numa_nodes;
    std::sort(nodes.begin(), nodes.end());
    any_known = any_known || !nodes.empty();
    numa_key_.push_back(keys.emplace(nodes, static_cast<int>(keys.size())).first->second);
    if ((whole_mask_ & Bit(p)) == 0) continue;
    for (int node : nodes) per_node[node] |= Bit(p);
  }
  for (const auto& [node, mask] : per_node) numa_masks_.push_back(mask);
  if (!any_known) numa_masks_.push_back(whole_mask_);

  // Largest satisfiable set per constraint, for telling "never" from "not now".
  std::vector<uint64_t> nvlink_adjacent(n);
  for (size_t p = 0; p < n; ++p)
    nvlink_adjacent[p] = exactly_[p * kLevels + Level(LinkKind::kNvlink)];
  max_group_[0][0] = std::popcount(whole_mask_);
  max_group_[1][0] = MaxClique(nvlink_adjacent, whole_mask_, 0, 0);
  for (uint64_t mask : numa_masks_) {
    max_group_[0][1] = std::max(max_group_[0][1], std::popcount(mask));
    max_group_[1][1] = std::max(max_group_[1][1], MaxClique(nvlink_adjacent, mask, 0, 0));
  }
}

bool Allocator::IsFree(size_t u) const {
  if (!holder_[u].empty()) return false;
  const int pos = unit_gpu_[u];
  if (pos < 0) return false;
  if (units_[u].kind == UnitKind::kWhole) return held_on_gpu_[pos] == 0;
  return whole_unit_[pos] < 0 || holder_[whole_unit_[pos]].empty();
}

void Allocator::Hold(size_t u, const std::string& owner) {
  const int pos = unit_gpu_[u];
  holder_[u] = owner;
  ++held_on_gpu_[pos];
  if (units_[u].kind == UnitKind::kMig) ++held_mig_[pos];
  if (units_[u].kind == UnitKind::kShare) ++held_share_[pos];
  by_owner_[owner].push_back(u);
}

void Allocator::Release(const std::string& owner) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return;
  for (size_t u : it->second) {
    const int pos = unit_gpu_[u];
    holder_[u].clear();
    --held_on_gpu_[pos];
    if (units_[u].kind == UnitKind::kMig) --held_mig_[pos];
    if (units_[u].kind == UnitKind::kShare) --held_share_[pos];
  }
  by_owner_.erase(it);
}

Status Allocator::Restore(const std::string& owner, const std::vector<std::string>& unit_ids) {
  if (owner.empty()) return Status::InvalidArgument("restore: empty owner");
  std::vector<size_t> restored;
  Status failure;
  for (const std::string& id : unit_ids) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) {
      failure = Status::NotFound("restore for " + owner + ": unit " + id + " no longer exists");
      break;
    }
    const size_t u = it->second;
    if (holder_[u] == owner) continue;
    if (!holder_[u].empty()) {
      failure =
          Status::Conflict("restore for " + owner + ": unit " + id + " is held by " + holder_[u]);
      break;
    }
    if (!IsFree(u)) {
      failure = Status::Conflict("restore for " + owner + ": unit " + id +
                                 " shares its GPU with a unit held by someone");
      break;
    }
    Hold(u, owner);
    restored.push_back(u);
  }
  if (failure.ok()) return failure;
  // All or nothing: take back what this call restored, keeping what the owner held before.
  auto& mine = by_owner_[owner];
  for (size_t u : restored) {
    const int pos = unit_gpu_[u];
    holder_[u].clear();
    --held_on_gpu_[pos];
    if (units_[u].kind == UnitKind::kMig) --held_mig_[pos];
    if (units_[u].kind == UnitKind::kShare) --held_share_[pos];
    mine.erase(std::find(mine.begin(), mine.end(), u));
  }
  if (mine.empty()) by_owner_.erase(owner);
  return failure;
}

std::optional<std::string> Allocator::HolderOf(const std::string& unit_id) const {
  auto it = by_id_.find(unit_id);
  if (it == by_id_.end() || holder_[it->second].empty()) return std::nullopt;
  return holder_[it->second];
}

std::map<std::string, std::string> Allocator::Holders() const {
  std::map<std::string, std::string> out;
  for (size_t u = 0; u < units_.size(); ++u) {
    if (!holder_[u].empty()) out.emplace(units_[u].id, holder_[u]);
  }
  return out;
}

Allocation Allocator::MakeAllocation(const std::vector<size_t>& chosen) const {
  std::vector<size_t> sorted = chosen;
  std::sort(sorted.begin(), sorted.end());
  Allocation out;
  for (size_t u : sorted) {
    out.unit_ids.push_back(units_[u].id);
    out.gpus.push_back(units_[u].gpu);
  }
  std::sort(out.gpus.begin(), out.gpus.end());
  out.gpus.erase(std::unique(out.gpus.begin(), out.gpus.end()), out.gpus.end());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests

Result<Allocation> Allocator::Allocate(const GpuRequest& request, const std::string& owner) {
  if (!init_status_.ok()) return init_status_;
  if (owner.empty()) return Status::InvalidArgument("gpu request: empty owner");
  const int kinds = (request.count > 0) + !request.mig_profile.empty() +
                    (request.share_memory_bytes > 0) + !request.uuids.empty();
  if (kinds != 1) {
    return Status::InvalidArgument(
        "gpu request: set exactly one of count, mig_profile, share_memory_bytes and uuids");
  }
  if (request.count == 0 && (request.same_numa || request.nvlink)) {
    return Status::InvalidArgument("gpu request: same_numa and nvlink apply to count only");
  }
  if (request.count > 0) return AllocateWhole(request, owner);
  if (!request.mig_profile.empty()) return AllocateMig(request, owner);
  if (request.share_memory_bytes > 0) return AllocateShare(request, owner);
  return AllocateByUuid(request, owner);
}

namespace {

std::string WholeWhat(const GpuRequest& request) {
  std::string what = "needs " + Plural(request.count, "whole GPU");
  if (request.nvlink && request.count > 1) what += " linked by NVLink";
  if (request.same_numa)
    what += std::string(request.nvlink && request.count > 1 ? "," : "") + " on one NUMA node";
  return what;
}

}  // namespace

Status Allocator::WholeNeverFits(const GpuRequest& request) const {
  const int count = static_cast<int>(std::min<uint32_t>(request.count, 1000));
  const bool nvlink = request.nvlink && count > 1;
  const int most = max_group_[nvlink][request.same_numa];
  if (count <= most) return Status::Ok();
  std::string has;
  if (!nvlink && !request.same_numa) {
    has = "this machine has " + std::to_string(most) + " exclusive GPU" + (most == 1 ? "" : "s");
  } else if (nvlink && !request.same_numa) {
    has = "the largest NVLink group of exclusive GPUs here has " + std::to_string(most);
  } else if (!nvlink) {
    has = "the most exclusive GPUs on one NUMA node here is " + std::to_string(most);
  } else {
    has = "the largest NVLink group of exclusive GPUs on one NUMA node here has " +
          std::to_string(most);
  }
  return Status::FailedPrecondition("gpu request: " + WholeWhat(request) + ", " + has);
}

Result<Allocation> Allocator::AllocateWhole(const GpuRequest& request, const std::string& owner) {
  PADDOCK_RETURN_IF_ERROR(WholeNeverFits(request));
  const uint64_t chosen = BestWholeSet(request);
  if (chosen == 0) {
    int free = 0;
    for (size_t p = 0; p < gpus_.size(); ++p) {
      if (whole_unit_[p] >= 0 && IsFree(whole_unit_[p])) ++free;
    }
    std::string why = "gpu request: " + WholeWhat(request) + ", " + std::to_string(free) + " free";
    if (static_cast<uint32_t>(free) >= request.count) why += ", but no such set of them";
    return Status(StatusCode::kResourceExhausted, why);
  }
  std::vector<size_t> units;
  for (uint64_t m = chosen; m != 0; m &= m - 1) units.push_back(whole_unit_[std::countr_zero(m)]);
  for (size_t u : units) Hold(u, owner);
  return MakeAllocation(units);
}

Result<Allocation> Allocator::AllocateMig(const GpuRequest& request, const std::string& owner) {
  const std::string& profile = request.mig_profile;
  int best = -1;
  int total = 0;
  for (size_t u = 0; u < units_.size(); ++u) {
    const Unit& unit = units_[u];
    if (unit.kind != UnitKind::kMig || unit.profile != profile) continue;
    ++total;
    if (!IsFree(u)) continue;
    // Pack: the GPU with the most MIG units in use, so whole MIG GPUs stay free for re-layout.
    if (best < 0 || held_mig_[unit_gpu_[u]] > held_mig_[unit_gpu_[best]] ||
        (held_mig_[unit_gpu_[u]] == held_mig_[unit_gpu_[best]] && unit.gpu < units_[best].gpu)) {
      best = static_cast<int>(u);
    }
  }
  if (best >= 0) {
    Hold(best, owner);
    return MakeAllocation({static_cast<size_t>(best)});
  }
  if (total > 0) {
    return Status(StatusCode::kResourceExhausted, "gpu request: no free " + profile + " (" +
                                                      std::to_string(total) + " of " +
                                                      std::to_string(total) + " in use)");
  }
  // Never: tell a typo (no GPU offers it) from a profile no layout here uses.
  std::set<std::string> offered, configured;
  for (const GpuInfo& gpu : gpus_) {
    for (const MigProfile& p : gpu.mig_profiles) offered.insert(p.name);
  }
  for (const Unit& unit : units_) {
    if (unit.kind == UnitKind::kMig) configured.insert(unit.profile);
  }
  offered.insert(configured.begin(), configured.end());
  if (offered.count(profile) == 0) {
    return Status::InvalidArgument("gpu request: unknown MIG profile " + profile +
                                   " (GPUs here offer " + JoinSet(offered) + ")");
  }
  return Status::FailedPrecondition("gpu request: no GPU here is partitioned into " + profile +
                                    " instances (MIG instances here: " + JoinSet(configured) + ")");
}

Result<Allocation> Allocator::AllocateShare(const GpuRequest& request, const std::string& owner) {
  const uint64_t want = request.share_memory_bytes;
  int best = -1;
  int sufficient = 0;
  uint64_t largest = 0;
  bool any = false;
  for (size_t u = 0; u < units_.size(); ++u) {
    const Unit& unit = units_[u];
    if (unit.kind != UnitKind::kShare) continue;
    any = true;
    largest = std::max(largest, unit.memory_bytes);
    if (unit.memory_bytes < want) continue;
    ++sufficient;
    if (!IsFree(u)) continue;
    // Smallest sufficient cap (larger shares stay for larger requests), then pack.
    const auto key = [&](size_t v) {
      return std::make_tuple(units_[v].memory_bytes, -held_share_[unit_gpu_[v]], units_[v].gpu);
    };
    if (best < 0 || key(u) < key(best)) best = static_cast<int>(u);
  }
  if (best >= 0) {
    Hold(best, owner);
    return MakeAllocation({static_cast<size_t>(best)});
  }
  if (!any) return Status::FailedPrecondition("gpu request: no GPU here is shared");
  if (sufficient == 0) {
    return Status::FailedPrecondition("gpu request: asks for a share of " + FormatByteSize(want) +
                                      ", the largest share here is " + FormatByteSize(largest));
  }
  return Status(StatusCode::kResourceExhausted,
                "gpu request: no free share of at least " + FormatByteSize(want) + " (" +
                    std::to_string(sufficient) + " of " + std::to_string(sufficient) + " in use)");
}

Result<Allocation> Allocator::AllocateByUuid(const GpuRequest& request, const std::string& owner) {
  std::vector<size_t> wanted;
  std::set<int> whole_gpus;
  for (const std::string& uuid : request.uuids) {
    auto it = by_uuid_.find(uuid);
    if (it == by_uuid_.end()) {
      auto gpu = std::find_if(gpus_.begin(), gpus_.end(),
                              [&](const GpuInfo& g) { return g.uuid == uuid; });
      if (gpu != gpus_.end()) {
        return Status::FailedPrecondition("gpu request: " + uuid + " (gpu " +
                                          std::to_string(gpu->index) +
                                          ") is partitioned; ask for a MIG profile or a share");
      }
      return Status::InvalidArgument("gpu request: unknown GPU or MIG uuid " + uuid);
    }
    if (std::find(wanted.begin(), wanted.end(), it->second) != wanted.end()) {
      return Status::InvalidArgument("gpu request: " + uuid + " named twice");
    }
    wanted.push_back(it->second);
    if (units_[it->second].kind == UnitKind::kWhole) whole_gpus.insert(unit_gpu_[it->second]);
  }
  for (size_t u : wanted) {
    if (units_[u].kind != UnitKind::kWhole && whole_gpus.count(unit_gpu_[u]) > 0) {
      return Status::InvalidArgument("gpu request: asks for gpu " + std::to_string(units_[u].gpu) +
                                     " whole and for its unit " + units_[u].id);
    }
  }
  for (size_t u : wanted) {
    if (!IsFree(u)) {
      return Status(StatusCode::kResourceExhausted,
                    "gpu request: " + units_[u].uuid + " (" + units_[u].id + ") is in use");
    }
  }
  for (size_t u : wanted) Hold(u, owner);
  return MakeAllocation(wanted);
}

// ---------------------------------------------------------------------------------------------
// Whole-GPU placement: branch and bound over classes of interchangeable GPUs.
//
// Two free GPUs are twins when they reach every other free GPU by the same link kind (and sit on
// the same NUMA nodes when that matters). Swapping twins maps every candidate set to one with the
// same cost and fragmentation, so only how many GPUs are taken from each class matters, and the
// lowest-indexed members of each class give the lowest index list. The search enumerates those
// counts class by class, pruning a branch when an admissible lower bound on (cost,
// fragmentation) is already worse than the best set found, or equal to it with no chance of a
// lower index list.

struct Allocator::Search {
  struct Class {
    int rep = 0;    // its lowest position
    int size = 0;   // free members
    int intra = 0;  // link level between two members
    uint64_t members = 0;
    std::array<uint64_t, kMaxGpus + 1> prefix{};  // prefix[c]: its c lowest members
  };
  struct Score {
    int cost = 0;
    std::array<int, kFragLevels> frag{};
  };

  explicit Search(const Allocator& allocator) : a(allocator) {}

  const Allocator& a;
  uint64_t free = 0;  // free whole GPUs (F)
  int k = 0;
  bool nvlink = false;
  uint64_t pool = 0;  // where S may come from (a NUMA node's GPUs, or F)
  std::vector<Class> classes;
  bool found = false;
  Score best;
  uint64_t best_set = 0;

  bool Twins(int p, int q, bool by_numa) const {
    if (by_numa && a.numa_key_[p] != a.numa_key_[q]) return false;
    const uint64_t others = free & ~(Bit(p) | Bit(q));
    for (int l = 1; l < kLevels; ++l) {
      if (((a.exactly_[p * kLevels + l] ^ a.exactly_[q * kLevels + l]) & others) != 0) return false;
    }
    return true;
  }

  void BuildClasses(bool by_numa) {
    uint64_t left = free;
    while (left != 0) {
      Class c;
      c.rep = std::countr_zero(left);
      for (uint64_t m = left; m != 0; m &= m - 1) {
        const int q = std::countr_zero(m);
        if (q == c.rep || Twins(c.rep, q, by_numa)) c.members |= Bit(q);
      }
      left &= ~c.members;
      c.size = std::popcount(c.members);
      uint64_t rest = c.members;
      for (int i = 1; i <= c.size; ++i) {
        c.prefix[i] = c.prefix[i - 1] | (rest & (~rest + 1));
        rest &= rest - 1;
      }
      c.intra = c.size > 1 ? Level(a.Link(c.rep, std::countr_zero(c.members & ~Bit(c.rep)))) : 0;
      classes.push_back(c);
    }
  }

  // Sum of link levels from GPU `p` to the GPUs of `set`.
  int CostTo(int p, uint64_t set) const {
    int sum = 0;
    for (int l = 1; l < kLevels; ++l) sum += l * std::popcount(a.exactly_[p * kLevels + l] & set);
    return sum;
  }

  // -1, 0, 1 as `s` is better than, equal to or worse than the best so far.
  int Compare(const Score& s) const {
    if (s.cost != best.cost) return s.cost < best.cost ? -1 : 1;
    for (int l = 0; l < kFragLevels; ++l) {
      if (s.frag[l] != best.frag[l]) return s.frag[l] < best.frag[l] ? -1 : 1;
    }
    return 0;
  }

  void Leaf(uint64_t chosen, int cost, const std::array<uint64_t, kFragLevels>& reach) {
    Score s;
    s.cost = cost;
    for (int l = 0; l < kFragLevels; ++l) s.frag[l] = std::popcount(reach[l] & free & ~chosen);
    const int order = found ? Compare(s) : -1;
    if (order < 0 || (order == 0 && LexLess(chosen, best_set))) {
      found = true;
      best = s;
      best_set = chosen;
    }
  }

  // Twice a lower bound on what `left` more picks add to the cost: each pick x costs its links to
  // `chosen` plus half its links to the other picks, which are at least its left - 1 cheapest
  // links to the candidates (counted by level from the link masks).
  int TwiceAddedCost(int p, uint64_t chosen, uint64_t candidates, int left) const {
    int sum = 2 * CostTo(p, chosen);
    int need = left - 1;
    for (int l = 1; l < kLevels && need > 0; ++l) {
      const int here = std::min(need, std::popcount(a.exactly_[p * kLevels + l] & candidates));
      sum += here * l;
      need -= here;
    }
    return sum;
  }

  // True when nothing below this node can beat the best set found.
  bool Prune(size_t j, uint64_t chosen, int cost, int left, uint64_t allowed,
             const std::array<uint64_t, kFragLevels>& reach) const {
    uint64_t cand = 0;  // members of later classes that may still be taken
    for (size_t i = j; i < classes.size(); ++i) {
      if ((Bit(classes[i].rep) & pool & allowed) != 0) cand |= classes[i].members;
    }
    if (std::popcount(cand) < left) return true;
    if (!found) return false;
    std::array<std::pair<int, int>, kMaxGpus> extra;  // (twice the added cost, how many)
    int n = 0;
    for (size_t i = j; i < classes.size(); ++i) {
      const Class& c = classes[i];
      if ((Bit(c.rep) & cand) == 0) continue;
      extra[n++] = {TwiceAddedCost(c.rep, chosen, cand, left), c.size};
    }
    std::sort(extra.begin(), extra.begin() + n);
    int twice = 0;
    for (int i = 0, need = left; need > 0; ++i) {
      const int take = std::min(need, extra[i].second);
      twice += take * extra[i].first;
      need -= take;
    }
    Score bound;
    bound.cost = cost + (twice + 1) / 2;
    // Fragmentation only grows: GPUs already within reach stay so, and a later pick outside the
    // reach is itself in the reach of the final set.
    for (int l = 0; l < kFragLevels; ++l) {
      const int reached = std::popcount(reach[l] & free);
      const int inside = std::popcount(reach[l] & cand);
      bound.frag[l] = std::max(0, reached + std::max(0, left - inside) - k);
    }
    const int order = Compare(bound);
    if (order != 0) return order > 0;
    // Ties on the score: only a lower index list could still win.
    return !LexLess(chosen | LowestBits(cand, left), best_set);
  }

  void Dfs(size_t j, uint64_t chosen, int cost, int left, uint64_t allowed,
           const std::array<uint64_t, kFragLevels>& reach) {
    if (left == 0) return Leaf(chosen, cost, reach);
    if (j == classes.size()) return;
    if (Prune(j, chosen, cost, left, allowed, reach)) return;
    const Class& c = classes[j];
    const bool usable = (Bit(c.rep) & pool & allowed) != 0;
    int most = usable ? std::min(left, c.size) : 0;
    if (nvlink && c.intra != Level(LinkKind::kNvlink)) most = std::min(most, 1);
    const int to_chosen = most > 0 ? CostTo(c.rep, chosen) : 0;
    // Fewest first: measured to find sets that prune well sooner on trees and random links.
    for (int take = 0; take <= most; ++take) {
      const uint64_t picked = c.prefix[take];
      std::array<uint64_t, kFragLevels> next = reach;
      uint64_t next_allowed = allowed;
      for (uint64_t m = picked; m != 0; m &= m - 1) {
        const int p = std::countr_zero(m);
        for (int l = 0; l < kFragLevels; ++l) next[l] |= a.within_[p * kLevels + l + 1];
        if (nvlink) next_allowed &= a.exactly_[p * kLevels + Level(LinkKind::kNvlink)];
      }
      const int added = take * to_chosen + take * (take - 1) / 2 * c.intra;
      Dfs(j + 1, chosen | picked, cost + added, left - take, next_allowed, next);
    }
  }

  void Run() {
    if (std::popcount(pool) < k) return;
    Dfs(0, 0, 0, k, ~uint64_t{0}, {});
  }
};

uint64_t Allocator::BestWholeSet(const GpuRequest& request) const {
  Search search(*this);
  for (size_t p = 0; p < gpus_.size(); ++p) {
    if (whole_unit_[p] >= 0 && IsFree(whole_unit_[p])) search.free |= Bit(p);
  }
  search.k = static_cast<int>(request.count);
  search.nvlink = request.nvlink && request.count > 1;
  if (std::popcount(search.free) < search.k) return 0;
  search.BuildClasses(request.same_numa);
  if (!request.same_numa) {
    search.pool = search.free;
    search.Run();
  } else {
    // One search per NUMA node, sharing the best found: a node's sets compete with the others'.
    for (uint64_t node : numa_masks_) {
      search.pool = search.free & node;
      search.Run();
    }
  }
  return search.found ? search.best_set : 0;
}

}  // namespace paddock::gpu
