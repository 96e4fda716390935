// The sandbox's network namespace. Network "none" means loopback only: a fresh namespace has a
// loopback device that is down, and many programs (Jupyter kernels, NCCL's local rendezvous,
// torch.distributed on one node) need 127.0.0.1, so it is brought up.
#pragma once

#include "base/status.h"

namespace paddock::sandbox {

Status BringUpLoopback();

}  // namespace paddock::sandbox
