#include "cli/reply.h"

#include <iostream>
#include <utility>

#include "cli/problem.h"

namespace paddock::cli {

bool IsSuccess(int http_status) { return http_status >= 200 && http_status < 300; }

ExitCode ReportRequestFailure(const Status& status) {
  std::cerr << "paddock: " << status.message() << '\n';
  return status.code() == StatusCode::kUnavailable ? ExitCode::kUnreachable
                                                   : ExitCode::kInternalError;
}

ExitCode ReportApiError(const CommandContext& context, const ApiResponse& response) {
  const Problem problem = ParseProblem(response);
  std::cerr << FormatProblem(problem);
  if (context.json) PrintJson(std::cout, problem.document);
  return ExitCode::kApiError;
}

Reply Receive(const CommandContext& context, const Result<ApiResponse>& result) {
  if (!result.ok()) return {ReportRequestFailure(result.status()), nullptr};
  const ApiResponse& response = *result;
  if (!IsSuccess(response.status)) return {ReportApiError(context, response), nullptr};
  if (response.body.empty()) return {ExitCode::kSuccess, nullptr};
  Json body = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    std::cerr << "paddock: the daemon's reply (HTTP " << response.status << ") is not JSON\n";
    return {ExitCode::kInternalError, nullptr};
  }
  return {ExitCode::kSuccess, std::move(body)};
}

ExitCode ReportMalformedReply(std::string_view what) {
  std::cerr << "paddock: unexpected reply from the daemon: " << what << '\n';
  return ExitCode::kInternalError;
}

}  // namespace paddock::cli
