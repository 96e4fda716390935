// The /api/v1/sandboxes routes. Callers see and control only their own sandboxes (admins: all);
// another caller's sandbox is reported as not found rather than forbidden, so ids do not leak.
#pragma once

#include "daemon/router.h"

namespace paddock {

class SandboxManager;

// `*manager` is read at request time, so it may be set after registration.
void RegisterSandboxRoutes(Router* router, SandboxManager* const* manager);

}  // namespace paddock
