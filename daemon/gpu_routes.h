// The /api/v1/gpus routes: every authenticated caller may see the machine's GPUs, their units and
// who holds them (a shared box is only fair when everyone can see it).
#pragma once

#include "daemon/router.h"

namespace paddock {

class GpuManager;

// `*manager` is read at request time, so it may be set after registration.
void RegisterGpuRoutes(Router* router, GpuManager* const* manager);

}  // namespace paddock
