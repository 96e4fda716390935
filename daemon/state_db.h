// StateDb: the daemon's SQLite database (<state_dir>/state.db).
//
// Opened in WAL mode with foreign keys on. Schema changes are numbered migrations (migrations.cc);
// Open() applies every pending one, each in its own transaction together with the bump of
// PRAGMA user_version, so a crash mid-upgrade leaves the previous version intact. A database whose
// version is newer than this binary knows is refused rather than guessed at.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace paddock {

// One schema step: `sql` takes the schema from version `version - 1` to `version`.
struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// The migrations this binary knows, in order, numbered from 1.
const std::vector<Migration>& AllMigrations();
int LatestSchemaVersion();

class StateDb {
 public:
  // Opens (creating if needed) the database at `path` and migrates it to `target_version`
  // (default: the latest). Tests pass a lower target to build an old schema.
  static Result<std::unique_ptr<StateDb>> Open(const std::string& path, int target_version = -1);

  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  int schema_version() const { return schema_version_; }

  // Runs statements that return no rows.
  Status Exec(std::string_view sql);

  // A bound value for Query/Execute parameters (?1, ?2...).
  using Value = std::variant<std::nullptr_t, int64_t, std::string>;
  using Row = std::vector<Value>;

  // Runs `sql` with `params`, calling `on_row` per result row. Thread-safe (serialised).
  Status Query(std::string_view sql, const std::vector<Value>& params,
               const std::function<void(const Row&)>& on_row = nullptr);
  // Runs a statement that changes rows; returns how many it changed.
  Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params);

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it returns an error.
  Status Transaction(const std::function<Status()>& body);

 private:
  explicit StateDb(sqlite3* db) : db_(db) {}
  Status Migrate(int target_version);

  sqlite3* db_;
  int schema_version_ = 0;
  std::recursive_mutex mutex_;
};

}  // namespace paddock
