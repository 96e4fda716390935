// Pipe: both ends of a pipe2(O_CLOEXEC), each owned.
#pragma once

#include "base/status.h"
#include "base/unique_fd.h"

namespace paddock {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// A new pipe; both ends are close-on-exec (dup2 them into place where a child needs them).
Result<Pipe> MakePipe();

}  // namespace paddock
