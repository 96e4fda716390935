#include "base/log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <vector>

namespace paddock {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<bool> g_journal{false};
std::string g_identifier = "paddock";
std::mutex g_stderr_mutex;

// systemd sets JOURNAL_STREAM to "<dev>:<inode>" of the stream it connected to our stdout/stderr.
// Only when stderr is still that stream do we talk to journald directly (a redirect wins).
bool StderrIsJournalStream() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return LOG_DEBUG;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kError:
      return LOG_ERR;
  }
  return LOG_INFO;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

void LogToJournal(LogLevel level, std::string_view message, std::initializer_list<LogField> fields,
                  const std::source_location& where) {
  std::vector<std::string> parts;
  parts.reserve(fields.size() + 6);
  parts.push_back("MESSAGE=" + std::string(message));
  parts.push_back("PRIORITY=" + std::to_string(SyslogPriority(level)));
  parts.push_back("SYSLOG_IDENTIFIER=" + g_identifier);
  parts.push_back(std::string("CODE_FILE=") + where.file_name());
  parts.push_back("CODE_LINE=" + std::to_string(where.line()));
  parts.push_back(std::string("CODE_FUNC=") + where.function_name());
  for (const LogField& f : fields) {
    parts.push_back("PADDOCK_" + std::string(f.key) + "=" + f.value);
  }
  std::vector<iovec> iov(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    iov[i].iov_base = parts[i].data();
    iov[i].iov_len = parts[i].size();
  }
  // Parenthesised to bypass the sd_journal_sendv macro, which would append CODE_FILE/CODE_LINE of
  // this file and hide the caller's location that we pass above.
  (sd_journal_sendv)(iov.data(), static_cast<int>(iov.size()));
}

void LogToStderr(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm tm_utc;
  ::gmtime_r(&ts.tv_sec, &tm_utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm_utc);
  std::string line;
  line.reserve(message.size() + 64);
  line += stamp;
  char millis[24];
  std::snprintf(millis, sizeof millis, ".%03ldZ", ts.tv_nsec / 1000000);
  line += millis;
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += message;
  for (const LogField& f : fields) {
    line += ' ';
    for (char c : f.key) line += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    line += '=';
    line += f.value;
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(g_stderr_mutex);
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void InitLogging(std::string_view identifier) {
  g_identifier = std::string(identifier);
  g_journal = StderrIsJournalStream();
}

void SetLogLevel(LogLevel level) { g_level = level; }
LogLevel GetLogLevel() { return g_level; }
bool LoggingToJournal() { return g_journal; }

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warning") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields,
         std::source_location where) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  if (g_journal.load(std::memory_order_relaxed)) {
    LogToJournal(level, message, fields, where);
  } else {
    LogToStderr(level, message, fields);
  }
}

}  // namespace paddock
