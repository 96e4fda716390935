// The store facade under pressure: concurrent writers on one branch, garbage collection during
// commits, a writer killed at random moments, a damaged pack, a full disk, deduplication of a big
// file; and the speed figures the product documents.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/file_io.h"
#include "storage/pack_format.h"
#include "storage/pack_store.h"
#include "storage/store.h"
#include "tests/unit/storage_fsio_test_util.h"
#include "tests/unit/storage_store_fixture.h"

namespace paddock::storage {
namespace {

using testing::FileMap;
using testing::MegabytesPerSecond;
using testing::RandomBytes;
using testing::Stopwatch;
using testing::StoreTest;
using testing::WalkTree;
using testing::WriteFileMap;
using testing::WriteTestFile;

// Every commit on the first-parent line from `rev`, newest first.
std::vector<ObjectId> FirstParentChain(Store& store, const std::string& rev) {
  std::vector<ObjectId> chain;
  Result<CommitInfo> at = store.Show("data", rev);
  while (at.ok()) {
    chain.push_back(at->id);
    if (at->commit.parents.empty()) break;
    at = store.Show("data", at->commit.parents[0].ToHex());
  }
  EXPECT_TRUE(at.ok()) << at.status().ToString();
  return chain;
}

void ExpectFsckClean(Store& store) {
  Result<FsckReport> report = store.Fsck();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  for (const FsckProblem& p : report->problems) ADD_FAILURE() << p.ToString();
}

TEST_F(StoreTest, ConcurrentCommitsOntoOneBranchAreNeverLost) {
  constexpr int kThreads = 4;
  constexpr int kCommits = 10;
  std::vector<std::vector<ObjectId>> made(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string dir = tmp_.Join("writer" + std::to_string(t));
      ASSERT_TRUE(MakeDirectories(dir, 0755).ok());
      for (int i = 0; i < kCommits; ++i) {
        WriteTestFile(dir + "/f" + std::to_string(i), "writer " + std::to_string(t));
        Result<CommitOutcome> r = store_->CommitDirectory(Request("c"), dir, nullptr);
        if (!r.ok() || !r->changed) {
          ++failures;
          ADD_FAILURE() << r.status().ToString();
          continue;
        }
        made[t].push_back(r->commit);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const std::vector<ObjectId> chain = FirstParentChain(*store_, "main");
  EXPECT_EQ(chain.size(), size_t{kThreads * kCommits});
  const std::set<ObjectId> on_chain(chain.begin(), chain.end());
  for (int t = 0; t < kThreads; ++t) {
    // Each writer's commits are on the line, in the order it made them.
    size_t last = chain.size();
    for (const ObjectId& id : made[t]) {
      const size_t at = std::find(chain.begin(), chain.end(), id) - chain.begin();
      ASSERT_LT(at, chain.size()) << "commit of writer " << t << " lost";
      EXPECT_LT(at, last);
      last = at;
    }
  }
}

TEST_F(StoreTest, WithAnExpectedParentExactlyOneConcurrentWriterWins) {
  const ObjectId head = CommitFiles({{"base", "0"}});
  constexpr int kThreads = 4;
  std::vector<std::string> dirs;
  for (int t = 0; t < kThreads; ++t) {
    dirs.push_back(tmp_.Join("racer" + std::to_string(t)));
    WriteFileMap(dirs.back(), {{"base", "0"}, {"mine", std::to_string(t)}});
  }
  std::atomic<bool> go{false};
  std::vector<StatusCode> codes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      CommitRequest request = Request("race");
      request.expected_parent = head;
      while (!go.load()) std::this_thread::yield();
      codes[t] = store_->CommitDirectory(request, dirs[t], nullptr).status().code();
    });
  }
  go = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(std::count(codes.begin(), codes.end(), StatusCode::kOk), 1);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), StatusCode::kConflict), kThreads - 1);
  EXPECT_EQ(FirstParentChain(*store_, "main").size(), 2u);
}

TEST_F(StoreTest, GcDuringCommitsNeverDeletesReachableData) {
  StoreOptions options = SmallOptions();
  options.gc_grace = std::chrono::milliseconds(1000);
  options.pack_size_limit = 256 << 10;  // many packs, so collections have work to do
  OpenStore(options);
  const std::string live = tmp_.Join("live");
  ASSERT_TRUE(MakeDirectories(live, 0755).ok());
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reclaimed{0}, runs{0};
  std::thread collector([&] {
    while (!done.load()) {
      Result<GcReport> report = store_->Gc(false);
      EXPECT_TRUE(report.ok()) << report.status().ToString();
      if (report.ok()) reclaimed += report->objects_reclaimed;
      ++runs;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  for (int i = 0; i < 24; ++i) {
    WriteTestFile(live + "/f" + std::to_string(i % 6), RandomBytes(60'000 + 1000 * i, i));
    MustCommit(live, "live " + std::to_string(i));
    if (i % 3 != 0) continue;
    // A side branch deleted at once: its data becomes garbage after the grace period.
    const std::string side = tmp_.Join("side" + std::to_string(i));
    // Bigger than a pack, so that whole packs hold nothing but garbage.
    WriteFileMap(side, {{"junk", RandomBytes(700'000, 1000 + i)}});
    MustCommit(side, "side", "side" + std::to_string(i));
    ASSERT_TRUE(store_->DeleteBranch(kRepo, "side" + std::to_string(i)).ok());
  }
  std::this_thread::sleep_for(options.gc_grace + std::chrono::milliseconds(200));
  done = true;
  collector.join();
  Result<GcReport> last = store_->Gc(false);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  reclaimed += last->objects_reclaimed;
  std::printf(
      "gc during commits: %llu collections, %llu objects reclaimed (last: %llu packs deleted, "
      "%llu rewritten, %llu in use, %llu dead objects kept)\n",
      static_cast<unsigned long long>(runs.load() + 1),
      static_cast<unsigned long long>(reclaimed.load()),
      static_cast<unsigned long long>(last->packs_deleted),
      static_cast<unsigned long long>(last->packs_rewritten),
      static_cast<unsigned long long>(last->packs_in_use),
      static_cast<unsigned long long>(last->objects_dead_kept));
  EXPECT_GT(reclaimed.load(), 0u);
  ExpectFsckClean(*store_);
  Result<std::vector<CommitInfo>> log = store_->Log(kRepo, "main", 0);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 24u);
  for (const CommitInfo& info : *log) {
    Result<std::vector<ListEntry>> listed = store_->List(kRepo, info.id.ToHex(), "", true);
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    EXPECT_EQ(CheckoutAndWalk(info.id.ToHex()).size(), listed->size()) << info.commit.message;
  }
  EXPECT_EQ(CheckoutAndWalk("main"), WalkTree(live));
}

TEST_F(StoreTest, GcReclaimsDeletedBranchesAndTheirCheckoutCache) {
  StoreOptions options = SmallOptions();
  options.gc_grace = std::chrono::milliseconds(0);
  OpenStore(options);
  CommitFiles({{"kept", RandomBytes(200'000, 1)}});
  CommitFiles({{"kept", RandomBytes(200'000, 1)}, {"dropped", RandomBytes(300'000, 2)}}, "tmp");
  const ObjectId dropped = store_->Stat(kRepo, "tmp", "dropped")->id;
  const ObjectId kept = store_->Stat(kRepo, "main", "kept")->id;
  CheckoutAndWalk("tmp");  // both files now in the checkout cache
  const std::string files = StoreDir() + "/files/";
  ASSERT_EQ(::access((files + dropped.ToHex()).c_str(), F_OK), 0);
  ASSERT_TRUE(store_->DeleteBranch(kRepo, "tmp").ok());

  Result<GcReport> dry = store_->Gc(true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_GT(dry->objects_reclaimed, 0u);
  EXPECT_EQ(::access((files + dropped.ToHex()).c_str(), F_OK), 0);  // a dry run changes nothing
  Result<GcReport> report = store_->Gc(false);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->objects_reclaimed, 0u);
  EXPECT_GT(report->bytes_reclaimed, 250'000u);
  EXPECT_NE(::access((files + dropped.ToHex()).c_str(), F_OK), 0);
  EXPECT_EQ(::access((files + kept.ToHex()).c_str(), F_OK), 0);
  ExpectFsckClean(*store_);
  EXPECT_EQ(CheckoutAndWalk("main").size(), 1u);
}

// The child of the crash test: commits `work` over and over, reporting each acknowledged commit
// id on `report_fd`. Plain code only (no test assertions): it dies by SIGKILL.
[[noreturn]] void CommitUntilKilled(const std::string& store_dir, const std::string& work,
                                    int trial, int report_fd) {
  StoreOptions options;
  options.threads = 2;
  Result<std::unique_ptr<Store>> store = Store::Open(store_dir, options);
  if (!store.ok()) {
    dprintf(report_fd, "E %s\n", store.status().ToString().c_str());
    _exit(2);
  }
  for (int i = 0;; ++i) {
    const std::string name = work + "/f" + std::to_string(i % 8);
    const std::string content = RandomBytes(100'000 + 7919 * (i % 13), trial * 100'000 + i);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !WriteAll(fd, content).ok()) _exit(3);
    ::close(fd);
    CommitRequest request;
    request.repo = "data";
    request.message = "trial " + std::to_string(trial) + " commit " + std::to_string(i);
    Result<CommitOutcome> done = (*store)->CommitDirectory(request, work, nullptr);
    if (!done.ok()) {
      dprintf(report_fd, "E %s\n", done.status().ToString().c_str());
      _exit(2);
    }
    dprintf(report_fd, "%s\n", done->commit.ToHex().c_str());
  }
}

std::vector<std::string> ReadLines(int fd) {
  std::string all;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    all.append(buffer, static_cast<size_t>(n));
  }
  std::vector<std::string> lines;
  for (size_t at = 0; at < all.size();) {
    const size_t end = all.find('\n', at);
    if (end == std::string::npos) break;  // a torn last line was never acknowledged
    lines.push_back(all.substr(at, end - at));
    at = end + 1;
  }
  return lines;
}

class StoreCrashTest : public StoreTest {
 protected:
  // After a kill: every acknowledged commit is on main's history, and main checks out fully.
  void ExpectAcknowledgedCommitsReachable(const std::set<std::string>& acknowledged) {
    Result<std::vector<CommitInfo>> log = store_->Log(kRepo, "main", 0);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    std::set<std::string> reachable;
    for (const CommitInfo& info : *log) reachable.insert(info.id.ToHex());
    for (const std::string& id : acknowledged) EXPECT_TRUE(reachable.contains(id)) << id;
    const testing::WalkedTree head = CheckoutAndWalk("main");
    Result<std::vector<ListEntry>> listed = store_->List(kRepo, "main", "", true);
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    EXPECT_EQ(head.size(), listed->size());
  }
};

TEST_F(StoreCrashTest, WriterKilledAtRandomMomentsLosesNothingAcknowledged) {
  store_.reset();  // one process at a time: the children open it
  const std::string work = tmp_.Join("work");
  ASSERT_TRUE(MakeDirectories(work, 0755).ok());
  std::mt19937_64 rng(20240611);
  std::set<std::string> acknowledged;
  constexpr int kTrials = 12;
  for (int trial = 0; trial < kTrials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      CommitUntilKilled(StoreDir(), work, trial, fds[1]);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 900));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status)) << "child ended by itself, status " << status;
    for (const std::string& line : ReadLines(fds[0])) {
      ASSERT_FALSE(line.starts_with("E ")) << line;
      acknowledged.insert(line);
    }
    ::close(fds[0]);

    OpenStore();
    ExpectFsckClean(*store_);
    if (!acknowledged.empty()) ExpectAcknowledgedCommitsReachable(acknowledged);
    store_.reset();  // before the next child opens it
  }
  std::printf("crash test: %d kills, %zu acknowledged commits, all reachable\n", kTrials,
              acknowledged.size());
  EXPECT_GT(acknowledged.size(), 0u);
}

TEST_F(StoreTest, FsckNamesTheDamagedObjectAndAPathUsingIt) {
  CommitFiles({{"data/model.raw", RandomBytes(300'000, 9)}, {"other", "x"}});
  const ObjectId file_id = store_->Stat(kRepo, "main", "data/model.raw")->id;
  store_.reset();
  ObjectId chunk;
  std::string pack_path;
  uint64_t flip_at = 0;
  {
    PackStoreOptions read_only;
    read_only.read_only = true;
    std::unique_ptr<PackStore> packs = PackStore::Open(StoreDir() + "/packs", read_only).value();
    chunk = GetFileObject(*packs, file_id)->chunks.at(1).id;
    const ObjectLocation where = packs->Locate(chunk).value();
    for (const PackInfo& info : packs->ListPacks()) {
      if (info.sequence == where.pack_sequence) pack_path = StoreDir() + "/packs/" + info.name;
    }
    flip_at = where.entry.offset + kEntryHeaderSize + where.entry.stored_length / 2;
  }
  {
    UniqueFd fd(::open(pack_path.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(fd);
    char byte = 0;
    ASSERT_EQ(::pread(fd.get(), &byte, 1, static_cast<off_t>(flip_at)), 1);
    byte = static_cast<char>(byte ^ 0x01);
    ASSERT_EQ(::pwrite(fd.get(), &byte, 1, static_cast<off_t>(flip_at)), 1);
  }
  OpenStore();
  Result<FsckReport> report = store_->Fsck();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->problems.size(), 1u);
  const FsckProblem& problem = report->problems[0];
  std::printf("fsck: %s\n", problem.ToString().c_str());
  EXPECT_EQ(problem.id, chunk);
  EXPECT_EQ(problem.kind, FsckProblem::Kind::kCorrupt);
  ASSERT_FALSE(problem.paths.empty());
  EXPECT_TRUE(problem.paths[0].ends_with(": data/model.raw")) << problem.paths[0];
  EXPECT_NE(problem.ToString().find(chunk.ToHex()), std::string::npos);
}

// Unmounts what a test mounted, however it ends.
class ScopedMount {
 public:
  explicit ScopedMount(std::string path) : path_(std::move(path)) {}
  ~ScopedMount() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool Mount(const char* options) {
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, options) == 0;
    return mounted_;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

TEST_F(StoreTest, FullDiskFailsTheCommitAndLeavesEverythingUsable) {
  const std::string mount_point = tmp_.Join("small");
  ASSERT_TRUE(MakeDirectories(mount_point, 0755).ok());
  ScopedMount mount(mount_point);
  if (::geteuid() != 0 || !mount.Mount("size=4m")) {
    std::printf("SKIP: mounting a 4 MiB tmpfs needs root (CAP_SYS_ADMIN)\n");
    GTEST_SKIP() << "cannot mount a tmpfs here";
  }
  const std::string dir = mount_point + "/store";
  const std::string ballast = mount_point + "/ballast";
  WriteTestFile(ballast, RandomBytes(1 << 20, 1));
  std::unique_ptr<Store> full = Store::Open(dir, SmallOptions()).value();
  ASSERT_TRUE(full->CreateRepo(kRepo).ok());
  const std::string small = tmp_.Join("small-src");
  WriteFileMap(small, {{"a", "a small file"}});
  const ObjectId before = full->CommitDirectory(Request("small"), small, nullptr)->commit;

  const std::string big = tmp_.Join("big-src");
  FileMap big_files;
  for (int i = 0; i < 4; ++i) big_files["part" + std::to_string(i)] = RandomBytes(4 << 20, 50 + i);
  WriteFileMap(big, big_files);
  Result<CommitOutcome> failed = full->CommitDirectory(Request("too big"), big, nullptr);
  ASSERT_EQ(failed.status().code(), StatusCode::kResourceExhausted) << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("is full"), std::string::npos);
  std::printf("disk full: %s\n", failed.status().ToString().c_str());
  EXPECT_EQ(full->Resolve(kRepo, "main").value(), before);

  full.reset();
  full = Store::Open(dir, SmallOptions()).value();
  EXPECT_EQ(full->Resolve(kRepo, "main").value(), before);
  ExpectFsckClean(*full);
  ASSERT_EQ(::unlink(ballast.c_str()), 0);
  WriteFileMap(small + "2", {{"a", "a small file"}, {"b", "and one more"}});
  Result<CommitOutcome> later = full->CommitDirectory(Request("after"), small + "2", nullptr);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_TRUE(later->changed);
  ExpectFsckClean(*full);
}

TEST_F(StoreTest, OneMebibyteChangedInABigFileStoresLittleNew) {
  constexpr size_t kSize = 256 << 20;
  const std::string dir = tmp_.Join("model");
  ASSERT_TRUE(MakeDirectories(dir, 0755).ok());
  const std::string path = dir + "/weights.bin";
  WriteTestFile(path, RandomBytes(kSize, 5));
  Stopwatch first_clock;
  const CommitOutcome first = MustCommit(dir, "weights");
  const double first_seconds = first_clock.Seconds();

  const std::string patch = RandomBytes(1 << 20, 6);
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_EQ(::pwrite(fd.get(), patch.data(), patch.size(), kSize / 2 - 4321),
              static_cast<ssize_t>(patch.size()));
  }
  Stopwatch second_clock;
  const CommitOutcome second = MustCommit(dir, "fine-tuned");
  const double second_seconds = second_clock.Seconds();
  ASSERT_TRUE(second.changed);
  std::printf(
      "dedup: 256 MiB file, 1 MiB overwritten: %.2f MiB new (first commit stored %.1f MiB in "
      "%.2f s = %.0f MiB/s; re-commit %.2f s)\n",
      second.snapshot.bytes_stored / 1048576.0, first.snapshot.bytes_stored / 1048576.0,
      first_seconds, MegabytesPerSecond(kSize, first_seconds), second_seconds);
  EXPECT_LT(second.snapshot.bytes_stored, 5u << 20);
  EXPECT_GE(second.snapshot.bytes_stored, 1u << 20);
  std::string around;
  ASSERT_TRUE(store_
                  ->Cat(kRepo, "main", "weights.bin", kSize / 2 - 4321, patch.size(),
                        [&](std::string_view piece) {
                          around.append(piece);
                          return Status::Ok();
                        })
                  .ok());
  EXPECT_TRUE(around == patch);
}

// The figures docs and release notes quote; the assertions only keep them honest.
TEST_F(StoreTest, SpeedFigures) {
  const std::string dir = tmp_.Join("dataset");
  FileMap files;
  for (int i = 0; i < 400; ++i)
    files["shard" + std::to_string(i / 50) + "/rec" + std::to_string(i)] =
        RandomBytes(100'000 + (i % 7) * 10'000, 100 + i);
  for (int i = 0; i < 4; ++i) files["big" + std::to_string(i) + ".raw"] = RandomBytes(8 << 20, i);
  WriteFileMap(dir, files);
  uint64_t total = 0;
  for (const auto& [path, content] : files) {
    total += content.size();
    testing::SetMtimeSecondsAgo(dir + "/" + path, 60);  // not racily clean: the cache may answer
  }
  Stopwatch commit_clock;
  const CommitOutcome first = MustCommit(dir, "dataset");
  const double commit_s = commit_clock.Seconds();
  Stopwatch recommit_clock;
  const CommitOutcome again = MustCommit(dir, "unchanged");
  const double recommit_s = recommit_clock.Seconds();
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.snapshot.files_hashed, 0u);

  auto timed_checkout = [&](const std::string& name, bool read_only) {
    Stopwatch clock;
    Result<CheckoutResult> r = store_->Checkout(kRepo, "main", tmp_.Join(name), read_only, nullptr);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::make_pair(clock.Seconds(), r.ok() ? *r : CheckoutResult{});
  };
  const auto [cold_s, cold] = timed_checkout("cold", false);
  const auto [warm_s, warm] = timed_checkout("warm", false);
  const auto [view_s, view] = timed_checkout("view", true);
  EXPECT_EQ(cold.cache_files_added, files.size());
  EXPECT_EQ(warm.cache_files_added, 0u);
  std::printf(
      "figures (%zu files, %.1f MiB): commit %.2f s = %.0f MiB/s; unchanged re-commit %.3f s; "
      "checkout cold %.2f s (%llu copied, %llu reflinked), warm %.2f s, read-only view %.3f s "
      "(%llu hardlinked)\n",
      files.size(), total / 1048576.0, commit_s, MegabytesPerSecond(total, commit_s), recommit_s,
      cold_s, static_cast<unsigned long long>(cold.copied),
      static_cast<unsigned long long>(cold.reflinked), warm_s, view_s,
      static_cast<unsigned long long>(view.hardlinked));
  EXPECT_EQ(first.snapshot.files, files.size());
}

}  // namespace
}  // namespace paddock::storage
