// InterruptGuard: Ctrl-C as an event to handle instead of the end of the process.
//
// `paddock sandbox run` streams a sandbox that lives in the daemon, not under the client: dying
// on Ctrl-C or on a closed output pipe would leave it running with nobody watching. While a guard
// is alive, SIGINT only makes fd() readable (so a loop waiting on the daemon wakes up, asks it to
// stop the sandbox and keeps streaming), and SIGPIPE is ignored (so a closed pipe is a write error
// the caller handles). The previous dispositions return when the guard is destroyed.
#pragma once

#include <signal.h>

#include <memory>

#include "base/status.h"
#include "base/unique_fd.h"

namespace paddock::cli {

class InterruptGuard {
 public:
  // At most one guard may exist at a time: the signal handler has one pipe to write to.
  static Result<std::unique_ptr<InterruptGuard>> Install();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // Readable once Ctrl-C was pressed, until TakeInterrupt() is called.
  int fd() const { return read_end_.get(); }
  // True when Ctrl-C was pressed since the last call; empties the pipe.
  bool TakeInterrupt();
  // Lets the next Ctrl-C end the process as usual, for a user who no longer wants to wait.
  void RestoreDefaultInterrupt();

 private:
  InterruptGuard(UniqueFd read_end, UniqueFd write_end);

  UniqueFd read_end_;
  UniqueFd write_end_;
  struct sigaction previous_interrupt_ {};
  struct sigaction previous_pipe_ {};
};

}  // namespace paddock::cli
