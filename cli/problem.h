// Problem details (RFC 9457): how paddockd explains an API error, and how the CLI shows one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cli/api_client.h"
#include "cli/output.h"

namespace paddock::cli {

struct InvalidParam {
  std::string name;
  std::string reason;
};

struct Problem {
  int status = 0;
  std::string title;
  std::string detail;
  std::vector<InvalidParam> invalid_params;
  // The problem object as the daemon sent it; built from the HTTP status when the body is not a
  // JSON object, so that `--json` always has an object to print.
  Json document;
};

// Reads the problem from an error response; never fails, falling back to the HTTP reason phrase.
Problem ParseProblem(const ApiResponse& response);

// "paddock: <title>: <detail>\n", then "  <name>: <reason>\n" per invalid parameter whose reason
// the detail does not already give.
std::string FormatProblem(const Problem& problem);

// "Not Found" for 404; "HTTP <status>" for codes without a well-known phrase.
std::string HttpReasonPhrase(int status);

}  // namespace paddock::cli
