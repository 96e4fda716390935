#include "storage/fs_identity.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "base/log.h"

namespace paddock::storage {
namespace {

// 32-bit architectures have the 32-bit id variants under other numbers.
#ifdef SYS_setfsuid32
constexpr long kSetFsUid = SYS_setfsuid32;
constexpr long kSetFsGid = SYS_setfsgid32;
constexpr long kSetGroups = SYS_setgroups32;
#else
constexpr long kSetFsUid = SYS_setfsuid;
constexpr long kSetFsGid = SYS_setfsgid;
constexpr long kSetGroups = SYS_setgroups;
#endif

// setfsuid/setfsgid return the previous value whether or not the change was allowed, so a
// second call with the same value reads back what the thread has now.
struct Switched {
  long previous = 0;
  bool took_effect = false;
};

Switched SwitchFsId(long syscall_number, unsigned id) {
  Switched s;
  s.previous = ::syscall(syscall_number, id);
  s.took_effect = static_cast<unsigned>(::syscall(syscall_number, id)) == id;
  return s;
}

// The thread's current fsuid or fsgid: an invalid id (-1) changes nothing and returns it.
unsigned CurrentFsId(long syscall_number) {
  return static_cast<unsigned>(::syscall(syscall_number, static_cast<unsigned>(-1)));
}

std::vector<gid_t> CurrentGroups() {
  const int n = ::getgroups(0, nullptr);
  std::vector<gid_t> groups(n > 0 ? static_cast<size_t>(n) : 0);
  if (n > 0) groups.resize(static_cast<size_t>(std::max(::getgroups(n, groups.data()), 0)));
  std::sort(groups.begin(), groups.end());
  return groups;
}

std::vector<gid_t> Normalized(std::vector<gid_t> groups) {
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  return groups;
}

bool SetGroups(const std::vector<gid_t>& groups) {
  return ::syscall(kSetGroups, groups.size(), groups.data()) == 0;
}

std::string Describe(const FsIdentity& identity) {
  return "uid " + std::to_string(identity.uid) + " gid " + std::to_string(identity.gid);
}

}  // namespace

FsIdentity CurrentFsIdentity() {
  FsIdentity identity;
  identity.uid = CurrentFsId(kSetFsUid);
  identity.gid = CurrentFsId(kSetFsGid);
  identity.groups = CurrentGroups();
  return identity;
}

ScopedFsIdentity::~ScopedFsIdentity() { Restore(); }

Status ScopedFsIdentity::Apply(const FsIdentity* identity) {
  if (identity == nullptr) return Status::Ok();
  if (uid_applied_ || gid_applied_ || groups_applied_) {
    return Status::Internal("ScopedFsIdentity applied twice");
  }
  const std::vector<gid_t> wanted = Normalized(identity->groups);
  std::vector<gid_t> current = CurrentGroups();
  // Skipped when equal, so that an unprivileged process may still act as itself.
  if (wanted != current) {
    if (!SetGroups(wanted)) {
      return Status::FromErrno("cannot take the supplementary groups of " + Describe(*identity))
          .WithContext("switching file system identity");
    }
    groups_applied_ = true;
    previous_groups_ = std::move(current);
  }
  const Switched gid = SwitchFsId(kSetFsGid, identity->gid);
  previous_gid_ = static_cast<gid_t>(gid.previous);
  gid_applied_ = true;
  if (gid.took_effect) {
    const Switched uid = SwitchFsId(kSetFsUid, identity->uid);
    previous_uid_ = static_cast<uid_t>(uid.previous);
    uid_applied_ = true;
    if (uid.took_effect) return Status::Ok();
  }
  Restore();
  return Status::PermissionDenied("cannot act as " + Describe(*identity) +
                                  ": this process may not change its file system identity");
}

void ScopedFsIdentity::Restore() {
  if (!uid_applied_ && !gid_applied_ && !groups_applied_) return;
  const int saved_errno = errno;
  // Reverse order: the uid first, which gives the thread its capabilities back.
  bool ok = true;
  if (uid_applied_) ok = SwitchFsId(kSetFsUid, previous_uid_).took_effect;
  if (ok && gid_applied_) ok = SwitchFsId(kSetFsGid, previous_gid_).took_effect;
  if (ok && groups_applied_) ok = SetGroups(previous_groups_);
  if (!ok) {
    LogError("cannot return a thread to its own file system identity; aborting");
    std::abort();
  }
  uid_applied_ = gid_applied_ = groups_applied_ = false;
  errno = saved_errno;
}

}  // namespace paddock::storage
