#include "cli/output.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace paddock::cli {
namespace {

// Width on a terminal, approximated by code points: names from the daemon are mostly ASCII, and
// counting bytes would misalign the rare UTF-8 cell.
size_t DisplayWidth(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

void Table::AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

void Table::Print(std::ostream& out) const {
  const std::vector<size_t> widths = ColumnWidths();
  if (!header_.empty()) PrintRow(out, header_, widths);
  for (const auto& row : rows_) PrintRow(out, row, widths);
}

std::vector<size_t> Table::ColumnWidths() const {
  std::vector<size_t> widths;
  auto widen = [&widths](const std::vector<std::string>& cells) {
    if (widths.size() < cells.size()) widths.resize(cells.size(), 0);
    for (size_t i = 0; i < cells.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(cells[i]));
    }
  };
  widen(header_);
  for (const auto& row : rows_) widen(row);
  return widths;
}

void Table::PrintRow(std::ostream& out, const std::vector<std::string>& cells,
                     const std::vector<size_t>& widths) const {
  for (size_t i = 0; i < cells.size(); ++i) {
    out << cells[i];
    if (i + 1 < cells.size()) out << std::string(widths[i] - DisplayWidth(cells[i]) + 2, ' ');
  }
  out << '\n';
}

void PrintJson(std::ostream& out, const Json& value) {
  out << value.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) << '\n';
}

const Json* FindField(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string DisplayValue(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_null()) return "-";
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<int64_t> IntegerField(const Json& object, std::string_view key) {
  const Json* value = FindField(object, key);
  if (value == nullptr || !value->is_number_integer()) return std::nullopt;
  return value->get<int64_t>();
}

std::string StringField(const Json& object, std::string_view key) {
  const Json* value = FindField(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

std::string Field(const Json& object, std::string_view key) {
  const Json* value = FindField(object, key);
  return value != nullptr ? DisplayValue(*value) : "-";
}

std::string FormatDuration(double seconds) {
  // Clamped well below the range of long long; no daemon runs for thirty thousand years.
  constexpr double kMaxSeconds = 1e12;
  const long long total = std::isfinite(seconds) && seconds > 0
                              ? std::llround(std::floor(std::min(seconds, kMaxSeconds)))
                              : 0;
  const long long days = total / 86400;
  const long long hours = total % 86400 / 3600;
  const long long minutes = total % 3600 / 60;
  const long long secs = total % 60;
  // Every unit below the largest non-zero one is shown, so "1h0m5s" cannot be misread.
  std::string text;
  if (days > 0) text += std::to_string(days) + "d";
  if (!text.empty() || hours > 0) text += std::to_string(hours) + "h";
  if (!text.empty() || minutes > 0) text += std::to_string(minutes) + "m";
  return text + std::to_string(secs) + "s";
}

}  // namespace paddock::cli
