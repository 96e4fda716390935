#include "daemon/state_db.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/unit/temp_dir.h"

namespace paddock {
namespace {

class StateDbTest : public ::testing::Test {
 protected:
  int64_t Scalar(StateDb* db, const std::string& sql) {
    int64_t v = -1;
    EXPECT_TRUE(
        db->Query(sql, {}, [&](const StateDb::Row& r) { v = std::get<int64_t>(r[0]); }).ok());
    return v;
  }

  TempDir tmp_;
  const std::string& dir_ = tmp_.path();
  std::string path_ = tmp_.Join("state.db");
};

TEST_F(StateDbTest, MigrationsAreNumberedFromOneWithoutGaps) {
  int expected = 1;
  for (const Migration& m : AllMigrations()) EXPECT_EQ(m.version, expected++);
  EXPECT_EQ(LatestSchemaVersion(), expected - 1);
}

TEST_F(StateDbTest, FreshDatabaseIsAtLatestVersionInWalModeWithForeignKeys) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->schema_version(), LatestSchemaVersion());
  EXPECT_EQ(Scalar(db->get(), "PRAGMA user_version"), LatestSchemaVersion());
  EXPECT_EQ(Scalar(db->get(), "PRAGMA foreign_keys"), 1);
  std::string mode;
  ASSERT_TRUE((*db)
                  ->Query("PRAGMA journal_mode", {},
                          [&](const StateDb::Row& r) { mode = std::get<std::string>(r[0]); })
                  .ok());
  EXPECT_EQ(mode, "wal");
}

// Builds a database at every earlier version, puts data in it, and upgrades: the schema reaches
// the latest version and the data written under the old schema is still there.
TEST_F(StateDbTest, UpgradesFromEveryEarlierVersionKeepingData) {
  for (int from = 0; from < LatestSchemaVersion(); ++from) {
    SCOPED_TRACE("upgrading from version " + std::to_string(from));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    {
      auto old_db = StateDb::Open(path_, from);
      ASSERT_TRUE(old_db.ok()) << old_db.status().ToString();
      EXPECT_EQ((*old_db)->schema_version(), from);
      if (from >= 1) {
        ASSERT_TRUE((*old_db)->Query("INSERT INTO daemon_meta VALUES ('k', 'v')", {}).ok());
      }
      if (from >= 2) {
        ASSERT_TRUE((*old_db)->Query("INSERT INTO api_tokens VALUES ('t', 'h', 0, 1)", {}).ok());
      }
    }
    auto db = StateDb::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_EQ((*db)->schema_version(), LatestSchemaVersion());
    EXPECT_EQ(Scalar(db->get(), "SELECT count(*) FROM daemon_meta"), from >= 1 ? 1 : 0);
    EXPECT_EQ(Scalar(db->get(), "SELECT count(*) FROM api_tokens"), from >= 2 ? 1 : 0);
    EXPECT_EQ(Scalar(db->get(), "SELECT count(*) FROM daemon_starts"), 0);
  }
}

TEST_F(StateDbTest, RefusesADatabaseFromANewerDaemon) {
  {
    auto db = StateDb::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 999").ok());
  }
  auto db = StateDb::Open(path_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(db.status().message().find("newer"), std::string::npos);
}

TEST_F(StateDbTest, FailedTransactionRollsBack) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db.ok());
  Status s = (*db)->Transaction([&] {
    EXPECT_TRUE((*db)->Query("INSERT INTO daemon_meta VALUES ('a', 'b')", {}).ok());
    return Status::Internal("abort");
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(Scalar(db->get(), "SELECT count(*) FROM daemon_meta"), 0);
}

TEST_F(StateDbTest, ConstraintViolationIsAConflictAndExecuteCountsChanges) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(
      (*db)
          ->Query("INSERT INTO daemon_meta VALUES (?1, ?2)", {std::string("k"), std::string("v")})
          .ok());
  Status dup = (*db)->Query("INSERT INTO daemon_meta VALUES ('k', 'w')", {});
  EXPECT_EQ(dup.code(), StatusCode::kConflict);
  auto changed = (*db)->Execute("DELETE FROM daemon_meta WHERE key = ?1", {std::string("k")});
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 1);
}

}  // namespace
}  // namespace paddock
