#include "base/file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/temp_dir.h"

namespace paddock {
namespace {

class FileUtilTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  const std::string& dir_ = tmp_.path();
};

TEST_F(FileUtilTest, MakeDirectoriesCreatesParentsAndAcceptsExisting) {
  const std::string deep = dir_ + "/a/b/c";
  ASSERT_TRUE(MakeDirectories(deep, 0750).ok());
  EXPECT_TRUE(std::filesystem::is_directory(deep));
  EXPECT_TRUE(MakeDirectories(deep, 0750).ok());
}

TEST_F(FileUtilTest, MakeDirectoriesRefusesAFileInTheWay) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/f", "x", 0644).ok());
  Status s = MakeDirectories(dir_ + "/f", 0750);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST_F(FileUtilTest, WriteFileAtomicallyReplacesContentWithExactMode) {
  const std::string path = dir_ + "/secret";
  ASSERT_TRUE(WriteFileAtomically(path, "one", 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two", 0600).ok());
  auto read = ReadFileToString(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "two");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // No temporary file is left beside it.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(FileUtilTest, ReadMissingFileIsNotFound) {
  auto r = ReadFileToString(dir_ + "/missing");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(PathTest, JoinAndAbsolute) {
  EXPECT_EQ(JoinPath("/var/lib/", "/x"), "/var/lib/x");
  EXPECT_EQ(JoinPath("/var/lib", "x"), "/var/lib/x");
  EXPECT_EQ(AbsolutePath("/abs"), "/abs");
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(AbsolutePath("./rel"), std::string(cwd) + "/rel");
  EXPECT_EQ(AbsolutePath("."), std::string(cwd));
}

}  // namespace
}  // namespace paddock
