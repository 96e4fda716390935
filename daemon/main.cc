// paddockd: entry point. Parses flags, builds the effective configuration and runs the Daemon.
//
// Exit status: 0 clean stop; 1 a start-up failure (port in use, state dir locked, ...);
// 2 a usage or configuration error (the message names the file, line and key).
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>

#include "base/file_util.h"
#include "base/log.h"
#include "daemon/config.h"
#include "daemon/daemon.h"

namespace paddock {
namespace {

constexpr int kExitStartFailure = 1;
constexpr int kExitConfigError = 2;

struct CommandLine {
  std::string config_path;  // "" = the default path if it exists
  std::string state_dir;
  std::string listen;
  bool dev = false;
  bool check_config = false;
};

// Config file, then flags on top. Used at start and on every reload.
Result<DaemonConfig> LoadEffectiveConfig(const CommandLine& cli) {
  DaemonConfig config;
  std::string path = cli.config_path;
  if (path.empty() && !cli.dev && ::access(std::string(kDefaultConfigPath).c_str(), F_OK) == 0) {
    path = kDefaultConfigPath;
  }
  if (!path.empty()) {
    auto loaded = LoadConfigFile(path);
    if (!loaded.ok()) return loaded.status();
    config = std::move(loaded).value();
  }
  if (cli.dev && cli.state_dir.empty()) config.state_dir = AbsolutePath(".paddock");
  if (!cli.state_dir.empty()) config.state_dir = AbsolutePath(cli.state_dir);
  if (!cli.listen.empty()) {
    auto addr = ParseListenAddress(cli.listen);
    if (!addr.ok()) return addr.status().WithContext("--listen");
    config.listen = *addr;
    config.tcp_enabled = true;
  }
  return config;
}

int Main(int argc, char** argv) {
  BlockDaemonSignals();
  // State files (database, token, lock) are for root and the paddock group at most.
  ::umask(027);
  CommandLine cli;
  CLI::App app{
      "paddockd: shares a multi-GPU workstation between sandboxed notebooks, training "
      "jobs and model servers.",
      "paddockd"};
  app.add_option("--config", cli.config_path, "Configuration file")
      ->capture_default_str()
      ->option_text("PATH (default " + std::string(kDefaultConfigPath) + ")");
  app.add_option("--state-dir", cli.state_dir, "State directory (overrides daemon.state_dir)");
  app.add_option("--listen", cli.listen, "TCP address HOST:PORT (overrides api.listen)");
  app.add_flag(
      "--dev", cli.dev,
      "Developer mode: state in ./.paddock, no system config file, prints where the API is");
  app.add_flag("--check-config", cli.check_config, "Validate the configuration and exit");
  app.set_version_flag("--version", std::string("paddockd ") + PADDOCK_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfigError;
  }

  InitLogging("paddockd");
  auto config = LoadEffectiveConfig(cli);
  if (!config.ok()) {
    std::fprintf(stderr, "paddockd: %s\n", config.status().message().c_str());
    return kExitConfigError;
  }
  if (cli.check_config) {
    std::printf("paddockd: configuration OK (%s)\n",
                config->source.empty() ? "defaults" : config->source.c_str());
    return 0;
  }
  SetLogLevel(config->log_level);
  Daemon daemon(
      *config, [cli] { return LoadEffectiveConfig(cli); }, cli.dev);
  Status started = daemon.Start();
  if (!started.ok()) {
    LogError("paddockd failed to start", {{"ERROR", started.message()}});
    if (LoggingToJournal())
      std::fprintf(stderr, "paddockd: %s\n", started.message().c_str());
    else
      std::fprintf(stderr, "paddockd: cannot start: %s\n", started.message().c_str());
    return kExitStartFailure;
  }
  return daemon.Run();
}

}  // namespace
}  // namespace paddock

int main(int argc, char** argv) { return paddock::Main(argc, argv); }
