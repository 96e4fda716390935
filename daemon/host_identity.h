// Who a caller is on the host's file system, for the store routes that read or write host paths
// (commit from a directory, diff against one, checkout into one).
//
// The rule: a host path is accessed with the caller's own identity, never the daemon's, so the
// API lets nobody read or write what they could not themselves. A unix-socket caller is who the
// kernel says (SO_PEERCRED: uid and gid at connect time) plus the supplementary groups of that
// uid's user from the group database (getgrouplist; none when the uid has no passwd entry). A
// token caller has no host identity at all: a token may be used from another machine by anyone
// holding it, so host paths are refused (kPermissionDenied); such callers upload and download
// tar archives instead.
#pragma once

#include <string>

#include "base/status.h"
#include "daemon/http_types.h"
#include "storage/store.h"

namespace paddock {

// The identity to access host paths with, or kPermissionDenied for a caller that has none.
Result<storage::FsIdentity> HostIdentity(const Caller& caller);

// The author recorded in a caller's commits: the unix user's name ("uid 1234" when the uid has no
// passwd entry), or "token:<name>" for a token caller.
std::string CommitAuthor(const Caller& caller);

}  // namespace paddock
