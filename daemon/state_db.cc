#include "daemon/state_db.h"

#include "base/log.h"

namespace paddock {
namespace {

// Owns a prepared statement.
struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

Status SqliteError(sqlite3* db, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += sqlite3_errmsg(db);
  const int code = sqlite3_extended_errcode(db);
  if (code == SQLITE_FULL) return Status(StatusCode::kResourceExhausted, m);
  if ((code & 0xff) == SQLITE_BUSY) return Status::Unavailable(m);
  if ((code & 0xff) == SQLITE_CONSTRAINT) return Status::Conflict(m);
  return Status(StatusCode::kIoError, m);
}

Status Bind(sqlite3* db, sqlite3_stmt* stmt, const std::vector<StateDb::Value>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    const int index = static_cast<int>(i + 1);
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(params[i])) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (const auto* n = std::get_if<int64_t>(&params[i])) {
      rc = sqlite3_bind_int64(stmt, index, *n);
    } else {
      const auto& s = std::get<std::string>(params[i]);
      rc = sqlite3_bind_text(stmt, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return SqliteError(db, "bind");
  }
  return Status::Ok();
}

StateDb::Row ReadRow(sqlite3_stmt* stmt) {
  StateDb::Row row;
  const int n = sqlite3_column_count(stmt);
  row.reserve(n);
  for (int i = 0; i < n; ++i) {
    switch (sqlite3_column_type(stmt, i)) {
      case SQLITE_NULL:
        row.emplace_back(nullptr);
        break;
      case SQLITE_INTEGER:
        row.emplace_back(int64_t{sqlite3_column_int64(stmt, i)});
        break;
      default: {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        row.emplace_back(std::string(text, sqlite3_column_bytes(stmt, i)));
      }
    }
  }
  return row;
}

}  // namespace

Result<std::unique_ptr<StateDb>> StateDb::Open(const std::string& path, int target_version) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<StateDb> db(new StateDb(raw));
  if (rc != SQLITE_OK) return SqliteError(raw, "open " + path);
  sqlite3_busy_timeout(raw, 5000);
  PADDOCK_RETURN_IF_ERROR(
      db->Exec("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
               "PRAGMA synchronous=NORMAL;"));
  Status s = db->Migrate(target_version < 0 ? LatestSchemaVersion() : target_version);
  if (!s.ok()) return s.WithContext(path);
  return db;
}

StateDb::~StateDb() { sqlite3_close_v2(db_); }

Status StateDb::Exec(std::string_view sql) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  char* error = nullptr;
  if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    Status s = SqliteError(db_, "exec");
    sqlite3_free(error);
    return s;
  }
  return Status::Ok();
}

Status StateDb::Query(std::string_view sql, const std::vector<Value>& params,
                      const std::function<void(const Row&)>& on_row) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db_, "prepare");
  }
  Statement stmt(raw);
  PADDOCK_RETURN_IF_ERROR(Bind(db_, raw, params));
  for (;;) {
    const int rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) return SqliteError(db_, "step");
    if (on_row) on_row(ReadRow(raw));
  }
}

Result<int64_t> StateDb::Execute(std::string_view sql, const std::vector<Value>& params) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  PADDOCK_RETURN_IF_ERROR(Query(sql, params));
  return int64_t{sqlite3_changes64(db_)};
}

Status StateDb::Transaction(const std::function<Status()>& body) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  PADDOCK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status s = body();
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) (void)Exec("ROLLBACK");
  return s;
}

Status StateDb::Migrate(int target_version) {
  int64_t current = 0;
  PADDOCK_RETURN_IF_ERROR(
      Query("PRAGMA user_version", {}, [&](const Row& r) { current = std::get<int64_t>(r[0]); }));
  if (current > LatestSchemaVersion()) {
    return Status::FailedPrecondition(
        "database schema version " + std::to_string(current) + " is newer than this paddockd (" +
        std::to_string(LatestSchemaVersion()) + "); refusing to run an older daemon on it");
  }
  for (const Migration& m : AllMigrations()) {
    if (m.version <= current || m.version > target_version) continue;
    Status s = Transaction([&] {
      PADDOCK_RETURN_IF_ERROR(Exec(m.sql));
      return Exec("PRAGMA user_version = " + std::to_string(m.version));
    });
    if (!s.ok()) return s.WithContext("migration " + std::to_string(m.version));
    LogInfo("applied schema migration", {{"SCHEMA_VERSION", std::to_string(m.version)},
                                         {"MIGRATION", std::string(m.description)}});
    current = m.version;
  }
  schema_version_ = static_cast<int>(current);
  return Status::Ok();
}

}  // namespace paddock
