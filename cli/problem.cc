#include "cli/problem.h"

namespace paddock::cli {
namespace {

std::vector<InvalidParam> ParseInvalidParams(const Json& document) {
  std::vector<InvalidParam> params;
  const Json* list = FindField(document, "invalid-params");
  if (list == nullptr || !list->is_array()) return params;
  for (const Json& item : *list) {
    params.push_back({StringField(item, "name"), StringField(item, "reason")});
  }
  return params;
}

Json ProblemFromStatus(int status) {
  return {{"title", HttpReasonPhrase(status)}, {"status", status}};
}

}  // namespace

Problem ParseProblem(const ApiResponse& response) {
  Problem problem;
  problem.status = response.status;
  problem.document = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!problem.document.is_object()) problem.document = ProblemFromStatus(response.status);
  problem.title = StringField(problem.document, "title");
  if (problem.title.empty()) problem.title = HttpReasonPhrase(response.status);
  problem.detail = StringField(problem.document, "detail");
  problem.invalid_params = ParseInvalidParams(problem.document);
  return problem;
}

std::string FormatProblem(const Problem& problem) {
  std::string text = "paddock: " + problem.title;
  if (!problem.detail.empty()) text += ": " + problem.detail;
  text += '\n';
  for (const InvalidParam& param : problem.invalid_params) {
    // A single invalid field is usually spelled out in the detail already; say it once.
    if (problem.detail.find(param.reason) != std::string::npos) continue;
    text += "  " + param.name + ": " + param.reason + '\n';
  }
  return text;
}

std::string HttpReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "HTTP " + std::to_string(status);
  }
}

}  // namespace paddock::cli
