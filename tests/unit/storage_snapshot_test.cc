// Snapshots: random trees survive snapshot -> checkout byte- and mode-identical; the stat cache
// spares unchanged files (and still re-reads racily clean or vanished ones); special files are
// skipped with warnings; symlinks are never followed; permissions are the caller's.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "base/unique_fd.h"
#include "storage/checkout.h"
#include "storage/objects.h"
#include "storage/snapshot.h"
#include "storage/stat_cache.h"
#include "tests/unit/storage_fsio_test_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

using testing::MakeTestDir;
using testing::MegabytesPerSecond;
using testing::OpenTestStore;
using testing::RandomBytes;
using testing::RandomTreeBuilder;
using testing::SetMtimeSecondsAgo;
using testing::Stopwatch;
using testing::WalkTree;
using testing::WriteTestFile;

// Files written less than one tick of the file system clock before a snapshot are racily clean
// and read again by the next one; the tests that count re-reads let the clock move on first.
void LetTheFileClockTick() { std::this_thread::sleep_for(std::chrono::milliseconds(30)); }

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_.Join("store/packs"));
    MakeTestDir(data_);
  }

  SnapshotResult Snapshot(const std::string& dir, bool use_cache = true) {
    SnapshotOptions options;
    if (use_cache) options.stat_cache_dir = dir_.Join("store/statcache");
    Result<SnapshotResult> r = SnapshotDirectory(store_.get(), dir, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : SnapshotResult{};
  }

  CheckoutResult Checkout(const ObjectId& root, const std::string& target, bool read_only) {
    CheckoutOptions options;
    options.file_cache_dir = dir_.Join("store/files");
    options.read_only_view = read_only;
    Result<CheckoutResult> r = CheckoutTree(*store_, root, target, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CheckoutResult{};
  }

  TempDir dir_;
  const std::string data_ = dir_.Join("data");
  std::unique_ptr<PackStore> store_;
};

TEST_F(SnapshotTest, RandomTreesRoundTripThroughCheckoutIdentically) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const std::string source = dir_.Join("src" + std::to_string(seed));
    MakeTestDir(source);
    RandomTreeBuilder(seed).Build(source, 4);
    const SnapshotResult snap = Snapshot(source);
    EXPECT_TRUE(snap.warnings.empty());

    const testing::WalkedTree expected = WalkTree(source);
    const std::string writable = dir_.Join("out" + std::to_string(seed));
    const CheckoutResult out = Checkout(snap.root, writable, /*read_only=*/false);
    EXPECT_EQ(WalkTree(writable), expected);
    EXPECT_EQ(out.files, snap.files);
    EXPECT_EQ(out.symlinks, snap.symlinks);
    EXPECT_EQ(out.directories, snap.directories);

    // A read-only view has the same content; files are read-only, exec bits kept.
    const std::string view = dir_.Join("view" + std::to_string(seed));
    Checkout(snap.root, view, /*read_only=*/true);
    testing::WalkedTree expected_view = expected;
    for (auto& [path, entry] : expected_view) {
      if (entry.type == 'f') entry.mode = (entry.mode & 0100) ? 0555 : 0444;
    }
    EXPECT_EQ(WalkTree(view), expected_view);

    // Committing the checkout gives back the same root.
    EXPECT_EQ(Snapshot(writable).root, snap.root);
  }
}

TEST_F(SnapshotTest, EmptyDirectoriesAndEmptyFilesAreKept) {
  MakeTestDir(data_ + "/empty");
  MakeTestDir(data_ + "/a");
  MakeTestDir(data_ + "/a/b");
  WriteTestFile(data_ + "/a/b/zero", "");
  const SnapshotResult snap = Snapshot(data_);
  EXPECT_EQ(snap.directories, 4u);
  EXPECT_EQ(snap.files, 1u);
  const Tree root = DecodeTree(store_->Get(snap.root)->data).value();
  ASSERT_EQ(root.entries.size(), 2u);
  EXPECT_EQ(root.entries[1].name, "empty");
  EXPECT_EQ(DecodeTree(store_->Get(root.entries[1].id)->data).value(), Tree{});
}

TEST_F(SnapshotTest, UnchangedResnapshotReadsNothingAndGivesTheSameRoot) {
  RandomTreeBuilder(42).Build(data_, 3);
  LetTheFileClockTick();
  const SnapshotResult first = Snapshot(data_);
  EXPECT_EQ(first.files_hashed, first.files);
  const SnapshotResult second = Snapshot(data_);
  EXPECT_EQ(second.root, first.root);
  EXPECT_EQ(second.files, first.files);
  EXPECT_EQ(second.files_hashed, 0u);
  EXPECT_EQ(second.bytes_stored, 0u);
}

TEST_F(SnapshotTest, OnlyTheChangedFileIsReadAgain) {
  for (int i = 0; i < 20; ++i) {
    WriteTestFile(data_ + "/f" + std::to_string(i), RandomBytes(1000, i));
  }
  LetTheFileClockTick();
  const SnapshotResult first = Snapshot(data_);
  WriteTestFile(data_ + "/f7", RandomBytes(1000, 99));  // same size, new content
  LetTheFileClockTick();
  const SnapshotResult second = Snapshot(data_);
  EXPECT_NE(second.root, first.root);
  EXPECT_EQ(second.files_hashed, 1u);
  EXPECT_EQ(Snapshot(data_).files_hashed, 0u);
}

TEST_F(SnapshotTest, ChmodPlusXIsSeenWithoutReadingContent) {
  WriteTestFile(data_ + "/tool", "#!/bin/sh\n");
  LetTheFileClockTick();
  const SnapshotResult first = Snapshot(data_);
  ASSERT_EQ(::chmod((data_ + "/tool").c_str(), 0755), 0);
  const SnapshotResult second = Snapshot(data_);
  EXPECT_NE(second.root, first.root);
  const Tree tree = DecodeTree(store_->Get(second.root)->data).value();
  EXPECT_EQ(tree.entries[0].kind, EntryKind::kExecutable);
}

// Sets `path`'s mtime to exactly `seconds` since the epoch.
void SetMtime(const std::string& path, int64_t seconds) {
  const timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

TEST_F(SnapshotTest, RacilyCleanEntriesAreReadAgain) {
  // A file whose mtime is not older than the start of the snapshot that cached it may change
  // again without its stat data changing; such an entry is never trusted. A future mtime makes
  // the entry racy for every snapshot.
  const int64_t future = ::time(nullptr) + 3600;
  WriteTestFile(data_ + "/old", "old");
  WriteTestFile(data_ + "/racy", "racy");
  SetMtimeSecondsAgo(data_ + "/old", 3600);
  SetMtime(data_ + "/racy", future);
  EXPECT_EQ(Snapshot(data_).files_hashed, 2u);
  EXPECT_EQ(Snapshot(data_).files_hashed, 1u);
  EXPECT_EQ(Snapshot(data_).files_hashed, 1u);

  // The race itself: same inode, size and mtime (ctime too, when within one clock tick). The
  // new content is committed.
  WriteTestFile(data_ + "/racy", "RACY");
  SetMtime(data_ + "/racy", future);
  const SnapshotResult after = Snapshot(data_);
  const Tree tree = DecodeTree(store_->Get(after.root)->data).value();
  ASSERT_EQ(tree.entries[1].name, "racy");
  Result<FileObject> file = DecodeFile(store_->Get(tree.entries[1].id)->data);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->chunks[0].id, ObjectId::Hash("RACY"));
}

TEST_F(SnapshotTest, FileMissingFromTheStoreIsReadAgainDespiteTheCache) {
  WriteTestFile(data_ + "/a", "content");
  LetTheFileClockTick();
  Snapshot(data_);
  // Same stat cache directory, a different (empty) store: the cached id is not there.
  store_ = OpenTestStore(dir_.Join("other-packs"));
  const SnapshotResult again = Snapshot(data_);
  EXPECT_EQ(again.files_hashed, 1u);
  EXPECT_TRUE(store_->Contains(ObjectId::Hash("content")));
}

TEST_F(SnapshotTest, CorruptStatCacheIsIgnored) {
  WriteTestFile(data_ + "/a", "content");
  LetTheFileClockTick();
  const SnapshotResult first = Snapshot(data_);
  const std::string cache = StatCache::PathFor(dir_.Join("store/statcache"), data_);
  Result<std::string> bytes = ReadFileToString(cache);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[damaged.size() / 2] ^= 1;
  WriteTestFile(cache, damaged, 0600);
  const SnapshotResult second = Snapshot(data_);
  EXPECT_EQ(second.root, first.root);
  EXPECT_EQ(second.files_hashed, 1u);
}

TEST(StatCacheTest, EncodingRoundTripsAndRejectsDamage) {
  StatCacheEntry a;
  a.path = "dir/a";
  a.kind = EntryKind::kExecutable;
  a.size = 5;
  a.mtime_ns = 1;
  a.ctime_ns = 2;
  a.inode = 3;
  a.device = 4;
  a.file_id = ObjectId::Hash("a");
  StatCacheEntry b = a;
  b.path = "b\n\xff";
  const std::string bytes = StatCache::Encode(100, {a, b});
  Result<StatCache> cache = StatCache::Decode(bytes);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  EXPECT_EQ(cache->size(), 2u);
  EXPECT_EQ(cache->start_ns(), 100);
  ASSERT_NE(cache->FindUnchanged("dir/a", a), nullptr);
  EXPECT_EQ(*cache->FindUnchanged("dir/a", a), a);
  StatCacheEntry touched = a;
  touched.ctime_ns += 1;
  EXPECT_EQ(cache->FindUnchanged("dir/a", touched), nullptr);
  for (size_t cut : {size_t{0}, size_t{10}, bytes.size() - 1}) {
    EXPECT_FALSE(StatCache::Decode(bytes.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(StatCache::Decode(bytes + "x").ok());
}

TEST_F(SnapshotTest, SpecialFilesAreSkippedWithAWarning) {
  WriteTestFile(data_ + "/regular", "x");
  ASSERT_EQ(::mkfifo((data_ + "/pipe").c_str(), 0644), 0);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = data_ + "/sock";
  ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path.c_str());
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const bool can_mknod = ::mknod((data_ + "/null").c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0;

  const SnapshotResult snap = Snapshot(data_);
  EXPECT_EQ(snap.files, 1u);
  const Tree tree = DecodeTree(store_->Get(snap.root)->data).value();
  ASSERT_EQ(tree.entries.size(), 1u);
  EXPECT_EQ(tree.entries[0].name, "regular");
  std::string all;
  for (const std::string& w : snap.warnings) all += w + "\n";
  EXPECT_NE(all.find("pipe: fifo"), std::string::npos) << all;
  EXPECT_NE(all.find("sock: socket"), std::string::npos) << all;
  if (can_mknod) {
    EXPECT_NE(all.find("null: character device"), std::string::npos) << all;
  }
  EXPECT_EQ(snap.warnings.size(), can_mknod ? 3u : 2u);
}

TEST_F(SnapshotTest, SymlinksAreStoredNeverFollowed) {
  const std::string outside = dir_.Join("outside");
  MakeTestDir(outside);
  WriteTestFile(outside + "/secret", "do not commit");
  ASSERT_EQ(::symlink(outside.c_str(), (data_ + "/to-dir").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere/at/all", (data_ + "/dangling").c_str()), 0);
  const SnapshotResult snap = Snapshot(data_);
  EXPECT_EQ(snap.files, 0u);
  EXPECT_EQ(snap.symlinks, 2u);
  const Tree tree = DecodeTree(store_->Get(snap.root)->data).value();
  ASSERT_EQ(tree.entries.size(), 2u);
  EXPECT_EQ(tree.entries[0].target, "nowhere/at/all");
  EXPECT_EQ(tree.entries[1].kind, EntryKind::kSymlink);
  EXPECT_EQ(tree.entries[1].target, outside);
  EXPECT_FALSE(store_->Contains(ObjectId::Hash("do not commit")));
}

TEST_F(SnapshotTest, MissingDirectoryIsNotFound) {
  Result<SnapshotResult> r = SnapshotDirectory(store_.get(), dir_.Join("absent"), {});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

// Runs `body` in a child process that has become uid/gid 65534 (nobody) and returns what the
// child wrote to its pipe.
std::string RunAsNobody(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string message = "could not switch to nobody";
    if (::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
        ::setresuid(65534, 65534, 65534) == 0) {
      ::setfsuid(65534);
      message = body();
    }
    (void)!::write(fds[1], message.data(), message.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

TEST_F(SnapshotTest, UnreadableFileIsPermissionDeniedNamingIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  WriteTestFile(data_ + "/readable", "for everyone", 0644);
  WriteTestFile(data_ + "/secret.txt", "for root only", 0600);
  const std::string nobody_store = dir_.Join("nobody-store");
  MakeTestDir(nobody_store, 0755);
  ASSERT_EQ(::chown(nobody_store.c_str(), 65534, 65534), 0);
  store_.reset();

  const std::string reply = RunAsNobody([&] {
    Result<std::unique_ptr<PackStore>> store = PackStore::Open(nobody_store + "/packs", {});
    if (!store.ok()) return "open store: " + store.status().ToString();
    Result<SnapshotResult> r = SnapshotDirectory(store->get(), data_, {});
    return r.ok() ? std::string("snapshot succeeded") : r.status().ToString();
  });
  EXPECT_TRUE(reply.starts_with("permission_denied: ")) << reply;
  EXPECT_NE(reply.find(data_ + "/secret.txt"), std::string::npos) << reply;
}

TEST_F(SnapshotTest, ThroughputOfANewTree) {
  for (int i = 0; i < 16; ++i) {
    WriteTestFile(data_ + "/f" + std::to_string(i), RandomBytes(4u << 20, i));
  }
  Stopwatch watch;
  const SnapshotResult snap = Snapshot(data_, /*use_cache=*/false);
  const double seconds = watch.Seconds();
  std::printf("[ figures ] snapshot of 16 x 4 MiB new files: %.0f MB/s (%.2f s wall, %.2f s CPU)\n",
              MegabytesPerSecond(snap.bytes, seconds), seconds, watch.CpuSeconds());
  EXPECT_EQ(snap.files_hashed, 16u);
}

TEST_F(SnapshotTest, UnchangedResnapshotOf25000FilesCostsOnlyTheWalk) {
  constexpr int kDirs = 250, kFilesPerDir = 100;
  for (int d = 0; d < kDirs; ++d) {
    const std::string dir = data_ + "/d" + std::to_string(d);
    MakeTestDir(dir);
    for (int f = 0; f < kFilesPerDir; ++f) {
      WriteTestFile(dir + "/f" + std::to_string(f), std::to_string(d * kFilesPerDir + f));
    }
  }
  LetTheFileClockTick();
  Stopwatch first_watch;
  const SnapshotResult first = Snapshot(data_);
  const double first_seconds = first_watch.Seconds();
  Stopwatch watch;
  const SnapshotResult again = Snapshot(data_);
  const double seconds = watch.Seconds();
  std::printf(
      "[ figures ] 25,000 files: first snapshot %.3f s, unchanged re-snapshot %.3f s wall "
      "(%.3f s CPU)\n",
      first_seconds, seconds, watch.CpuSeconds());
  EXPECT_EQ(first.files, 25'000u);
  EXPECT_EQ(again.root, first.root);
  EXPECT_EQ(again.files_hashed, 0u);
}

}  // namespace
}  // namespace paddock::storage
