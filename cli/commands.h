// One function per `paddock` command. Each talks to the daemon through ApiClient, prints its
// result (a table or the API's JSON) and returns the process exit status.
#pragma once

#include <functional>
#include <string>

#include "cli/api_client.h"
#include "cli/exit_code.h"

namespace paddock::cli {

struct CommandContext {
  const ApiClient& client;
  bool json = false;  // machine output: print the API's JSON instead of tables
};

// A command chosen on the command line, with its arguments bound; run once parsing succeeded.
using Command = std::function<ExitCode(const CommandContext&)>;

// Client version, and the daemon's when it can be asked; never fails for an absent daemon.
ExitCode RunVersion(const CommandContext& context);
// GET /api/v1/status as a key/value listing.
ExitCode RunStatus(const CommandContext& context);
// POST /api/v1/tokens; prints the secret, which the daemon never shows again.
ExitCode RunTokenCreate(const CommandContext& context, const std::string& name, bool admin);
// GET /api/v1/tokens as a table.
ExitCode RunTokenList(const CommandContext& context);
// DELETE /api/v1/tokens/{name}.
ExitCode RunTokenRemove(const CommandContext& context, const std::string& name);

}  // namespace paddock::cli
