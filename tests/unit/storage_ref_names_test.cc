// Name rules of the refs database: what is accepted and what is refused, with a reason.
#include <gtest/gtest.h>

#include <string>

#include "storage/ref_names.h"

namespace paddock::storage {
namespace {

TEST(RepoNameTest, AcceptsPlainNames) {
  for (const char* name : {"a", "datasets", "llama-3.1_8B", "x.y", "0", "A-b.C_d"}) {
    EXPECT_TRUE(ValidateRepoName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateRepoName(std::string(100, 'r')).ok());
}

TEST(RepoNameTest, RefusesOtherNames) {
  for (std::string name : {"", ".hidden", "-flag", "a/b", "a b", "ümlaut", "a:b", "..", "a\n"}) {
    Status s = ValidateRepoName(name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(ValidateRepoName(std::string(101, 'r')).code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ValidateRepoName("-x").message().find("'-x'"), std::string::npos);
}

TEST(BranchNameTest, AcceptsGitStyleNames) {
  for (const char* name : {"main", "feature/gpu-sharing", "v1.0", "release/2024/q1", "a@b",
                           "with-dash-", "x.lock2", "ümlaut", "abcdef0123"}) {
    EXPECT_TRUE(ValidateBranchName(name).ok()) << name;
    EXPECT_TRUE(ValidateTagName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateBranchName(std::string(255, 'b')).ok());
}

TEST(BranchNameTest, RefusesWhatGitRefuses) {
  const char* bad[] = {"",       "a..b",       "-x",        "a~1",  "a^",    "a:b", "a?",   "a*",
                       "a[b",    "a\\b",       "a b",       "a\tb", "a\x7f", "a/",  "/a",   "a//b",
                       "a.lock", "a/b.lock/c", "a/.hidden", ".a",   "a.",    "@",   "a@{1}"};
  for (const char* name : bad) {
    EXPECT_EQ(ValidateBranchName(name).code(), StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(ValidateTagName(name).code(), StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(ValidateBranchName(std::string(256, 'b')).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBranchName(std::string("a\0b", 3)).code(), StatusCode::kInvalidArgument);
  Status s = ValidateTagName("v1..2");
  EXPECT_NE(s.message().find("tag"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(".."), std::string::npos) << s.message();
}

}  // namespace
}  // namespace paddock::storage
