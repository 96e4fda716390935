// Revision syntax: parsing, and resolving branches, tags, commit ids and prefixes with ~ and ^
// suffixes through RefDb, including every error a user can run into.
#include <gtest/gtest.h>

#include <map>

#include "storage/ref_db.h"
#include "storage/revision.h"
#include "tests/unit/storage_ref_db_fixture.h"

namespace paddock::storage {
namespace {

using testing::IdOf;
using testing::LabeledCommit;
using Kind = RevisionStep::Kind;

TEST(ParseRevisionTest, SplitsBaseAndSteps) {
  Result<ParsedRevision> parsed = ParseRevision("main~3^2~^^0");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->base, "main");
  ASSERT_EQ(parsed->steps.size(), 5u);
  const std::vector<std::pair<Kind, uint32_t>> expected{{Kind::kAncestor, 3},
                                                        {Kind::kParent, 2},
                                                        {Kind::kAncestor, 1},
                                                        {Kind::kParent, 1},
                                                        {Kind::kParent, 0}};
  const std::vector<size_t> ends{6, 8, 9, 10, 12};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(parsed->steps[i].kind, expected[i].first) << i;
    EXPECT_EQ(parsed->steps[i].count, expected[i].second) << i;
    EXPECT_EQ(parsed->steps[i].end, ends[i]) << i;
  }
  parsed = ParseRevision("feature/x");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->base, "feature/x");
  EXPECT_TRUE(parsed->steps.empty());
}

TEST(ParseRevisionTest, RejectsMalformedRevisions) {
  for (const char* bad : {"", "~1", "^", "main~x", "main^a", "main~1x", "main~1000001"}) {
    EXPECT_EQ(ParseRevision(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ParseRevision("main~1000000").ok());
}

TEST(ParseRevisionTest, RecognisesCommitIdPrefixes) {
  EXPECT_TRUE(LooksLikeCommitIdPrefix("abc"));
  EXPECT_TRUE(LooksLikeCommitIdPrefix("ABCDEF0123"));
  EXPECT_TRUE(LooksLikeCommitIdPrefix(std::string(64, 'f')));
  EXPECT_FALSE(LooksLikeCommitIdPrefix(std::string(65, 'f')));
  EXPECT_FALSE(LooksLikeCommitIdPrefix(""));
  EXPECT_FALSE(LooksLikeCommitIdPrefix("abcdeg"));
}

// root(1) - a(2) - b(3) - m(5)        branch main -> m, tag v1 -> a
//     \                  /
//      side(4) ---------'
class ResolveTest : public testing::RefDbTest {
 protected:
  void SetUp() override {
    RefDbTest::SetUp();
    ASSERT_TRUE(db_->CreateRepo("r").ok());
    root_ = Record("r", "root", {}, 1);
    a_ = Record("r", "a", {root_}, 2);
    b_ = Record("r", "b", {a_}, 3);
    side_ = Record("r", "side", {root_}, 4);
    m_ = Record("r", "m", {b_, side_}, 5);
    ASSERT_TRUE(db_->CreateBranch("r", "main", m_).ok());
    ASSERT_TRUE(db_->CreateTag("r", "v1", a_).ok());
  }

  ObjectId Resolve(const std::string& revision) {
    Result<ObjectId> id = db_->Resolve("r", revision);
    EXPECT_TRUE(id.ok()) << revision << ": " << id.status().ToString();
    return id.ok() ? *id : ObjectId();
  }

  // The error for `revision`, checked to have `code` and to mention `fragment`.
  void ExpectError(const std::string& revision, StatusCode code, const std::string& fragment) {
    Result<ObjectId> id = db_->Resolve("r", revision);
    ASSERT_FALSE(id.ok()) << revision << " resolved to " << id->ToHex();
    EXPECT_EQ(id.status().code(), code) << revision << ": " << id.status().ToString();
    EXPECT_NE(id.status().message().find(fragment), std::string::npos)
        << revision << ": " << id.status().message();
  }

  ObjectId root_, a_, b_, side_, m_;
};

TEST_F(ResolveTest, BranchesAndTagsWithSuffixes) {
  EXPECT_EQ(Resolve("main"), m_);
  EXPECT_EQ(Resolve("main~"), b_);
  EXPECT_EQ(Resolve("main~1"), b_);
  EXPECT_EQ(Resolve("main~2"), a_);
  EXPECT_EQ(Resolve("main~3"), root_);
  EXPECT_EQ(Resolve("main~0"), m_);
  EXPECT_EQ(Resolve("main^"), b_);
  EXPECT_EQ(Resolve("main^1"), b_);
  EXPECT_EQ(Resolve("main^2"), side_);
  EXPECT_EQ(Resolve("main^2~1"), root_);
  EXPECT_EQ(Resolve("main^0"), m_);
  EXPECT_EQ(Resolve("main^^"), a_);
  EXPECT_EQ(Resolve("main~2^"), root_);
  EXPECT_EQ(Resolve("v1"), a_);
  EXPECT_EQ(Resolve("v1~1"), root_);
}

TEST_F(ResolveTest, SuffixesPastTheRootNameThePartThatFailed) {
  ExpectError("main~5", StatusCode::kNotFound,
              "main~5: main has only 3 ancestors on its first-parent line");
  ExpectError("main^3", StatusCode::kNotFound, "main^3: main has only 2 parents");
  ExpectError("main^2^2", StatusCode::kNotFound, "main^2^2: main^2 has only 1 parent");
  ExpectError("v1~1~1", StatusCode::kNotFound, "v1~1~1: v1~1 is a root commit");
  ExpectError("main~3^", StatusCode::kNotFound, "main~3^: main~3 is a root commit");
  ExpectError("main~x", StatusCode::kInvalidArgument, "main~x");
}

TEST_F(ResolveTest, CommitIdsAndUniquePrefixes) {
  const std::string hex = b_.ToHex();
  EXPECT_EQ(Resolve(hex), b_);
  EXPECT_EQ(Resolve(hex.substr(0, 6)), b_);
  EXPECT_EQ(Resolve(hex.substr(0, 12) + "~1"), a_);
  std::string upper = hex.substr(0, 10);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Resolve(upper), b_);
  ExpectError(hex.substr(0, 5), StatusCode::kInvalidArgument, "at least 6 hex digits");
  ExpectError("0123456789", StatusCode::kNotFound, "'0123456789'");
  ExpectError(ObjectId::Hash("unrecorded").ToHex(), StatusCode::kNotFound,
              "is not a branch, tag or commit");
  ExpectError("nosuchbranch", StatusCode::kNotFound, "'nosuchbranch'");
}

TEST_F(ResolveTest, AmbiguousPrefixReportsHowManyCommitsMatch) {
  // Find two root commits whose ids share their first 6 hex digits (a birthday search over
  // 16^6 values: a few thousand hashes), then record only those two.
  std::map<std::string, Commit> by_prefix;
  Commit first, second;
  for (int i = 0;; ++i) {
    Commit commit = LabeledCommit("search-" + std::to_string(i), {}, 100);
    auto [it, inserted] = by_prefix.emplace(IdOf(commit).ToHex().substr(0, 6), commit);
    if (!inserted) {
      first = it->second;
      second = commit;
      break;
    }
  }
  ASSERT_TRUE(db_->RecordCommit("r", IdOf(first), first).ok());
  ASSERT_TRUE(db_->RecordCommit("r", IdOf(second), second).ok());
  const std::string a = IdOf(first).ToHex(), b = IdOf(second).ToHex();
  size_t common = 0;
  while (a[common] == b[common]) ++common;
  ExpectError(a.substr(0, common), StatusCode::kInvalidArgument, "ambiguous: 2 commits");
  EXPECT_EQ(Resolve(a.substr(0, common + 1)), IdOf(first));
  EXPECT_EQ(Resolve(b.substr(0, common + 1)), IdOf(second));
}

TEST_F(ResolveTest, BranchShadowsTagAndBothShadowCommitIds) {
  ASSERT_TRUE(db_->CreateTag("r", "release", a_).ok());
  ASSERT_TRUE(db_->CreateBranch("r", "release", b_).ok());
  EXPECT_EQ(Resolve("release"), b_);
  // A branch whose name looks like a prefix of another commit's id wins over that commit.
  const std::string prefix = root_.ToHex().substr(0, 8);
  ASSERT_TRUE(db_->CreateTag("r", prefix, side_).ok());
  EXPECT_EQ(Resolve(prefix), side_);
  ASSERT_TRUE(db_->CreateBranch("r", prefix, a_).ok());
  EXPECT_EQ(Resolve(prefix), a_);
  EXPECT_EQ(Resolve(root_.ToHex()), root_);  // the full id is no branch name here
}

}  // namespace
}  // namespace paddock::storage
