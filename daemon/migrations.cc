// The state database's schema history. Append only: a released migration never changes, a new
// schema step is a new entry with the next number. tests/unit/state_db_test.cc upgrades a
// database from every earlier version to the latest.
#include "daemon/state_db.h"

namespace paddock {

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "daemon metadata",
       R"sql(
CREATE TABLE daemon_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
)sql"},
      {2, "API bearer tokens (only their SHA-256 is kept)",
       R"sql(
CREATE TABLE api_tokens (
  name       TEXT PRIMARY KEY,
  sha256     TEXT NOT NULL UNIQUE,
  admin      INTEGER NOT NULL CHECK (admin IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT;
)sql"},
      {3, "record of daemon starts",
       R"sql(
CREATE TABLE daemon_starts (
  id         INTEGER PRIMARY KEY,
  started_at INTEGER NOT NULL,
  version    TEXT NOT NULL,
  pid        INTEGER NOT NULL
) STRICT;
)sql"},
      {4, "sandboxes",
       R"sql(
CREATE TABLE sandboxes (
  id              TEXT PRIMARY KEY,
  request         TEXT NOT NULL,       -- the API request as accepted (JSON)
  spec            TEXT NOT NULL,       -- the SandboxSpec handed to paddock-init (JSON)
  owner           TEXT NOT NULL,       -- {"uid":..,"gid":..} or {"token":..} (JSON)
  state           TEXT NOT NULL CHECK (state IN ('created', 'running', 'exited')),
  created_at      INTEGER NOT NULL,    -- unix milliseconds
  finished_at     INTEGER,
  init_pid        INTEGER,
  init_start_time INTEGER,             -- /proc/<pid>/stat field 22, to tell a reused pid apart
  exit_code       INTEGER,
  signal          INTEGER,
  reason          TEXT
) STRICT;
CREATE INDEX sandboxes_by_state ON sandboxes(state);
)sql"},
      {5, "gpu_allocations",
       R"sql(
CREATE TABLE gpu_allocations (
  unit_id      TEXT PRIMARY KEY,     -- "gpu0", "gpu0/mig/1", "gpu0/share/2"
  gpu_uuid     TEXT NOT NULL,        -- the GPU it was on, to notice a changed machine
  unit_uuid    TEXT NOT NULL,        -- the GPU or MIG instance UUID granted
  sandbox_id   TEXT NOT NULL,
  memory_limit INTEGER NOT NULL,     -- bytes of GPU memory the sandbox may use there; 0 = no cap
  allocated_at INTEGER NOT NULL      -- unix milliseconds
) STRICT;
CREATE INDEX gpu_allocations_by_sandbox ON gpu_allocations(sandbox_id);
)sql"},
      {6, "sandbox data: mounted commits and the output's commit",
       R"sql(
-- {"mounts": [{"repo","rev","commit","target"}], "output": {"repo","branch","target","message",
-- then "commit" and "changed", or "error"}} (JSON); {} for a sandbox without versioned data.
ALTER TABLE sandboxes ADD COLUMN data TEXT NOT NULL DEFAULT '{}';
)sql"},
  };
  return kMigrations;
}

int LatestSchemaVersion() { return AllMigrations().back().version; }

}  // namespace paddock
