#include "storage/ref_db.h"

#include <algorithm>

#include "base/clock.h"
#include "storage/ref_names.h"
#include "storage/revision.h"
#include "storage/sqlite_connection.h"

namespace paddock::storage {
namespace {

using Value = SqliteConnection::Value;
using Row = SqliteConnection::Row;

// Version 1. Commit ids are 64 lower-case hex digits (TEXT), so that a prefix is a range scan
// of the primary key and the database reads well in the sqlite3 shell. Every table that names a
// commit references the commits table, so refs can only point at recorded commits and a parent
// is always recorded before its child.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE repositories (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL
);
CREATE TABLE commits (
  repo_id     INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  id          TEXT NOT NULL,
  time_ms     INTEGER NOT NULL,
  recorded_ms INTEGER NOT NULL,
  PRIMARY KEY (repo_id, id)
) WITHOUT ROWID;
CREATE INDEX commits_by_recorded_ms ON commits(recorded_ms);
CREATE TABLE commit_parents (
  repo_id   INTEGER NOT NULL,
  commit_id TEXT NOT NULL,
  ordinal   INTEGER NOT NULL,
  parent_id TEXT NOT NULL,
  PRIMARY KEY (repo_id, commit_id, ordinal),
  FOREIGN KEY (repo_id, commit_id) REFERENCES commits(repo_id, id) ON DELETE CASCADE,
  FOREIGN KEY (repo_id, parent_id) REFERENCES commits(repo_id, id)
) WITHOUT ROWID;
CREATE INDEX commit_parents_by_parent ON commit_parents(repo_id, parent_id);
CREATE TABLE branches (
  repo_id    INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  commit_id  TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (repo_id, name),
  FOREIGN KEY (repo_id, commit_id) REFERENCES commits(repo_id, id)
) WITHOUT ROWID;
CREATE INDEX branches_by_commit ON branches(repo_id, commit_id);
CREATE TABLE tags (
  repo_id    INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  commit_id  TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (repo_id, name),
  FOREIGN KEY (repo_id, commit_id) REFERENCES commits(repo_id, id)
) WITHOUT ROWID;
CREATE INDEX tags_by_commit ON tags(repo_id, commit_id);
)sql";

// Where a kind of ref lives and what messages call it.
struct RefTable {
  std::string_view table;
  std::string_view noun;
};
constexpr RefTable kBranchTable{"branches", "branch"};
constexpr RefTable kTagTable{"tags", "tag"};

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

std::string Plural(size_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

Status RepoNotFound(std::string_view repo) {
  return Status::NotFound("repository " + Quoted(repo) + " not found");
}

int64_t IntFromValue(const Value& value) {
  const auto* number = std::get_if<int64_t>(&value);
  return number != nullptr ? *number : 0;
}

Result<ObjectId> IdFromValue(const Value& value) {
  const auto* text = std::get_if<std::string>(&value);
  if (text == nullptr) return Status::Internal("refs database: a commit id is not text");
  Result<ObjectId> id = ObjectId::FromHex(*text);
  if (!id.ok()) return Status::Internal("refs database: malformed commit id '" + *text + "'");
  return id;
}

std::string StringFromValue(const Value& value) {
  const auto* text = std::get_if<std::string>(&value);
  return text != nullptr ? *text : std::string();
}

Result<std::vector<Row>> QueryRows(SqliteConnection& db, std::string_view sql,
                                   const std::vector<Value>& params) {
  std::vector<Row> rows;
  PADDOCK_RETURN_IF_ERROR(db.Query(sql, params, [&](const Row& row) { rows.push_back(row); }));
  return rows;
}

// Ids from the first column of `rows`.
Result<std::vector<ObjectId>> IdsFromRows(const std::vector<Row>& rows) {
  std::vector<ObjectId> ids;
  ids.reserve(rows.size());
  for (const Row& row : rows) {
    Result<ObjectId> id = IdFromValue(row[0]);
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  return ids;
}

Result<int64_t> FindRepoId(SqliteConnection& db, std::string_view repo) {
  Result<std::vector<Row>> rows =
      QueryRows(db, "SELECT id FROM repositories WHERE name = ?1", {std::string(repo)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return RepoNotFound(repo);
  return IntFromValue(rows->front()[0]);
}

Result<std::optional<ObjectId>> FindRef(SqliteConnection& db, const RefTable& refs, int64_t repo_id,
                                        std::string_view name) {
  const std::string sql =
      "SELECT commit_id FROM " + std::string(refs.table) + " WHERE repo_id = ?1 AND name = ?2";
  Result<std::vector<Row>> rows = QueryRows(db, sql, {repo_id, std::string(name)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<ObjectId>();
  Result<ObjectId> id = IdFromValue(rows->front()[0]);
  if (!id.ok()) return id.status();
  return std::optional<ObjectId>(*id);
}

// The commit's graph node, or nothing when it is not recorded in the repository.
Result<std::optional<CommitNode>> FindCommit(SqliteConnection& db, int64_t repo_id,
                                             const ObjectId& id) {
  Result<std::vector<Row>> rows =
      QueryRows(db,
                "SELECT c.time_ms, p.parent_id FROM commits c LEFT JOIN commit_parents p"
                " ON p.repo_id = c.repo_id AND p.commit_id = c.id"
                " WHERE c.repo_id = ?1 AND c.id = ?2 ORDER BY p.ordinal",
                {repo_id, id.ToHex()});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<CommitNode>();
  CommitNode node{id, IntFromValue(rows->front()[0]), {}};
  for (const Row& row : *rows) {
    if (std::holds_alternative<std::nullptr_t>(row[1])) continue;  // a root: no parent rows
    Result<ObjectId> parent = IdFromValue(row[1]);
    if (!parent.ok()) return parent.status();
    node.parents.push_back(*parent);
  }
  return std::optional<CommitNode>(std::move(node));
}

Status CommitNotRecorded(std::string_view repo, const ObjectId& id) {
  return Status::NotFound("commit " + id.ToHex() + " is not recorded in repository " +
                          Quoted(repo));
}

Result<CommitNode> RequireCommit(SqliteConnection& db, int64_t repo_id, std::string_view repo,
                                 const ObjectId& id) {
  Result<std::optional<CommitNode>> node = FindCommit(db, repo_id, id);
  if (!node.ok()) return node.status();
  if (!node->has_value()) return CommitNotRecorded(repo, id);
  return std::move(**node);
}

// Refs may only name recorded commits; pointing one elsewhere is the caller's ordering mistake.
Status RequireRefTarget(SqliteConnection& db, int64_t repo_id, std::string_view repo,
                        const ObjectId& target) {
  Result<std::optional<CommitNode>> node = FindCommit(db, repo_id, target);
  if (!node.ok()) return node.status();
  if (!node->has_value()) {
    return Status::FailedPrecondition("commit " + target.ToHex() +
                                      " is not recorded in repository " + Quoted(repo) +
                                      "; record it before pointing a ref at it");
  }
  return Status::Ok();
}

Status ValidateRefName(const RefTable& refs, std::string_view name) {
  return refs.table == kTagTable.table ? ValidateTagName(name) : ValidateBranchName(name);
}

Status InsertCommit(SqliteConnection& db, int64_t repo_id, std::string_view repo,
                    const ObjectId& id, const Commit& commit, int64_t now_ms) {
  for (const ObjectId& parent : commit.parents) {
    Result<std::optional<CommitNode>> node = FindCommit(db, repo_id, parent);
    if (!node.ok()) return node.status();
    if (!node->has_value()) {
      return Status::FailedPrecondition("parent " + parent.ToHex() + " of commit " + id.ToHex() +
                                        " is not recorded in repository " + Quoted(repo) +
                                        "; record parents first");
    }
  }
  PADDOCK_RETURN_IF_ERROR(
      db.Query("INSERT INTO commits (repo_id, id, time_ms, recorded_ms) VALUES (?1, ?2, ?3, ?4)",
               {repo_id, id.ToHex(), commit.time_ms, now_ms}));
  for (size_t i = 0; i < commit.parents.size(); ++i) {
    PADDOCK_RETURN_IF_ERROR(
        db.Query("INSERT INTO commit_parents (repo_id, commit_id, ordinal, parent_id)"
                 " VALUES (?1, ?2, ?3, ?4)",
                 {repo_id, id.ToHex(), static_cast<int64_t>(i), commit.parents[i].ToHex()}));
  }
  return Status::Ok();
}

// Groups rows of (id, time_ms, parent_id or NULL), ordered by commit and then parent ordinal,
// into nodes.
Result<std::vector<CommitNode>> NodesFromRows(const std::vector<Row>& rows) {
  std::vector<CommitNode> nodes;
  for (const Row& row : rows) {
    Result<ObjectId> id = IdFromValue(row[0]);
    if (!id.ok()) return id.status();
    if (nodes.empty() || nodes.back().id != *id) {
      nodes.push_back(CommitNode{*id, IntFromValue(row[1]), {}});
    }
    if (std::holds_alternative<std::nullptr_t>(row[2])) continue;
    Result<ObjectId> parent = IdFromValue(row[2]);
    if (!parent.ok()) return parent.status();
    nodes.back().parents.push_back(*parent);
  }
  return nodes;
}

// --- Revision resolution (runs inside one read transaction).

std::string ToLowerHex(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

Result<ObjectId> ResolveCommitPrefix(SqliteConnection& db, int64_t repo_id, std::string_view repo,
                                     std::string_view base) {
  if (base.size() < kMinCommitPrefixLength) {
    return Status::InvalidArgument(Quoted(base) + " is not a branch or tag of repository " +
                                   Quoted(repo) + ", and a commit id prefix needs at least " +
                                   std::to_string(kMinCommitPrefixLength) + " hex digits");
  }
  // Lower-case hex sorts below "g", so [prefix, prefix + "g") is exactly the ids starting with it.
  const std::string prefix = ToLowerHex(base);
  Result<std::vector<Row>> rows = QueryRows(db,
                                            "SELECT count(*), min(id) FROM commits"
                                            " WHERE repo_id = ?1 AND id >= ?2 AND id < ?3",
                                            {repo_id, prefix, prefix + "g"});
  if (!rows.ok()) return rows.status();
  const int64_t matches = IntFromValue(rows->front()[0]);
  if (matches == 0) {
    return Status::NotFound(Quoted(base) + " is not a branch, tag or commit of repository " +
                            Quoted(repo));
  }
  if (matches > 1) {
    return Status::InvalidArgument("commit id prefix " + Quoted(base) + " is ambiguous: " +
                                   Plural(static_cast<size_t>(matches), "commit") +
                                   " of repository " + Quoted(repo) + " start with it");
  }
  return IdFromValue(rows->front()[1]);
}

// Branch, then tag, then commit id: documented in ref_db.h.
Result<ObjectId> ResolveBase(SqliteConnection& db, int64_t repo_id, std::string_view repo,
                             std::string_view base) {
  for (const RefTable* refs : {&kBranchTable, &kTagTable}) {
    Result<std::optional<ObjectId>> target = FindRef(db, *refs, repo_id, base);
    if (!target.ok()) return target.status();
    if (target->has_value()) return **target;
  }
  if (LooksLikeCommitIdPrefix(base)) return ResolveCommitPrefix(db, repo_id, repo, base);
  return Status::NotFound(Quoted(base) + " is not a branch, tag or commit of repository " +
                          Quoted(repo));
}

// Applies one ~N or ^N to `from`. `done` is the revision text that named `from`, `upto` the
// text including this step; both appear in errors.
Result<ObjectId> ApplyStep(SqliteConnection& db, int64_t repo_id, std::string_view repo,
                           const ObjectId& from, const RevisionStep& step, std::string_view done,
                           std::string_view upto) {
  ObjectId current = from;
  if (step.kind == RevisionStep::Kind::kAncestor) {
    for (uint32_t walked = 0; walked < step.count; ++walked) {
      Result<CommitNode> node = RequireCommit(db, repo_id, repo, current);
      if (!node.ok()) return node.status();
      if (node->parents.empty()) {
        return Status::NotFound(std::string(upto) + ": " + std::string(done) +
                                (walked == 0 ? " is a root commit (no parents)"
                                             : " has only " + Plural(walked, "ancestor") +
                                                   " on its first-parent line"));
      }
      current = node->parents.front();
    }
    return current;
  }
  if (step.count == 0) return current;
  Result<CommitNode> node = RequireCommit(db, repo_id, repo, current);
  if (!node.ok()) return node.status();
  if (node->parents.size() < step.count) {
    return Status::NotFound(std::string(upto) + ": " + std::string(done) +
                            (node->parents.empty()
                                 ? " is a root commit (no parents)"
                                 : " has only " + Plural(node->parents.size(), "parent")));
  }
  return node->parents[step.count - 1];
}

}  // namespace

RefDb::RefDb(std::unique_ptr<SqliteConnection> db, std::function<int64_t()> clock)
    : clock_(clock ? std::move(clock) : std::function<int64_t()>(UnixNowMs)), db_(std::move(db)) {}

RefDb::~RefDb() = default;

Result<std::unique_ptr<RefDb>> RefDb::Open(const std::string& path, const RefDbOptions& options) {
  Result<std::unique_ptr<SqliteConnection>> connection =
      SqliteConnection::Open(path, options.busy_timeout_ms);
  if (!connection.ok()) return connection.status();
  std::unique_ptr<RefDb> db(new RefDb(std::move(*connection), options.clock));
  Status s = db->CreateSchema();
  if (!s.ok()) return s.WithContext(path);
  return db;
}

Status RefDb::Transaction(bool write, const std::function<Status()>& body) const {
  std::lock_guard<std::mutex> lock(mu_);
  return db_->Transaction(write, body);
}

Status RefDb::CreateSchema() {
  // Inside a write transaction, so that two processes creating the same new file do not both
  // run the CREATE statements.
  return Transaction(true, [&]() -> Status {
    Result<std::vector<Row>> rows = QueryRows(*db_, "PRAGMA user_version", {});
    if (!rows.ok()) return rows.status();
    const int64_t version = rows->empty() ? 0 : IntFromValue(rows->front()[0]);
    if (version == kSchemaVersion) return Status::Ok();
    if (version > kSchemaVersion) {
      return Status::FailedPrecondition("refs database schema version " + std::to_string(version) +
                                        " is newer than this program knows (" +
                                        std::to_string(kSchemaVersion) + ")");
    }
    if (version != 0) {
      return Status::Internal("refs database has unknown schema version " +
                              std::to_string(version));
    }
    PADDOCK_RETURN_IF_ERROR(db_->Exec(kSchemaV1));
    return db_->Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
  });
}

// --- Repositories.

Status RefDb::CreateRepo(std::string_view name) {
  PADDOCK_RETURN_IF_ERROR(ValidateRepoName(name));
  return Transaction(true, [&]() -> Status {
    Result<int64_t> existing = FindRepoId(*db_, name);
    if (existing.ok()) return Status::AlreadyExists("repository " + Quoted(name) + " exists");
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    return db_->Query("INSERT INTO repositories (name, created_ms) VALUES (?1, ?2)",
                      {std::string(name), clock_()});
  });
}

Result<std::vector<RepoInfo>> RefDb::ListRepos() const {
  std::vector<RepoInfo> repos;
  Status s = Transaction(false, [&]() -> Status {
    Result<std::vector<Row>> rows =
        QueryRows(*db_, "SELECT name, created_ms FROM repositories ORDER BY name", {});
    if (!rows.ok()) return rows.status();
    for (const Row& row : *rows) {
      repos.push_back(RepoInfo{StringFromValue(row[0]), IntFromValue(row[1])});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return repos;
}

Status RefDb::DeleteRepo(std::string_view name) {
  return Transaction(true, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, name);
    if (!repo_id.ok()) return repo_id.status();
    // ON DELETE CASCADE removes the branches, tags, commits and parent links with it.
    return db_->Query("DELETE FROM repositories WHERE id = ?1", {*repo_id});
  });
}

// --- Branches and tags.

Status RefDb::CreateRef(RefKind kind, std::string_view repo, std::string_view name,
                        const ObjectId& target) {
  const RefTable& refs = kind == RefKind::kTag ? kTagTable : kBranchTable;
  PADDOCK_RETURN_IF_ERROR(ValidateRefName(refs, name));
  return Transaction(true, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    Result<std::optional<ObjectId>> existing = FindRef(*db_, refs, *repo_id, name);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      return Status::AlreadyExists(std::string(refs.noun) + " " + Quoted(name) + " of repository " +
                                   Quoted(repo) + " exists (at " + (*existing)->ToHex() + ")");
    }
    PADDOCK_RETURN_IF_ERROR(RequireRefTarget(*db_, *repo_id, repo, target));
    const std::string time_column = kind == RefKind::kTag ? "created_ms" : "updated_ms";
    return db_->Query("INSERT INTO " + std::string(refs.table) + " (repo_id, name, commit_id, " +
                          time_column + ") VALUES (?1, ?2, ?3, ?4)",
                      {*repo_id, std::string(name), target.ToHex(), clock_()});
  });
}

Status RefDb::DeleteRef(RefKind kind, std::string_view repo, std::string_view name) {
  const RefTable& refs = kind == RefKind::kTag ? kTagTable : kBranchTable;
  return Transaction(true, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    PADDOCK_RETURN_IF_ERROR(
        db_->Query("DELETE FROM " + std::string(refs.table) + " WHERE repo_id = ?1 AND name = ?2",
                   {*repo_id, std::string(name)}));
    if (db_->changes() == 0) {
      return Status::NotFound(std::string(refs.noun) + " " + Quoted(name) + " of repository " +
                              Quoted(repo) + " not found");
    }
    return Status::Ok();
  });
}

Result<ObjectId> RefDb::GetRef(RefKind kind, std::string_view repo, std::string_view name) const {
  const RefTable& refs = kind == RefKind::kTag ? kTagTable : kBranchTable;
  ObjectId target;
  Status s = Transaction(false, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    Result<std::optional<ObjectId>> found = FindRef(*db_, refs, *repo_id, name);
    if (!found.ok()) return found.status();
    if (!found->has_value()) {
      return Status::NotFound(std::string(refs.noun) + " " + Quoted(name) + " of repository " +
                              Quoted(repo) + " not found");
    }
    target = **found;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return target;
}

Result<std::vector<RefEntry>> RefDb::ListRefs(RefKind kind, std::string_view repo) const {
  const RefTable& refs = kind == RefKind::kTag ? kTagTable : kBranchTable;
  std::vector<RefEntry> entries;
  Status s = Transaction(false, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    Result<std::vector<Row>> rows =
        QueryRows(*db_,
                  "SELECT name, commit_id FROM " + std::string(refs.table) +
                      " WHERE repo_id = ?1 ORDER BY name",
                  {*repo_id});
    if (!rows.ok()) return rows.status();
    for (const Row& row : *rows) {
      Result<ObjectId> target = IdFromValue(row[1]);
      if (!target.ok()) return target.status();
      entries.push_back(RefEntry{StringFromValue(row[0]), *target});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return entries;
}

Status RefDb::CreateBranch(std::string_view repo, std::string_view branch, const ObjectId& target) {
  return CreateRef(RefKind::kBranch, repo, branch, target);
}

Status RefDb::DeleteBranch(std::string_view repo, std::string_view branch) {
  return DeleteRef(RefKind::kBranch, repo, branch);
}

Result<ObjectId> RefDb::GetBranch(std::string_view repo, std::string_view branch) const {
  return GetRef(RefKind::kBranch, repo, branch);
}

Result<std::vector<RefEntry>> RefDb::ListBranches(std::string_view repo) const {
  return ListRefs(RefKind::kBranch, repo);
}

Status RefDb::CreateTag(std::string_view repo, std::string_view tag, const ObjectId& target) {
  return CreateRef(RefKind::kTag, repo, tag, target);
}

Status RefDb::DeleteTag(std::string_view repo, std::string_view tag) {
  return DeleteRef(RefKind::kTag, repo, tag);
}

Result<ObjectId> RefDb::GetTag(std::string_view repo, std::string_view tag) const {
  return GetRef(RefKind::kTag, repo, tag);
}

Result<std::vector<RefEntry>> RefDb::ListTags(std::string_view repo) const {
  return ListRefs(RefKind::kTag, repo);
}

Status RefDb::UpdateBranch(std::string_view repo, std::string_view branch,
                           std::optional<ObjectId> expected, const ObjectId& next) {
  PADDOCK_RETURN_IF_ERROR(ValidateBranchName(branch));
  // BEGIN IMMEDIATE takes the write lock before the read below, so no other connection can move
  // the branch between the comparison and the swap.
  return Transaction(true, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    Result<std::optional<ObjectId>> current = FindRef(*db_, kBranchTable, *repo_id, branch);
    if (!current.ok()) return current.status();
    const std::string what = "branch " + Quoted(branch) + " of repository " + Quoted(repo);
    if (*current != expected) {
      const std::string now =
          current->has_value() ? "it now points at " + (*current)->ToHex() : "it does not exist";
      const std::string wanted =
          expected.has_value() ? "expected at " + expected->ToHex() : "expected to be absent";
      return Status::Conflict(what + " changed concurrently: " + wanted + ", but " + now);
    }
    PADDOCK_RETURN_IF_ERROR(RequireRefTarget(*db_, *repo_id, repo, next));
    return db_->Query(
        "INSERT INTO branches (repo_id, name, commit_id, updated_ms) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (repo_id, name) DO UPDATE"
        " SET commit_id = excluded.commit_id, updated_ms = excluded.updated_ms",
        {*repo_id, std::string(branch), next.ToHex(), clock_()});
  });
}

// --- Commit graph.

Status RefDb::RecordCommit(std::string_view repo, const ObjectId& id, const Commit& commit) {
  // Checking the id makes the record trustworthy: the parents and time stored here are those of
  // the object the id names, so recording the same id twice can never disagree.
  Result<std::string> encoded = EncodeCommit(commit);
  if (!encoded.ok()) return encoded.status().WithContext("commit " + id.ToHex());
  const ObjectId actual = ObjectId::Hash(*encoded);
  if (actual != id) {
    return Status::InvalidArgument("commit id " + id.ToHex() +
                                   " does not match the commit, whose id is " + actual.ToHex());
  }
  return Transaction(true, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    Result<std::optional<CommitNode>> existing = FindCommit(*db_, *repo_id, id);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) return Status::Ok();
    return InsertCommit(*db_, *repo_id, repo, id, commit, clock_());
  });
}

Result<CommitNode> RefDb::GetCommit(std::string_view repo, const ObjectId& id) const {
  CommitNode node;
  Status s = Transaction(false, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    Result<CommitNode> found = RequireCommit(*db_, *repo_id, repo, id);
    if (!found.ok()) return found.status();
    node = std::move(*found);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return node;
}

Result<std::vector<CommitNode>> RefDb::Log(std::string_view repo, const ObjectId& start,
                                           size_t limit) const {
  std::vector<CommitNode> nodes;
  Status s = Transaction(false, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    Result<CommitNode> first = RequireCommit(*db_, *repo_id, repo, start);
    if (!first.ok()) return first.status();
    // `ancestors` walks parents from ?2; UNION (not UNION ALL) visits each commit once however
    // many paths lead to it. SQLite treats a negative LIMIT as none.
    const int64_t sql_limit = limit == 0 ? -1 : static_cast<int64_t>(limit);
    Result<std::vector<Row>> rows = QueryRows(
        *db_,
        "WITH RECURSIVE ancestors(id) AS (SELECT ?2 UNION SELECT p.parent_id"
        "   FROM commit_parents p JOIN ancestors a ON p.repo_id = ?1 AND p.commit_id = a.id),"
        " page AS (SELECT c.id, c.time_ms FROM ancestors a JOIN commits c"
        "   ON c.repo_id = ?1 AND c.id = a.id ORDER BY c.time_ms DESC, c.id LIMIT ?3)"
        " SELECT page.id, page.time_ms, p.parent_id FROM page LEFT JOIN commit_parents p"
        "   ON p.repo_id = ?1 AND p.commit_id = page.id"
        " ORDER BY page.time_ms DESC, page.id, p.ordinal",
        {*repo_id, start.ToHex(), sql_limit});
    if (!rows.ok()) return rows.status();
    Result<std::vector<CommitNode>> grouped = NodesFromRows(*rows);
    if (!grouped.ok()) return grouped.status();
    nodes = std::move(*grouped);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return nodes;
}

Result<bool> RefDb::IsAncestor(std::string_view repo, const ObjectId& ancestor,
                               const ObjectId& descendant) const {
  bool reachable = false;
  Status s = Transaction(false, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    for (const ObjectId& id : {ancestor, descendant}) {
      Result<CommitNode> node = RequireCommit(*db_, *repo_id, repo, id);
      if (!node.ok()) return node.status();
    }
    Result<std::vector<Row>> rows = QueryRows(
        *db_,
        "WITH RECURSIVE ancestors(id) AS (SELECT ?2 UNION SELECT p.parent_id"
        "   FROM commit_parents p JOIN ancestors a ON p.repo_id = ?1 AND p.commit_id = a.id)"
        " SELECT EXISTS (SELECT 1 FROM ancestors WHERE id = ?3)",
        {*repo_id, descendant.ToHex(), ancestor.ToHex()});
    if (!rows.ok()) return rows.status();
    reachable = IntFromValue(rows->front()[0]) != 0;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return reachable;
}

Result<std::optional<ObjectId>> RefDb::MergeBase(std::string_view repo, const ObjectId& a,
                                                 const ObjectId& b) const {
  std::optional<ObjectId> base;
  Status s = Transaction(false, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    for (const ObjectId& id : {a, b}) {
      Result<CommitNode> node = RequireCommit(*db_, *repo_id, repo, id);
      if (!node.ok()) return node.status();
    }
    // The common ancestors are closed under parents, so one of them is an ancestor of another
    // exactly when it is a parent of one: the best ones are those that are nobody's parent.
    Result<std::vector<Row>> rows = QueryRows(
        *db_,
        "WITH RECURSIVE"
        " from_a(id) AS (SELECT ?2 UNION SELECT p.parent_id"
        "   FROM commit_parents p JOIN from_a a ON p.repo_id = ?1 AND p.commit_id = a.id),"
        " from_b(id) AS (SELECT ?3 UNION SELECT p.parent_id"
        "   FROM commit_parents p JOIN from_b b ON p.repo_id = ?1 AND p.commit_id = b.id),"
        " common(id) AS MATERIALIZED (SELECT id FROM from_a INTERSECT SELECT id FROM from_b),"
        " best(id) AS (SELECT id FROM common EXCEPT SELECT p.parent_id"
        "   FROM common d JOIN commit_parents p ON p.repo_id = ?1 AND p.commit_id = d.id)"
        " SELECT c.id FROM best JOIN commits c ON c.repo_id = ?1 AND c.id = best.id"
        " ORDER BY c.time_ms DESC, c.id LIMIT 1",
        {*repo_id, a.ToHex(), b.ToHex()});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return Status::Ok();
    Result<ObjectId> id = IdFromValue(rows->front()[0]);
    if (!id.ok()) return id.status();
    base = *id;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return base;
}

// --- Revisions.

Result<ObjectId> RefDb::Resolve(std::string_view repo, std::string_view revision) const {
  Result<ParsedRevision> parsed = ParseRevision(revision);
  if (!parsed.ok()) return parsed.status();
  ObjectId resolved;
  Status s = Transaction(false, [&]() -> Status {
    Result<int64_t> repo_id = FindRepoId(*db_, repo);
    if (!repo_id.ok()) return repo_id.status();
    Result<ObjectId> current = ResolveBase(*db_, *repo_id, repo, parsed->base);
    if (!current.ok()) return current.status();
    size_t done = parsed->base.size();
    for (const RevisionStep& step : parsed->steps) {
      current = ApplyStep(*db_, *repo_id, repo, *current, step, revision.substr(0, done),
                          revision.substr(0, step.end));
      if (!current.ok()) return current.status();
      done = step.end;
    }
    resolved = *current;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return resolved;
}

// --- Garbage collection support.

Result<std::vector<ObjectId>> RefDb::AllRefTargets() const {
  std::vector<ObjectId> targets;
  Status s = Transaction(false, [&]() -> Status {
    Result<std::vector<Row>> rows = QueryRows(
        *db_, "SELECT commit_id FROM branches UNION SELECT commit_id FROM tags ORDER BY 1", {});
    if (!rows.ok()) return rows.status();
    Result<std::vector<ObjectId>> ids = IdsFromRows(*rows);
    if (!ids.ok()) return ids.status();
    targets = std::move(*ids);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return targets;
}

Result<std::vector<ObjectId>> RefDb::CommitsSince(int64_t time_ms) const {
  std::vector<ObjectId> commits;
  Status s = Transaction(false, [&]() -> Status {
    Result<std::vector<Row>> rows = QueryRows(
        *db_, "SELECT DISTINCT id FROM commits WHERE recorded_ms >= ?1 ORDER BY id", {time_ms});
    if (!rows.ok()) return rows.status();
    Result<std::vector<ObjectId>> ids = IdsFromRows(*rows);
    if (!ids.ok()) return ids.status();
    commits = std::move(*ids);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return commits;
}

}  // namespace paddock::storage
