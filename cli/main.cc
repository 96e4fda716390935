// paddock: the command-line client of paddockd. This file only wires the command line (CLI11) to
// the commands in commands.cc; see exit_code.h for the exit statuses.
#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <utility>

#include "base/file_util.h"
#include "base/status.h"
#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/gpu_cli.h"
#include "cli/sandbox_cli.h"
#include "cli/store_cli.h"

#ifndef PADDOCK_VERSION
#error "PADDOCK_VERSION must be defined by the build"
#endif

namespace paddock::cli {
namespace {

constexpr char kDefaultSocket[] = "/var/lib/paddock/paddockd.sock";
constexpr char kTokenEnv[] = "PADDOCK_TOKEN";
constexpr char kEnvironmentHelp[] =
    "\nEnvironment:\n"
    "  PADDOCK_SOCKET  daemon socket (as --socket)\n"
    "  PADDOCK_URL     daemon URL (as --url)\n"
    "  PADDOCK_TOKEN   bearer token sent with --url; there is deliberately no --token flag, as\n"
    "                  arguments are visible to every user in ps\n";

struct GlobalOptions {
  std::string socket_path = kDefaultSocket;
  std::string url;
  std::string token_file;
  bool json = false;
  double timeout_seconds = 30;
};

// Arguments of the sub-commands, filled in by CLI11 while parsing.
struct CommandArgs {
  std::string token_name;
  bool admin = false;
  SandboxArgs sandbox;
  GpuArgs gpus;
  StoreArgs store;
};

const CLI::Validator& HttpUrl() {
  static const CLI::Validator validator(
      [](std::string& url) -> std::string {
        if (url.starts_with("http://") || url.starts_with("https://")) return {};
        return "must start with http:// or https://";
      },
      "URL");
  return validator;
}

void AddGlobalOptions(CLI::App& app, GlobalOptions& options) {
  app.add_option("--socket", options.socket_path, "Daemon unix socket")
      ->envname("PADDOCK_SOCKET")
      ->capture_default_str();
  app.add_option("--url", options.url,
                 "Daemon URL (http://HOST:PORT): use TCP and a bearer token, not the socket")
      ->envname("PADDOCK_URL")
      ->check(HttpUrl());
  app.add_option("--token-file", options.token_file,
                 "File holding the bearer token for --url (instead of PADDOCK_TOKEN)")
      ->check(CLI::ExistingFile);
  app.add_flag("--json", options.json, "Machine output: print the API's JSON");
  app.add_option("--timeout", options.timeout_seconds, "Seconds to wait for the daemon")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
}

void AddTokenCommands(CLI::App& app, CommandArgs& args, Command& command) {
  CLI::App* token = app.add_subcommand("token", "Manage API tokens (admin only)");

  CLI::App* create = token->add_subcommand("create", "Create a token and print its secret once");
  create->add_option("NAME", args.token_name, "Token name: 1-64 of [A-Za-z0-9._-]")->required();
  create->add_flag("--admin", args.admin, "Give the token administrator rights");
  create->callback([&] {
    command = [&args](const CommandContext& c) {
      return RunTokenCreate(c, args.token_name, args.admin);
    };
  });

  token->add_subcommand("ls", "List tokens")->callback([&] { command = RunTokenList; });

  CLI::App* remove = token->add_subcommand("rm", "Remove a token");
  remove->add_option("NAME", args.token_name, "Token name")->required();
  remove->callback([&] {
    command = [&args](const CommandContext& c) { return RunTokenRemove(c, args.token_name); };
  });
}

void AddCommands(CLI::App& app, CommandArgs& args, Command& command) {
  app.add_subcommand("version", "Print the client's and the daemon's versions")->callback([&] {
    command = RunVersion;
  });
  app.add_subcommand("status", "Show the daemon's status")->callback([&] { command = RunStatus; });
  AddTokenCommands(app, args, command);
  AddSandboxCommands(app, args.sandbox, command);
  AddGpuCommands(app, args.gpus, command);
  AddStoreCommands(app, args.store, command);
}

// CLI11 exits with its own codes (105, 106, ...); scripts get one usage code instead.
int ExitForParseError(const CLI::App& app, const CLI::ParseError& error) {
  const int cli11_code = app.exit(error);
  if (const std::string hint = SandboxRunHint(app, error); !hint.empty()) std::cerr << hint << '\n';
  return cli11_code == 0 ? 0 : static_cast<int>(ExitCode::kUsageError);
}

// CLI11's require_subcommand() is checked before unknown words are, so `paddock bogus` would be
// told that a sub-command is missing; checking here lets CLI11 reject "bogus" by name first.
int ReportMissingCommand(const CLI::App& app) {
  const CLI::App* deepest = &app;
  std::string command_line = app.get_name();
  for (auto selected = app.get_subcommands(); !selected.empty();
       selected = deepest->get_subcommands()) {
    deepest = selected.front();
    command_line += " " + deepest->get_name();
  }
  std::string choices;
  for (const CLI::App* sub : deepest->get_subcommands({})) {
    choices += (choices.empty() ? "" : ", ") + sub->get_name();
  }
  std::cerr << command_line << ": a command is required (" << choices
            << ")\nRun with --help for more information.\n";
  return static_cast<int>(ExitCode::kUsageError);
}

Result<std::string> ReadToken(const GlobalOptions& options) {
  if (options.token_file.empty()) {
    const char* from_env = std::getenv(kTokenEnv);
    return std::string(from_env != nullptr ? from_env : "");
  }
  Result<std::string> contents = ReadFileToString(options.token_file);
  if (!contents.ok()) return contents.status().WithContext("reading --token-file");
  std::string token = std::move(*contents);
  // Token files are usually written by `echo` or an editor: drop the line end.
  const auto end = token.find_last_not_of(" \t\r\n");
  token.erase(end == std::string::npos ? 0 : end + 1);
  if (token.empty()) {
    return Status::InvalidArgument("token file " + options.token_file + " is empty");
  }
  return token;
}

Result<ApiEndpoint> MakeEndpoint(const GlobalOptions& options) {
  ApiEndpoint endpoint;
  endpoint.socket_path = options.socket_path;
  endpoint.url = options.url;
  if (endpoint.UsesTcp()) {
    Result<std::string> token = ReadToken(options);
    if (!token.ok()) return token.status();
    endpoint.token = std::move(*token);
  }
  endpoint.timeout = std::chrono::milliseconds(std::llround(options.timeout_seconds * 1000));
  if (endpoint.timeout.count() < 1) endpoint.timeout = std::chrono::milliseconds(1);
  endpoint.user_agent = "paddock/" PADDOCK_VERSION;
  return endpoint;
}

ExitCode RunCommand(const Command& command, ApiEndpoint endpoint, bool json) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::cerr << "paddock: cannot initialise libcurl\n";
    return ExitCode::kInternalError;
  }
  const ApiClient client(std::move(endpoint));
  const ExitCode code = command(CommandContext{client, json});
  curl_global_cleanup();
  // A token secret is shown once; losing it to a full disk or a closed pipe must not look like
  // success.
  if (code == ExitCode::kSuccess && !std::cout.flush()) {
    std::cerr << "paddock: cannot write to standard output\n";
    return ExitCode::kInternalError;
  }
  return code;
}

int Main(int argc, char** argv) {
  CLI::App app("Command-line client of paddockd, the GPU workstation sharing daemon.", "paddock");
  // Set before the sub-commands exist, which inherit both settings.
  app.footer(std::string("\n") + kExitStatusHelp + kEnvironmentHelp);
  app.fallthrough();  // global options may follow the sub-command: `paddock status --json`
  app.set_version_flag("--version", "paddock " PADDOCK_VERSION);

  GlobalOptions options;
  CommandArgs args;
  Command command;
  AddGlobalOptions(app, options);
  AddCommands(app, args, command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return ExitForParseError(app, error);
  }
  if (!command) return ReportMissingCommand(app);

  Result<ApiEndpoint> endpoint = MakeEndpoint(options);
  if (!endpoint.ok()) {
    std::cerr << "paddock: " << endpoint.status().message() << '\n';
    return static_cast<int>(ExitCode::kUsageError);
  }
  return static_cast<int>(RunCommand(command, std::move(*endpoint), options.json));
}

}  // namespace
}  // namespace paddock::cli

int main(int argc, char** argv) {
  // Nothing should throw past the commands, but a library might; fail with the documented code
  // rather than std::terminate's abort.
  try {
    return paddock::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "paddock: internal error: " << e.what() << '\n';
    return static_cast<int>(paddock::cli::ExitCode::kInternalError);
  }
}
