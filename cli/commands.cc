#include "cli/commands.h"

#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/output.h"
#include "cli/problem.h"
#include "cli/reply.h"

#ifndef PADDOCK_VERSION
#error "PADDOCK_VERSION must be defined by the build"
#endif

namespace paddock::cli {
namespace {

constexpr std::string_view kStatusPath = "/api/v1/status";
constexpr std::string_view kTokensPath = "/api/v1/tokens";

// The daemon's version, or why it could not be learned.
Result<std::string> FetchServerVersion(const ApiClient& client) {
  Result<ApiResponse> result = client.Get(kStatusPath);
  if (!result.ok()) return result.status();
  if (!IsSuccess(result->status)) {
    const Problem problem = ParseProblem(*result);
    std::string reason = problem.title;
    if (!problem.detail.empty()) reason += ": " + problem.detail;
    return Status::FailedPrecondition(std::move(reason));
  }
  const Json body = Json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  const Json* version = FindField(body, "version");
  if (version == nullptr || !version->is_string()) {
    return Status::Internal("status reply carries no version");
  }
  return version->get<std::string>();
}

void AddRowIfPresent(Table& table, std::string label, const Json& object, std::string_view key) {
  if (const Json* value = FindField(object, key)) {
    table.AddRow({std::move(label), DisplayValue(*value)});
  }
}

// "unix uid=0 gid=0 pid=42 (admin)" or "token ci".
std::string DescribeCaller(const Json& caller) {
  const Json* kind = FindField(caller, "kind");
  std::string text = kind != nullptr ? DisplayValue(*kind) : "unknown";
  if (const Json* name = FindField(caller, "token_name")) text += " " + DisplayValue(*name);
  for (const char* key : {"uid", "gid", "pid"}) {
    if (const Json* value = FindField(caller, key)) {
      text += std::string(" ") + key + "=" + DisplayValue(*value);
    }
  }
  const Json* admin = FindField(caller, "admin");
  if (admin != nullptr && admin->is_boolean() && admin->get<bool>()) text += " (admin)";
  return text;
}

// "api_tokens" -> "api tokens": count names become labels without a table to keep in sync.
std::string LabelFromKey(std::string key) {
  for (char& c : key) {
    if (c == '_') c = ' ';
  }
  return key;
}

void PrintStatusTable(const Json& status) {
  Table table;
  AddRowIfPresent(table, "version", status, "version");
  if (const Json* uptime = FindField(status, "uptime_seconds"); uptime && uptime->is_number()) {
    table.AddRow({"uptime", FormatDuration(uptime->get<double>())});
  }
  AddRowIfPresent(table, "started at", status, "started_at");
  AddRowIfPresent(table, "pid", status, "pid");
  AddRowIfPresent(table, "cgroup mode", status, "cgroup_mode");
  AddRowIfPresent(table, "state dir", status, "state_dir");
  AddRowIfPresent(table, "listen", status, "listen");
  AddRowIfPresent(table, "tls", status, "tls");
  if (const Json* caller = FindField(status, "caller")) {
    table.AddRow({"caller", DescribeCaller(*caller)});
  }
  if (const Json* counts = FindField(status, "counts"); counts && counts->is_object()) {
    for (const auto& [key, value] : counts->items()) {
      table.AddRow({LabelFromKey(key), DisplayValue(value)});
    }
  }
  table.Print(std::cout);
}

}  // namespace

ExitCode RunVersion(const CommandContext& context) {
  const Result<std::string> server_version = FetchServerVersion(context.client);
  if (!server_version.ok()) {
    const bool unreachable = server_version.status().code() == StatusCode::kUnavailable;
    std::cerr << "paddock: "
              << (unreachable ? "daemon not reachable: " : "daemon version unknown: ")
              << server_version.status().message() << '\n';
  }
  if (context.json) {
    Json server = server_version.ok() ? Json{{"version", *server_version}} : Json(nullptr);
    PrintJson(std::cout, {{"client", {{"version", PADDOCK_VERSION}}}, {"server", server}});
    return ExitCode::kSuccess;
  }
  Table table;
  table.AddRow({"client", PADDOCK_VERSION});
  if (server_version.ok()) table.AddRow({"server", *server_version});
  table.Print(std::cout);
  return ExitCode::kSuccess;
}

ExitCode RunStatus(const CommandContext& context) {
  const Reply reply = Receive(context, context.client.Get(kStatusPath));
  if (!reply.ok()) return reply.exit_code;
  if (context.json) {
    PrintJson(std::cout, reply.body);
  } else {
    PrintStatusTable(reply.body);
  }
  return ExitCode::kSuccess;
}

ExitCode RunTokenCreate(const CommandContext& context, const std::string& name, bool admin) {
  const Json request = {{"name", name}, {"admin", admin}};
  const Reply reply = Receive(context, context.client.Post(kTokensPath, request.dump()));
  if (!reply.ok()) return reply.exit_code;
  if (context.json) {
    PrintJson(std::cout, reply.body);
    return ExitCode::kSuccess;
  }
  const Json* secret = FindField(reply.body, "token");
  if (secret == nullptr || !secret->is_string()) return ReportMalformedReply("no token in reply");
  // The secret alone on stdout, so that `paddock token create ci > ci.token` just works.
  if (!(std::cout << secret->get<std::string>() << '\n' << std::flush)) {
    std::cerr << "paddock: created token \"" << name << "\" but could not print its secret; "
              << "remove it with `paddock token rm " << name << "` and try again\n";
    return ExitCode::kInternalError;
  }
  std::cerr << "paddock: created " << (admin ? "admin " : "") << "token \"" << name
            << "\"; this is the only time it is shown, store it now\n";
  return ExitCode::kSuccess;
}

ExitCode RunTokenList(const CommandContext& context) {
  const Reply reply = Receive(context, context.client.Get(kTokensPath));
  if (!reply.ok()) return reply.exit_code;
  if (context.json) {
    PrintJson(std::cout, reply.body);
    return ExitCode::kSuccess;
  }
  const Json* tokens = FindField(reply.body, "tokens");
  if (tokens == nullptr || !tokens->is_array()) return ReportMalformedReply("no token list");
  Table table({"NAME", "ADMIN", "CREATED"});
  for (const Json& token : *tokens) {
    std::vector<std::string> row;
    for (const char* key : {"name", "admin", "created_at"}) {
      const Json* value = FindField(token, key);
      row.push_back(value != nullptr ? DisplayValue(*value) : "-");
    }
    table.AddRow(std::move(row));
  }
  table.Print(std::cout);
  return ExitCode::kSuccess;
}

ExitCode RunTokenRemove(const CommandContext& context, const std::string& name) {
  const std::string path = std::string(kTokensPath) + "/" + EscapePathSegment(name);
  const Reply reply = Receive(context, context.client.Delete(path));
  if (!reply.ok()) return reply.exit_code;
  // DELETE answers 204 without a body; --json still gets an object to parse.
  if (context.json) {
    PrintJson(std::cout, {{"name", name}, {"removed", true}});
  } else {
    std::cout << "removed " << name << '\n';
  }
  return ExitCode::kSuccess;
}

}  // namespace paddock::cli
