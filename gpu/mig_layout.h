// MIG layout planning: from an administrator's list of profile names to concrete placements.
//
// Contracts:
// - PlanMigLayout() is pure: it reads only its arguments. Given the GPU's supported profiles
//   (GpuInfo::mig_profiles) and a layout such as {"3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"}, it
//   checks every name against the profiles, checks that the instances' compute slices fit the GPU
//   and that their memory slices can be placed without overlap, each at one of its profile's
//   valid starts, and returns one such placement per requested instance, ordered by start slice.
// - The search is deterministic: larger instances are placed first, each at its lowest free valid
//   start, backtracking when a later instance does not fit. The same input always gives the same
//   plan.
// - Every failure is kInvalidArgument with a message written for the administrator who wrote the
//   layout ("mig layout: unknown profile 5g.50gb (this GPU offers 1g.10gb, ...)"). An empty layout
//   is valid and plans no instance.
// - SameLayout() says whether the instances that exist already serve the plan, so the daemon can
//   leave a GPU alone (destroying instances needs an idle GPU and kills its users' work).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "gpu/gpu_info.h"

namespace paddock::gpu {

Result<std::vector<MigPlacement>> PlanMigLayout(const std::vector<MigProfile>& supported,
                                                const std::vector<std::string>& layout);

// True when `existing` holds exactly the plan's instances by profile: the same profile names
// with the same multiplicity, one compute instance per GPU instance. Where the instances sit
// (their start slices) is not compared: any valid placement of the same profiles offers the same
// units, and moving them would only disturb running work.
bool SameLayout(const std::vector<MigInstance>& existing, const std::vector<MigPlacement>& plan);

}  // namespace paddock::gpu
