// Reference for whole-GPU placement: every subset of the free whole GPUs, scored straight from
// the objective's definition in gpu/allocator.h. Slow (all C(n, k) subsets) and obviously right;
// the allocator's tests and bench/gpu_alloc.cc compare its branch and bound against it.
//
// Contract: BruteForceBest() returns the set the allocator must choose for a count request given
// the free whole GPUs, or found == false when no subset satisfies the constraints. Links are read
// as given (links[i][j] for GPU indexes); the machines it is used with have symmetric matrices.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gpu/allocator.h"
#include "gpu/gpu_info.h"

namespace paddock::gpu::testing {

struct Objective {
  int cost = 0;
  std::array<int, 4> frag{};  // levels kNvlink .. kNumaNode
  friend auto operator<=>(const Objective&, const Objective&) = default;
};

struct BruteForceResult {
  bool found = false;
  std::vector<uint32_t> gpus;  // sorted
  Objective objective;
};

inline int LinkLevel(const std::vector<std::vector<LinkKind>>& links, uint32_t a, uint32_t b) {
  return static_cast<int>(links.at(a).at(b));
}

// The objective of choosing `set` when `free` are the free whole GPUs (set is part of free).
inline Objective Evaluate(const std::vector<std::vector<LinkKind>>& links,
                          const std::vector<uint32_t>& free, const std::vector<uint32_t>& set) {
  Objective o;
  for (size_t i = 0; i < set.size(); ++i) {
    for (size_t j = i + 1; j < set.size(); ++j) o.cost += LinkLevel(links, set[i], set[j]);
  }
  for (int level = 1; level <= 4; ++level) {
    for (uint32_t g : free) {
      if (std::find(set.begin(), set.end(), g) != set.end()) continue;
      const bool near = std::any_of(set.begin(), set.end(),
                                    [&](uint32_t s) { return LinkLevel(links, g, s) <= level; });
      o.frag[level - 1] += near ? 1 : 0;
    }
  }
  return o;
}

inline bool Satisfies(const std::vector<GpuInfo>& gpus,
                      const std::vector<std::vector<LinkKind>>& links,
                      const std::vector<uint32_t>& set, const GpuRequest& request) {
  if (request.nvlink) {
    for (size_t i = 0; i < set.size(); ++i) {
      for (size_t j = i + 1; j < set.size(); ++j) {
        if (links[set[i]][set[j]] != LinkKind::kNvlink) return false;
      }
    }
  }
  if (request.same_numa) {
    const bool any_known = std::any_of(gpus.begin(), gpus.end(),
                                       [](const GpuInfo& g) { return !g.numa_nodes.empty(); });
    if (!any_known) return true;
    auto nodes_of = [&](uint32_t index) {
      for (const GpuInfo& g : gpus) {
        if (g.index == index) return std::set<int>(g.numa_nodes.begin(), g.numa_nodes.end());
      }
      return std::set<int>();
    };
    std::set<int> common = nodes_of(set.at(0));
    for (uint32_t g : set) {
      std::set<int> mine = nodes_of(g), both;
      std::set_intersection(common.begin(), common.end(), mine.begin(), mine.end(),
                            std::inserter(both, both.begin()));
      common = both;
    }
    if (common.empty()) return false;
  }
  return true;
}

// All subsets of `free` (sorted) of request.count GPUs, in lexicographic order; the first with the
// lowest objective wins, which is the objective's tie-break.
inline BruteForceResult BruteForceBest(const std::vector<GpuInfo>& gpus,
                                       const std::vector<std::vector<LinkKind>>& links,
                                       std::vector<uint32_t> free, const GpuRequest& request) {
  std::sort(free.begin(), free.end());
  BruteForceResult best;
  const size_t k = request.count;
  if (k == 0 || k > free.size()) return best;
  std::vector<size_t> pick(k);
  for (size_t i = 0; i < k; ++i) pick[i] = i;
  std::vector<uint32_t> set(k);
  while (true) {
    for (size_t i = 0; i < k; ++i) set[i] = free[pick[i]];
    if (Satisfies(gpus, links, set, request)) {
      const Objective o = Evaluate(links, free, set);
      if (!best.found || o < best.objective) best = {true, set, o};
    }
    // Next combination in lexicographic order.
    size_t i = k;
    while (i > 0 && pick[i - 1] == free.size() - k + i - 1) --i;
    if (i == 0) break;
    ++pick[i - 1];
    for (size_t j = i; j < k; ++j) pick[j] = pick[j - 1] + 1;
  }
  return best;
}

// Whole GPUs the allocator considers free: their unit is not held and no other unit of the GPU is.
inline std::vector<uint32_t> FreeWholeGpus(const Allocator& allocator) {
  const auto holders = allocator.Holders();
  std::set<uint32_t> busy;
  for (const Unit& unit : allocator.units()) {
    if (holders.count(unit.id) > 0) busy.insert(unit.gpu);
  }
  std::vector<uint32_t> free;
  for (const Unit& unit : allocator.units()) {
    if (unit.kind == UnitKind::kWhole && busy.count(unit.gpu) == 0) free.push_back(unit.gpu);
  }
  return free;
}

}  // namespace paddock::gpu::testing
