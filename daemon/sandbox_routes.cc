#include "daemon/sandbox_routes.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "daemon/gpu_manager.h"
#include "daemon/json_fields.h"
#include "daemon/problem.h"
#include "daemon/sandbox_manager.h"
#include "sandbox/terminal.h"

namespace paddock {
namespace {

constexpr auto kFollowPoll = std::chrono::milliseconds(100);
// Read buffers live on the heap: civetweb runs handlers on small thread stacks.
constexpr size_t kReadChunk = 64 * 1024;

// The sandbox routes map "cannot be satisfied / could not start" to 422, not 409.
HttpResponse SandboxProblem(const Status& status) {
  if (status.code() == StatusCode::kFailedPrecondition) {
    return Problem(422, "unsatisfiable", "Cannot run this sandbox", status.message());
  }
  if (status.code() == StatusCode::kInvalidArgument) {
    const std::string& m = status.message();
    const auto colon = m.find(':');
    return InvalidParam(colon == std::string::npos ? "body" : m.substr(0, colon),
                        colon == std::string::npos ? m : m.substr(colon + 2));
  }
  if (status.code() == StatusCode::kResourceExhausted) {
    HttpResponse r = Problem(409, "resources-busy", "Resources busy", status.message());
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  return ProblemFromStatus(status);
}

bool CanSee(const SandboxRecord& record, const Caller& caller) {
  if (caller.admin) return true;
  if (caller.kind == Caller::Kind::kUnixPeer) {
    return record.owner.contains("uid") && record.owner["uid"] == caller.uid;
  }
  return record.owner.contains("token") && record.owner["token"] == caller.token_name;
}

std::optional<HttpResponse> ParseBinds(const nlohmann::json& binds, SandboxRequest* out) {
  for (size_t i = 0; i < binds.size(); ++i) {
    const std::string field = "binds[" + std::to_string(i) + "]";
    if (!binds[i].is_object()) return InvalidParam(field, "must be an object");
    if (auto bad = FindFieldError(binds[i], {{"source", JsonType::kString, true},
                                             {"target", JsonType::kString, true},
                                             {"writable", JsonType::kBoolean}})) {
      return InvalidParam(field + "." + bad->field, bad->reason);
    }
    out->binds.push_back(
        {binds[i]["source"], binds[i]["target"], binds[i].value("writable", false)});
  }
  return std::nullopt;
}

// "mounts": [{"repo", "rev", "target"}] and "output": {"repo", "branch", "target", "message"}.
std::optional<HttpResponse> ParseData(const nlohmann::json& body, SandboxRequest* out) {
  const nlohmann::json mounts = body.value("mounts", nlohmann::json::array());
  for (size_t i = 0; i < mounts.size(); ++i) {
    const std::string field = "mounts[" + std::to_string(i) + "]";
    if (!mounts[i].is_object()) return InvalidParam(field, "must be an object");
    if (auto bad = FindFieldError(mounts[i], {{"repo", JsonType::kString, true},
                                              {"rev", JsonType::kString},
                                              {"target", JsonType::kString, true}})) {
      return InvalidParam(field + "." + bad->field, bad->reason);
    }
    out->mounts.push_back({mounts[i]["repo"], mounts[i].value("rev", "main"), mounts[i]["target"]});
  }
  if (!body.contains("output")) return std::nullopt;
  const nlohmann::json& output = body["output"];
  if (auto bad = FindFieldError(output, {{"repo", JsonType::kString, true},
                                         {"branch", JsonType::kString},
                                         {"target", JsonType::kString},
                                         {"message", JsonType::kString}})) {
    return InvalidParam("output." + bad->field, bad->reason);
  }
  out->output = DataOutput{output["repo"], output.value("branch", "main"),
                           output.value("target", "/output"), output.value("message", "")};
  return std::nullopt;
}

// {"rows": R, "cols": C}, each 1..4096; missing members keep 24x80.
std::variant<sandbox::TerminalSize, HttpResponse> TerminalSizeFromJson(const nlohmann::json& j,
                                                                       const std::string& field) {
  if (auto bad = FindFieldError(j, {{"rows", JsonType::kInteger}, {"cols", JsonType::kInteger}})) {
    return InvalidParam(field + "." + bad->field, bad->reason);
  }
  sandbox::TerminalSize size;
  for (auto [name, out] : {std::pair{"rows", &size.rows}, std::pair{"cols", &size.cols}}) {
    if (!j.contains(name)) continue;
    const int64_t value = j[name].get<int64_t>();
    if (value < 1 || value > 4096) return InvalidParam(field + "." + name, "must be 1..4096");
    *out = static_cast<uint16_t>(value);
  }
  return size;
}

// Turns the request body into a SandboxRequest, or the 400 naming what is wrong.
std::variant<SandboxRequest, HttpResponse> ParseRequest(const nlohmann::json& body) {
  if (auto bad = CheckFields(body, {{"command", JsonType::kArray, true},
                                    {"env", JsonType::kObject},
                                    {"cwd", JsonType::kString},
                                    {"cpus", JsonType::kNumber},
                                    {"memory_bytes", JsonType::kInteger},
                                    {"pids", JsonType::kInteger},
                                    {"timeout_seconds", JsonType::kInteger},
                                    {"workspace", JsonType::kString},
                                    {"binds", JsonType::kArray},
                                    {"root", JsonType::kString},
                                    {"tty", JsonType::kBoolean},
                                    {"tty_size", JsonType::kObject},
                                    {"mounts", JsonType::kArray},
                                    {"output", JsonType::kObject},
                                    {"gpus", JsonType::kObject}})) {
    return *bad;
  }
  SandboxRequest r;
  for (const auto& arg : body["command"]) {
    if (!arg.is_string()) return InvalidParam("command", "must be an array of strings");
    r.command.push_back(arg);
  }
  if (r.command.empty() || r.command[0].empty())
    return InvalidParam("command", "must not be empty");
  const nlohmann::json env = body.value("env", nlohmann::json::object());
  for (const auto& [key, value] : env.items()) {
    if (key.empty() || key.find('=') != std::string::npos || !value.is_string()) {
      return InvalidParam("env", "must map names without '=' to strings");
    }
    r.env[key] = value;
  }
  r.cwd = body.value("cwd", "");
  if (body.contains("cpus")) {
    r.cpus = body["cpus"].get<double>();
    if (*r.cpus <= 0) return InvalidParam("cpus", "must be greater than 0");
  }
  if (body.contains("memory_bytes")) {
    if (body["memory_bytes"].get<int64_t>() < 4096)
      return InvalidParam("memory_bytes", "at least 4096");
    r.memory_bytes = body["memory_bytes"].get<uint64_t>();
  }
  if (body.contains("pids")) {
    if (body["pids"].get<int64_t>() < 1) return InvalidParam("pids", "at least 1");
    r.pids = body["pids"].get<uint64_t>();
  }
  if (body.contains("timeout_seconds")) {
    r.timeout_seconds = body["timeout_seconds"].get<int64_t>();
    if (*r.timeout_seconds < 1) return InvalidParam("timeout_seconds", "at least 1");
  }
  if (body.contains("workspace")) r.workspace = body["workspace"].get<std::string>();
  const nlohmann::json binds = body.value("binds", nlohmann::json::array());
  if (auto bad = ParseBinds(binds, &r)) return *bad;
  r.root = body.value("root", "host");
  if (r.root != "host" && (r.root.empty() || r.root.front() != '/')) {
    return InvalidParam("root", "must be \"host\" or an absolute directory");
  }
  if (body.contains("gpus")) {
    auto gpus = GpuRequestFromJson(body["gpus"]);
    if (!gpus.ok()) return SandboxProblem(gpus.status());
    r.gpus = *gpus;
    r.gpus_json = body["gpus"];
  }
  if (auto bad = ParseData(body, &r)) return *bad;
  if (body.value("tty", false)) {
    auto size = TerminalSizeFromJson(body.value("tty_size", nlohmann::json::object()), "tty_size");
    if (auto* error = std::get_if<HttpResponse>(&size)) return *error;
    r.tty = std::get<sandbox::TerminalSize>(size);
  } else if (body.contains("tty_size")) {
    return InvalidParam("tty_size", "only with \"tty\": true");
  }
  return r;
}

struct Routes {
  SandboxManager* const* manager;
  SandboxManager& m() const { return **manager; }

  // The caller's sandbox `id`, or the 404 to answer.
  std::variant<SandboxRecord, HttpResponse> Visible(const HttpRequest& request) const {
    auto record = m().Get(request.path_params.at("id"));
    if (!record.ok() || !CanSee(*record, request.caller)) {
      return Problem(404, "not-found", "Not found", "no sandbox " + request.path_params.at("id"));
    }
    return *record;
  }

  HttpResponse Create(HttpRequest& request) const {
    auto parsed = ParseRequest(request.json);
    if (auto* error = std::get_if<HttpResponse>(&parsed)) return *error;
    auto created = m().Create(std::get<SandboxRequest>(parsed), request.caller);
    if (!created.ok()) return SandboxProblem(created.status());
    HttpResponse r = HttpResponse::Json(201, created->ToJson());
    r.headers.emplace_back("Location", "/api/v1/sandboxes/" + created->id);
    return r;
  }

  HttpResponse List(HttpRequest& request) const {
    nlohmann::json items = nlohmann::json::array();
    for (const SandboxRecord& s : m().List()) {
      if (CanSee(s, request.caller)) items.push_back(s.ToJson());
    }
    return HttpResponse::Json(200, {{"sandboxes", items}});
  }

  HttpResponse Get(HttpRequest& request) const {
    auto visible = Visible(request);
    if (auto* error = std::get_if<HttpResponse>(&visible)) return *error;
    return HttpResponse::Json(200, std::get<SandboxRecord>(visible).ToJson());
  }

  HttpResponse Stop(HttpRequest& request) const {
    auto visible = Visible(request);
    if (auto* error = std::get_if<HttpResponse>(&visible)) return *error;
    const SandboxRecord& s = std::get<SandboxRecord>(visible);
    if (s.state == "exited") return HttpResponse::Json(200, s.ToJson());
    Status stopped = m().Stop(s.id);
    if (!stopped.ok()) return SandboxProblem(stopped);
    return HttpResponse::Json(202, m().Get(s.id).value().ToJson());
  }

  HttpResponse Delete(HttpRequest& request) const {
    auto visible = Visible(request);
    if (auto* error = std::get_if<HttpResponse>(&visible)) return *error;
    Status removed = m().Remove(std::get<SandboxRecord>(visible).id);
    if (removed.code() == StatusCode::kFailedPrecondition) {
      return Problem(409, "sandbox-running", "Sandbox is running", removed.message());
    }
    if (!removed.ok()) return SandboxProblem(removed);
    return HttpResponse::NoContent();
  }

  HttpResponse Stats(HttpRequest& request) const {
    auto visible = Visible(request);
    if (auto* error = std::get_if<HttpResponse>(&visible)) return *error;
    auto stats = m().Stats(std::get<SandboxRecord>(visible).id);
    if (!stats.ok()) return SandboxProblem(stats.status());
    return HttpResponse::Json(200, {{"cpu_usage_seconds", stats->cpu_usage_ns / 1e9},
                                    {"memory_current_bytes", stats->memory_current},
                                    {"memory_peak_bytes", stats->memory_peak},
                                    {"pids_current", stats->pids_current},
                                    {"oom_kills", stats->oom_kills}});
  }

  // Input for a sandbox's terminal: the body's bytes, as typed (Ctrl-C is "\x03").
  HttpResponse Stdin(HttpRequest& request) const {
    auto visible = Visible(request);
    if (auto* error = std::get_if<HttpResponse>(&visible)) return *error;
    if (request.body.empty()) return InvalidParam("body", "no input");
    const std::string& id = std::get<SandboxRecord>(visible).id;
    std::string_view rest = request.body;
    while (!rest.empty()) {
      const std::string_view part = rest.substr(0, sandbox::kMaxTerminalInput);
      Status written = m().WriteTerminal(id, part);
      if (!written.ok()) return TerminalProblem(written);
      rest.remove_prefix(part.size());
    }
    return HttpResponse::NoContent();
  }

  HttpResponse Resize(HttpRequest& request) const {
    auto visible = Visible(request);
    if (auto* error = std::get_if<HttpResponse>(&visible)) return *error;
    if (auto bad = CheckFields(request.json, {{"rows", JsonType::kInteger, true},
                                              {"cols", JsonType::kInteger, true}})) {
      return *bad;
    }
    auto size = TerminalSizeFromJson(request.json, "body");
    if (auto* error = std::get_if<HttpResponse>(&size)) return *error;
    Status resized = m().ResizeTerminal(std::get<SandboxRecord>(visible).id,
                                        std::get<sandbox::TerminalSize>(size));
    if (!resized.ok()) return TerminalProblem(resized);
    return HttpResponse::NoContent();
  }

  // 409 for a sandbox without a (live) terminal, 503 when its terminal does not take input.
  static HttpResponse TerminalProblem(const Status& status) {
    if (status.code() == StatusCode::kFailedPrecondition) {
      return Problem(409, "no-terminal", "No terminal to write to", status.message());
    }
    if (status.code() == StatusCode::kUnavailable) {
      HttpResponse r = Problem(503, "terminal-busy", "Terminal not taking input", status.message());
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    return SandboxProblem(status);
  }

  HttpResponse Logs(HttpRequest& request) const {
    auto visible = Visible(request);
    if (auto* error = std::get_if<HttpResponse>(&visible)) return *error;
    const std::string id = std::get<SandboxRecord>(visible).id;
    std::string stream = request.QueryParam("stream");
    if (stream.empty()) stream = "stdout";
    if (stream != "stdout" && stream != "stderr") {
      return InvalidParam("stream", "must be stdout or stderr");
    }
    const std::string follow = request.QueryParam("follow");
    if (!follow.empty() && follow != "true" && follow != "false") {
      return InvalidParam("follow", "must be true or false");
    }
    const std::string from = request.QueryParam("from");
    if (!from.empty() && from != "start" && from != "end") {
      return InvalidParam("from", "must be start or end");
    }
    HttpResponse r = HttpResponse::Text(200, "text/plain; charset=utf-8", "");
    const std::string path = m().LogPath(id, stream);
    if (follow != "true") {
      if (from == "end") return r;
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      std::vector<char> buf(kReadChunk);
      for (ssize_t n; fd && (n = ::read(fd.get(), buf.data(), buf.size())) > 0;) {
        r.body.append(buf.data(), static_cast<size_t>(n));
      }
      return r;
    }
    SandboxManager* manager = &m();
    const bool from_end = from == "end";
    r.stream = [manager, id, path, from_end](const std::function<bool(std::string_view)>& write) {
      FollowLog(*manager, id, path, from_end, write);
    };
    return r;
  }

  // Sends the log as it grows, across rotations, until the sandbox has exited and all is sent.
  // inotify on the state directory wakes it as soon as the log is written or rotated (a
  // terminal's echo must come back at typing speed); the poll timeout is the fallback that
  // also notices the sandbox's end.
  static void FollowLog(SandboxManager& manager, const std::string& id, const std::string& path,
                        bool from_end, const std::function<bool(std::string_view)>& write) {
    UniqueFd changes(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (changes) {
      const std::string dir = path.substr(0, path.rfind('/'));
      ::inotify_add_watch(changes.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO);
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd && from_end) ::lseek(fd.get(), 0, SEEK_END);
    std::vector<char> buf(kReadChunk);
    for (;;) {
      if (!fd) fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      bool drained = true;
      for (ssize_t n; fd && (n = ::read(fd.get(), buf.data(), buf.size())) > 0;) {
        if (!write(std::string_view(buf.data(), static_cast<size_t>(n)))) return;
        drained = n < static_cast<ssize_t>(buf.size());
      }
      if (!drained) continue;
      struct stat now, open_file;
      if (fd && ::stat(path.c_str(), &now) == 0 && ::fstat(fd.get(), &open_file) == 0 &&
          now.st_ino != open_file.st_ino) {
        fd.reset();  // rotated: the rest is in the new file
        continue;
      }
      auto record = manager.Get(id);
      if (!record.ok()) return;
      if (record->state == "exited") {
        // paddock-init wrote everything before the exit was recorded: one last read.
        for (ssize_t n; fd && (n = ::read(fd.get(), buf.data(), buf.size())) > 0;) {
          if (!write(std::string_view(buf.data(), static_cast<size_t>(n)))) return;
        }
        return;
      }
      if (!write("")) return;
      WaitForChange(changes.get());
    }
  }

  // Returns once the watched directory changed, or after kFollowPoll.
  static void WaitForChange(int changes) {
    if (changes < 0) {
      std::this_thread::sleep_for(kFollowPoll);
      return;
    }
    pollfd pfd{changes, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(kFollowPoll.count())) > 0) {
      alignas(inotify_event) char events[4096];
      while (::read(changes, events, sizeof events) > 0) {
      }
    }
  }
};

}  // namespace

void RegisterSandboxRoutes(Router* router, SandboxManager* const* manager) {
  auto routes = std::make_shared<Routes>(Routes{manager});
  auto bind = [routes](HttpResponse (Routes::*fn)(HttpRequest&) const) -> Handler {
    return [routes, fn](HttpRequest& request) { return ((*routes).*fn)(request); };
  };
  const RouteOptions authed{};
  const RouteOptions json{.json_body = true};
  router->Add("POST", "/api/v1/sandboxes", json, bind(&Routes::Create));
  router->Add("GET", "/api/v1/sandboxes", authed, bind(&Routes::List));
  router->Add("GET", "/api/v1/sandboxes/{id}", authed, bind(&Routes::Get));
  router->Add("DELETE", "/api/v1/sandboxes/{id}", authed, bind(&Routes::Delete));
  router->Add("POST", "/api/v1/sandboxes/{id}/stop", authed, bind(&Routes::Stop));
  router->Add("GET", "/api/v1/sandboxes/{id}/logs", authed, bind(&Routes::Logs));
  router->Add("GET", "/api/v1/sandboxes/{id}/stats", authed, bind(&Routes::Stats));
  router->Add("POST", "/api/v1/sandboxes/{id}/stdin", authed, bind(&Routes::Stdin));
  router->Add("POST", "/api/v1/sandboxes/{id}/resize", json, bind(&Routes::Resize));
}

}  // namespace paddock
