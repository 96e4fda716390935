// Checkout: target preconditions, the whole-file cache, placement methods (reflink / hardlink /
// copy), modes, and cache eviction.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "storage/checkout.h"
#include "storage/objects.h"
#include "storage/snapshot.h"
#include "tests/unit/storage_fsio_test_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

using testing::MakeTestDir;
using testing::OpenTestStore;
using testing::RandomBytes;
using testing::Stopwatch;
using testing::WriteTestFile;

class CheckoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_.Join("store/packs"));
    MakeTestDir(data_);
    MakeTestDir(data_ + "/sub");
    WriteTestFile(data_ + "/a.txt", RandomBytes(200'000, 1));
    WriteTestFile(data_ + "/sub/run.sh", "#!/bin/sh\necho hi\n", 0755);
    WriteTestFile(data_ + "/sub/same.txt", RandomBytes(200'000, 1));  // a.txt's twin
    WriteTestFile(data_ + "/empty", "");
    ASSERT_EQ(::symlink("sub/run.sh", (data_ + "/link").c_str()), 0);
    Result<SnapshotResult> snap = SnapshotDirectory(store_.get(), data_, {});
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    root_ = snap->root;
  }

  CheckoutOptions Options(bool read_only) const {
    CheckoutOptions options;
    options.file_cache_dir = cache_;
    options.read_only_view = read_only;
    return options;
  }

  Result<CheckoutResult> Checkout(const std::string& target, bool read_only) {
    return CheckoutTree(*store_, root_, target, Options(read_only));
  }

  // Inode numbers of every regular file in the cache.
  std::set<ino_t> CacheInodes() {
    std::set<ino_t> inodes;
    for (const auto& e : std::filesystem::directory_iterator(cache_)) {
      struct stat st;
      if (::lstat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) inodes.insert(st.st_ino);
    }
    return inodes;
  }

  TempDir dir_;
  const std::string data_ = dir_.Join("data");
  const std::string cache_ = dir_.Join("store/files");
  std::unique_ptr<PackStore> store_;
  ObjectId root_;
};

TEST_F(CheckoutTest, TargetMustBeAbsentOrEmpty) {
  MakeTestDir(dir_.Join("empty-target"));
  EXPECT_TRUE(Checkout(dir_.Join("empty-target"), false).ok());

  MakeTestDir(dir_.Join("busy"));
  WriteTestFile(dir_.Join("busy/x"), "x");
  EXPECT_EQ(Checkout(dir_.Join("busy"), false).status().code(), StatusCode::kFailedPrecondition);

  WriteTestFile(dir_.Join("file"), "x");
  EXPECT_EQ(Checkout(dir_.Join("file"), false).status().code(), StatusCode::kFailedPrecondition);

  ASSERT_EQ(::symlink(dir_.Join("empty-dir-2").c_str(), dir_.Join("symlink").c_str()), 0);
  MakeTestDir(dir_.Join("empty-dir-2"));
  EXPECT_EQ(Checkout(dir_.Join("symlink"), false).status().code(), StatusCode::kFailedPrecondition);

  EXPECT_EQ(Checkout(dir_.Join("no/parent"), false).status().code(), StatusCode::kNotFound);
}

TEST_F(CheckoutTest, ContentModesAndSymlinksAreReproduced) {
  ASSERT_TRUE(Checkout(dir_.Join("out"), false).ok());
  EXPECT_EQ(testing::WalkTree(dir_.Join("out")), testing::WalkTree(data_));
}

TEST_F(CheckoutTest, CacheFilesAreReadOnlyOnePerFileIdAndNoTemporariesRemain) {
  Result<CheckoutResult> r = Checkout(dir_.Join("out"), false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 4u);
  EXPECT_EQ(r->cache_files_added, 2u);  // a.txt and its twin share one; the empty file needs none
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(cache_)) {
    names.insert(e.path().filename());
    struct stat st;
    ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0444u) << e.path();
  }
  const Tree tree = DecodeTree(store_->Get(root_)->data).value();
  EXPECT_TRUE(names.contains(tree.entries[0].id.ToHex()));  // a.txt
  EXPECT_EQ(names.size(), 2u);
}

TEST_F(CheckoutTest, ReadOnlyViewLinksFromTheCacheAndTheSecondCheckoutIsCheap) {
  Result<CheckoutResult> first = Checkout(dir_.Join("view1"), true);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->cache_files_added, 2u);
  EXPECT_EQ(first->copied, 0u);
  EXPECT_EQ(first->reflinked + first->hardlinked, 3u);

  Stopwatch watch;
  Result<CheckoutResult> second = Checkout(dir_.Join("view2"), true);
  const double seconds = watch.Seconds();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->cache_files_added, 0u);
  EXPECT_EQ(second->cache_files_added + second->copied, 0u);
  EXPECT_EQ(second->reflinked + second->hardlinked, 3u);
  std::printf("[ figures ] second read-only checkout: %.1f ms (%llu hardlinked, %llu reflinked)\n",
              seconds * 1e3, static_cast<unsigned long long>(second->hardlinked),
              static_cast<unsigned long long>(second->reflinked));

  struct stat st;
  ASSERT_EQ(::lstat(dir_.Join("view2/a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  ASSERT_EQ(::lstat(dir_.Join("view2/sub/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_EQ(testing::WalkTree(dir_.Join("view2")).at("sub/run.sh").data, "#!/bin/sh\necho hi\n");
}

TEST_F(CheckoutTest, WritableCheckoutNeverSharesAnInodeWithTheCache) {
  for (const char* name : {"w1", "w2"}) {
    Result<CheckoutResult> r = Checkout(dir_.Join(name), false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->hardlinked, 0u);
    EXPECT_EQ(r->copied + r->reflinked, 3u);
  }
  const std::set<ino_t> cache = CacheInodes();
  for (const char* file : {"w2/a.txt", "w2/sub/run.sh", "w2/sub/same.txt"}) {
    struct stat st;
    ASSERT_EQ(::lstat(dir_.Join(file).c_str(), &st), 0);
    EXPECT_FALSE(cache.contains(st.st_ino)) << file;
    EXPECT_EQ(st.st_nlink, 1u) << file;
  }
  // Writing into the checkout leaves the cache (and the next checkout) intact.
  WriteTestFile(dir_.Join("w2/a.txt"), "scribbled", 0644);
  ASSERT_TRUE(Checkout(dir_.Join("w3"), false).ok());
  EXPECT_EQ(testing::WalkTree(dir_.Join("w3")), testing::WalkTree(data_));
}

TEST_F(CheckoutTest, DamagedCacheFileOfTheWrongSizeIsReplaced) {
  ASSERT_TRUE(Checkout(dir_.Join("out1"), false).ok());
  const Tree tree = DecodeTree(store_->Get(root_)->data).value();
  const std::string cached = cache_ + "/" + tree.entries[0].id.ToHex();
  ASSERT_EQ(::chmod(cached.c_str(), 0644), 0);
  ASSERT_EQ(::truncate(cached.c_str(), 10), 0);
  Result<CheckoutResult> r = Checkout(dir_.Join("out2"), false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->cache_files_added, 1u);
  EXPECT_EQ(testing::WalkTree(dir_.Join("out2")), testing::WalkTree(data_));
}

TEST_F(CheckoutTest, EvictFileCacheKeepsOnlyTheGivenIds) {
  ASSERT_TRUE(Checkout(dir_.Join("view"), true).ok());
  const Tree tree = DecodeTree(store_->Get(root_)->data).value();
  const ObjectId kept = tree.entries[0].id;  // a.txt
  WriteTestFile(cache_ + "/.tmp-leftover-123456", "partial");
  WriteTestFile(cache_ + "/README", "not ours");
  Result<uint64_t> removed = EvictFileCache(cache_, {kept});
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 3u);  // run.sh, its executable variant, the temporary
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(cache_))
    names.insert(e.path().filename());
  EXPECT_EQ(names, (std::set<std::string>{kept.ToHex(), "README"}));
  // The view made before eviction still has its files (hardlinks keep the data).
  EXPECT_EQ(testing::WalkTree(dir_.Join("view")).at("sub/run.sh").data, "#!/bin/sh\necho hi\n");
}

TEST_F(CheckoutTest, CheckoutOfAMissingTreeFailsCleanly) {
  EXPECT_EQ(CheckoutTree(*store_, ObjectId::Hash("nothing"), dir_.Join("out"), Options(false))
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_EQ(CheckoutTree(*store_, root_, dir_.Join("out2"), CheckoutOptions{}).status().code(),
            StatusCode::kInvalidArgument);
}

// Reflinks need a file system that clones (XFS with reflink=1, btrfs); /tmp rarely is one. Set
// PADDOCK_REFLINK_TEST_DIR to a directory on such a file system to run this test.
TEST_F(CheckoutTest, ReflinksWhereTheFileSystemClones) {
  const char* base = std::getenv("PADDOCK_REFLINK_TEST_DIR");
  if (base == nullptr) GTEST_SKIP() << "PADDOCK_REFLINK_TEST_DIR not set";
  const std::string root = std::string(base) + "/checkout-" + std::to_string(::getpid());
  MakeTestDir(root);
  CheckoutOptions options = Options(/*read_only=*/false);
  options.file_cache_dir = root + "/files";
  Result<CheckoutResult> writable = CheckoutTree(*store_, root_, root + "/w", options);
  options.read_only_view = true;
  Result<CheckoutResult> view = CheckoutTree(*store_, root_, root + "/v", options);
  ASSERT_TRUE(writable.ok()) << writable.status().ToString();
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(writable->reflinked, 3u);
  EXPECT_EQ(view->reflinked, 3u);
  EXPECT_EQ(testing::WalkTree(root + "/w"), testing::WalkTree(data_));
  struct stat st;
  ASSERT_EQ(::lstat((root + "/v/sub/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_EQ(st.st_nlink, 1u);
  std::filesystem::remove_all(root);
}

TEST_F(CheckoutTest, TimingOfAFirstAndSecondCheckoutOfManyFiles) {
  const std::string many = dir_.Join("many");
  MakeTestDir(many);
  for (int d = 0; d < 20; ++d) {
    MakeTestDir(many + "/d" + std::to_string(d));
    for (int f = 0; f < 100; ++f) {
      WriteTestFile(many + "/d" + std::to_string(d) + "/f" + std::to_string(f),
                    RandomBytes(2000, d * 100 + f));
    }
  }
  Result<SnapshotResult> snap = SnapshotDirectory(store_.get(), many, {});
  ASSERT_TRUE(snap.ok());
  CheckoutOptions options = Options(/*read_only=*/true);
  Stopwatch first_watch;
  Result<CheckoutResult> first = CheckoutTree(*store_, snap->root, dir_.Join("c1"), options);
  const double first_seconds = first_watch.Seconds();
  Stopwatch second_watch;
  Result<CheckoutResult> second = CheckoutTree(*store_, snap->root, dir_.Join("c2"), options);
  const double second_seconds = second_watch.Seconds();
  ASSERT_TRUE(first.ok() && second.ok());
  options.read_only_view = false;
  Stopwatch writable_watch;
  Result<CheckoutResult> writable = CheckoutTree(*store_, snap->root, dir_.Join("c3"), options);
  const double writable_seconds = writable_watch.Seconds();
  ASSERT_TRUE(writable.ok());
  std::printf(
      "[ figures ] checkout of 2,000 files: first (fills cache) %.3f s, second read-only "
      "view %.3f s, writable %.3f s (%llu copied, %llu reflinked)\n",
      first_seconds, second_seconds, writable_seconds,
      static_cast<unsigned long long>(writable->copied),
      static_cast<unsigned long long>(writable->reflinked));
  EXPECT_EQ(second->cache_files_added, 0u);
}

}  // namespace
}  // namespace paddock::storage
