// A RefDb test fixture: a fresh database in a temporary directory with a clock the test sets,
// and a helper that records commits (distinct by label) into a repository.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "storage/objects.h"
#include "storage/ref_db.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage::testing {

// A commit whose tree id is derived from `label`, so different labels give different ids.
inline Commit LabeledCommit(const std::string& label, std::vector<ObjectId> parents,
                            int64_t time_ms) {
  Commit commit;
  commit.tree = ObjectId::Hash("tree of " + label);
  commit.parents = std::move(parents);
  commit.time_ms = time_ms;
  commit.author = "test";
  commit.message = label;
  return commit;
}

inline ObjectId IdOf(const Commit& commit) { return ObjectId::Hash(*EncodeCommit(commit)); }

class RefDbTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Reopen().ok()); }

  Status Reopen() {
    db_.reset();
    RefDbOptions options;
    options.busy_timeout_ms = 30000;
    options.clock = [this] { return now_ms_.load(); };
    Result<std::unique_ptr<RefDb>> db = RefDb::Open(path(), options);
    if (!db.ok()) return db.status();
    db_ = std::move(*db);
    return Status::Ok();
  }

  std::string path() const { return dir_.Join("refs.db"); }

  // Records a commit in `repo` and returns its id.
  ObjectId Record(const std::string& repo, const std::string& label, std::vector<ObjectId> parents,
                  int64_t time_ms) {
    const Commit commit = LabeledCommit(label, std::move(parents), time_ms);
    const ObjectId id = IdOf(commit);
    Status s = db_->RecordCommit(repo, id, commit);
    EXPECT_TRUE(s.ok()) << label << ": " << s.ToString();
    return id;
  }

  TempDir dir_;
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
  std::unique_ptr<RefDb> db_;
};

}  // namespace paddock::storage::testing
