// SqliteConnection: one open SQLite database handle with the few calls the refs database needs.
//
// Opened in WAL mode (readers never block the writer, and a crash loses no committed
// transaction) with foreign keys enforced and a busy timeout, so that a connection waiting for
// another process's write lock retries for that long before failing with kUnavailable.
//
// Not thread-safe: one thread at a time (RefDb serializes its calls with a mutex). Must not be
// used across fork(); the child opens its own connection.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace paddock::storage {

class SqliteConnection {
 public:
  // A bound parameter (?1, ?2, ...) or a result column.
  using Value = std::variant<std::nullptr_t, int64_t, std::string>;
  using Row = std::vector<Value>;

  // Opens (creating if needed) the database at `path`. Errors: kIoError (or kPermissionDenied,
  // kResourceExhausted) naming the path.
  static Result<std::unique_ptr<SqliteConnection>> Open(const std::string& path,
                                                        int busy_timeout_ms);

  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Runs one or more statements that take no parameters; rows they return are ignored.
  Status Exec(std::string_view sql);
  // Runs one statement with `params`, calling `on_row` for each result row.
  Status Query(std::string_view sql, const std::vector<Value>& params,
               const std::function<void(const Row&)>& on_row = nullptr);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;

  // Runs `body` inside BEGIN IMMEDIATE (takes the database's write lock up front, so the body
  // sees the latest state and no other writer can commit in between) or, with `write` false, a
  // deferred read transaction (one consistent snapshot). Commits when the body returns OK and
  // rolls back otherwise; the body's status is returned.
  Status Transaction(bool write, const std::function<Status()>& body);

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  Status Error(std::string_view what) const;

  sqlite3* db_;
};

}  // namespace paddock::storage
