// FsIdentity: whose file system permissions apply when the store reads or writes a host path,
// and ScopedFsIdentity, which makes the calling thread (and only it) act as that identity.
//
// The daemon runs as root and serves many users; a user must only commit what they may read and
// only check out where they may write. Linux keeps a file system uid and gid (setfsuid(2),
// setfsgid(2)) and the supplementary groups per thread, and permission checks on paths use them,
// so a thread can act as the user while its neighbours serve others. The raw system calls are
// used on purpose: glibc's setgroups/setresuid wrappers broadcast the change to every thread of
// the process, which is exactly what must not happen here.
//
// Effects while applied: permission checks use the identity (a non-zero fsuid also drops the
// file system capabilities such as CAP_DAC_OVERRIDE from the thread), and files and directories
// the thread creates are owned by it, so a checkout belongs to the user who made it.
//
// Thread-safety: the identity belongs to the thread that applied it; a ScopedFsIdentity must be
// destroyed (or Restore()d) on that same thread. Nesting is fine (each restores what it found).
#pragma once

#include <sys/types.h>

#include <vector>

#include "base/status.h"

namespace paddock::storage {

// Whose file system permissions apply to host paths.
struct FsIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  friend bool operator==(const FsIdentity&, const FsIdentity&) = default;
};

// The calling thread's file system uid and gid and its supplementary groups (sorted).
FsIdentity CurrentFsIdentity();

class ScopedFsIdentity {
 public:
  ScopedFsIdentity() = default;  // applies nothing
  // Restore()s.
  ~ScopedFsIdentity();
  ScopedFsIdentity(const ScopedFsIdentity&) = delete;
  ScopedFsIdentity& operator=(const ScopedFsIdentity&) = delete;

  // Makes the calling thread act as `identity`: supplementary groups, then fsgid, then fsuid
  // (in that order, because changing groups needs CAP_SETGID, which only a change of the real
  // ids would take away). A null identity changes nothing. Each change is read back; if one did
  // not take effect (the process lacks CAP_SETUID/CAP_SETGID), what was changed is undone and
  // the result is kPermissionDenied. May be called once per object.
  Status Apply(const FsIdentity* identity);

  // Returns the thread to the identity it had before Apply(); no-op when nothing is applied.
  // Keeps errno, so a failed call's errno can be read after switching back. A thread that
  // cannot switch back must not go on serving anybody else: the process aborts, logging why
  // (only possible if the process dropped its capabilities meanwhile).
  void Restore();

 private:
  bool uid_applied_ = false;
  bool gid_applied_ = false;
  bool groups_applied_ = false;
  uid_t previous_uid_ = 0;
  gid_t previous_gid_ = 0;
  std::vector<gid_t> previous_groups_;
};

}  // namespace paddock::storage
