// Logging for the daemon and the libraries.
//
// Under systemd (JOURNAL_STREAM names our stderr) records go to journald with structured fields:
// MESSAGE, PRIORITY, CODE_FILE/CODE_LINE/CODE_FUNC, SYSLOG_IDENTIFIER and any PADDOCK_* fields the
// caller adds, so `journalctl -u paddock PADDOCK_REQUEST_ID=...` works. Otherwise they go to
// stderr as one line each: "<time> <level> <message> key=value...". Thread-safe.
#pragma once

#include <initializer_list>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>

namespace paddock {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError };

// A structured field. `key` is upper-case ASCII, e.g. "STATE_DIR"; it is sent as PADDOCK_<key>.
struct LogField {
  std::string_view key;
  std::string value;
};

// Chooses the sink (journald or stderr) and the identifier. Call once at start, before threads.
void InitLogging(std::string_view identifier);
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warning", "error".
std::optional<LogLevel> ParseLogLevel(std::string_view name);
// True when records go to journald.
bool LoggingToJournal();

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {},
         std::source_location where = std::source_location::current());

inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {},
                     std::source_location w = std::source_location::current()) {
  Log(LogLevel::kDebug, m, f, w);
}
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {},
                    std::source_location w = std::source_location::current()) {
  Log(LogLevel::kInfo, m, f, w);
}
inline void LogWarning(std::string_view m, std::initializer_list<LogField> f = {},
                       std::source_location w = std::source_location::current()) {
  Log(LogLevel::kWarning, m, f, w);
}
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {},
                     std::source_location w = std::source_location::current()) {
  Log(LogLevel::kError, m, f, w);
}

}  // namespace paddock
