#include "daemon/token_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/file_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock {
namespace {

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = StateDb::Open(tmp_.Join("state.db"));
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
  }
  TempDir tmp_;
  const std::string& dir_ = tmp_.path();
  std::unique_ptr<StateDb> db_;
};

TEST_F(TokenStoreTest, AdminTokenFileIsCreatedPrivateAndAuthenticates) {
  TokenStore store(db_.get());
  const std::string file = dir_ + "/admin.token";
  ASSERT_TRUE(store.EnsureAdminToken(file).ok());
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto secret = ReadFileToString(file);
  ASSERT_TRUE(secret.ok());
  secret->pop_back();  // newline
  EXPECT_EQ(secret->rfind("pdk_", 0), 0u);
  EXPECT_EQ(secret->size(), 4u + 43u);
  auto who = store.Authenticate(*secret);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->name, "admin");
  EXPECT_TRUE(who->admin);
  EXPECT_FALSE(store.Authenticate(*secret + "x").has_value());
  EXPECT_FALSE(store.Authenticate("").has_value());
}

TEST_F(TokenStoreTest, AdminTokenSurvivesRestartAndRotatesWhenFileDeleted) {
  const std::string file = dir_ + "/admin.token";
  std::string first;
  {
    TokenStore store(db_.get());
    ASSERT_TRUE(store.Load().ok());
    ASSERT_TRUE(store.EnsureAdminToken(file).ok());
    first = *ReadFileToString(file);
  }
  TokenStore again(db_.get());
  ASSERT_TRUE(again.Load().ok());
  ASSERT_TRUE(again.EnsureAdminToken(file).ok());
  EXPECT_EQ(*ReadFileToString(file), first);
  first.pop_back();
  EXPECT_TRUE(again.Authenticate(first).has_value());

  std::filesystem::remove(file);
  ASSERT_TRUE(again.EnsureAdminToken(file).ok());
  EXPECT_FALSE(again.Authenticate(first).has_value()) << "old admin secret must stop working";
  EXPECT_EQ(again.size(), 1u);
}

TEST_F(TokenStoreTest, CreateListRemove) {
  TokenStore store(db_.get());
  auto created = store.Create("ci", false);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(store.Authenticate(created->second).has_value());
  EXPECT_EQ(store.Create("ci", true).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store.Create("bad name", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Create("..", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store.Create("..dots.ok", false).ok());
  ASSERT_TRUE(store.Remove("..dots.ok").ok());
  EXPECT_EQ(store.Create(std::string(65, 'a'), false).status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_EQ(store.List().size(), 1u);
  EXPECT_EQ(store.List()[0].name, "ci");

  // Persisted: a new store over the same database sees it.
  TokenStore reloaded(db_.get());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_TRUE(reloaded.Authenticate(created->second).has_value());

  ASSERT_TRUE(store.Remove("ci").ok());
  EXPECT_FALSE(store.Authenticate(created->second).has_value());
  EXPECT_EQ(store.Remove("ci").code(), StatusCode::kNotFound);
  EXPECT_EQ(store.Remove("admin").code(), StatusCode::kFailedPrecondition);
}

TEST_F(TokenStoreTest, OnlyHashesAreStored) {
  TokenStore store(db_.get());
  auto created = store.Create("ci", false);
  ASSERT_TRUE(created.ok());
  bool secret_found = false;
  ASSERT_TRUE(db_->Query("SELECT sha256 FROM api_tokens", {},
                         [&](const StateDb::Row& r) {
                           secret_found |= std::get<std::string>(r[0]) == created->second;
                           EXPECT_EQ(std::get<std::string>(r[0]), Sha256Hex(created->second));
                         })
                  .ok());
  EXPECT_FALSE(secret_found);
}

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace paddock
