#include "daemon/sandbox_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <system_error>

#include "base/file_util.h"
#include "base/log.h"

namespace paddock {
namespace {

// A view is kept this long after its last use even when no running sandbox mounts it: a sandbox
// being created may have prepared it and not be recorded as running yet.
constexpr auto kViewGrace = std::chrono::minutes(1);

std::string MountField(size_t i) { return "mounts[" + std::to_string(i) + "]"; }

// A repository or revision that does not exist, or is malformed, is a bad value of the request
// field: kInvalidArgument naming it, so the API answers 400 with that field.
Status AboutField(const Status& status, const std::string& field) {
  if (status.code() == StatusCode::kInvalidArgument || status.code() == StatusCode::kNotFound) {
    return Status::InvalidArgument(field + ": " + status.message());
  }
  return status;
}

Status MakeOutputDirectory(const std::string& dir, uid_t uid, gid_t gid) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno("create the output directory " + dir);
  }
  if (::chown(dir.c_str(), uid, gid) != 0) return Status::FromErrno("chown " + dir);
  return Status::Ok();
}

}  // namespace

SandboxData::SandboxData(storage::Store* store, std::string views_dir)
    : store_(store), views_dir_(std::move(views_dir)) {}

Result<std::string> SandboxData::View(const std::string& repo, const std::string& commit) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string view = JoinPath(views_dir_, commit);
  struct stat st;
  if (::stat(view.c_str(), &st) == 0) {
    ::utimensat(AT_FDCWD, view.c_str(), nullptr, 0);  // used now: keep it past the grace
    return view;
  }
  PADDOCK_RETURN_IF_ERROR(MakeDirectories(views_dir_, 0700));
  // Materialised beside its final name and renamed, so a crash never leaves a partial view that
  // a later sandbox would mount.
  const std::string partial = view + ".partial";
  std::error_code ignored;
  std::filesystem::remove_all(partial, ignored);
  auto checkout = store_->Checkout(repo, commit, partial, /*read_only_view=*/true, nullptr);
  if (!checkout.ok()) {
    std::filesystem::remove_all(partial, ignored);
    return checkout.status();
  }
  if (::rename(partial.c_str(), view.c_str()) != 0) return Status::FromErrno("rename " + partial);
  LogInfo("sandbox data: view materialised",
          {{"REPO", repo}, {"COMMIT", commit}, {"FILES", std::to_string(checkout->files)}});
  return view;
}

Result<nlohmann::json> SandboxData::Prepare(const std::string& id, const std::string& state_dir,
                                            const std::vector<DataMount>& mounts,
                                            const std::optional<DataOutput>& output,
                                            uid_t owner_uid, gid_t owner_gid,
                                            sandbox::SandboxSpec* spec) {
  nlohmann::json prepared = nlohmann::json::object();
  if (mounts.empty() && !output) return prepared;
  if (store_ == nullptr) {
    return Status::Unavailable("the versioned store is not available ([store] in the config)");
  }
  nlohmann::json mounted = nlohmann::json::array();
  for (size_t i = 0; i < mounts.size(); ++i) {
    const DataMount& m = mounts[i];
    auto commit = store_->Resolve(m.repo, m.rev);
    if (!commit.ok()) return AboutField(commit.status(), MountField(i));
    auto view = View(m.repo, commit->ToHex());
    if (!view.ok()) return AboutField(view.status(), MountField(i));
    spec->binds.push_back({*view, m.target, /*writable=*/false});
    mounted.push_back(
        {{"repo", m.repo}, {"rev", m.rev}, {"commit", commit->ToHex()}, {"target", m.target}});
  }
  if (!mounted.empty()) prepared["mounts"] = mounted;
  if (output) {
    auto repos = store_->ListRepos();
    if (!repos.ok()) return repos.status();
    bool exists = false;
    for (const auto& r : *repos) exists = exists || r.name == output->repo;
    if (!exists) return Status::InvalidArgument("output.repo: no repository " + output->repo);
    const std::string dir = JoinPath(state_dir, "output");
    PADDOCK_RETURN_IF_ERROR(MakeDirectories(state_dir, 0750));
    PADDOCK_RETURN_IF_ERROR(MakeOutputDirectory(dir, owner_uid, owner_gid));
    spec->binds.push_back({dir, output->target, /*writable=*/true});
    prepared["output"] = {
        {"repo", output->repo},
        {"branch", output->branch},
        {"target", output->target},
        {"message", output->message.empty() ? "output of sandbox " + id : output->message}};
  }
  return prepared;
}

nlohmann::json SandboxData::CommitOutput(const std::string& id, const std::string& state_dir,
                                         const nlohmann::json& prepared,
                                         const nlohmann::json& about) {
  nlohmann::json result = prepared;
  if (!prepared.contains("output") || store_ == nullptr) return result;
  nlohmann::json& out = result["output"];
  if (out.contains("commit") || out.contains("error")) return result;  // done before a restart
  storage::CommitRequest request;
  request.repo = out.value("repo", "");
  request.branch = out.value("branch", "main");
  request.message = out.value("message", "output of sandbox " + id);
  request.author = "paddock sandbox " + id;
  request.metadata_json = about.dump();
  auto committed =
      store_->CommitDirectory(request, JoinPath(state_dir, "output"), /*identity=*/nullptr);
  if (committed.ok()) {
    out["commit"] = committed->commit.ToHex();
    out["changed"] = committed->changed;
    LogInfo("sandbox output committed", {{"SANDBOX", id},
                                         {"REPO", request.repo},
                                         {"BRANCH", request.branch},
                                         {"COMMIT", committed->commit.ToHex()}});
  } else {
    out["error"] = committed.status().message();
    LogError("sandbox output not committed",
             {{"SANDBOX", id}, {"ERROR", committed.status().message()}});
  }
  return result;
}

void SandboxData::PruneViews(const std::set<std::string>& in_use) {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code error;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(views_dir_, error)) {
    const std::string name = entry.path().filename();
    if (in_use.contains(name)) continue;
    std::error_code stat_error;
    const auto used = std::filesystem::last_write_time(entry.path(), stat_error);
    if (!stat_error && now - used < kViewGrace) continue;
    std::error_code removed;
    std::filesystem::remove_all(entry.path(), removed);
    if (removed) {
      LogWarning("sandbox data: cannot remove an unused view",
                 {{"VIEW", entry.path().string()}, {"ERROR", removed.message()}});
    }
  }
}

std::set<std::string> SandboxData::MountedCommits(const nlohmann::json& prepared) {
  std::set<std::string> commits;
  if (!prepared.is_object() || !prepared.contains("mounts")) return commits;
  for (const auto& m : prepared["mounts"]) commits.insert(m.value("commit", ""));
  return commits;
}

}  // namespace paddock
