#include "sandbox/spec.h"

#include <algorithm>

namespace paddock::sandbox {
namespace {

bool IsAbsoluteClean(const std::string& path) {
  if (path.empty() || path.front() != '/') return false;
  // No "..", "." or empty segments: a target must not climb out of the new root.
  size_t start = 1;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string segment = path.substr(start, end - start);
    if ((segment.empty() && end != path.size()) || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return true;
}

Status CheckBind(const BindMount& bind, const std::string& field) {
  if (!IsAbsoluteClean(bind.source)) {
    return Status::InvalidArgument(field + ".source: must be an absolute path without . or ..");
  }
  if (!IsAbsoluteClean(bind.target) || bind.target == "/") {
    return Status::InvalidArgument(field +
                                   ".target: must be an absolute path below / without . or ..");
  }
  for (const char* reserved : {"/proc", "/sys", "/dev"}) {
    const std::string r(reserved);
    if (bind.target == r || bind.target.starts_with(r + "/")) {
      return Status::InvalidArgument(field + ".target: " + r + " is managed by the sandbox");
    }
  }
  return Status::Ok();
}

}  // namespace

Status Validate(const SandboxSpec& spec) {
  if (spec.id.empty() || spec.id.size() > 63 ||
      !std::all_of(spec.id.begin(), spec.id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      })) {
    return Status::InvalidArgument("id: 1-63 characters of a-z 0-9 -");
  }
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Status::InvalidArgument("argv: a command is required");
  }
  for (const std::string& e : spec.env) {
    if (e.find('=') == std::string::npos || e.front() == '=') {
      return Status::InvalidArgument("env: \"" + e + "\" is not KEY=value");
    }
  }
  if (!IsAbsoluteClean(spec.cwd)) return Status::InvalidArgument("cwd: must be an absolute path");
  if (spec.user_namespace && (spec.host_uid == 0 || spec.host_gid == 0)) {
    return Status::InvalidArgument("host_uid: a user namespace never maps to host root");
  }
  if (!spec.user_namespace && (spec.uid == 0 || spec.gid == 0)) {
    return Status::InvalidArgument("uid: root runs only inside a user namespace");
  }
  if (spec.root == SandboxSpec::RootKind::kDirectory && !IsAbsoluteClean(spec.root_dir)) {
    return Status::InvalidArgument("root_dir: must be an absolute path");
  }
  if (spec.workspace) PADDOCK_RETURN_IF_ERROR(CheckBind(*spec.workspace, "workspace"));
  for (size_t i = 0; i < spec.binds.size(); ++i) {
    PADDOCK_RETURN_IF_ERROR(CheckBind(spec.binds[i], "binds[" + std::to_string(i) + "]"));
  }
  for (size_t i = 0; i < spec.filtered_dirs.size(); ++i) {
    const FilteredDir& f = spec.filtered_dirs[i];
    const std::string field = "filtered_dirs[" + std::to_string(i) + "]";
    if (f.path.empty() || f.path.front() != '/' || f.path == "/" ||
        f.path.find("/../") != std::string::npos || f.path.ends_with("/..")) {
      return Status::InvalidArgument(field + ".path: \"" + f.path +
                                     "\" must be an absolute path below /");
    }
    for (const std::string& name : f.keep) {
      if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
        return Status::InvalidArgument(field + ".keep: \"" + name + "\" is not an entry name");
      }
    }
  }
  for (const DeviceNode& d : spec.devices) {
    if (!IsAbsoluteClean(d.source)) {
      return Status::InvalidArgument("devices: \"" + d.source + "\" is not an absolute path");
    }
    if (!IsAbsoluteClean(d.target) || !d.target.starts_with("/dev/")) {
      return Status::InvalidArgument("devices: target \"" + d.target + "\" must be below /dev");
    }
  }
  if (spec.timeout_ms < 0) return Status::InvalidArgument("timeout_ms: must not be negative");
  if (spec.stop_grace_ms < 0) return Status::InvalidArgument("stop_grace_ms: must not be negative");
  if (spec.log_max_bytes < 4096) return Status::InvalidArgument("log_max_bytes: at least 4096");
  if (spec.tty && (spec.tty->rows < 1 || spec.tty->rows > 4096 || spec.tty->cols < 1 ||
                   spec.tty->cols > 4096)) {
    return Status::InvalidArgument("tty: rows and cols must be 1..4096");
  }
  return Status::Ok();
}

namespace {

nlohmann::json BindJson(const BindMount& b) {
  return {{"source", b.source}, {"target", b.target}, {"writable", b.writable}};
}

BindMount BindFromJson(const nlohmann::json& j) {
  return {j.at("source").get<std::string>(), j.at("target").get<std::string>(),
          j.at("writable").get<bool>()};
}

}  // namespace

nlohmann::json ToJson(const SandboxSpec& s) {
  nlohmann::json binds = nlohmann::json::array();
  for (const BindMount& b : s.binds) binds.push_back(BindJson(b));
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceNode& d : s.devices)
    devices.push_back({{"source", d.source}, {"target", d.target}});
  nlohmann::json filtered = nlohmann::json::array();
  for (const FilteredDir& f : s.filtered_dirs)
    filtered.push_back({{"path", f.path}, {"keep", f.keep}});
  nlohmann::json j = {{"id", s.id},
                      {"argv", s.argv},
                      {"env", s.env},
                      {"cwd", s.cwd},
                      {"uid", s.uid},
                      {"gid", s.gid},
                      {"user_namespace", s.user_namespace},
                      {"host_uid", s.host_uid},
                      {"host_gid", s.host_gid},
                      {"root", s.root == SandboxSpec::RootKind::kHost ? "host" : "dir"},
                      {"root_dir", s.root_dir},
                      {"hostname", s.hostname},
                      {"workspace", s.workspace ? BindJson(*s.workspace) : nlohmann::json(nullptr)},
                      {"binds", binds},
                      {"devices", devices},
                      {"filtered_dirs", filtered},
                      {"limits",
                       {{"nofile", s.limits.nofile},
                        {"core", s.limits.core},
                        {"memlock", s.limits.memlock ? nlohmann::json(*s.limits.memlock)
                                                     : nlohmann::json(nullptr)}}},
                      {"timeout_ms", s.timeout_ms},
                      {"stop_grace_ms", s.stop_grace_ms},
                      {"log_max_bytes", s.log_max_bytes}};
  if (s.tty) j["tty"] = {{"rows", s.tty->rows}, {"cols", s.tty->cols}};
  return j;
}

Result<SandboxSpec> SpecFromJson(const nlohmann::json& j) {
  try {
    SandboxSpec s;
    s.id = j.at("id");
    s.argv = j.at("argv").get<std::vector<std::string>>();
    s.env = j.at("env").get<std::vector<std::string>>();
    s.cwd = j.at("cwd");
    s.uid = j.at("uid");
    s.gid = j.at("gid");
    s.user_namespace = j.at("user_namespace");
    s.host_uid = j.at("host_uid");
    s.host_gid = j.at("host_gid");
    s.root =
        j.at("root") == "host" ? SandboxSpec::RootKind::kHost : SandboxSpec::RootKind::kDirectory;
    s.root_dir = j.at("root_dir");
    s.hostname = j.at("hostname");
    if (!j.at("workspace").is_null()) s.workspace = BindFromJson(j.at("workspace"));
    for (const auto& b : j.at("binds")) s.binds.push_back(BindFromJson(b));
    for (const auto& d : j.at("devices")) {
      s.devices.push_back({d.at("source").get<std::string>(), d.at("target").get<std::string>()});
    }
    // Absent in specs recorded before filtered directories existed.
    for (const auto& f : j.value("filtered_dirs", nlohmann::json::array())) {
      s.filtered_dirs.push_back(
          {f.at("path").get<std::string>(), f.at("keep").get<std::vector<std::string>>()});
    }
    s.limits.nofile = j.at("limits").at("nofile");
    s.limits.core = j.at("limits").at("core");
    if (!j.at("limits").at("memlock").is_null())
      s.limits.memlock = j.at("limits").at("memlock").get<uint64_t>();
    s.timeout_ms = j.at("timeout_ms");
    s.stop_grace_ms = j.at("stop_grace_ms");
    s.log_max_bytes = j.at("log_max_bytes");
    // Absent for sandboxes without a terminal (and in specs recorded before terminals existed).
    if (j.contains("tty") && !j.at("tty").is_null()) {
      s.tty = TerminalSize{j.at("tty").at("rows").get<uint16_t>(),
                           j.at("tty").at("cols").get<uint16_t>()};
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("sandbox spec: ") + e.what());
  }
}

nlohmann::json ToJson(const ExitRecord& r) {
  return {{"exit_code", r.exit_code},
          {"signal", r.signal},
          {"reason", r.reason},
          {"finished_at_ms", r.finished_at_ms}};
}

Result<ExitRecord> ExitRecordFromJson(const nlohmann::json& j) {
  try {
    return ExitRecord{j.at("exit_code"), j.at("signal"), j.at("reason"), j.at("finished_at_ms")};
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("exit record: ") + e.what());
  }
}

}  // namespace paddock::sandbox
