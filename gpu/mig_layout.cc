#include "gpu/mig_layout.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>

namespace paddock::gpu {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string OfferedNames(const std::vector<MigProfile>& supported) {
  std::vector<std::string> names;
  for (const MigProfile& profile : supported) names.push_back(profile.name);
  return JoinNames(names);
}

// Memory slices of the GPU: the end of the furthest placement (8 on A100/H100, 4 on A30).
uint32_t MemorySlices(const std::vector<MigProfile>& supported) {
  uint32_t slices = 0;
  for (const MigProfile& profile : supported) {
    for (uint32_t start : profile.placement_starts) {
      slices = std::max(slices, start + profile.placement_size);
    }
  }
  return slices;
}

// Compute slices of the GPU: those of its largest profile (7g on A100/H100, 4g on A30).
uint32_t ComputeSlices(const std::vector<MigProfile>& supported) {
  uint32_t slices = 0;
  for (const MigProfile& profile : supported) slices = std::max(slices, profile.slices);
  return slices;
}

// "3g.40gb takes 4 memory slices at 0 or 4", what an administrator needs to see why a layout
// does not fit.
std::string DescribePlacements(const MigProfile& profile) {
  std::string starts;
  for (size_t i = 0; i < profile.placement_starts.size(); ++i) {
    if (i > 0) starts += i + 1 == profile.placement_starts.size() ? " or " : ", ";
    starts += std::to_string(profile.placement_starts[i]);
  }
  return profile.name + " takes " + std::to_string(profile.placement_size) + " memory slice" +
         (profile.placement_size == 1 ? "" : "s") + " at " + (starts.empty() ? "no start" : starts);
}

// Depth-first placement of items[i..] into the free memory slices `used` leaves; starts[i] gets
// each item's start. Items are ordered so that equal profiles are adjacent; an item of the same
// profile as the one before starts after it, which skips permutations of identical instances.
bool Place(const std::vector<const MigProfile*>& items, size_t i, uint64_t used,
           std::vector<uint32_t>& starts) {
  if (i == items.size()) return true;
  const MigProfile& profile = *items[i];
  const bool same_as_previous = i > 0 && items[i - 1] == items[i];
  std::vector<uint32_t> candidates = profile.placement_starts;
  std::sort(candidates.begin(), candidates.end());
  for (uint32_t start : candidates) {
    if (same_as_previous && start <= starts[i - 1]) continue;
    if (start + profile.placement_size > 64) continue;
    const uint64_t span =
        (profile.placement_size >= 64 ? ~uint64_t{0} : (uint64_t{1} << profile.placement_size) - 1)
        << start;
    if ((used & span) != 0) continue;
    starts[i] = start;
    if (Place(items, i + 1, used | span, starts)) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<MigPlacement>> PlanMigLayout(const std::vector<MigProfile>& supported,
                                                const std::vector<std::string>& layout) {
  if (layout.empty()) return std::vector<MigPlacement>{};
  if (supported.empty()) {
    return Status::InvalidArgument("mig layout: this GPU offers no MIG profiles");
  }
  std::vector<const MigProfile*> items;
  for (const std::string& name : layout) {
    auto it = std::find_if(supported.begin(), supported.end(),
                           [&](const MigProfile& p) { return p.name == name; });
    if (it == supported.end()) {
      return Status::InvalidArgument("mig layout: unknown profile " + name + " (this GPU offers " +
                                     OfferedNames(supported) + ")");
    }
    items.push_back(&*it);
  }

  const std::string what =
      "mig layout: " + JoinNames(layout) + " do" + (layout.size() == 1 ? "es" : "") + " not fit: ";
  const uint32_t compute_needed =
      std::accumulate(items.begin(), items.end(), 0u,
                      [](uint32_t sum, const MigProfile* p) { return sum + p->slices; });
  const uint32_t compute_total = ComputeSlices(supported);
  if (compute_needed > compute_total) {
    return Status::InvalidArgument(what + "they need " + std::to_string(compute_needed) +
                                   " compute slices, this GPU has " +
                                   std::to_string(compute_total));
  }
  const uint32_t memory_needed =
      std::accumulate(items.begin(), items.end(), 0u,
                      [](uint32_t sum, const MigProfile* p) { return sum + p->placement_size; });
  const uint32_t memory_total = MemorySlices(supported);
  if (memory_needed > memory_total) {
    return Status::InvalidArgument(what + "they need " + std::to_string(memory_needed) +
                                   " memory slices, this GPU has " + std::to_string(memory_total));
  }

  // Larger first: they have the fewest valid starts, so placing them early fails fast.
  std::stable_sort(items.begin(), items.end(), [](const MigProfile* a, const MigProfile* b) {
    if (a->placement_size != b->placement_size) return a->placement_size > b->placement_size;
    if (a->slices != b->slices) return a->slices > b->slices;
    return a->name < b->name;
  });
  std::vector<uint32_t> starts(items.size());
  if (!Place(items, 0, 0, starts)) {
    std::vector<std::string> rules;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i == 0 || items[i] != items[i - 1]) rules.push_back(DescribePlacements(*items[i]));
    }
    return Status::InvalidArgument(what + "no arrangement keeps their memory slices apart (" +
                                   JoinNames(rules) + ")");
  }

  std::vector<MigPlacement> plan;
  for (size_t i = 0; i < items.size(); ++i) {
    plan.push_back({items[i]->name, items[i]->id, starts[i], items[i]->placement_size});
  }
  std::sort(plan.begin(), plan.end(),
            [](const MigPlacement& a, const MigPlacement& b) { return a.start < b.start; });
  return plan;
}

bool SameLayout(const std::vector<MigInstance>& existing, const std::vector<MigPlacement>& plan) {
  if (existing.size() != plan.size()) return false;
  std::map<std::string, int> balance;
  std::map<uint32_t, int> per_gpu_instance;
  for (const MigInstance& instance : existing) {
    // Two compute instances in one GPU instance is a split that the plan does not describe.
    if (++per_gpu_instance[instance.gpu_instance_id] > 1) return false;
    ++balance[instance.profile];
  }
  for (const MigPlacement& placement : plan) --balance[placement.profile];
  return std::all_of(balance.begin(), balance.end(), [](const auto& kv) { return kv.second == 0; });
}

}  // namespace paddock::gpu
