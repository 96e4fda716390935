// Garbage collection of the pack store: what is kept and what goes, dead and mostly dead packs,
// dry runs, the grace period, commits and reads running concurrently, and crashes at any moment.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <thread>

#include "storage/fsck.h"
#include "storage/gc.h"
#include "storage/reachability.h"
#include "tests/unit/storage_gc_fixture.h"
#include "tests/unit/storage_test_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

using testing::AgeFiles;
using testing::Chunks;
using testing::CommitWriter;
using testing::OpenStore;
using testing::PackBytesOnDisk;
using testing::PackFiles;
using testing::RandomBytes;
using testing::Stopwatch;

constexpr int kAnHour = 3600;

GcOptions Options(std::chrono::milliseconds grace, double ratio) {
  GcOptions options;
  options.grace_period = grace;
  options.repack_live_ratio = ratio;
  return options;
}

GcReport MustCollect(PackStore* store, const std::vector<ObjectId>& roots,
                     const GcOptions& options) {
  Result<GcReport> report = CollectGarbage(store, roots, options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return report.ok() ? *report : GcReport{};
}

void ExpectAllReadable(const PackStore& store, const std::set<ObjectId>& ids) {
  for (const ObjectId& id : ids) {
    Result<StoredObject> got = store.Get(id);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
  }
}

void ExpectNoneStored(const PackStore& store, const std::set<ObjectId>& ids) {
  for (const ObjectId& id : ids) EXPECT_FALSE(store.Locate(id)) << id.ToHex();
}

void ExpectFsckClean(const PackStore& store, const std::vector<ObjectId>& roots) {
  const FsckReport report = CheckStore(store, roots);
  EXPECT_TRUE(report.ok()) << report.problems.front().ToString();
}

std::set<ObjectId> Minus(std::set<ObjectId> a, const std::set<ObjectId>& b) {
  for (const ObjectId& id : b) a.erase(id);
  return a;
}

// Seals the active pack now, so that the next Put starts a new one.
void Seal(PackStore& store) {
  ASSERT_TRUE(store.SealActivePackIfUnused(std::numeric_limits<int64_t>::max()).ok());
}

TEST(GcTest, DeletesUnreachableObjectsAndKeepsEverythingReachable) {
  TempDir tmp;
  PackStoreOptions options;
  options.pack_size_limit = 64 << 10;
  std::set<ObjectId> live, abandoned;
  ObjectId head;
  {
    auto store = OpenStore(tmp.path(), options);
    CommitWriter writer(store.get());
    const Chunks a = {RandomBytes(20000, 1), RandomBytes(20000, 2)};
    const ObjectId first = writer.Commit({{"data/a.bin", a}, {"readme", {"hello"}}}, {}, &live);
    head = writer.Commit(
        {{"data/a.bin", a}, {"data/b.bin", {RandomBytes(30000, 3)}}, {"readme", {"hello"}}},
        {first}, &live);
    // An abandoned branch off the first commit: no root reaches it.
    writer.Commit({{"scratch/big.bin", {RandomBytes(30000, 4), RandomBytes(30000, 5)}}}, {first},
                  &abandoned);
  }
  const std::set<ObjectId> dead = Minus(abandoned, live);
  ASSERT_EQ(dead.size(), 6u);  // commit, two trees, file, two chunks
  AgeFiles(tmp.path(), kAnHour);
  auto store = OpenStore(tmp.path(), options);
  const GcReport report = MustCollect(store.get(), {head}, Options(std::chrono::minutes(1), 1.0));
  EXPECT_EQ(report.objects_live, live.size());
  EXPECT_EQ(report.objects_reclaimed, dead.size());
  EXPECT_EQ(report.objects_dead_kept, 0u);
  ExpectAllReadable(*store, live);
  ExpectNoneStored(*store, dead);
  // And so it stays on disk.
  store.reset();
  store = OpenStore(tmp.path(), options);
  EXPECT_EQ(store->stats().objects, live.size());
  ExpectAllReadable(*store, live);
  ExpectFsckClean(*store, {head});
}

TEST(GcTest, ChunksSharedWithADeadFileSurvive) {
  TempDir tmp;
  const std::string c1 = RandomBytes(5000, 11), c2 = RandomBytes(5000, 12);
  const std::string c3 = RandomBytes(5000, 13);
  ObjectId root;
  std::set<ObjectId> live;
  {
    auto store = OpenStore(tmp.path());
    CommitWriter writer(store.get());
    root = writer.Commit({{"kept.bin", {c1, c2}}}, {}, &live);
    writer.Commit({{"deleted.bin", {c2, c3}}}, {});
  }
  AgeFiles(tmp.path(), kAnHour);
  auto store = OpenStore(tmp.path());
  MustCollect(store.get(), {root}, Options(std::chrono::minutes(1), 1.0));
  EXPECT_EQ(store->Get(ObjectId::Hash(c1))->data, c1);
  EXPECT_EQ(store->Get(ObjectId::Hash(c2))->data, c2);
  EXPECT_FALSE(store->Contains(ObjectId::Hash(c3)));
  ExpectAllReadable(*store, live);
}

// Three packs: one wholly dead, one mostly dead (a small live commit among large dead chunks),
// one mostly live (large live chunks and one small dead chunk).
struct ThreePacks {
  ObjectId root;
  std::set<ObjectId> live;
  std::set<ObjectId> dead;
};

ThreePacks BuildThreePacks(const std::string& dir) {
  ThreePacks out;
  PackStoreOptions options;
  options.pack_size_limit = 1 << 20;
  auto store = OpenStore(dir, options);
  CommitWriter writer(store.get());
  std::set<ObjectId> all;
  // Pack 1: an abandoned commit.
  writer.Commit(
      {{"old/run.bin", {RandomBytes(30000, 21), RandomBytes(30000, 22), RandomBytes(30000, 23)}}},
      {}, &all);
  Seal(*store);
  // Pack 2: a small live commit and three large chunks nothing refers to.
  const Chunks small = {RandomBytes(1000, 24)};
  const ObjectId parent = writer.Commit({{"small.txt", small}}, {}, &out.live);
  for (int i = 0; i < 3; ++i)
    all.insert(testing::MustPut(*store, ObjectType::kChunk, RandomBytes(30000, 25 + i)));
  Seal(*store);
  // Pack 3: mostly live.
  out.root = writer.Commit(
      {{"small.txt", small},
       {"big.bin", {RandomBytes(30000, 31), RandomBytes(30000, 32), RandomBytes(30000, 33)}}},
      {parent}, &out.live);
  all.insert(testing::MustPut(*store, ObjectType::kChunk, RandomBytes(1000, 34)));
  Seal(*store);
  EXPECT_EQ(store->stats().packs, 3u);
  out.dead = Minus(all, out.live);
  return out;
}

TEST(GcTest, DeletesDeadPacksAndRewritesMostlyDeadOnes) {
  TempDir tmp;
  const ThreePacks layout = BuildThreePacks(tmp.path());
  AgeFiles(tmp.path(), kAnHour);
  const uint64_t bytes_before = PackBytesOnDisk(tmp.path());
  const uint64_t pack3_size = PackFiles(tmp.path()).at(PackFileName(3));
  auto store = OpenStore(tmp.path());
  const GcReport report =
      MustCollect(store.get(), {layout.root}, GcOptions{std::chrono::minutes(1)});
  EXPECT_EQ(report.packs_deleted, 1u);
  EXPECT_EQ(report.packs_rewritten, 1u);
  EXPECT_EQ(report.packs_created, 1u);
  // All dead objects but the small chunk in the mostly live pack: the abandoned commit's seven
  // (commit, two trees, file, three chunks) and the three large chunks.
  EXPECT_EQ(layout.dead.size(), 7u + 3u + 1u);
  EXPECT_EQ(report.objects_reclaimed, layout.dead.size() - 1);
  EXPECT_EQ(report.objects_dead_kept, 1u);
  EXPECT_EQ(report.objects_live, layout.live.size());
  EXPECT_EQ(report.bytes_reclaimed, bytes_before - PackBytesOnDisk(tmp.path()));
  EXPECT_GT(report.bytes_reclaimed, 5u * 30000);
  EXPECT_EQ(store->stats().packs, 2u);
  EXPECT_EQ(store->stats().pack_bytes, PackBytesOnDisk(tmp.path()));
  const auto files = PackFiles(tmp.path());
  EXPECT_FALSE(files.contains(PackFileName(1)) || files.contains(IndexFileName(1)));
  EXPECT_FALSE(files.contains(PackFileName(2)) || files.contains(IndexFileName(2)));
  EXPECT_EQ(files.at(PackFileName(3)), pack3_size);  // kept as it was
  EXPECT_TRUE(files.contains(PackFileName(4)) && files.contains(IndexFileName(4)));
  ExpectAllReadable(*store, layout.live);
  store.reset();
  store = OpenStore(tmp.path());
  ExpectAllReadable(*store, layout.live);
  ExpectFsckClean(*store, {layout.root});
}

TEST(GcTest, DryRunChangesNothingAndPredictsTheRealRun) {
  TempDir tmp;
  const ThreePacks layout = BuildThreePacks(tmp.path());
  AgeFiles(tmp.path(), kAnHour);
  const auto files_before = PackFiles(tmp.path());
  auto store = OpenStore(tmp.path());
  GcOptions options{std::chrono::minutes(1)};
  options.dry_run = true;
  const GcReport planned = MustCollect(store.get(), {layout.root}, options);
  EXPECT_EQ(PackFiles(tmp.path()), files_before);
  EXPECT_EQ(store->stats().objects, layout.live.size() + layout.dead.size());
  ExpectAllReadable(*store, layout.dead);
  options.dry_run = false;
  const GcReport done = MustCollect(store.get(), {layout.root}, options);
  EXPECT_EQ(planned.packs_deleted, done.packs_deleted);
  EXPECT_EQ(planned.packs_rewritten, done.packs_rewritten);
  EXPECT_EQ(planned.packs_created, done.packs_created);
  EXPECT_EQ(planned.objects_reclaimed, done.objects_reclaimed);
  EXPECT_EQ(planned.bytes_reclaimed, done.bytes_reclaimed);
  EXPECT_EQ(planned.objects_live, done.objects_live);
  EXPECT_NE(PackFiles(tmp.path()), files_before);
}

TEST(GcTest, RecentlyUsedPacksAreLeftAloneUntilTheGracePeriodEnds) {
  TempDir tmp;
  const ThreePacks layout = BuildThreePacks(tmp.path());
  const auto files_before = PackFiles(tmp.path());
  auto store = OpenStore(tmp.path());  // written just now: all in use for an hour
  const GcReport recent = MustCollect(store.get(), {layout.root}, GcOptions{std::chrono::hours(1)});
  EXPECT_EQ(recent.packs_in_use, 3u);
  EXPECT_EQ(recent.objects_reclaimed, 0u);
  EXPECT_EQ(recent.objects_dead_kept, layout.dead.size());
  EXPECT_EQ(PackFiles(tmp.path()), files_before);
  // With no grace at all (safe only when nothing writes), everything dead goes.
  const GcReport now = MustCollect(store.get(), {layout.root}, Options({}, 1.0));
  EXPECT_EQ(now.objects_reclaimed, layout.dead.size());
  ExpectNoneStored(*store, layout.dead);
  ExpectAllReadable(*store, layout.live);
}

TEST(GcTest, ReusingAnObjectOfAnOldPackKeepsThatPack) {
  TempDir tmp;
  const ThreePacks layout = BuildThreePacks(tmp.path());
  AgeFiles(tmp.path(), kAnHour);
  auto store = OpenStore(tmp.path());
  // A commit in progress deduplicates against a dead chunk of pack 1 (and checks another one
  // with Contains): both are about to be referenced, so pack 1 must stay.
  EXPECT_FALSE(store->Put(ObjectType::kChunk, RandomBytes(30000, 21))->added);
  EXPECT_TRUE(store->Contains(ObjectId::Hash(RandomBytes(30000, 22))));
  const GcReport report =
      MustCollect(store.get(), {layout.root}, GcOptions{std::chrono::minutes(1)});
  EXPECT_EQ(report.packs_deleted, 0u);
  EXPECT_EQ(report.packs_rewritten, 1u);
  EXPECT_TRUE(PackFiles(tmp.path()).contains(PackFileName(1)));
  EXPECT_TRUE(store->Get(ObjectId::Hash(RandomBytes(30000, 21))).ok());
}

TEST(GcTest, RefusesToSweepWhenATreeIsMissing) {
  TempDir tmp;
  ObjectId root, lost_tree;
  {
    auto store = OpenStore(tmp.path());
    CommitWriter writer(store.get());
    root = writer.Commit({{"a/x.bin", {RandomBytes(3000, 41)}}, {"b.bin", {"b"}}}, {});
    writer.Commit({{"dead.bin", {RandomBytes(3000, 42)}}}, {});
    Tree a;
    TreeEntry x{"x.bin", EntryKind::kFile, ObjectId(), 3000, ""};
    FileObject file{{{ObjectId::Hash(RandomBytes(3000, 41)), 3000}}};
    x.id = ObjectId::Hash(EncodeFile(file).value());
    a.entries.push_back(x);
    lost_tree = ObjectId::Hash(EncodeTree(a).value());
  }
  testing::DropFromIndex(tmp.path(), lost_tree);
  AgeFiles(tmp.path(), kAnHour);
  const auto files_before = PackFiles(tmp.path());
  auto store = OpenStore(tmp.path());
  Result<GcReport> report =
      CollectGarbage(store.get(), std::vector<ObjectId>{root}, GcOptions{std::chrono::minutes(1)});
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(report.status().message().find(lost_tree.ToHex()), std::string::npos)
      << report.status().message();
  store.reset();
  EXPECT_EQ(PackFiles(tmp.path()), files_before);
}

TEST(GcTest, ReachabilityVisitsHistoryAndReportsMissingObjectsWithoutStopping) {
  TempDir tmp;
  auto store = OpenStore(tmp.path());
  CommitWriter writer(store.get());
  std::set<ObjectId> reached;
  const ObjectId c1 = writer.Commit({{"a", {"1"}}}, {}, &reached);
  const ObjectId c2 = writer.Commit({{"a", {"1"}}, {"b", {"2"}}}, {c1}, &reached);
  const ObjectId absent = ObjectId::Hash("never stored");
  Reachability reach(*store);
  const std::vector<ObjectId> roots = {c2, absent};
  reach.MarkFromCommits(roots);
  for (const ObjectId& id : reached) EXPECT_TRUE(reach.IsMarked(id));
  EXPECT_EQ(reach.marked().size(), reached.size() + 1);
  EXPECT_EQ(reach.commits(), (std::vector<ObjectId>{c2, c1}));
  ASSERT_EQ(reach.problems().size(), 1u);
  EXPECT_EQ(reach.problems()[0].kind, ReachabilityProblem::Kind::kMissing);
  EXPECT_EQ(reach.problems()[0].id, absent);
  EXPECT_FALSE(reach.complete());
}

// ---- concurrency ----

struct OldStore {
  ObjectId base;
  std::set<ObjectId> live;
};

constexpr int kAbandonedCommits = 10;

// Content of chunk `k` of the abandoned commit `commit`.
std::string AbandonedChunk(int commit, int k) { return RandomBytes(8000, 5000 + commit * 10 + k); }

// A base commit (live) and abandoned commits (dead), in packs an hour old.
OldStore BuildOldStore(const std::string& dir, const PackStoreOptions& options) {
  OldStore out;
  {
    auto store = OpenStore(dir, options);
    CommitWriter writer(store.get());
    testing::Snapshot base;
    for (int f = 0; f < 20; ++f) {
      base["base/" + std::to_string(f)] = {RandomBytes(8000, 100 + 2 * f),
                                           RandomBytes(8000, 101 + 2 * f)};
    }
    out.base = writer.Commit(base, {}, &out.live);
    for (int c = 0; c < kAbandonedCommits; ++c) {
      writer.Commit({{"tmp/" + std::to_string(c),
                      {AbandonedChunk(c, 0), AbandonedChunk(c, 1), AbandonedChunk(c, 2)}}},
                    {out.base});
    }
  }
  AgeFiles(dir, kAnHour);
  return out;
}

TEST(GcConcurrencyTest, CommitsAndReadsDuringGcLoseNothing) {
  PackStoreOptions options;
  options.pack_size_limit = 32 << 10;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    TempDir tmp;
    const OldStore old = BuildOldStore(tmp.path(), options);
    auto store = OpenStore(tmp.path(), options);
    std::atomic<bool> writer_done{false};
    std::atomic<int> failed_reads{0};
    std::vector<ObjectId> new_commits;
    std::set<ObjectId> written;
    std::thread writer_thread([&] {
      CommitWriter writer(store.get());
      for (int i = 0; i < 40; ++i) {
        // New data, a chunk of the base, and (for the first half of the abandoned commits) a
        // chunk that so far only dead commits use: its old pack must survive.
        testing::Snapshot files = {
            {"new.bin", {RandomBytes(8000, 100000 * (round + 1) + i)}},
            {"base.bin", {RandomBytes(8000, 100 + i % 40)}},
            {"reused.bin", {AbandonedChunk(i % (kAbandonedCommits / 2), i % 3)}}};
        new_commits.push_back(writer.Commit(files, {old.base}, &written));
        if (i % 5 == 4) {
          EXPECT_TRUE(store->Flush().ok());
        }
      }
      writer_done = true;
    });
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
      readers.emplace_back([&] {
        while (!writer_done) {
          for (const ObjectId& id : old.live) {
            if (!store->Get(id).ok()) ++failed_reads;
          }
        }
      });
    }
    uint64_t reclaimed = 0;
    int collections = 0;
    // Commits are not roots until they are done: only the base is.
    const GcOptions gc = Options(std::chrono::minutes(10), 0.9);
    do {
      reclaimed += MustCollect(store.get(), {old.base}, gc).objects_reclaimed;
      ++collections;
    } while (!writer_done);
    writer_thread.join();
    for (std::thread& t : readers) t.join();
    reclaimed += MustCollect(store.get(), {old.base}, gc).objects_reclaimed;
    EXPECT_EQ(failed_reads, 0);
    EXPECT_GT(reclaimed, 0u);  // the abandoned commits nobody reused went
    ExpectAllReadable(*store, written);
    ExpectAllReadable(*store, old.live);
    store.reset();
    store = OpenStore(tmp.path(), options);
    ExpectAllReadable(*store, written);
    ExpectAllReadable(*store, old.live);
    std::vector<ObjectId> roots = new_commits;
    roots.push_back(old.base);
    ExpectFsckClean(*store, roots);
    std::printf("round %d: %d collections during 40 commits, %llu objects reclaimed\n", round,
                collections, static_cast<unsigned long long>(reclaimed));
  }
}

// ---- crash safety ----

// Runs a collection in a child process and SIGKILLs it `delay` after the fork unless it is done
// by then; returns whether it was killed.
bool CollectAndKill(const std::string& dir, const PackStoreOptions& options, ObjectId root,
                    std::chrono::microseconds delay) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  if (child == 0) {
    auto store = PackStore::Open(dir, options);
    if (!store.ok()) ::_exit(1);
    const std::vector<ObjectId> roots = {root};
    const GcOptions gc = Options(std::chrono::minutes(1), 0.9);
    ::_exit(CollectGarbage(store->get(), roots, gc).ok() ? 0 : 2);
  }
  EXPECT_GT(child, 0);
  int status = 0;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - start >= delay) {
      ::kill(child, SIGKILL);
      EXPECT_EQ(::waitpid(child, &status, 0), child);
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  return WIFSIGNALED(status);
}

TEST(GcCrashTest, KilledAtAnyMomentLosesNothing) {
  TempDir tmp;
  const std::string model = tmp.Join("model");
  PackStoreOptions options;
  options.pack_size_limit = 16 << 10;
  const OldStore old = BuildOldStore(model, options);
  // How long an uninterrupted collection takes, start-up included.
  double full_seconds = 0;
  {
    const std::string dir = tmp.Join("calibration");
    std::filesystem::copy(model, dir, std::filesystem::copy_options::recursive);
    AgeFiles(dir, kAnHour);  // a copy is new
    Stopwatch watch;
    EXPECT_FALSE(CollectAndKill(dir, options, old.base, std::chrono::seconds(30)));
    full_seconds = watch.Seconds();
  }
  const auto model_files = PackFiles(model);
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> moment(0, full_seconds * 1.2);
  int interrupted = 0;
  for (int trial = 0; trial < 16; ++trial) {
    const std::string dir = tmp.Join("trial" + std::to_string(trial));
    std::filesystem::copy(model, dir, std::filesystem::copy_options::recursive);
    AgeFiles(dir, kAnHour);
    const auto delay = std::chrono::microseconds(static_cast<int64_t>(moment(rng) * 1e6));
    SCOPED_TRACE("killed after " + std::to_string(delay.count()) + " us");
    const bool killed = CollectAndKill(dir, options, old.base, delay);
    interrupted += killed;
    // How far it got: packs deleted and written so far (a crash mid-way has done some of both).
    const auto files = PackFiles(dir);
    size_t removed = 0, added = 0;
    for (const auto& [name, size] : model_files) removed += !files.contains(name);
    for (const auto& [name, size] : files) added += !model_files.contains(name);
    std::printf("trial %2d: %s after %5lld us, %zu files removed, %zu added\n", trial,
                killed ? "killed" : "done  ", static_cast<long long>(delay.count()), removed,
                added);
    auto store = OpenStore(dir, options);
    ASSERT_TRUE(store);
    ExpectAllReadable(*store, old.live);
    ExpectFsckClean(*store, {old.base});
    // A later collection finishes the job (what the killed one wrote is new: no grace).
    MustCollect(store.get(), {old.base}, Options({}, 1.0));
    EXPECT_EQ(store->stats().objects, old.live.size());
    ExpectAllReadable(*store, old.live);
  }
  std::printf("full collection %.1f ms; %d of 16 trials killed mid-way\n", full_seconds * 1e3,
              interrupted);
  EXPECT_GT(interrupted, 0);
}

// The states a crash can leave between the steps of a rewrite, made by hand.
TEST(GcCrashTest, StatesBetweenRewriteStepsAreConsistent) {
  TempDir tmp;
  const std::string dir = tmp.Join("store");
  const ThreePacks layout = BuildThreePacks(dir);
  AgeFiles(dir, kAnHour);
  const std::string saved = tmp.Join("saved");
  std::filesystem::copy(dir, saved, std::filesystem::copy_options::recursive);
  {
    auto store = OpenStore(dir);
    const GcReport report =
        MustCollect(store.get(), {layout.root}, GcOptions{std::chrono::minutes(1)});
    ASSERT_EQ(report.packs_rewritten, 1u);
  }
  // New pack written, old pack and index not yet unlinked: every live object twice.
  for (const std::string& name : {PackFileName(2), IndexFileName(2)}) {
    std::filesystem::copy_file(JoinPath(saved, name), JoinPath(dir, name));
  }
  // Old index unlinked, old pack not yet.
  std::filesystem::copy_file(JoinPath(saved, PackFileName(1)), JoinPath(dir, PackFileName(1)));
  {
    PackStoreOptions read_only;
    read_only.read_only = true;
    auto reader = OpenStore(dir, read_only);
    ExpectAllReadable(*reader, layout.live);
    ExpectFsckClean(*reader, {layout.root});
  }
  auto store = OpenStore(dir);
  EXPECT_FALSE(std::filesystem::exists(JoinPath(dir, PackFileName(1))));  // leftover removed
  ExpectAllReadable(*store, layout.live);
  ExpectFsckClean(*store, {layout.root});
  // The next collection drops the duplicates.
  MustCollect(store.get(), {layout.root}, Options({}, 1.0));
  EXPECT_EQ(store->stats().objects, layout.live.size());
  ExpectAllReadable(*store, layout.live);
  store.reset();
  store = OpenStore(dir);
  ExpectAllReadable(*store, layout.live);
}

// ---- cost ----

TEST(GcTest, ReportsCollectionTime) {
  TempDir tmp;
  // 80 commits of 50 files of 10 small chunks, every other one rooted: 20000 live chunks and as
  // many dead, in packs of 1 MiB.
  PackStoreOptions options;
  options.pack_size_limit = 1 << 20;
  std::vector<ObjectId> roots;
  uint64_t objects = 0;
  {
    auto store = OpenStore(tmp.path(), options);
    CommitWriter writer(store.get());
    for (int c = 0; c < 80; ++c) {
      testing::Snapshot files;
      for (int f = 0; f < 50; ++f) {
        Chunks chunks;
        for (int k = 0; k < 10; ++k) chunks.push_back(RandomBytes(256, (c * 50 + f) * 10 + k));
        files["d" + std::to_string(f % 5) + "/f" + std::to_string(f)] = std::move(chunks);
      }
      const ObjectId id = writer.Commit(files, {});
      if (c % 2 == 0) roots.push_back(id);
    }
    objects = store->stats().objects;
  }
  AgeFiles(tmp.path(), kAnHour);
  auto store = OpenStore(tmp.path(), options);
  Stopwatch watch;
  const GcReport report = MustCollect(store.get(), roots, GcOptions{std::chrono::minutes(1)});
  const double gc_seconds = watch.Seconds();
  const double gc_cpu_seconds = watch.CpuSeconds();
  Stopwatch fsck_watch;
  const FsckReport fsck = CheckStore(*store, roots);
  EXPECT_TRUE(fsck.ok());
  std::printf("gc of %llu objects (%llu live): %.3f s wall, %.3f s cpu; fsck: %.3f s\n",
              static_cast<unsigned long long>(objects),
              static_cast<unsigned long long>(report.objects_live), gc_seconds, gc_cpu_seconds,
              fsck_watch.Seconds());
  EXPECT_EQ(report.objects_reclaimed + report.objects_dead_kept + report.objects_live, objects);
}

}  // namespace
}  // namespace paddock::storage
