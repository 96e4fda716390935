// SandboxData: versioned data in sandboxes. A sandbox may mount `repo@rev` read-only at a path,
// and name an output directory that is committed to `repo@branch` when it ends (the commit's
// message and metadata name the sandbox, its command and how it ended).
//
// Mounts: each revision is resolved to a commit when the sandbox is created (so a branch that
// moves later does not change what a running job reads) and materialised once per commit as a
// read-only view under <views_dir>/<commit id>, made of hardlinks (or reflinks) to the store's
// whole-file cache: a second sandbox reading the same commit costs nothing, and views no running
// sandbox uses are removed. The view is bind-mounted read-only.
//
// Output: <sandbox state dir>/output, owned by the workload's host uid and gid, is bind-mounted
// writable at the target path. When the sandbox has ended (nothing runs in it any more) the
// daemon commits the directory as root: the commit never follows symlinks, and a sandbox cannot
// hardlink host files into the bind mount (links across mounts fail), so reading it as root
// gives the workload nothing it could not read itself.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "sandbox/spec.h"
#include "storage/store.h"

namespace paddock {

struct DataMount {
  std::string repo;
  std::string rev;
  std::string target;  // absolute path in the sandbox
};

struct DataOutput {
  std::string repo;
  std::string branch = "main";
  std::string target = "/output";
  std::string message;  // default: "output of sandbox <id>"
};

class SandboxData {
 public:
  // `store` must outlive this object; null: every request with mounts or an output fails with
  // kUnavailable.
  SandboxData(storage::Store* store, std::string views_dir);

  // Resolves the mounts, materialises their views, creates the output directory under
  // `state_dir` owned by `owner_uid`:`owner_gid`, and adds the bind mounts to `spec`. Returns
  // what the sandbox record keeps: {"mounts": [{"repo","rev","commit","target"}],
  // "output": {"repo","branch","target","message"}} (members absent when not asked for).
  // kInvalidArgument naming mounts[i] or output.repo for an unknown repository or revision.
  Result<nlohmann::json> Prepare(const std::string& id, const std::string& state_dir,
                                 const std::vector<DataMount>& mounts,
                                 const std::optional<DataOutput>& output, uid_t owner_uid,
                                 gid_t owner_gid, sandbox::SandboxSpec* spec);

  // Commits <state_dir>/output as `prepared` (Prepare's result) says; `about` becomes the
  // commit's metadata. Returns `prepared` with "output" completed by "commit" (and "changed") or
  // "error". A sandbox without an output returns `prepared` unchanged.
  nlohmann::json CommitOutput(const std::string& id, const std::string& state_dir,
                              const nlohmann::json& prepared, const nlohmann::json& about);

  // Removes the views of commits not in `in_use` (the mounts of the running sandboxes).
  void PruneViews(const std::set<std::string>& in_use);

  // The commit ids a record's data (Prepare's result) mounts.
  static std::set<std::string> MountedCommits(const nlohmann::json& prepared);

 private:
  Result<std::string> View(const std::string& repo, const std::string& commit);

  storage::Store* store_;
  std::string views_dir_;
  std::mutex mu_;  // serialises creating and pruning views
};

}  // namespace paddock
