#include "daemon/store_routes.h"

#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "base/log.h"
#include "base/pipe.h"
#include "base/strings.h"
#include "daemon/host_identity.h"
#include "daemon/json_fields.h"
#include "daemon/problem.h"
#include "daemon/store_views.h"
#include "storage/store.h"

namespace paddock {
namespace {

using storage::Store;

// Read buffers live on the heap: civetweb runs handlers on small thread stacks.
constexpr size_t kStreamChunk = 256 * 1024;
constexpr uint64_t kDefaultLogLimit = 50;
constexpr uint64_t kMaxLogLimit = 100000;

// The store's error as a problem; kInvalidArgument names `field`, the request part it concerns.
HttpResponse StoreProblem(const Status& status, std::string_view field) {
  if (status.code() == StatusCode::kInvalidArgument) return InvalidParam(field, status.message());
  return ProblemFromStatus(status);
}

HttpResponse PayloadTooLarge(uint64_t limit) {
  return Problem(
      413, "payload-too-large", "Payload too large",
      "uploads are limited to " + std::to_string(limit) + " bytes ([store] max_upload_bytes)");
}

// Whether a Content-Type names a tar archive, plain or compressed (the reader detects which).
bool IsArchiveContentType(std::string_view value) {
  std::string_view media = value.substr(0, value.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  for (std::string_view accepted : {"application/x-tar", "application/gzip", "application/x-gzip",
                                    "application/zstd", "application/x-zstd", "application/x-xz"}) {
    if (media.size() == accepted.size() &&
        ::strncasecmp(media.data(), accepted.data(), accepted.size()) == 0) {
      return true;
    }
  }
  return false;
}

// A whole decimal number, nothing else.
bool ParseUint(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Query parameter `name` as "true"/"false" into *out, which keeps its value when absent.
std::optional<HttpResponse> QueryBool(const HttpRequest& request, std::string_view name,
                                      bool* out) {
  const std::string value = request.QueryParam(name);
  if (value.empty()) return std::nullopt;
  if (value != "true" && value != "false") return InvalidParam(name, "must be true or false");
  *out = value == "true";
  return std::nullopt;
}

// Query parameter `name` as an integer 0..max into *out, which keeps its value when absent.
std::optional<HttpResponse> QueryCount(const HttpRequest& request, std::string_view name,
                                       uint64_t max, uint64_t* out) {
  const std::string value = request.QueryParam(name);
  if (value.empty()) return std::nullopt;
  uint64_t n = 0;
  if (!ParseUint(value, &n) || n > max) {
    return InvalidParam(name, "must be an integer from 0 to " + std::to_string(max));
  }
  *out = n;
  return std::nullopt;
}

// A host path from the request, with the identity to access it as; or the 400/403 to answer.
std::variant<storage::FsIdentity, HttpResponse> HostAccess(const HttpRequest& request,
                                                           std::string_view field,
                                                           const std::string& path) {
  auto identity = HostIdentity(request.caller);
  if (!identity.ok()) {
    return Problem(403, "forbidden", "Forbidden",
                   "field \"" + std::string(field) + "\": " + identity.status().message());
  }
  if (path.empty() || path.front() != '/') {
    return InvalidParam(field, "must be an absolute host path");
  }
  return *identity;
}

// --- Ranges (RFC 9110, section 14).

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

enum class RangeAnswer { kWhole, kPartial, kUnsatisfiable };

// What `header` (a Range header, maybe empty) asks of a file of `size` bytes. One "bytes=" range
// is honoured: "a-b", "a-" or "-n". A malformed header, another unit or several ranges are
// ignored and the whole file is sent, as RFC 9110 allows.
RangeAnswer ParseRange(std::string_view header, uint64_t size, ByteRange* range) {
  *range = {0, size};
  header = TrimWhitespace(header);
  if (!header.starts_with("bytes=")) return RangeAnswer::kWhole;
  const std::string_view spec = TrimWhitespace(header.substr(6));
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) {
    return RangeAnswer::kWhole;
  }
  const std::string_view first = spec.substr(0, dash);
  const std::string_view last = spec.substr(dash + 1);
  if (first.empty()) {  // the last n bytes
    uint64_t n = 0;
    if (!ParseUint(last, &n)) return RangeAnswer::kWhole;
    if (n == 0 || size == 0) return RangeAnswer::kUnsatisfiable;
    n = std::min(n, size);
    *range = {size - n, n};
    return RangeAnswer::kPartial;
  }
  uint64_t a = 0;
  uint64_t b = UINT64_MAX;  // "a-": to the end
  if (!ParseUint(first, &a) || (!last.empty() && !ParseUint(last, &b)) || b < a) {
    return RangeAnswer::kWhole;
  }
  if (a >= size) return RangeAnswer::kUnsatisfiable;
  b = std::min(b, size - 1);
  *range = {a, b - a + 1};
  return RangeAnswer::kPartial;
}

// Writes the export of `commit` through a pipe: Store::Export writes to a file descriptor on its
// own thread while this one relays what arrives to the client.
void StreamExport(Store& store, const std::string& repo, const std::string& commit,
                  const std::function<bool(std::string_view)>& write,
                  const std::shared_ptr<std::atomic<bool>>& failed) {
  auto pipe = MakePipe();
  if (!pipe.ok()) {
    LogError("archive: no pipe", {{"ERROR", pipe.status().message()}});
    failed->store(true);
    return;
  }
  Status exported;
  std::thread exporter([&store, &repo, &commit, &exported, out = std::move(pipe->write)]() mutable {
    exported = store.Export(repo, commit, out.get());
    out.reset();  // end of file for the relay
  });
  std::vector<char> buf(kStreamChunk);
  bool complete = false;
  for (;;) {
    const ssize_t n = ::read(pipe->read.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      complete = n == 0;
      break;
    }
    if (!write(std::string_view(buf.data(), static_cast<size_t>(n)))) break;  // client gone
  }
  pipe->read.reset();  // an exporter still writing gets EPIPE and stops
  exporter.join();
  if (!exported.ok() && complete) {
    LogError("archive failed", {{"REPO", repo}, {"COMMIT", commit}, {"ERROR", exported.message()}});
  }
  if (!complete || !exported.ok()) failed->store(true);
}

struct Routes {
  StoreContext* const* context;

  using Method = HttpResponse (Routes::*)(Store&, HttpRequest&) const;

  // Runs `fn` on the open store, or answers 503 when there is none.
  HttpResponse Call(Method fn, HttpRequest& request) const {
    const StoreContext* c = *context;
    if (c == nullptr || c->store == nullptr) {
      return Problem(
          503, "store-unavailable", "Store unavailable",
          c == nullptr || c->unavailable.empty() ? "the store is not open" : c->unavailable);
    }
    return (this->*fn)(*c->store, request);
  }

  static const std::string& Repo(const HttpRequest& request) {
    return request.path_params.at("repo");
  }

  // The commit `rev` names, as hex, so that the reads of one request see one commit even while
  // a branch moves; or the problem (404, 400 naming "rev").
  static std::variant<std::string, HttpResponse> Pin(const Store& store, const HttpRequest& request,
                                                     const std::string& rev,
                                                     std::string_view field) {
    auto id = store.Resolve(Repo(request), rev);
    if (!id.ok()) return StoreProblem(id.status(), field);
    return id->ToHex();
  }

  // The Commit JSON of `rev`, or the problem.
  static std::variant<nlohmann::json, HttpResponse> ShowJson(const Store& store,
                                                             const std::string& repo,
                                                             const std::string& rev) {
    auto commit = store.Show(repo, rev);
    if (!commit.ok()) return StoreProblem(commit.status(), "rev");
    return CommitJson(*commit);
  }

  // 409 for a branch that moved meanwhile, with where it is now.
  static HttpResponse BranchMoved(const Store& store, const std::string& repo,
                                  const std::string& branch, const Status& status) {
    nlohmann::json extra = {{"branch", branch}, {"head", nullptr}};
    auto branches = store.ListBranches(repo);
    for (const auto& b : branches.ok() ? *branches : std::vector<storage::RefEntry>{}) {
      if (b.name == branch) extra["head"] = b.target.ToHex();
    }
    return Problem(409, "conflict", "Conflict", status.message(), std::move(extra));
  }

  static HttpResponse MergeConflicts(const std::vector<storage::MergeConflict>& conflicts,
                                     std::string detail) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : conflicts) list.push_back(ConflictJson(c));
    return Problem(409, "merge-conflict", "Merge conflict", std::move(detail),
                   {{"conflicts", std::move(list)}});
  }

  // --- Repositories.

  static Result<nlohmann::json> RepoJson(const Store& store, const storage::RepoInfo& repo) {
    auto branches = store.ListBranches(repo.name);
    if (!branches.ok()) return branches.status();
    auto tags = store.ListTags(repo.name);
    if (!tags.ok()) return tags.status();
    nlohmann::json names = nlohmann::json::array();
    for (const auto& b : *branches) names.push_back(b.name);
    return nlohmann::json{{"name", repo.name},
                          {"created_at", FormatTimeMs(repo.created_ms)},
                          {"branches", std::move(names)},
                          {"tags", tags->size()}};
  }

  // The repository `name`, or kNotFound.
  static Result<storage::RepoInfo> FindRepo(const Store& store, const std::string& name) {
    auto repos = store.ListRepos();
    if (!repos.ok()) return repos.status();
    for (auto& repo : *repos) {
      if (repo.name == name) return std::move(repo);
    }
    return Status::NotFound("repository '" + name + "' not found");
  }

  HttpResponse ListRepos(Store& store, HttpRequest&) const {
    auto repos = store.ListRepos();
    if (!repos.ok()) return ProblemFromStatus(repos.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& repo : *repos) {
      auto json = RepoJson(store, repo);
      if (json.status().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
      if (!json.ok()) return ProblemFromStatus(json.status());
      items.push_back(std::move(*json));
    }
    return HttpResponse::Json(200, {{"repos", std::move(items)}});
  }

  HttpResponse GetRepo(Store& store, HttpRequest& request) const {
    auto repo = FindRepo(store, Repo(request));
    if (!repo.ok()) return StoreProblem(repo.status(), "repo");
    auto json = RepoJson(store, *repo);
    if (!json.ok()) return StoreProblem(json.status(), "repo");
    return HttpResponse::Json(200, *json);
  }

  HttpResponse CreateRepo(Store& store, HttpRequest& request) const {
    if (auto bad = CheckFields(request.json, {{"name", JsonType::kString, true}})) return *bad;
    const std::string name = request.json["name"];
    Status created = store.CreateRepo(name);
    if (!created.ok()) return StoreProblem(created, "name");
    auto repo = FindRepo(store, name);
    if (!repo.ok()) return StoreProblem(repo.status(), "name");  // deleted at once by another
    auto json = RepoJson(store, *repo);
    if (!json.ok()) return StoreProblem(json.status(), "name");
    HttpResponse r = HttpResponse::Json(201, *json);
    r.headers.emplace_back("Location", "/api/v1/repos/" + name);
    return r;
  }

  HttpResponse DeleteRepo(Store& store, HttpRequest& request) const {
    Status deleted = store.DeleteRepo(Repo(request));
    if (!deleted.ok()) return StoreProblem(deleted, "repo");
    return HttpResponse::NoContent();
  }

  // --- Commits.

  // 201 with the new commit and the counts; 200 when nothing changed (the commit is the
  // branch's existing head).
  static HttpResponse Committed(const Store& store, const std::string& repo,
                                const storage::CommitOutcome& outcome) {
    auto shown = ShowJson(store, repo, outcome.commit.ToHex());
    if (auto* error = std::get_if<HttpResponse>(&shown)) return *error;
    nlohmann::json body = CommitOutcomeJson(outcome);
    body["commit"] = std::move(std::get<nlohmann::json>(shown));
    HttpResponse r = HttpResponse::Json(outcome.changed ? 201 : 200, body);
    if (outcome.changed) {
      r.headers.emplace_back("Location",
                             "/api/v1/repos/" + repo + "/commits/" + outcome.commit.ToHex());
    }
    return r;
  }

  // The failure of a commit onto `branch`.
  static HttpResponse CommitFailed(const Store& store, const std::string& repo,
                                   const std::string& branch, const Status& status,
                                   std::string_view invalid_field) {
    if (status.code() == StatusCode::kConflict) return BranchMoved(store, repo, branch, status);
    return StoreProblem(status, invalid_field);
  }

  // expected_parent names a commit (any revision: a full id, a unique prefix, ...).
  static std::optional<HttpResponse> SetExpectedParent(const Store& store,
                                                       const HttpRequest& request,
                                                       const std::string& rev,
                                                       storage::CommitRequest* out) {
    if (rev.empty()) return std::nullopt;
    auto id = store.Resolve(Repo(request), rev);
    if (!id.ok()) return StoreProblem(id.status(), "expected_parent");
    out->expected_parent = *id;
    return std::nullopt;
  }

  HttpResponse Commit(Store& store, HttpRequest& request) const {
    if (request.body_reader) return CommitArchive(store, request);
    if (auto bad = CheckFields(request.json, {{"path", JsonType::kString, true},
                                              {"branch", JsonType::kString},
                                              {"message", JsonType::kString},
                                              {"metadata", JsonType::kObject},
                                              {"expected_parent", JsonType::kString},
                                              {"allow_empty", JsonType::kBoolean}})) {
      return *bad;
    }
    const std::string path = request.json["path"];
    auto access = HostAccess(request, "path", path);
    if (auto* error = std::get_if<HttpResponse>(&access)) return *error;
    storage::CommitRequest commit;
    commit.repo = Repo(request);
    commit.branch = request.json.value("branch", "main");
    commit.message = request.json.value("message", "");
    commit.author = CommitAuthor(request.caller);
    if (request.json.contains("metadata")) commit.metadata_json = request.json["metadata"].dump();
    commit.allow_empty = request.json.value("allow_empty", false);
    if (auto bad =
            SetExpectedParent(store, request, request.json.value("expected_parent", ""), &commit)) {
      return *bad;
    }
    auto outcome = store.CommitDirectory(commit, path, &std::get<storage::FsIdentity>(access));
    if (!outcome.ok()) {
      return CommitFailed(store, commit.repo, commit.branch, outcome.status(), "path");
    }
    return Committed(store, commit.repo, *outcome);
  }

  // A tar upload: the body goes through the tar reader into the store as it arrives.
  HttpResponse CommitArchive(Store& store, HttpRequest& request) const {
    if (!IsArchiveContentType(request.Header("Content-Type"))) {
      return Problem(415, "unsupported-media-type", "Unsupported media type",
                     "send a JSON body (commit a host directory) or a tar archive "
                     "(application/x-tar, application/gzip or application/zstd)");
    }
    storage::CommitRequest commit;
    commit.repo = Repo(request);
    commit.branch = request.QueryParam("branch");
    if (commit.branch.empty()) commit.branch = "main";
    commit.message = request.QueryParam("message");
    commit.author = CommitAuthor(request.caller);
    if (auto bad = QueryBool(request, "allow_empty", &commit.allow_empty)) return *bad;
    if (const std::string metadata = request.QueryParam("metadata"); !metadata.empty()) {
      const auto parsed = nlohmann::json::parse(metadata, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_object()) return InvalidParam("metadata", "must be a JSON object");
      commit.metadata_json = parsed.dump();
    }
    if (auto bad =
            SetExpectedParent(store, request, request.QueryParam("expected_parent"), &commit)) {
      return *bad;
    }
    const uint64_t limit = (*context)->max_upload_bytes.load();
    uint64_t declared = 0;
    if (limit != 0 && ParseUint(request.Header("Content-Length"), &declared) && declared > limit) {
      return PayloadTooLarge(limit);
    }
    uint64_t received = 0;
    bool over_limit = false;
    const storage::TarSource source = [&](char* buffer, size_t capacity) -> Result<size_t> {
      auto n = request.body_reader(buffer, capacity);
      if (!n.ok()) return n;
      received += *n;
      if (limit != 0 && received > limit) {
        over_limit = true;
        return Status(StatusCode::kResourceExhausted, "upload over the limit");
      }
      return n;
    };
    auto outcome = store.CommitTar(commit, source);
    if (over_limit) return PayloadTooLarge(limit);
    if (!outcome.ok()) {
      return CommitFailed(store, commit.repo, commit.branch, outcome.status(), "body");
    }
    return Committed(store, commit.repo, *outcome);
  }

  HttpResponse Log(Store& store, HttpRequest& request) const {
    std::string rev = request.QueryParam("rev");
    if (rev.empty()) rev = "main";
    uint64_t limit = kDefaultLogLimit;
    if (auto bad = QueryCount(request, "limit", kMaxLogLimit, &limit)) return *bad;
    auto log = store.Log(Repo(request), rev, limit);
    if (!log.ok()) return StoreProblem(log.status(), "rev");
    nlohmann::json commits = nlohmann::json::array();
    for (const auto& c : *log) commits.push_back(CommitJson(c));
    return HttpResponse::Json(200, {{"commits", std::move(commits)}});
  }

  HttpResponse Show(Store& store, HttpRequest& request) const {
    auto shown = ShowJson(store, Repo(request), request.path_params.at("rev"));
    if (auto* error = std::get_if<HttpResponse>(&shown)) return *error;
    return HttpResponse::Json(200, std::get<nlohmann::json>(shown));
  }

  // --- Reading trees and files.

  HttpResponse Tree(Store& store, HttpRequest& request) const {
    bool recursive = false;
    if (auto bad = QueryBool(request, "recursive", &recursive)) return *bad;
    auto pinned = Pin(store, request, request.path_params.at("rev"), "rev");
    if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
    auto entries = store.List(Repo(request), std::get<std::string>(pinned),
                              request.QueryParam("path"), recursive);
    if (!entries.ok()) return StoreProblem(entries.status(), "path");
    nlohmann::json items = nlohmann::json::array();
    for (const auto& e : *entries) items.push_back(ListEntryJson(e));
    return HttpResponse::Json(200, {{"entries", std::move(items)}});
  }

  HttpResponse File(Store& store, HttpRequest& request) const {
    const std::string path = request.QueryParam("path");
    if (path.empty()) return InvalidParam("path", "is required");
    auto pinned = Pin(store, request, request.path_params.at("rev"), "rev");
    if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
    const std::string commit = std::get<std::string>(pinned);
    auto entry = store.Stat(Repo(request), commit, path);
    if (!entry.ok()) return StoreProblem(entry.status(), "path");
    if (entry->kind == storage::EntryKind::kDirectory) {
      return InvalidParam("path", "'" + path + "' is a directory; list it with GET .../tree/{rev}");
    }
    if (entry->kind == storage::EntryKind::kSymlink) {
      return InvalidParam("path", "'" + path + "' is a symlink to '" + entry->target + "'");
    }
    const std::string size = std::to_string(entry->size);
    ByteRange range;
    const RangeAnswer answer = ParseRange(request.Header("Range"), entry->size, &range);
    if (answer == RangeAnswer::kUnsatisfiable) {
      HttpResponse r = Problem(416, "range-not-satisfiable", "Range not satisfiable",
                               "the file has " + size + " bytes");
      r.headers.emplace_back("Content-Range", "bytes */" + size);
      return r;
    }
    HttpResponse r;
    r.status = answer == RangeAnswer::kPartial ? 206 : 200;
    r.content_type = "application/octet-stream";
    r.headers.emplace_back("ETag", "\"" + entry->id.ToHex() + "\"");
    r.headers.emplace_back("Accept-Ranges", "bytes");
    if (answer == RangeAnswer::kPartial) {
      r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                                  std::to_string(range.offset + range.length - 1) +
                                                  "/" + size);
    }
    r.stream_length = range.length;
    r.stream_failed = std::make_shared<std::atomic<bool>>(false);
    r.stream = [&store, repo = Repo(request), commit, path, range,
                failed = r.stream_failed](const std::function<bool(std::string_view)>& write) {
      auto sent = store.Cat(
          repo, commit, path, range.offset, range.length, [&write](std::string_view piece) {
            return write(piece) ? Status::Ok() : Status::Unavailable("the client went away");
          });
      if (!sent.ok() || *sent != range.length) failed->store(true);
    };
    return r;
  }

  HttpResponse Archive(Store& store, HttpRequest& request) const {
    auto pinned = Pin(store, request, request.path_params.at("rev"), "rev");
    if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
    const std::string commit = std::get<std::string>(pinned);
    HttpResponse r;
    r.content_type = "application/x-tar";
    // Repository names are [A-Za-z0-9._-] (storage/ref_names.h): safe inside the quotes.
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + Repo(request) + "-" +
                                                      commit.substr(0, 12) + ".tar\"");
    r.stream_failed = std::make_shared<std::atomic<bool>>(false);
    r.stream = [&store, repo = Repo(request), commit,
                failed = r.stream_failed](const std::function<bool(std::string_view)>& write) {
      StreamExport(store, repo, commit, write, failed);
    };
    return r;
  }

  HttpResponse Diff(Store& store, HttpRequest& request) const {
    const std::string from = request.QueryParam("from");
    const std::string to = request.QueryParam("to");
    const std::string path = request.QueryParam("path");
    if (from.empty()) return InvalidParam("from", "is required");
    if (to.empty() == path.empty()) {
      return InvalidParam("to",
                          "give exactly one of \"to\" (a revision) or \"path\" (a host "
                          "directory)");
    }
    Result<std::vector<storage::TreeChange>> changes = std::vector<storage::TreeChange>{};
    if (!to.empty()) {
      auto pinned = Pin(store, request, from, "from");
      if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
      changes = store.Diff(Repo(request), std::get<std::string>(pinned), to);
      if (!changes.ok()) return StoreProblem(changes.status(), "to");
    } else {
      auto access = HostAccess(request, "path", path);
      if (auto* error = std::get_if<HttpResponse>(&access)) return *error;
      auto pinned = Pin(store, request, from, "from");
      if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
      changes = store.DiffDirectory(Repo(request), std::get<std::string>(pinned), path,
                                    &std::get<storage::FsIdentity>(access));
      if (!changes.ok()) return StoreProblem(changes.status(), "path");
    }
    nlohmann::json items = nlohmann::json::array();
    for (const auto& c : *changes) items.push_back(ChangeJson(c));
    return HttpResponse::Json(200, {{"changes", std::move(items)}});
  }

  // --- Branches and tags.

  enum class RefKind { kBranch, kTag };

  static HttpResponse ListRefs(const Store& store, const HttpRequest& request, RefKind kind) {
    auto refs = kind == RefKind::kBranch ? store.ListBranches(Repo(request))
                                         : store.ListTags(Repo(request));
    if (!refs.ok()) return StoreProblem(refs.status(), "repo");
    nlohmann::json items = nlohmann::json::array();
    for (const auto& ref : *refs) items.push_back(RefJson(ref));
    return HttpResponse::Json(200, {{kind == RefKind::kBranch ? "branches" : "tags", items}});
  }

  static HttpResponse CreateRef(Store& store, HttpRequest& request, RefKind kind) {
    if (auto bad = CheckFields(
            request.json, {{"name", JsonType::kString, true}, {"rev", JsonType::kString, true}})) {
      return *bad;
    }
    const std::string name = request.json["name"];
    auto pinned = Pin(store, request, request.json["rev"].get<std::string>(), "rev");
    if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
    const std::string& commit = std::get<std::string>(pinned);
    Status created = kind == RefKind::kBranch ? store.CreateBranch(Repo(request), name, commit)
                                              : store.CreateTag(Repo(request), name, commit);
    if (!created.ok()) return StoreProblem(created, "name");
    return HttpResponse::Json(201, {{"name", name}, {"commit", commit}});
  }

  static HttpResponse DeleteRef(Store& store, HttpRequest& request, RefKind kind) {
    const std::string& name = request.path_params.at("name");
    Status deleted = kind == RefKind::kBranch ? store.DeleteBranch(Repo(request), name)
                                              : store.DeleteTag(Repo(request), name);
    if (!deleted.ok()) return StoreProblem(deleted, "name");
    return HttpResponse::NoContent();
  }

  HttpResponse ListBranches(Store& store, HttpRequest& request) const {
    return ListRefs(store, request, RefKind::kBranch);
  }
  HttpResponse CreateBranch(Store& store, HttpRequest& request) const {
    return CreateRef(store, request, RefKind::kBranch);
  }
  HttpResponse DeleteBranch(Store& store, HttpRequest& request) const {
    return DeleteRef(store, request, RefKind::kBranch);
  }
  HttpResponse ListTags(Store& store, HttpRequest& request) const {
    return ListRefs(store, request, RefKind::kTag);
  }
  HttpResponse CreateTag(Store& store, HttpRequest& request) const {
    return CreateRef(store, request, RefKind::kTag);
  }
  HttpResponse DeleteTag(Store& store, HttpRequest& request) const {
    return DeleteRef(store, request, RefKind::kTag);
  }

  // --- Merge, revert, checkout.

  HttpResponse Merge(Store& store, HttpRequest& request) const {
    if (auto bad = CheckFields(request.json, {{"into", JsonType::kString, true},
                                              {"from", JsonType::kString, true},
                                              {"message", JsonType::kString}})) {
      return *bad;
    }
    const std::string into = request.json["into"];
    // Resolved first so that a bad revision is reported as "from", whatever Merge says.
    auto pinned = Pin(store, request, request.json["from"].get<std::string>(), "from");
    if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
    // The revision as given, so that the default message reads "Merge feature into main".
    auto merged = store.TryMerge(Repo(request), into, request.json["from"].get<std::string>(),
                                 request.json.value("message", ""), CommitAuthor(request.caller));
    if (!merged.ok()) {
      return CommitFailed(store, Repo(request), into, merged.status(), "into");
    }
    if (!merged->conflicts.empty()) {
      return MergeConflicts(merged->conflicts,
                            std::to_string(merged->conflicts.size()) +
                                " path(s) changed differently on both sides; nothing was "
                                "committed");
    }
    auto shown = ShowJson(store, Repo(request), merged->commit.ToHex());
    if (auto* error = std::get_if<HttpResponse>(&shown)) return *error;
    return HttpResponse::Json(200, {{"commit", std::move(std::get<nlohmann::json>(shown))},
                                    {"fast_forward", merged->fast_forward},
                                    {"up_to_date", merged->up_to_date}});
  }

  HttpResponse Revert(Store& store, HttpRequest& request) const {
    if (auto bad = CheckFields(request.json, {{"branch", JsonType::kString, true},
                                              {"rev", JsonType::kString, true}})) {
      return *bad;
    }
    const std::string branch = request.json["branch"];
    auto pinned = Pin(store, request, request.json["rev"].get<std::string>(), "rev");
    if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
    auto reverted = store.Revert(Repo(request), branch, std::get<std::string>(pinned),
                                 CommitAuthor(request.caller));
    if (!reverted.ok()) {
      return CommitFailed(store, Repo(request), branch, reverted.status(), "branch");
    }
    auto shown = ShowJson(store, Repo(request), reverted->commit.ToHex());
    if (auto* error = std::get_if<HttpResponse>(&shown)) return *error;
    // Reverting what the branch no longer has changes nothing: 200 with the head.
    HttpResponse r = HttpResponse::Json(
        reverted->changed ? 201 : 200,
        {{"commit", std::move(std::get<nlohmann::json>(shown))}, {"changed", reverted->changed}});
    if (reverted->changed) {
      r.headers.emplace_back(
          "Location", "/api/v1/repos/" + Repo(request) + "/commits/" + reverted->commit.ToHex());
    }
    return r;
  }

  HttpResponse Checkout(Store& store, HttpRequest& request) const {
    if (auto bad = CheckFields(request.json, {{"path", JsonType::kString, true},
                                              {"rev", JsonType::kString},
                                              {"read_only", JsonType::kBoolean}})) {
      return *bad;
    }
    const std::string path = request.json["path"];
    auto access = HostAccess(request, "path", path);
    if (auto* error = std::get_if<HttpResponse>(&access)) return *error;
    auto pinned = Pin(store, request, request.json.value("rev", "main"), "rev");
    if (auto* error = std::get_if<HttpResponse>(&pinned)) return *error;
    auto result = store.Checkout(Repo(request), std::get<std::string>(pinned), path,
                                 request.json.value("read_only", false),
                                 &std::get<storage::FsIdentity>(access));
    if (!result.ok()) return StoreProblem(result.status(), "path");
    return HttpResponse::Json(200, CheckoutJson(*result));
  }

  // --- Maintenance (admin).

  HttpResponse Gc(Store& store, HttpRequest& request) const {
    if (auto bad = CheckFields(request.json, {{"dry_run", JsonType::kBoolean}})) return *bad;
    const bool dry_run = request.json.value("dry_run", false);
    auto report = store.Gc(dry_run);
    if (!report.ok()) return ProblemFromStatus(report.status());
    LogInfo(dry_run ? "store gc planned" : "store gc done",
            {{"OBJECTS_RECLAIMED", std::to_string(report->objects_reclaimed)},
             {"BYTES_RECLAIMED", std::to_string(report->bytes_reclaimed)}});
    return HttpResponse::Json(200, GcReportJson(*report, dry_run));
  }

  HttpResponse Fsck(Store& store, HttpRequest&) const {
    auto report = store.Fsck();
    if (!report.ok()) return ProblemFromStatus(report.status());
    if (!report->ok()) {
      LogWarning("store fsck found problems",
                 {{"PROBLEMS", std::to_string(report->problems.size())},
                  {"FIRST", report->problems.front().ToString()}});
    }
    return HttpResponse::Json(200, FsckReportJson(*report));
  }
};

}  // namespace

void RegisterStoreRoutes(Router* router, StoreContext* const* context) {
  auto routes = std::make_shared<Routes>(Routes{context});
  auto bind = [routes](Routes::Method fn) -> Handler {
    return [routes, fn](HttpRequest& request) { return routes->Call(fn, request); };
  };
  const RouteOptions authed{};
  const RouteOptions json{.json_body = true};
  const RouteOptions upload{.json_body = true, .stream_body = true};
  const RouteOptions admin{.admin_only = true};
  const RouteOptions admin_json{.json_body = true, .admin_only = true};
  const std::string repo = "/api/v1/repos/{repo}";
  router->Add("GET", "/api/v1/repos", authed, bind(&Routes::ListRepos));
  router->Add("POST", "/api/v1/repos", json, bind(&Routes::CreateRepo));
  router->Add("GET", repo, authed, bind(&Routes::GetRepo));
  router->Add("DELETE", repo, admin, bind(&Routes::DeleteRepo));
  router->Add("GET", repo + "/commits", authed, bind(&Routes::Log));
  router->Add("POST", repo + "/commits", upload, bind(&Routes::Commit));
  router->Add("GET", repo + "/commits/{rev}", authed, bind(&Routes::Show));
  router->Add("GET", repo + "/tree/{rev}", authed, bind(&Routes::Tree));
  router->Add("GET", repo + "/files/{rev}", authed, bind(&Routes::File));
  router->Add("GET", repo + "/archive/{rev}", authed, bind(&Routes::Archive));
  router->Add("GET", repo + "/diff", authed, bind(&Routes::Diff));
  router->Add("GET", repo + "/branches", authed, bind(&Routes::ListBranches));
  router->Add("POST", repo + "/branches", json, bind(&Routes::CreateBranch));
  router->Add("DELETE", repo + "/branches/{name}", authed, bind(&Routes::DeleteBranch));
  router->Add("GET", repo + "/tags", authed, bind(&Routes::ListTags));
  router->Add("POST", repo + "/tags", json, bind(&Routes::CreateTag));
  router->Add("DELETE", repo + "/tags/{name}", authed, bind(&Routes::DeleteTag));
  router->Add("POST", repo + "/merge", json, bind(&Routes::Merge));
  router->Add("POST", repo + "/revert", json, bind(&Routes::Revert));
  router->Add("POST", repo + "/checkout", json, bind(&Routes::Checkout));
  router->Add("POST", "/api/v1/store/gc", admin_json, bind(&Routes::Gc));
  router->Add("GET", "/api/v1/store/fsck", admin, bind(&Routes::Fsck));
}

}  // namespace paddock
