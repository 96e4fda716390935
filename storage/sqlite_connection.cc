#include "storage/sqlite_connection.h"

namespace paddock::storage {
namespace {

struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

Status StatusForSqliteCode(int code, std::string message) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(message));
    case SQLITE_FULL:
      return Status(StatusCode::kResourceExhausted, std::move(message));
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return Status::PermissionDenied(std::move(message));
    case SQLITE_CONSTRAINT:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
      return Status::Internal(std::move(message));
    default:
      return Status(StatusCode::kIoError, std::move(message));
  }
}

SqliteConnection::Value ReadColumn(sqlite3_stmt* stmt, int column) {
  switch (sqlite3_column_type(stmt, column)) {
    case SQLITE_NULL:
      return nullptr;
    case SQLITE_INTEGER:
      return int64_t{sqlite3_column_int64(stmt, column)};
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
      return std::string(text, sqlite3_column_bytes(stmt, column));
    }
  }
}

SqliteConnection::Row ReadRow(sqlite3_stmt* stmt) {
  SqliteConnection::Row row;
  const int columns = sqlite3_column_count(stmt);
  row.reserve(columns);
  for (int i = 0; i < columns; ++i) row.push_back(ReadColumn(stmt, i));
  return row;
}

int BindValue(sqlite3_stmt* stmt, int index, const SqliteConnection::Value& value) {
  if (std::holds_alternative<std::nullptr_t>(value)) return sqlite3_bind_null(stmt, index);
  if (const auto* number = std::get_if<int64_t>(&value)) {
    return sqlite3_bind_int64(stmt, index, *number);
  }
  const auto& text = std::get<std::string>(value);
  return sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()),
                           SQLITE_TRANSIENT);
}

}  // namespace

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                 int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  // sqlite3_open_v2 hands out a handle even on failure; it must be closed either way.
  std::unique_ptr<sqlite3, ConnectionCloser> guard(raw);
  if (rc != SQLITE_OK) {
    return StatusForSqliteCode(
        rc, "open " + path + ": " + (raw != nullptr ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(guard.release()));
  // synchronous=NORMAL in WAL mode: a committed transaction survives a process crash; a power
  // loss may lose the last few, never corrupt the database.
  Status s = connection->Exec(
      "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;");
  if (!s.ok()) return s.WithContext(path);
  return connection;
}

SqliteConnection::~SqliteConnection() { sqlite3_close_v2(db_); }

Status SqliteConnection::Error(std::string_view what) const {
  return StatusForSqliteCode(sqlite3_extended_errcode(db_),
                             std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status SqliteConnection::Exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) return Error("sqlite exec");
  return Status::Ok();
}

Status SqliteConnection::Query(std::string_view sql, const std::vector<Value>& params,
                               const std::function<void(const Row&)>& on_row) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    return Error("sqlite prepare");
  }
  Statement stmt(raw);
  for (size_t i = 0; i < params.size(); ++i) {
    if (BindValue(raw, static_cast<int>(i + 1), params[i]) != SQLITE_OK) {
      return Error("sqlite bind");
    }
  }
  while (true) {
    const int rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) return Error("sqlite step");
    if (on_row) on_row(ReadRow(raw));
  }
}

int64_t SqliteConnection::changes() const { return sqlite3_changes64(db_); }

Status SqliteConnection::Transaction(bool write, const std::function<Status()>& body) {
  PADDOCK_RETURN_IF_ERROR(Exec(write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  Status s = body();
  if (s.ok()) s = Exec("COMMIT");
  // After a failed COMMIT the transaction may still be open; ROLLBACK then ends it (and is a
  // harmless error when SQLite already rolled back by itself).
  if (!s.ok() && !sqlite3_get_autocommit(db_)) (void)Exec("ROLLBACK");
  return s;
}

}  // namespace paddock::storage
