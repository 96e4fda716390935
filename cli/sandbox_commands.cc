#include "cli/sandbox_commands.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <memory>
#include <span>
#include <string_view>
#include <thread>
#include <utility>

#include "cli/interrupt.h"
#include "cli/output.h"
#include "cli/reply.h"
#include "cli/sandbox_format.h"
#include "cli/terminal_attach.h"

namespace paddock::cli {
namespace {

constexpr std::string_view kSandboxesPath = "/api/v1/sandboxes";

// How often a command waiting for a sandbox to exit asks the daemon; a stop takes at least the
// daemon's SIGTERM round trip, so faster polling would only add load.
constexpr std::chrono::milliseconds kExitPollInterval{100};

std::string SandboxPath(std::string_view id) {
  return std::string(kSandboxesPath) + "/" + EscapePathSegment(id);
}

std::string LogsPath(std::string_view id, std::string_view stream, bool follow) {
  return SandboxPath(id) + "/logs?stream=" + std::string(stream) + (follow ? "&follow=true" : "");
}

Json CreateRequest(const SandboxRunArgs& args) {
  Json request = {{"command", args.command}};
  if (!args.env.empty()) {
    Json env = Json::object();
    for (const EnvAssignment& assignment : args.env) env[assignment.name] = assignment.value;
    request["env"] = std::move(env);
  }
  if (args.cpus) request["cpus"] = *args.cpus;
  if (args.memory_bytes) request["memory_bytes"] = *args.memory_bytes;
  if (args.pids) request["pids"] = *args.pids;
  if (args.timeout_seconds) request["timeout_seconds"] = *args.timeout_seconds;
  if (args.workspace) request["workspace"] = *args.workspace;
  if (!args.binds.empty()) {
    Json binds = Json::array();
    for (const BindArg& bind : args.binds) {
      binds.push_back(
          {{"source", bind.source}, {"target", bind.target}, {"writable", bind.writable}});
    }
    request["binds"] = std::move(binds);
  }
  if (args.root) request["root"] = *args.root;
  if (args.gpus) request["gpus"] = Json(*args.gpus);
  if (!args.mounts.empty()) {
    Json mounts = Json::array();
    for (const DataArg& m : args.mounts) {
      mounts.push_back({{"repo", m.repo}, {"rev", m.ref}, {"target", m.target}});
    }
    request["mounts"] = std::move(mounts);
  }
  if (args.output) {
    request["output"] = {
        {"repo", args.output->repo}, {"branch", args.output->ref}, {"target", args.output->target}};
  }
  if (args.tty) {
    request["tty"] = true;
    // The sandbox's terminal starts as big as ours, so full-screen programs draw right at once.
    if (const std::optional<TerminalDimensions> size = LocalTerminalSize()) {
      request["tty_size"] = {{"rows", size->rows}, {"cols", size->cols}};
    }
  }
  return request;
}

// The id of a sandbox object, empty when the daemon sent none.
std::string SandboxId(const Json& sandbox) {
  const Json* id = FindField(sandbox, "id");
  return id != nullptr && id->is_string() ? id->get<std::string>() : std::string();
}

// Polls the sandbox until the daemon reports it exited. The daemon escalates to SIGKILL after its
// grace period, so a stopped sandbox ends within seconds; the wait is bounded by --timeout like
// any other wait on the daemon, and running past it counts as the daemon timing out (exit 3).
Reply WaitUntilExited(const CommandContext& context, const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + context.client.timeout();
  while (true) {
    Reply reply = Receive(context, context.client.Get(SandboxPath(id)));
    if (!reply.ok() || HasExited(reply.body)) return reply;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "paddock: sandbox " << id << " is still running after "
                << FormatDuration(std::chrono::duration<double>(context.client.timeout()).count())
                << " (raise --timeout to wait longer)\n";
      return {ExitCode::kUnreachable, nullptr};
    }
    std::this_thread::sleep_for(kExitPollInterval);
  }
}

// Asks the daemon to stop the sandbox and waits until it has exited.
Reply StopAndWait(const CommandContext& context, const std::string& id) {
  const Reply stopped = Receive(context, context.client.Post(SandboxPath(id) + "/stop", ""));
  if (!stopped.ok()) return stopped;
  if (HasExited(stopped.body)) return stopped;
  return WaitUntilExited(context, id);
}

// Copies one log stream to a descriptor of ours as it arrives. Once writing fails (the reader of
// a pipe went away) further output is dropped and `closed` is set, for the caller to decide
// whether the sandbox should still run.
struct OutputSink {
  int fd;
  bool closed = false;

  void Write(std::string_view data) {
    while (!closed && !data.empty()) {
      const ssize_t written = ::write(fd, data.data(), data.size());
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) {
        closed = true;
        return;
      }
      data.remove_prefix(static_cast<size_t>(written));
    }
  }
};

// One log stream of a sandbox and where it goes.
struct LogStream {
  std::string_view name;  // "stdout" or "stderr", as the API names it
  OutputSink sink;
};

std::vector<StreamRequest> LogRequests(const std::string& id, std::span<LogStream> streams,
                                       bool follow) {
  std::vector<StreamRequest> requests;
  for (LogStream& stream : streams) {
    StreamRequest request;
    request.path = LogsPath(id, stream.name, follow);
    request.on_data = [&sink = stream.sink](std::string_view chunk) { sink.Write(chunk); };
    request.unbounded = follow;
    requests.push_back(std::move(request));
  }
  return requests;
}

// How the streams ended, reporting the first failure: the daemon lost (3) before an API error
// (4), as a broken connection explains everything after it.
ExitCode JudgeStreams(const CommandContext& context, const Status& driven,
                      std::span<const StreamRequest> requests) {
  if (!driven.ok()) return ReportRequestFailure(driven);
  for (const StreamRequest& request : requests) {
    if (!request.transport.ok()) return ReportRequestFailure(request.transport);
  }
  for (const StreamRequest& request : requests) {
    if (!IsSuccess(request.response.status)) return ReportApiError(context, request.response);
  }
  return ExitCode::kSuccess;
}

ExitCode PrintSandbox(const CommandContext& context, const Json& sandbox) {
  if (context.json) {
    PrintJson(std::cout, sandbox);
  } else {
    PrintSandboxDetails(std::cout, sandbox);
  }
  return ExitCode::kSuccess;
}

ExitCode RunDetached(const CommandContext& context, const Json& request) {
  const Reply created = Receive(context, context.client.Post(kSandboxesPath, request.dump()));
  if (!created.ok()) return created.exit_code;
  if (context.json) {
    PrintJson(std::cout, created.body);
    return ExitCode::kSuccess;
  }
  const std::string id = SandboxId(created.body);
  if (id.empty()) return ReportMalformedReply("no sandbox id in reply");
  // The id alone, so that `id=$(paddock sandbox run --detach -- ...)` just works.
  std::cout << id << '\n';
  return ExitCode::kSuccess;
}

// Stops a foreground sandbox once, when the user presses Ctrl-C or nobody reads its output any
// more, and keeps the streams going so that whatever it prints while stopping still arrives.
class ForegroundStopper {
 public:
  ForegroundStopper(const CommandContext& context, std::string id, InterruptGuard& interrupts,
                    std::span<const LogStream> streams)
      : context_(context), id_(std::move(id)), interrupts_(interrupts), streams_(streams) {}

  // Called after every round of the streams.
  void Check() {
    if (interrupts_.TakeInterrupt()) {
      // A second Ctrl-C ends the client at once; the daemon finishes the stop on its own.
      interrupts_.RestoreDefaultInterrupt();
      Stop("interrupted; asking paddockd to stop " + id_ + " (Ctrl-C again to stop waiting)");
    }
    for (const LogStream& stream : streams_) {
      if (stream.sink.closed) {
        Stop("cannot write the " + std::string(stream.name) + " of " + id_ +
             " any more; asking paddockd to stop it");
      }
    }
  }

 private:
  void Stop(const std::string& why) {
    if (stop_requested_) return;
    stop_requested_ = true;
    std::cerr << "paddock: " << why << '\n';
    // A failed stop is reported but not fatal: the streams still show how the sandbox ends.
    (void)Receive(context_, context_.client.Post(SandboxPath(id_) + "/stop", ""));
  }

  const CommandContext& context_;
  const std::string id_;
  InterruptGuard& interrupts_;
  std::span<const LogStream> streams_;
  bool stop_requested_ = false;
};

// Streams both outputs of the sandbox until it has exited, stopping it on Ctrl-C.
ExitCode StreamForeground(const CommandContext& context, const std::string& id,
                          InterruptGuard& interrupts) {
  std::array<LogStream, 2> streams = {LogStream{"stdout", {STDOUT_FILENO}},
                                      LogStream{"stderr", {STDERR_FILENO}}};
  ForegroundStopper stopper(context, id, interrupts, streams);
  stopper.Check();  // Ctrl-C while the sandbox was being created
  std::vector<StreamRequest> requests = LogRequests(id, streams, /*follow=*/true);
  const Status driven =
      context.client.Stream(requests, {.wake_fd = interrupts.fd(),
                                       .after_each_round = [&stopper] { stopper.Check(); },
                                       .stop_early = nullptr});
  const ExitCode streamed = JudgeStreams(context, driven, requests);
  if (streamed == ExitCode::kUnreachable) {
    std::cerr << "paddock: " << id << " may still be running; see `paddock sandbox inspect " << id
              << "`\n";
  }
  return streamed;
}

// The sandbox's exit status as ours, once the daemon has recorded it (the output ends when the
// sandbox has, but its record may be a moment behind).
ExitCode ExitWithSandbox(const CommandContext& context, const std::string& id) {
  const Reply finished = WaitUntilExited(context, id);
  if (!finished.ok()) return finished.exit_code;
  const std::optional<int> status = SandboxExitStatus(finished.body);
  if (!status) return ReportMalformedReply("exited sandbox without exit_code, signal or reason");
  if (context.json) PrintJson(std::cout, finished.body);
  // ExitCode is an int underneath: the sandbox's status passes through unchanged, as the help
  // promises.
  return static_cast<ExitCode>(*status);
}

// Attaches our terminal to the sandbox's until it ends (its exit status becomes ours) or the user
// detaches (0, and how to come back).
ExitCode AttachAndWait(const CommandContext& context, const std::string& id, bool from_start,
                       InterruptGuard& interrupts) {
  const auto attached = AttachTerminal(context, id, from_start, interrupts);
  if (const ExitCode* failure = std::get_if<ExitCode>(&attached)) return *failure;
  if (std::get<AttachOutcome>(attached) == AttachOutcome::kDetached) {
    std::cerr << "\r\npaddock: detached from " << id << "; `paddock sandbox attach " << id
              << "` to come back\n";
    return ExitCode::kSuccess;
  }
  return ExitWithSandbox(context, id);
}

ExitCode RunForeground(const CommandContext& context, const Json& request) {
  // Installed before the sandbox exists, so that Ctrl-C during its creation cannot leave it
  // running with nobody watching.
  Result<std::unique_ptr<InterruptGuard>> interrupts = InterruptGuard::Install();
  if (!interrupts.ok()) return ReportRequestFailure(interrupts.status());
  const Reply created = Receive(context, context.client.Post(kSandboxesPath, request.dump()));
  if (!created.ok()) return created.exit_code;
  const std::string id = SandboxId(created.body);
  if (id.empty()) return ReportMalformedReply("no sandbox id in reply");
  if (request.value("tty", false)) {
    return AttachAndWait(context, id, /*from_start=*/true, **interrupts);
  }
  const ExitCode streamed = StreamForeground(context, id, **interrupts);
  if (streamed != ExitCode::kSuccess) return streamed;
  interrupts->reset();
  return ExitWithSandbox(context, id);
}

}  // namespace

ExitCode RunSandboxRun(const CommandContext& context, const SandboxRunArgs& args) {
  const Json request = CreateRequest(args);
  return args.detach ? RunDetached(context, request) : RunForeground(context, request);
}

ExitCode RunSandboxList(const CommandContext& context) {
  const Reply reply = Receive(context, context.client.Get(kSandboxesPath));
  if (!reply.ok()) return reply.exit_code;
  if (context.json) {
    PrintJson(std::cout, reply.body);
    return ExitCode::kSuccess;
  }
  const Json* sandboxes = FindField(reply.body, "sandboxes");
  if (sandboxes == nullptr || !sandboxes->is_array())
    return ReportMalformedReply("no sandbox list");
  PrintSandboxTable(std::cout, *sandboxes);
  return ExitCode::kSuccess;
}

ExitCode RunSandboxAttach(const CommandContext& context, const std::string& id) {
  Result<std::unique_ptr<InterruptGuard>> interrupts = InterruptGuard::Install();
  if (!interrupts.ok()) return ReportRequestFailure(interrupts.status());
  // Only a running sandbox with a terminal can be attached to; say so before going raw.
  const Reply sandbox = Receive(context, context.client.Get(SandboxPath(id)));
  if (!sandbox.ok()) return sandbox.exit_code;
  const Json* tty = FindField(sandbox.body, "tty");
  if (tty == nullptr || tty->is_null()) {
    std::cerr << "paddock: sandbox " << id
              << " has no terminal; `paddock sandbox logs -f` shows its output\n";
    return ExitCode::kUsageError;
  }
  if (HasExited(sandbox.body)) return ExitWithSandbox(context, id);
  return AttachAndWait(context, id, /*from_start=*/false, **interrupts);
}

ExitCode RunSandboxInspect(const CommandContext& context, const std::string& id) {
  const Reply reply = Receive(context, context.client.Get(SandboxPath(id)));
  if (!reply.ok()) return reply.exit_code;
  return PrintSandbox(context, reply.body);
}

ExitCode RunSandboxLogs(const CommandContext& context, const SandboxLogsArgs& args) {
  std::vector<LogStream> streams;
  if (args.stream.empty() || args.stream == "stdout")
    streams.push_back({"stdout", {STDOUT_FILENO}});
  if (args.stream.empty() || args.stream == "stderr")
    streams.push_back({"stderr", {STDERR_FILENO}});
  std::vector<StreamRequest> requests = LogRequests(args.id, streams, args.follow);
  const Status driven = context.client.Stream(requests);
  return JudgeStreams(context, driven, requests);
}

ExitCode RunSandboxStop(const CommandContext& context, const std::string& id) {
  const Reply stopped = StopAndWait(context, id);
  if (!stopped.ok()) return stopped.exit_code;
  if (context.json) {
    PrintJson(std::cout, stopped.body);
  } else {
    std::cout << "stopped " << id << '\n';
  }
  return ExitCode::kSuccess;
}

ExitCode RunSandboxRemove(const CommandContext& context, const std::string& id, bool force) {
  if (force) {
    // The daemon refuses to remove a running sandbox (409); stopping first is what --force adds.
    const Reply stopped = StopAndWait(context, id);
    if (!stopped.ok()) return stopped.exit_code;
  }
  const Reply removed = Receive(context, context.client.Delete(SandboxPath(id)));
  if (!removed.ok()) return removed.exit_code;
  // DELETE answers 204 without a body; --json still gets an object to parse.
  if (context.json) {
    PrintJson(std::cout, {{"id", id}, {"removed", true}});
  } else {
    std::cout << "removed " << id << '\n';
  }
  return ExitCode::kSuccess;
}

}  // namespace paddock::cli
