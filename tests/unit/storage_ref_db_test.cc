// RefDb: schema and reopening, repositories, branches with compare-and-swap (threads and
// processes racing on one branch), immutable tags, commit records, log order, ancestry, merge
// bases and the garbage-collection queries.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "storage/ref_db.h"
#include "tests/unit/storage_ref_db_fixture.h"

namespace paddock::storage {
namespace {

using testing::IdOf;
using testing::LabeledCommit;
using testing::RefDbTest;

// Runs `sql` on the database file directly, behind RefDb's back.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

int64_t RawUserVersion(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  int64_t version = -1;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    version = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return version;
}

TEST_F(RefDbTest, SchemaVersionIsRecordedAndNewerVersionsAreRefused) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  db_.reset();
  EXPECT_EQ(RawUserVersion(path()), RefDb::kSchemaVersion);
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(db_->ListRepos()->size(), 1u);  // reopening keeps the data
  db_.reset();
  RawExec(path(), "PRAGMA user_version = 99");
  Status s = Reopen();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
}

TEST_F(RefDbTest, FileThatIsNoDatabaseIsRefused) {
  db_.reset();
  {
    std::ofstream garbage(dir_.Join("garbage.db"));
    garbage << std::string(8192, 'x');
  }
  Result<std::unique_ptr<RefDb>> db = RefDb::Open(dir_.Join("garbage.db"));
  EXPECT_EQ(db.status().code(), StatusCode::kInternal) << db.status().ToString();
}

TEST_F(RefDbTest, RepositoriesAreCreatedListedAndDeleted) {
  EXPECT_TRUE(db_->CreateRepo("weights").ok());
  now_ms_ += 5;
  EXPECT_TRUE(db_->CreateRepo("datasets").ok());
  EXPECT_EQ(db_->CreateRepo("weights").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(db_->CreateRepo(".hidden").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(db_->CreateRepo("").code(), StatusCode::kInvalidArgument);
  const int64_t t0 = now_ms_.load() - 5;
  EXPECT_EQ(*db_->ListRepos(), (std::vector<RepoInfo>{{"datasets", t0 + 5}, {"weights", t0}}));

  // Deleting a repository takes its refs and commit records with it.
  const ObjectId root = Record("weights", "root", {}, 1);
  const ObjectId c = Record("weights", "c", {root}, 2);
  ASSERT_TRUE(db_->CreateBranch("weights", "main", c).ok());
  ASSERT_TRUE(db_->CreateTag("weights", "v1", c).ok());
  EXPECT_TRUE(db_->DeleteRepo("weights").ok());
  EXPECT_EQ(db_->DeleteRepo("weights").code(), StatusCode::kNotFound);
  EXPECT_EQ(db_->GetBranch("weights", "main").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(db_->CreateRepo("weights").ok());
  EXPECT_TRUE(db_->ListBranches("weights")->empty());
  EXPECT_TRUE(db_->ListTags("weights")->empty());
  EXPECT_EQ(db_->GetCommit("weights", c).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(db_->GetCommit("weights", root).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(db_->AllRefTargets()->empty());
  EXPECT_TRUE(db_->CommitsSince(0)->empty());
}

TEST_F(RefDbTest, UnknownRepositoryIsNotFound) {
  const Commit commit = LabeledCommit("x", {}, 1);
  const ObjectId id = IdOf(commit);
  Status s = db_->RecordCommit("nope", id, commit);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("repository 'nope'"), std::string::npos) << s.message();
  EXPECT_EQ(db_->CreateBranch("nope", "main", id).code(), StatusCode::kNotFound);
  EXPECT_EQ(db_->ListTags("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(db_->Resolve("nope", "main").status().code(), StatusCode::kNotFound);
}

TEST_F(RefDbTest, BranchesAreCreatedListedAndDeleted) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId a = Record("r", "a", {}, 1);
  const ObjectId b = Record("r", "b", {a}, 2);
  EXPECT_TRUE(db_->CreateBranch("r", "main", b).ok());
  EXPECT_TRUE(db_->CreateBranch("r", "feature/x", a).ok());
  EXPECT_EQ(db_->CreateBranch("r", "main", a).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(db_->CreateBranch("r", "bad..name", a).code(), StatusCode::kInvalidArgument);
  // A ref may only point at a commit recorded in its repository.
  Status s = db_->CreateBranch("r", "dangling", ObjectId::Hash("unrecorded"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_EQ(*db_->GetBranch("r", "main"), b);
  EXPECT_EQ(*db_->ListBranches("r"), (std::vector<RefEntry>{{"feature/x", a}, {"main", b}}));
  EXPECT_TRUE(db_->DeleteBranch("r", "feature/x").ok());
  EXPECT_EQ(db_->DeleteBranch("r", "feature/x").code(), StatusCode::kNotFound);
  EXPECT_EQ(db_->GetBranch("r", "feature/x").status().code(), StatusCode::kNotFound);
}

TEST_F(RefDbTest, UpdateBranchSwapsOnlyFromTheExpectedCommit) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId a = Record("r", "a", {}, 1);
  const ObjectId b = Record("r", "b", {a}, 2);
  const ObjectId c = Record("r", "c", {b}, 3);

  EXPECT_TRUE(db_->UpdateBranch("r", "main", std::nullopt, a).ok());  // creates
  EXPECT_TRUE(db_->UpdateBranch("r", "main", a, b).ok());
  Status stale = db_->UpdateBranch("r", "main", a, c);
  EXPECT_EQ(stale.code(), StatusCode::kConflict);
  EXPECT_NE(stale.message().find("'main'"), std::string::npos) << stale.message();
  EXPECT_NE(stale.message().find("now points at " + b.ToHex()), std::string::npos)
      << stale.message();
  EXPECT_EQ(*db_->GetBranch("r", "main"), b);

  EXPECT_EQ(db_->UpdateBranch("r", "main", std::nullopt, c).code(), StatusCode::kConflict);
  Status missing = db_->UpdateBranch("r", "other", a, c);
  EXPECT_EQ(missing.code(), StatusCode::kConflict);
  EXPECT_NE(missing.message().find("does not exist"), std::string::npos) << missing.message();
  EXPECT_EQ(db_->UpdateBranch("r", "main", b, ObjectId::Hash("unrecorded")).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(db_->UpdateBranch("r", "-bad", std::nullopt, a).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(db_->UpdateBranch("r", "main", b, c).ok());
  EXPECT_EQ(*db_->GetBranch("r", "main"), c);
}

TEST_F(RefDbTest, TagsAreImmutable) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId a = Record("r", "a", {}, 1);
  const ObjectId b = Record("r", "b", {a}, 2);
  ASSERT_TRUE(db_->CreateTag("r", "v1", a).ok());
  EXPECT_EQ(db_->CreateTag("r", "v1", b).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(db_->CreateTag("r", "v1", a).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*db_->GetTag("r", "v1"), a);
  EXPECT_EQ(db_->CreateTag("r", "v1^", a).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(db_->CreateTag("r", "v0", b).ok());
  EXPECT_EQ(*db_->ListTags("r"), (std::vector<RefEntry>{{"v0", b}, {"v1", a}}));
  // Deleting is the only way to re-point a tag.
  EXPECT_TRUE(db_->DeleteTag("r", "v1").ok());
  EXPECT_EQ(db_->DeleteTag("r", "v1").code(), StatusCode::kNotFound);
  EXPECT_TRUE(db_->CreateTag("r", "v1", b).ok());
  EXPECT_EQ(*db_->GetTag("r", "v1"), b);
}

TEST_F(RefDbTest, RecordCommitChecksIdAndParentsAndIsIdempotent) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const Commit root = LabeledCommit("root", {}, 10);
  const Commit child = LabeledCommit("child", {IdOf(root)}, 20);
  EXPECT_EQ(db_->RecordCommit("r", IdOf(child), child).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(db_->RecordCommit("r", IdOf(child), root).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(db_->RecordCommit("r", IdOf(root), root).ok());
  ASSERT_TRUE(db_->RecordCommit("r", IdOf(child), child).ok());
  ASSERT_TRUE(db_->RecordCommit("r", IdOf(child), child).ok());
  EXPECT_EQ(*db_->GetCommit("r", IdOf(child)), (CommitNode{IdOf(child), 20, {IdOf(root)}}));
  EXPECT_EQ(db_->Log("r", IdOf(child), 0)->size(), 2u);
  // Commits are per repository.
  ASSERT_TRUE(db_->CreateRepo("other").ok());
  EXPECT_EQ(db_->GetCommit("other", IdOf(root)).status().code(), StatusCode::kNotFound);
}

// root(100) - a(200) - b(300) ------- m(400)
//      \                             /
//       c(250) ---------------------'
TEST_F(RefDbTest, LogIsNewestFirstOverAllAncestorsEachOnce) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId root = Record("r", "root", {}, 100);
  const ObjectId a = Record("r", "a", {root}, 200);
  const ObjectId b = Record("r", "b", {a}, 300);
  const ObjectId c = Record("r", "c", {root}, 250);
  const ObjectId m = Record("r", "m", {b, c}, 400);
  Result<std::vector<CommitNode>> log = db_->Log("r", m, 0);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(
      *log,
      (std::vector<CommitNode>{
          {m, 400, {b, c}}, {b, 300, {a}}, {c, 250, {root}}, {a, 200, {root}}, {root, 100, {}}}));
  log = db_->Log("r", m, 2);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[1].id, b);
  EXPECT_EQ(db_->Log("r", ObjectId::Hash("x"), 0).status().code(), StatusCode::kNotFound);
}

TEST_F(RefDbTest, LogOrdersEqualTimesByIdAndIgnoresParentOrder) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  // A skewed clock: the parent is newer than its children.
  const ObjectId root = Record("r", "root", {}, 900);
  std::vector<ObjectId> same_time;
  for (int i = 0; i < 5; ++i) same_time.push_back(Record("r", "s" + std::to_string(i), {root}, 50));
  const ObjectId tip = Record("r", "tip", same_time, 60);
  Result<std::vector<CommitNode>> log = db_->Log("r", tip, 0);
  ASSERT_TRUE(log.ok());
  std::vector<ObjectId> ids;
  for (const CommitNode& node : *log) ids.push_back(node.id);
  std::vector<ObjectId> sorted_same = same_time;
  std::sort(sorted_same.begin(), sorted_same.end());
  std::vector<ObjectId> expected{root, tip};
  expected.insert(expected.end(), sorted_same.begin(), sorted_same.end());
  EXPECT_EQ(ids, expected);
}

TEST_F(RefDbTest, IsAncestorFollowsAllParents) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId root = Record("r", "root", {}, 1);
  const ObjectId a = Record("r", "a", {root}, 2);
  const ObjectId c = Record("r", "c", {root}, 3);
  const ObjectId m = Record("r", "m", {a, c}, 4);
  EXPECT_TRUE(*db_->IsAncestor("r", c, m));
  EXPECT_TRUE(*db_->IsAncestor("r", root, m));
  EXPECT_TRUE(*db_->IsAncestor("r", m, m));
  EXPECT_FALSE(*db_->IsAncestor("r", m, a));
  EXPECT_FALSE(*db_->IsAncestor("r", a, c));
  EXPECT_EQ(db_->IsAncestor("r", ObjectId::Hash("x"), m).status().code(), StatusCode::kNotFound);
}

// root - a - b ------ m - e        (main)
//         \         /
//          c ---- d ---- f         (feature)
TEST_F(RefDbTest, MergeBaseIsTheBestCommonAncestor) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId root = Record("r", "root", {}, 1);
  const ObjectId a = Record("r", "a", {root}, 2);
  const ObjectId b = Record("r", "b", {a}, 3);
  const ObjectId c = Record("r", "c", {a}, 4);
  const ObjectId d = Record("r", "d", {c}, 5);
  EXPECT_EQ(*db_->MergeBase("r", b, d), a);
  EXPECT_EQ(*db_->MergeBase("r", d, b), a);
  EXPECT_EQ(*db_->MergeBase("r", b, a), a);  // an ancestor is its own merge base
  EXPECT_EQ(*db_->MergeBase("r", d, d), d);
  const ObjectId m = Record("r", "m", {b, d}, 6);
  const ObjectId e = Record("r", "e", {m}, 7);
  const ObjectId f = Record("r", "f", {d}, 8);
  // After feature was merged, d (not the older a) is the best common ancestor.
  EXPECT_EQ(*db_->MergeBase("r", e, f), d);
  EXPECT_EQ(*db_->MergeBase("r", f, e), d);
  const ObjectId unrelated = Record("r", "unrelated", {}, 9);
  EXPECT_EQ(*db_->MergeBase("r", e, unrelated), std::nullopt);
}

TEST_F(RefDbTest, GarbageCollectionQueriesSpanAllRepositories) {
  ASSERT_TRUE(db_->CreateRepo("one").ok());
  ASSERT_TRUE(db_->CreateRepo("two").ok());
  const ObjectId a = Record("one", "a", {}, 1);
  now_ms_ += 1000;
  const int64_t later = now_ms_.load();
  const ObjectId b = Record("one", "b", {a}, 2);
  const ObjectId x = Record("two", "x", {}, 3);
  const ObjectId a_in_two = Record("two", "a", {}, 1);  // same commit in both repositories
  ASSERT_EQ(a_in_two, a);
  ASSERT_TRUE(db_->CreateBranch("one", "main", b).ok());
  ASSERT_TRUE(db_->CreateTag("one", "v1", b).ok());
  ASSERT_TRUE(db_->CreateTag("one", "old", a).ok());
  ASSERT_TRUE(db_->CreateBranch("two", "main", x).ok());

  std::vector<ObjectId> roots{a, b, x};
  std::sort(roots.begin(), roots.end());
  EXPECT_EQ(*db_->AllRefTargets(), roots);

  // "a" was first recorded before `later` in "one" but again after it in "two".
  std::vector<ObjectId> recent{a, b, x};
  std::sort(recent.begin(), recent.end());
  EXPECT_EQ(*db_->CommitsSince(later), recent);
  EXPECT_TRUE(db_->CommitsSince(later + 1)->empty());
}

// --- Concurrency: writers race on one branch, each retrying on kConflict.

constexpr int kCommitsPerWriter = 50;

// `count` times: read the head of r/main, record a commit on it and swap it in, retrying on
// kConflict. Returns the commits it got onto the branch.
Result<std::vector<ObjectId>> CommitInLoop(RefDb& db, const std::string& writer, int count) {
  std::vector<ObjectId> landed;
  for (int i = 0; i < count; ++i) {
    while (true) {
      Result<ObjectId> head = db.GetBranch("r", "main");
      if (!head.ok()) return head.status();
      const Commit commit = LabeledCommit(writer + "-" + std::to_string(i), {*head}, i);
      const ObjectId id = IdOf(commit);
      PADDOCK_RETURN_IF_ERROR(db.RecordCommit("r", id, commit));
      Status swapped = db.UpdateBranch("r", "main", *head, id);
      if (swapped.ok()) {
        landed.push_back(id);
        break;
      }
      if (swapped.code() != StatusCode::kConflict) return swapped;
    }
  }
  return landed;
}

// The first-parent chain from the head of r/main down to the root.
std::vector<ObjectId> FirstParentChain(const RefDb& db) {
  std::vector<ObjectId> chain;
  Result<ObjectId> id = db.GetBranch("r", "main");
  while (id.ok()) {
    chain.push_back(*id);
    Result<CommitNode> node = db.GetCommit("r", *id);
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    if (!node.ok() || node->parents.empty()) break;
    id = node->parents.front();
  }
  return chain;
}

// Runs `writers` threads of CommitInLoop, each on the RefDb `db_for(thread)` returns, and
// collects what landed into `landed`; a writer's failure fails the test.
template <typename DbFor>
void RunWriters(int writers, const std::string& prefix, DbFor db_for,
                std::vector<ObjectId>* landed) {
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      Result<std::vector<ObjectId>> mine =
          CommitInLoop(db_for(t), prefix + std::to_string(t), kCommitsPerWriter);
      std::lock_guard<std::mutex> lock(mu);
      if (!mine.ok()) {
        ADD_FAILURE() << "writer " << t << ": " << mine.status().ToString();
        return;
      }
      landed->insert(landed->end(), mine->begin(), mine->end());
    });
  }
  for (std::thread& thread : threads) thread.join();
}

void ExpectChainHolds(const RefDb& db, const ObjectId& root, const std::vector<ObjectId>& landed,
                      size_t expected_commits) {
  const std::vector<ObjectId> chain = FirstParentChain(db);
  ASSERT_EQ(chain.size(), expected_commits + 1);  // and the root
  EXPECT_EQ(chain.back(), root);
  const std::set<ObjectId> on_chain(chain.begin(), chain.end());
  EXPECT_EQ(landed.size(), expected_commits);
  for (const ObjectId& id : landed) EXPECT_TRUE(on_chain.contains(id)) << id.ToHex();
}

TEST_F(RefDbTest, EightThreadsOnOneRefDbLoseNoCommit) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId root = Record("r", "root", {}, 0);
  ASSERT_TRUE(db_->CreateBranch("r", "main", root).ok());
  std::vector<ObjectId> landed;
  RunWriters(
      8, "thread", [&](int) -> RefDb& { return *db_; }, &landed);
  ExpectChainHolds(*db_, root, landed, 8 * kCommitsPerWriter);
}

TEST_F(RefDbTest, EightConnectionsOnOneFileLoseNoCommit) {
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId root = Record("r", "root", {}, 0);
  ASSERT_TRUE(db_->CreateBranch("r", "main", root).ok());
  std::vector<std::unique_ptr<RefDb>> connections;
  for (int i = 0; i < 8; ++i) {
    RefDbOptions options;
    options.busy_timeout_ms = 30000;
    Result<std::unique_ptr<RefDb>> db = RefDb::Open(path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    connections.push_back(std::move(*db));
  }
  std::vector<ObjectId> landed;
  RunWriters(
      8, "connection", [&](int t) -> RefDb& { return *connections[t]; }, &landed);
  ExpectChainHolds(*db_, root, landed, 8 * kCommitsPerWriter);
}

TEST_F(RefDbTest, TwoProcessesLoseNoCommit) {
  constexpr int kProcesses = 2;
  constexpr int kThreadsPerProcess = 4;
  ASSERT_TRUE(db_->CreateRepo("r").ok());
  const ObjectId root = Record("r", "root", {}, 0);
  ASSERT_TRUE(db_->CreateBranch("r", "main", root).ok());
  db_.reset();  // an SQLite connection must not cross fork()

  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: no gtest assertions here; the exit code and the written ids report.
      RefDbOptions options;
      options.busy_timeout_ms = 30000;
      Result<std::unique_ptr<RefDb>> db = RefDb::Open(path(), options);
      if (!db.ok()) ::_exit(2);
      std::vector<ObjectId> landed;
      bool failed = false;
      std::mutex mu;
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreadsPerProcess; ++t) {
        threads.emplace_back([&, t] {
          auto mine = CommitInLoop(**db, "p" + std::to_string(p) + "t" + std::to_string(t),
                                   kCommitsPerWriter);
          std::lock_guard<std::mutex> lock(mu);
          if (!mine.ok()) failed = true;
          if (mine.ok()) landed.insert(landed.end(), mine->begin(), mine->end());
        });
      }
      for (std::thread& thread : threads) thread.join();
      {
        std::ofstream out(dir_.Join("landed-" + std::to_string(p)));
        for (const ObjectId& id : landed) out << id.ToHex() << "\n";
      }
      ::_exit(failed ? 1 : 0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }

  ASSERT_TRUE(Reopen().ok());
  std::vector<ObjectId> landed;
  for (int p = 0; p < kProcesses; ++p) {
    std::ifstream in(dir_.Join("landed-" + std::to_string(p)));
    for (std::string line; std::getline(in, line);) landed.push_back(*ObjectId::FromHex(line));
  }
  ExpectChainHolds(*db_, root, landed, kProcesses * kThreadsPerProcess * kCommitsPerWriter);
}

}  // namespace
}  // namespace paddock::storage
