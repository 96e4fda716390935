// How a command judges the daemon's answer: transport failures and HTTP errors are reported on
// stderr (and, with --json, the problem on stdout) and turned into the documented exit status,
// so that commands only handle the success.
#pragma once

#include <string_view>

#include "base/status.h"
#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/output.h"

namespace paddock::cli {

// A successful reply's JSON body (null when there is none), or how to exit after the failure has
// been reported.
struct Reply {
  ExitCode exit_code = ExitCode::kSuccess;
  Json body;

  bool ok() const { return exit_code == ExitCode::kSuccess; }
};

bool IsSuccess(int http_status);

// Judges one API call.
Reply Receive(const CommandContext& context, const Result<ApiResponse>& result);

// Not reaching the daemon is exit 3; anything else ApiClient fails with is our own fault.
ExitCode ReportRequestFailure(const Status& status);

// Prints the problem details of an error response; returns exit 4.
ExitCode ReportApiError(const CommandContext& context, const ApiResponse& response);

// For a 2xx reply that lacks what the API promises; returns exit 1.
ExitCode ReportMalformedReply(std::string_view what);

}  // namespace paddock::cli
