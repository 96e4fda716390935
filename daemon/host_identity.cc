#include "daemon/host_identity.h"

#include <grp.h>
#include <pwd.h>

#include <optional>
#include <vector>

namespace paddock {
namespace {

// The passwd name of `uid`, or nullopt when it has none.
std::optional<std::string> UserName(uid_t uid) {
  std::vector<char> buf(16384);  // on the heap: handlers run on small thread stacks
  passwd entry;
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return std::string(found->pw_name);
}

// The groups `user` belongs to (its primary `gid` included), growing the buffer as asked.
std::vector<gid_t> GroupsOf(const std::string& user, gid_t gid) {
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int count = static_cast<int>(groups.size());
    if (::getgrouplist(user.c_str(), gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<size_t>(count));
      return groups;
    }
    // -1 with `count` set to the number needed.
    groups.resize(static_cast<size_t>(count) > groups.size() ? static_cast<size_t>(count)
                                                             : groups.size() * 2);
  }
  return {gid};
}

}  // namespace

Result<storage::FsIdentity> HostIdentity(const Caller& caller) {
  if (caller.kind != Caller::Kind::kUnixPeer) {
    return Status::PermissionDenied(
        "host paths are read and written as the caller's own user, which only callers on the "
        "unix socket have; upload a tar archive or download one instead");
  }
  storage::FsIdentity identity;
  identity.uid = caller.uid;
  identity.gid = caller.gid;
  if (auto user = UserName(caller.uid)) identity.groups = GroupsOf(*user, caller.gid);
  return identity;
}

std::string CommitAuthor(const Caller& caller) {
  switch (caller.kind) {
    case Caller::Kind::kUnixPeer: {
      auto user = UserName(caller.uid);
      return user ? *user : "uid " + std::to_string(caller.uid);
    }
    case Caller::Kind::kToken:
      return "token:" + caller.token_name;
    case Caller::Kind::kAnonymous:
      break;
  }
  return "anonymous";
}

}  // namespace paddock
