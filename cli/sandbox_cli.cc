#include "cli/sandbox_cli.h"

#include <utility>

#include "cli/sandbox_options.h"

namespace paddock::cli {
namespace {

constexpr char kRunFooter[] =
    "\nPut -- before the command when it has options of its own:\n"
    "  paddock sandbox run --memory 2G -- python3 -u train.py --epochs 3\n"
    "\nGPUs are granted all or nothing (`paddock gpus` shows which are free):\n"
    "  --gpus 2                  two whole GPUs, placed as close together as possible\n"
    "  --gpus 2:nvlink           two linked by NVLink (also same_numa; both: 2:nvlink,same_numa)\n"
    "  --gpus mig:1g.10gb        one MIG instance of that profile\n"
    "  --gpus share:10G          a share of a shared GPU, capped at 10G of its memory\n"
    "  --gpus GPU-...,MIG-...    these GPUs or MIG instances, by UUID\n"
    "\nVersioned data (`paddock store`): --mount data@v2:/data mounts that revision read-only;\n"
    "--output runs@exp1:/output commits what the command leaves in /output to branch exp1 of\n"
    "repository runs when it ends (the commit names the sandbox, its command and exit status).\n"
    "\nWith --tty the command gets a terminal and yours is attached to it: keys (Ctrl-C too) go\n"
    "to the sandbox, Ctrl-P Ctrl-Q detaches and leaves it running (`paddock sandbox attach ID`).\n"
    "\nExit status: in the foreground, the sandbox's own: its exit code, 128+N when signal N\n"
    "ended it (143 after `sandbox stop`, Ctrl-C or --timeout), 137 when it ran out of memory.\n"
    "With --detach, 0 once the sandbox has started. When it cannot be started or followed:\n"
    "  2  usage error\n"
    "  3  daemon unreachable (no socket, connection refused, timeout)\n"
    "  4  the API answered with an error (details on stderr)\n";

// The value of an optional flag, or a usage error naming the flag; unset flags stay unset.
template <typename T>
void Convert(const std::string& flag, const std::string& text, Result<T> (*parse)(std::string_view),
             std::optional<T>& out) {
  if (text.empty()) return;
  Result<T> value = parse(text);
  if (!value.ok()) throw CLI::ValidationError(flag, value.status().message());
  out = std::move(*value);
}

std::string ResolveRoot(const std::string& root) {
  // "host" is the keyword; a directory of that name is given as ./host.
  if (root == "host") return root;
  Result<std::string> directory = ResolveDirectory(root);
  if (!directory.ok()) throw CLI::ValidationError("--root", directory.status().message());
  return *directory;
}

// Turns the typed flags into the request's values; throws CLI::ValidationError, which main()
// reports as a usage error like any other bad flag.
void ConvertRunFlags(const SandboxArgs::RunFlags& flags, SandboxRunArgs& run) {
  Convert<double>("--cpus", flags.cpus, &ParseCpus, run.cpus);
  Convert<int64_t>("--memory", flags.memory, &ParseByteSize, run.memory_bytes);
  Convert<int64_t>("--pids", flags.pids, &ParsePositiveInteger, run.pids);
  Convert<int64_t>("--timeout", flags.timeout, &ParseSeconds, run.timeout_seconds);
  Convert<nlohmann::json>("--gpus", flags.gpus, &ParseGpuSpec, run.gpus);
  if (!flags.workspace.empty()) {
    Result<std::string> workspace = ResolveDirectory(flags.workspace);
    if (!workspace.ok()) throw CLI::ValidationError("--workspace", workspace.status().message());
    run.workspace = std::move(*workspace);
  }
  if (!flags.root.empty()) run.root = ResolveRoot(flags.root);
  for (const std::string& text : flags.binds) {
    Result<BindArg> bind = ParseBind(text);
    if (!bind.ok()) throw CLI::ValidationError("--bind", bind.status().message());
    run.binds.push_back(std::move(*bind));
  }
  for (const std::string& text : flags.mounts) {
    Result<DataArg> mount = ParseMountArg(text);
    if (!mount.ok()) throw CLI::ValidationError("--mount", mount.status().message());
    run.mounts.push_back(std::move(*mount));
  }
  if (!flags.output.empty()) {
    Result<DataArg> output = ParseOutputArg(flags.output);
    if (!output.ok()) throw CLI::ValidationError("--output", output.status().message());
    run.output = std::move(*output);
  }
  for (const std::string& text : flags.env) {
    Result<EnvAssignment> assignment = ParseEnvAssignment(text);
    if (!assignment.ok()) throw CLI::ValidationError("--env", assignment.status().message());
    run.env.push_back(std::move(*assignment));
  }
}

void AddRunCommand(CLI::App& sandbox, SandboxArgs& args, Command& command) {
  CLI::App* run = sandbox.add_subcommand("run", "Run a command in a new sandbox");
  run->footer(kRunFooter);
  SandboxArgs::RunFlags& flags = args.run_flags;
  run->add_option("--cpus", flags.cpus, "CPU limit, e.g. 1.5")->type_name("CPUS");
  run->add_option("--memory", flags.memory,
                  "Memory limit: 512M, 2G, 1.5G (binary K, M, G, T) or a byte count")
      ->type_name("SIZE");
  run->add_option("--pids", flags.pids, "Limit on processes and threads at once")->type_name("N");
  // Shadows the global --timeout after `sandbox run`; that one goes before `sandbox` here.
  run->add_option("--timeout", flags.timeout,
                  "Time limit: 30s, 10m, 1h or seconds; then the sandbox is stopped")
      ->type_name("DURATION");
  run->add_option("--gpus", flags.gpus,
                  "GPUs: N, N:nvlink, N:same_numa, mig:PROFILE, share:SIZE or UUIDs (see below)")
      ->type_name("SPEC");
  run->add_option("--workspace", flags.workspace, "Host directory mounted writable at /workspace")
      ->type_name("DIR");
  // One value per flag: a repeatable flag must not swallow the command that follows it.
  run->add_option("--bind", flags.binds,
                  "Host path in the sandbox: SRC:DST (read-only) or SRC:DST:rw")
      ->type_name("SRC:DST[:rw]")
      ->allow_extra_args(false);
  run->add_option("--root", flags.root, "Root file system: host (the host's, read-only) or a DIR")
      ->type_name("host|DIR");
  run->add_option("--env", flags.env, "Environment variable KEY=VALUE")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  run->add_option("--mount", flags.mounts,
                  "A repository revision, read-only: REPO[@REV]:/path (REV: branch, tag, commit)")
      ->type_name("REPO@REV:/path")
      ->allow_extra_args(false);
  run->add_option("--output", flags.output,
                  "Directory committed to a repository branch when the sandbox ends")
      ->type_name("REPO[@BRANCH][:/path]");
  run->add_flag("-t,--tty", args.run.tty,
                "Give the command a terminal and attach ours to it (Ctrl-P Ctrl-Q detaches)");
  run->add_flag("-d,--detach", args.run.detach, "Print the new sandbox's id and return at once");
  run->add_option("CMD", args.run.command, "The command and its arguments")
      ->type_name("ARGS")
      ->required();
  run->callback([&] {
    ConvertRunFlags(args.run_flags, args.run);
    command = [&args](const CommandContext& c) { return RunSandboxRun(c, args.run); };
  });
}

void AddLogsCommand(CLI::App& sandbox, SandboxArgs& args, Command& command) {
  CLI::App* logs = sandbox.add_subcommand("logs", "Print a sandbox's output");
  logs->add_option("ID", args.logs.id, "Sandbox id")->required();
  logs->add_flag("-f,--follow", args.logs.follow, "Keep printing until the sandbox has exited");
  logs->add_option("--stream", args.logs.stream, "Only this stream (default: both)")
      ->check(CLI::IsMember({"stdout", "stderr"}));
  logs->callback(
      [&] { command = [&args](const CommandContext& c) { return RunSandboxLogs(c, args.logs); }; });
}

void AddManagementCommands(CLI::App& sandbox, SandboxArgs& args, Command& command) {
  sandbox.add_subcommand("ls", "List sandboxes, newest first")->callback([&] {
    command = RunSandboxList;
  });

  CLI::App* attach =
      sandbox.add_subcommand("attach", "Attach to the terminal of a sandbox run with --tty");
  attach->add_option("ID", args.id, "Sandbox id")->required();
  attach->callback(
      [&] { command = [&args](const CommandContext& c) { return RunSandboxAttach(c, args.id); }; });

  CLI::App* inspect = sandbox.add_subcommand("inspect", "Show a sandbox");
  inspect->add_option("ID", args.id, "Sandbox id")->required();
  inspect->callback([&] {
    command = [&args](const CommandContext& c) { return RunSandboxInspect(c, args.id); };
  });

  CLI::App* stop = sandbox.add_subcommand("stop", "Stop a sandbox and wait until it has exited");
  stop->add_option("ID", args.id, "Sandbox id")->required();
  stop->callback(
      [&] { command = [&args](const CommandContext& c) { return RunSandboxStop(c, args.id); }; });

  CLI::App* remove = sandbox.add_subcommand("rm", "Remove an exited sandbox and its logs");
  remove->add_option("ID", args.id, "Sandbox id")->required();
  remove->add_flag("--force", args.force, "Stop the sandbox first if it is running");
  remove->callback([&] {
    command = [&args](const CommandContext& c) { return RunSandboxRemove(c, args.id, args.force); };
  });
}

}  // namespace

void AddSandboxCommands(CLI::App& app, SandboxArgs& args, Command& command) {
  CLI::App* sandbox = app.add_subcommand("sandbox", "Run commands in sandboxes and manage them");
  AddRunCommand(*sandbox, args, command);
  AddManagementCommands(*sandbox, args, command);
  AddLogsCommand(*sandbox, args, command);
}

std::string SandboxRunHint(const CLI::App& app, const CLI::ParseError& error) {
  if (dynamic_cast<const CLI::ExtrasError*>(&error) == nullptr) return {};
  // Both exist: AddSandboxCommands made them.
  const CLI::App* run = app.get_subcommand("sandbox")->get_subcommand("run");
  if (!run->parsed()) return {};
  return "paddock: put -- before the command: paddock sandbox run [OPTIONS] -- CMD ARGS...";
}

}  // namespace paddock::cli
