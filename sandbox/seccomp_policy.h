// The sandbox's seccomp profile, compiled once and loaded into every sandboxed process.
//
// The profile is an allow-list (see docs/sandbox-seccomp.md for the full list and the reasons):
//   - a syscall the profile allows runs (some only with arguments the profile accepts);
//   - a syscall the profile knows but does not allow fails with EPERM, without reaching the
//     kernel. Two exceptions fail with ENOSYS instead: clone3 and the i386 socketcall multiplexer
//     pass their real arguments in memory, where a filter cannot read them, and ENOSYS makes libc
//     fall back to clone and the direct socket calls, whose arguments the filter checks;
//   - a syscall number above the highest one the profile knows (a syscall newer than the profile,
//     or any x32 syscall) fails with ENOSYS, so that libc treats it as "kernel too old" and falls
//     back to an older call.
// Both x86-64 and i386 (int $0x80) syscalls are filtered with the same rules; the x32 ABI is
// refused as a whole (ENOSYS).
//
// Building the filter with libseccomp takes milliseconds, so a process builds the program once
// (SeccompProgram::Build, before it clones) and each sandbox child loads the finished BPF
// (Install), which allocates nothing and is async-signal-safe:
//
//   Result<SeccompProgram> program = SeccompProgram::Build();  // before cloning
//   if (!program.ok()) return program.status();
//   ...
//   // in the cloned child, right before execve:
//   if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(errno);
//   if (int err = program->Install(); err != 0) fail(-err);
//   execve(...);
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace paddock::sandbox {

// How the profile treats one syscall (by name).
enum class SyscallRule {
  kAllow,        // always allowed
  kAllowIfArgs,  // allowed when its arguments pass the profile's checks, EPERM otherwise
  kDeny,         // fails with EPERM
  kDenyEnosys,   // fails with ENOSYS (libc is expected to fall back to an older syscall)
};

struct SyscallEntry {
  std::string_view name;  // libseccomp's name, e.g. "openat" or the i386-only "mmap2"
  SyscallRule rule;
};

// Every syscall name the profile knows, x86-64 and i386 names together, each exactly once.
// Build() turns this table into the filter; it is exposed so that tests and documentation can
// check it. A name that the linked libseccomp cannot resolve on an arch is left out of that arch's
// filter, and then counts as unknown there (ENOSYS when above the highest known number).
std::span<const SyscallEntry> SeccompProfile();

// A compiled seccomp BPF program for the profile. Copyable and immutable once built; Install() may
// be called from any number of children concurrently.
class SeccompProgram {
 public:
  // Builds the profile for x86-64 and i386 with libseccomp and compiles it to BPF (exported into a
  // memfd and read back). Takes a few milliseconds (about 15 ms with libseccomp 2.5.4): build once,
  // install many times. Fails with kFailedPrecondition when libseccomp's native arch is not
  // x86-64, kInternal when libseccomp rejects the profile or the program exceeds the kernel's size
  // limit.
  static Result<SeccompProgram> Build();

  // The compiled program as raw bytes, and back. Building costs ~15 ms, so the daemon builds the
  // program once and hands the bytes to every paddock-init instead of each compiling its own.
  // FromBytes() checks only the shape (whole instructions, at most BPF_MAXINSNS); the kernel's
  // verifier checks the rest when Install() loads it.
  std::string ToBytes() const;
  static Result<SeccompProgram> FromBytes(std::string_view bytes);

  // Loads the program into the calling process: seccomp(2) with SECCOMP_FILTER_FLAG_TSYNC, or
  // prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER) where seccomp(2) is unavailable. Meant for a freshly
  // cloned, single-threaded child right before execve: it allocates nothing, logs nothing and is
  // async-signal-safe. The filter is inherited by children and kept across execve, and cannot be
  // removed.
  //
  // REQUIRES: PR_SET_NO_NEW_PRIVS is already set in the calling thread (or the caller has
  // CAP_SYS_ADMIN in its user namespace; the kernel refuses the filter with EACCES otherwise).
  // Returns 0, or -errno: -EACCES (see above), -EINVAL (program rejected by the kernel), -ESRCH
  // (another thread of the process could not be synchronised), -EFAULT/-ENOMEM.
  int Install() const;

  // Number of BPF instructions (each 8 bytes); at most BPF_MAXINSNS (4096).
  size_t instruction_count() const { return program_.size(); }

  // The program itself, for tests and diagnostics (e.g. dumping it with a BPF disassembler).
  std::span<const sock_filter> instructions() const { return program_; }

 private:
  explicit SeccompProgram(std::vector<sock_filter> program) : program_(std::move(program)) {}

  std::vector<sock_filter> program_;
};

}  // namespace paddock::sandbox
