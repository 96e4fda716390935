// PackStore and the pack file format: round trips, dedup, compression, rotation, reopen,
// corruption detection, crash recovery, locking and concurrent writers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/file_util.h"
#include "storage/chunker.h"
#include "storage/pack_format.h"
#include "storage/pack_store.h"
#include "tests/unit/storage_test_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

using testing::MegabytesPerSecond;
using testing::RandomBytes;
using testing::Stopwatch;

std::unique_ptr<PackStore> OpenStore(const std::string& dir, PackStoreOptions options = {}) {
  Result<std::unique_ptr<PackStore>> store = PackStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store.value()) : nullptr;
}

PutResult MustPut(PackStore& store, ObjectType type, std::string_view data) {
  Result<PutResult> r = store.Put(type, data);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : PutResult{};
}

std::string MustGet(const PackStore& store, const ObjectId& id) {
  Result<StoredObject> r = store.Get(id);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->data : std::string();
}

PackIndex ReadIndex(const std::string& dir, uint64_t sequence) {
  Result<std::string> bytes = ReadFileToString(JoinPath(dir, IndexFileName(sequence)));
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<PackIndex> index = DecodePackIndex(bytes.ok() ? *bytes : "");
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return index.ok() ? *index : PackIndex{};
}

void FlipByteAt(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

TEST(PackFormatTest, NamesRoundTrip) {
  uint64_t seq = 0;
  EXPECT_EQ(PackFileName(0x2a), "pack-000000000000002a.pack");
  EXPECT_TRUE(ParsePackFileName("pack-000000000000002a.pack", false, &seq));
  EXPECT_EQ(seq, 0x2au);
  EXPECT_TRUE(ParsePackFileName(IndexFileName(7), true, &seq));
  EXPECT_EQ(seq, 7u);
  EXPECT_FALSE(ParsePackFileName("pack-000000000000002A.pack", false, &seq));
  EXPECT_FALSE(ParsePackFileName("pack-2a.pack", false, &seq));
  EXPECT_FALSE(ParsePackFileName("pack-000000000000002a.idx", false, &seq));
}

TEST(PackFormatTest, IndexRejectsDamage) {
  PackIndex index{3, kPackHeaderSize + kEntryHeaderSize + 10, {}};
  index.entries.push_back({ObjectId::Hash("x"), kPackHeaderSize, 10, 10, ObjectType::kChunk, 0});
  const std::string good = EncodePackIndex(index);
  Result<PackIndex> decoded = DecodePackIndex(good);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->entries, index.entries);
  EXPECT_EQ(decoded->pack_length, index.pack_length);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 1;
    EXPECT_EQ(DecodePackIndex(bad).status().code(), StatusCode::kInvalidArgument) << i;
  }
  EXPECT_FALSE(DecodePackIndex(good.substr(0, good.size() - 1)).ok());
  // An entry running past the covered length is rejected even with a valid checksum.
  index.pack_length -= 1;
  EXPECT_FALSE(DecodePackIndex(EncodePackIndex(index)).ok());
}

TEST(PackStoreTest, RoundTripOfEveryTypeAndSize) {
  TempDir tmp;
  auto store = OpenStore(tmp.path());
  ASSERT_TRUE(store);
  const std::string data[] = {"", "a", RandomBytes(1000, 1), std::string(300000, 'z'),
                              RandomBytes(3 << 20, 2)};
  const ObjectType types[] = {ObjectType::kChunk, ObjectType::kFile, ObjectType::kTree,
                              ObjectType::kCommit, ObjectType::kChunk};
  std::vector<ObjectId> ids;
  for (size_t i = 0; i < std::size(data); ++i) {
    const PutResult r = MustPut(*store, types[i], data[i]);
    EXPECT_EQ(r.id, ObjectId::Hash(data[i]));
    EXPECT_TRUE(r.added);
    ids.push_back(r.id);
  }
  for (size_t i = 0; i < std::size(data); ++i) {
    Result<StoredObject> got = store->Get(ids[i]);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->type, types[i]);
    EXPECT_EQ(got->data, data[i]);
  }
  EXPECT_EQ(store->Get(ObjectId::Hash("absent")).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(store->Contains(ObjectId::Hash("absent")));
  EXPECT_TRUE(store->Contains(ids[2]));
}

TEST(PackStoreTest, PuttingAnExistingObjectIsANoOp) {
  TempDir tmp;
  auto store = OpenStore(tmp.path());
  const std::string data = RandomBytes(70000, 3);
  EXPECT_TRUE(MustPut(*store, ObjectType::kChunk, data).added);
  const PackStoreStats before = store->stats();
  const PutResult again = MustPut(*store, ObjectType::kChunk, data);
  EXPECT_FALSE(again.added);
  EXPECT_EQ(again.stored_length, 0u);
  EXPECT_EQ(store->stats().objects, before.objects);
  EXPECT_EQ(store->stats().pack_bytes, before.pack_bytes);
  // Also across a reopen.
  ASSERT_TRUE(store->Flush().ok());
  store.reset();
  store = OpenStore(tmp.path());
  EXPECT_FALSE(MustPut(*store, ObjectType::kChunk, data).added);
}

TEST(PackStoreTest, CompressesOnlyWhenItShrinks) {
  TempDir tmp;
  auto store = OpenStore(tmp.path());
  const std::string random = RandomBytes(64 << 10, 4);
  const std::string zeros(64 << 10, '\0');
  const PutResult r = MustPut(*store, ObjectType::kChunk, random);
  const PutResult z = MustPut(*store, ObjectType::kChunk, zeros);
  EXPECT_EQ(r.stored_length, random.size());
  EXPECT_LT(z.stored_length, 100u);
  ASSERT_TRUE(store->Flush().ok());
  // The flag is on disk, per entry.
  const PackIndex index = ReadIndex(tmp.path(), 1);
  ASSERT_EQ(index.entries.size(), 2u);
  for (const IndexEntry& e : index.entries) {
    const bool is_zeros = e.id == z.id;
    EXPECT_EQ((e.flags & kEntryFlagZstd) != 0, is_zeros);
    EXPECT_EQ(e.raw_length, 64u << 10);
  }
  EXPECT_EQ(MustGet(*store, z.id), zeros);
  EXPECT_EQ(MustGet(*store, r.id), random);
}

TEST(PackStoreTest, RotatesPacksAndReopens) {
  TempDir tmp;
  PackStoreOptions options;
  options.pack_size_limit = 1 << 20;
  std::vector<std::pair<ObjectId, std::string>> stored;
  {
    auto store = OpenStore(tmp.path(), options);
    for (int i = 0; i < 80; ++i) {
      std::string data = RandomBytes(64 << 10, 100 + i);
      stored.emplace_back(MustPut(*store, ObjectType::kChunk, data).id, std::move(data));
    }
    ASSERT_TRUE(store->Flush().ok());
    // 80 x 64 KiB = 5 MiB in packs of 1 MiB (each may exceed the limit by one object).
    EXPECT_GE(store->stats().packs, 5u);
    EXPECT_LE(store->stats().packs, 6u);
  }
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    EXPECT_TRUE(std::filesystem::exists(JoinPath(tmp.path(), IndexFileName(seq)))) << seq;
    EXPECT_LE(FileSize(JoinPath(tmp.path(), PackFileName(seq))),
              (1u << 20) + kEntryHeaderSize + (64u << 10));
  }
  auto store = OpenStore(tmp.path(), options);
  EXPECT_EQ(store->stats().objects, stored.size());
  for (const auto& [id, data] : stored) EXPECT_EQ(MustGet(*store, id), data);
}

TEST(PackStoreTest, ReopenAppendsToTheLastPackWhileItHasRoom) {
  TempDir tmp;
  ObjectId first, second;
  {
    auto store = OpenStore(tmp.path());
    first = MustPut(*store, ObjectType::kChunk, "first").id;
  }  // the destructor flushes
  {
    auto store = OpenStore(tmp.path());
    second = MustPut(*store, ObjectType::kChunk, "second").id;
    ASSERT_TRUE(store->Flush().ok());
    EXPECT_EQ(store->stats().packs, 1u);
  }
  auto store = OpenStore(tmp.path());
  EXPECT_EQ(MustGet(*store, first), "first");
  EXPECT_EQ(MustGet(*store, second), "second");
  EXPECT_EQ(ReadIndex(tmp.path(), 1).entries.size(), 2u);
}

TEST(PackStoreTest, FlippedByteIsDetectedAndNamed) {
  TempDir tmp;
  const std::string raw_data = RandomBytes(50000, 5);
  const std::string compressible(50000, 'q');
  ObjectId raw_id, zstd_id;
  {
    auto store = OpenStore(tmp.path());
    raw_id = MustPut(*store, ObjectType::kChunk, raw_data).id;
    zstd_id = MustPut(*store, ObjectType::kChunk, compressible).id;
  }
  const std::string pack_path = JoinPath(tmp.path(), PackFileName(1));
  for (const IndexEntry& e : ReadIndex(tmp.path(), 1).entries) {
    // Last byte of the stored data: inside the payload (raw) or the zstd frame.
    FlipByteAt(pack_path, e.offset + kEntryHeaderSize + e.stored_length - 1);
  }
  auto store = OpenStore(tmp.path());
  for (const ObjectId& id : {raw_id, zstd_id}) {
    Result<StoredObject> got = store->Get(id);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kInternal);
    const std::string& m = got.status().message();
    EXPECT_NE(m.find("chunk " + id.ToHex()), std::string::npos) << m;
    EXPECT_NE(m.find("in pack " + PackFileName(1)), std::string::npos) << m;
    EXPECT_NE(m.find("at offset "), std::string::npos) << m;
    EXPECT_NE(m.find("is corrupt"), std::string::npos) << m;
  }
}

TEST(PackStoreTest, DamagedEntryHeaderIsDetected) {
  TempDir tmp;
  ObjectId id;
  {
    auto store = OpenStore(tmp.path());
    id = MustPut(*store, ObjectType::kTree, "some tree").id;
  }
  const IndexEntry e = ReadIndex(tmp.path(), 1).entries.at(0);
  FlipByteAt(JoinPath(tmp.path(), PackFileName(1)), e.offset + 3);  // inside the id
  auto store = OpenStore(tmp.path());
  Result<StoredObject> got = store->Get(id);
  EXPECT_EQ(got.status().code(), StatusCode::kInternal);
  EXPECT_NE(got.status().message().find("tree " + id.ToHex() + " in pack " + PackFileName(1) +
                                        " at offset " + std::to_string(e.offset)),
            std::string::npos)
      << got.status().message();
}

TEST(PackStoreTest, CorruptIndexFailsOpenNamingTheFile) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp.path());
    MustPut(*store, ObjectType::kChunk, "x");
  }
  FlipByteAt(JoinPath(tmp.path(), IndexFileName(1)), 40);
  Result<std::unique_ptr<PackStore>> store = PackStore::Open(tmp.path(), {});
  EXPECT_EQ(store.status().code(), StatusCode::kInternal);
  EXPECT_NE(store.status().message().find(IndexFileName(1)), std::string::npos);
}

// A real crash: a child process puts objects, flushes some and exits without flushing the rest.
TEST(PackStoreTest, UnflushedTailOfACrashedWriterIsCutOff) {
  TempDir tmp;
  const std::string durable = RandomBytes(100000, 6);
  const std::string lost = RandomBytes(100000, 7);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = PackStore::Open(tmp.path(), {});
    if (!store.ok() || !(*store)->Put(ObjectType::kChunk, durable).ok()) ::_exit(1);
    if (!(*store)->Flush().ok()) ::_exit(2);
    if (!(*store)->Put(ObjectType::kChunk, lost).ok()) ::_exit(3);
    ::_exit(0);  // no destructor, no flush: the second object is an unindexed tail
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string pack_path = JoinPath(tmp.path(), PackFileName(1));
  const uint64_t indexed = ReadIndex(tmp.path(), 1).pack_length;
  EXPECT_GT(FileSize(pack_path), indexed);  // the tail is there before recovery

  {  // A reader ignores the tail and leaves it alone.
    PackStoreOptions read_only;
    read_only.read_only = true;
    auto reader = OpenStore(tmp.path(), read_only);
    EXPECT_EQ(MustGet(*reader, ObjectId::Hash(durable)), durable);
    EXPECT_FALSE(reader->Contains(ObjectId::Hash(lost)));
    EXPECT_EQ(reader->Put(ObjectType::kChunk, "x").status().code(),
              StatusCode::kFailedPrecondition);
    EXPECT_GT(FileSize(pack_path), indexed);
  }
  auto store = OpenStore(tmp.path());
  EXPECT_EQ(FileSize(pack_path), indexed);  // a writer cuts it off
  EXPECT_EQ(MustGet(*store, ObjectId::Hash(durable)), durable);
  EXPECT_FALSE(store->Contains(ObjectId::Hash(lost)));
  // The lost object can be stored again, after the good prefix.
  EXPECT_TRUE(MustPut(*store, ObjectType::kChunk, lost).added);
  ASSERT_TRUE(store->Flush().ok());
  store.reset();
  store = OpenStore(tmp.path());
  EXPECT_EQ(MustGet(*store, ObjectId::Hash(lost)), lost);
}

TEST(PackStoreTest, TornTailAndLeftoversAreCleanedOnOpen) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp.path());
    MustPut(*store, ObjectType::kChunk, "kept");
  }
  const std::string pack_path = JoinPath(tmp.path(), PackFileName(1));
  const uint64_t good = FileSize(pack_path);
  {  // Half an entry header appended, as a crash mid-write leaves it.
    std::ofstream f(pack_path, std::ios::app | std::ios::binary);
    f << std::string(20, '\x7f');
  }
  // A pack that never got an index, and a temporary index file.
  { std::ofstream(JoinPath(tmp.path(), PackFileName(9))) << "PADDPACK partial"; }
  { std::ofstream(JoinPath(tmp.path(), IndexFileName(1) + ".tmp.1234")) << "half"; }
  auto store = OpenStore(tmp.path());
  EXPECT_EQ(FileSize(pack_path), good);
  EXPECT_FALSE(std::filesystem::exists(JoinPath(tmp.path(), PackFileName(9))));
  EXPECT_FALSE(std::filesystem::exists(JoinPath(tmp.path(), IndexFileName(1) + ".tmp.1234")));
  EXPECT_EQ(MustGet(*store, ObjectId::Hash("kept")), "kept");
}

TEST(PackStoreTest, MissingOrShortPackFailsOpen) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp.path());
    MustPut(*store, ObjectType::kChunk, RandomBytes(1000, 8));
  }
  const std::string pack_path = JoinPath(tmp.path(), PackFileName(1));
  ASSERT_EQ(::truncate(pack_path.c_str(), 100), 0);
  EXPECT_EQ(PackStore::Open(tmp.path(), {}).status().code(), StatusCode::kInternal);
  ASSERT_EQ(::unlink(pack_path.c_str()), 0);
  EXPECT_EQ(PackStore::Open(tmp.path(), {}).status().code(), StatusCode::kInternal);
}

TEST(PackStoreTest, OneWriterPerDirectory) {
  TempDir tmp;
  auto store = OpenStore(tmp.path());
  EXPECT_EQ(PackStore::Open(tmp.path(), {}).status().code(), StatusCode::kFailedPrecondition);
  PackStoreOptions read_only;
  read_only.read_only = true;
  EXPECT_TRUE(PackStore::Open(tmp.path(), read_only).ok());
}

TEST(PackStoreTest, ConcurrentWritersStoreEachObjectOnce) {
  TempDir tmp;
  PackStoreOptions options;
  options.pack_size_limit = 2 << 20;
  auto store = OpenStore(tmp.path(), options);
  // Four threads put the same 64 objects (in different orders) plus 32 of their own.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 64; ++i) {
        const int k = (i * 7 + t * 13) % 64;
        EXPECT_TRUE(store->Put(ObjectType::kChunk, RandomBytes(40000, 1000 + k)).ok());
      }
      for (int i = 0; i < 32; ++i) {
        EXPECT_TRUE(store->Put(ObjectType::kChunk, RandomBytes(40000, 5000 + t * 100 + i)).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->stats().objects, 64u + 4 * 32);
  store.reset();
  store = OpenStore(tmp.path(), options);
  EXPECT_EQ(store->stats().objects, 64u + 4 * 32);
  for (int k = 0; k < 64; ++k) {
    const std::string data = RandomBytes(40000, 1000 + k);
    EXPECT_EQ(MustGet(*store, ObjectId::Hash(data)), data);
  }
}

struct Throughput {
  double wall_mbps = 0;
  double cpu_mbps = 0;
};

// Chunks, hashes, compresses and appends `data` the way a file commit will, then flushes.
Throughput StoreWriteThroughput(const std::string& dir, const std::string& data,
                                const ChunkerParams& params, uint64_t* stored_bytes) {
  auto store = OpenStore(dir);
  Stopwatch watch;
  Result<std::vector<uint64_t>> ends = ChunkEnds(params, data);
  EXPECT_TRUE(ends.ok());
  uint64_t start = 0;
  for (uint64_t end : *ends) {
    const PutResult r =
        MustPut(*store, ObjectType::kChunk, std::string_view(data).substr(start, end - start));
    *stored_bytes += r.stored_length;
    start = end;
  }
  EXPECT_TRUE(store->Flush().ok());
  return {MegabytesPerSecond(data.size(), watch.Seconds()),
          MegabytesPerSecond(data.size(), watch.CpuSeconds())};
}

TEST(PackStoreTest, ReportsWriteThroughput) {
  const size_t size = 128 << 20;
  // Text-like data: words from a small vocabulary, compresses about 6:1 with zstd.
  std::string text;
  text.reserve(size);
  const std::string random = RandomBytes(size, 10);
  static const char* const kWords[] = {"loss ", "epoch ", "0.4213 ",   "step ", "lr=3e-4 ",
                                       "grad ", "\n",     "accuracy ", "val ",  "1024 "};
  for (size_t i = 0; text.size() < size; ++i) text += kWords[static_cast<uint8_t>(random[i]) % 10];
  text.resize(size);
  struct Case {
    const char* name;
    const std::string* data;
  } cases[] = {{"random", &random}, {"text", &text}};
  for (const Case& c : cases) {
    for (const ChunkerParams& params : {ChunkerParams::Datasets(), ChunkerParams::Models()}) {
      TempDir tmp;
      uint64_t stored = 0;
      const Throughput t = StoreWriteThroughput(tmp.path(), *c.data, params, &stored);
      std::printf(
          "store write %s, chunks %u/%u/%u, one thread, chunk+hash+zstd+append+flush: "
          "%.0f MiB/s wall, %.0f MiB/s per CPU-second, %.1f%% of input stored\n",
          c.name, params.min_size, params.avg_size, params.max_size, t.wall_mbps, t.cpu_mbps,
          100.0 * static_cast<double>(stored) / static_cast<double>(size));
    }
  }
}

}  // namespace
}  // namespace paddock::storage
