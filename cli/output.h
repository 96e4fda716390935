// How the CLI prints: aligned tables for people, JSON for programs, and the small formatting
// helpers both share.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace paddock::cli {

// Keeps members in the order the daemon sent them, so that --json output reads like the API's.
using Json = nlohmann::ordered_json;

// Columns padded to their widest cell and separated by two spaces; the last column is not
// padded, so lines carry no trailing blanks. Without a header it prints key/value listings.
class Table {
 public:
  explicit Table(std::vector<std::string> header = {});

  void AddRow(std::vector<std::string> cells);
  void Print(std::ostream& out) const;

 private:
  std::vector<size_t> ColumnWidths() const;
  void PrintRow(std::ostream& out, const std::vector<std::string>& cells,
                const std::vector<size_t>& widths) const;

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Pretty JSON (two-space indent) and a newline. Invalid UTF-8 is replaced, never thrown on.
void PrintJson(std::ostream& out, const Json& value);

// The member `key` of `object`, or null when `object` is not an object or lacks it. Lets callers
// read daemon responses without the exceptions Json::at() throws.
const Json* FindField(const Json& object, std::string_view key);

// A JSON value as a table cell: strings bare, booleans "yes"/"no", null "-", the rest as JSON.
std::string DisplayValue(const Json& value);

// The integer member `key`, or nothing when it is absent or not an integer.
std::optional<int64_t> IntegerField(const Json& object, std::string_view key);

// The string member `key`, or "" when it is absent or not a string.
std::string StringField(const Json& object, std::string_view key);

// The member `key` as a table cell (DisplayValue), or "-" when it is absent.
std::string Field(const Json& object, std::string_view key);

// "3m12s", "2h0m5s", "1d3h0m0s"; fractions of a second are dropped, negatives read as 0s.
std::string FormatDuration(double seconds);

}  // namespace paddock::cli
