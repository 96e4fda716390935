#include "cli/gpu_cli.h"

#include <iostream>
#include <string_view>

#include "cli/api_client.h"
#include "cli/gpu_format.h"
#include "cli/output.h"
#include "cli/reply.h"

namespace paddock::cli {
namespace {

constexpr std::string_view kGpusPath = "/api/v1/gpus";

// Prints the reply as is with --json, else `format` of it once `member` shows it is the
// expected object.
ExitCode PrintReply(const CommandContext& context, const Reply& reply, std::string_view member,
                    std::string (*format)(const Json&)) {
  if (!reply.ok()) return reply.exit_code;
  if (context.json) {
    PrintJson(std::cout, reply.body);
    return ExitCode::kSuccess;
  }
  const Json* expected = FindField(reply.body, member);
  if (expected == nullptr || !expected->is_array()) {
    return ReportMalformedReply("no \"" + std::string(member) + "\" in reply");
  }
  std::cout << format(reply.body);
  return ExitCode::kSuccess;
}

}  // namespace

void AddGpuCommands(CLI::App& app, GpuArgs& args, Command& command) {
  CLI::App* gpus = app.add_subcommand(
      "gpus", "Show the GPUs: telemetry, partitions, and which sandbox holds each unit");
  CLI::App* history = gpus->add_subcommand("history", "Show a GPU's recent telemetry samples");
  history->add_option("UUID", args.uuid, "GPU uuid, as `paddock gpus --json` lists it")->required();
  history->callback(
      [&] { command = [&args](const CommandContext& c) { return RunGpuHistory(c, args.uuid); }; });
  // CLI11 runs this after the callback of `history`, which must win.
  gpus->callback([&command, history] {
    if (!history->parsed()) command = RunGpuList;
  });
}

ExitCode RunGpuList(const CommandContext& context) {
  return PrintReply(context, Receive(context, context.client.Get(kGpusPath)), "gpus",
                    &FormatGpuList);
}

ExitCode RunGpuHistory(const CommandContext& context, const std::string& uuid) {
  const std::string path = std::string(kGpusPath) + "/" + EscapePathSegment(uuid) + "/history";
  return PrintReply(context, Receive(context, context.client.Get(path)), "samples",
                    &FormatGpuHistory);
}

}  // namespace paddock::cli
