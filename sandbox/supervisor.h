// Supervisor: paddock-init's life as the sandbox's PID 1 once the workload runs.
//
// It reaps every process that ends in the sandbox (orphans reparent to it), copies the
// workload's stdout/stderr into size-capped log files that rotate to <name>.1, enforces the time
// limit, and stops the sandbox when told to: SIGTERM from outside the sandbox (the daemon) means
// "stop": SIGTERM to every process, then SIGKILL to all after the grace period. SIGHUP, SIGINT,
// SIGQUIT, SIGUSR1/2 and SIGWINCH from outside are forwarded to the workload. Signals sent from
// inside the sandbox are ignored: the workload cannot stop or steer its supervisor. When the
// workload's main process ends, everything left is killed, the logs are drained and the outcome
// is written atomically to <state_dir>/exit.json (see ExitRecord). With a terminal (spec.tty) it
// copies the terminal's output into stdout.log and serves the control socket of terminal.h.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "sandbox/spec.h"
#include "sandbox/workload.h"

namespace paddock::sandbox {

class Supervisor {
 public:
  // `state_dir` is an O_DIRECTORY descriptor of the sandbox's state directory on the host,
  // opened before pivot_root so logs and the exit record land outside the sandbox.
  // `terminal_control` is the listening socket of terminal.h when the workload has a terminal.
  Supervisor(const SandboxSpec& spec, int state_dir, Workload workload,
             UniqueFd terminal_control = UniqueFd());

  // Runs until the sandbox has ended; returns the record it wrote.
  ExitRecord Run();

 private:
  class LogFile;
  void BeginStop(const std::string& reason);
  void ReapChildren();
  void HandleSignal(int signals);
  // Terminal control: accept a connection, read its messages, write pending input.
  void AcceptControlClient();
  void ReadControlClient(size_t index);
  void WritePendingInput();

  const SandboxSpec& spec_;
  int state_dir_;
  Workload workload_;
  bool main_exited_ = false;
  int main_status_ = 0;
  std::string stop_reason_;
  UniqueFd grace_timer_;
  UniqueFd control_listener_;
  std::vector<UniqueFd> control_clients_;
  std::string pending_input_;  // accepted input the terminal has not taken yet
};

}  // namespace paddock::sandbox
