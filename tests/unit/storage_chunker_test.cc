// Chunker: the gear table's generation rule, parameter validation, determinism, size limits,
// streaming equivalence and boundary stability under edits.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "storage/chunker.h"
#include "storage/object_id.h"
#include "tests/unit/storage_test_util.h"

namespace paddock::storage {
namespace {

using testing::MegabytesPerSecond;
using testing::RandomBytes;
using testing::Stopwatch;

std::vector<uint64_t> Ends(const ChunkerParams& params, std::string_view data) {
  Result<std::vector<uint64_t>> ends = ChunkEnds(params, data);
  EXPECT_TRUE(ends.ok()) << ends.status().ToString();
  return ends.ok() ? *ends : std::vector<uint64_t>{};
}

std::vector<std::string_view> Split(std::string_view data, const std::vector<uint64_t>& ends) {
  std::vector<std::string_view> chunks;
  uint64_t start = 0;
  for (uint64_t end : ends) {
    chunks.push_back(data.substr(start, end - start));
    start = end;
  }
  return chunks;
}

// Bytes of `after`'s chunks that are not among `before`'s chunks: what storing `after` next to
// `before` would add.
uint64_t NewChunkBytes(const ChunkerParams& params, std::string_view before,
                       std::string_view after) {
  std::set<ObjectId> known;
  for (std::string_view c : Split(before, Ends(params, before))) known.insert(ObjectId::Hash(c));
  uint64_t added = 0;
  for (std::string_view c : Split(after, Ends(params, after))) {
    if (!known.contains(ObjectId::Hash(c))) added += c.size();
  }
  return added;
}

TEST(ChunkerTest, GearTableFollowsItsGenerationRule) {
  const auto table = GearTable();
  for (int i = 0; i < 256; ++i) {
    const uint8_t byte = static_cast<uint8_t>(i);
    unsigned char digest[32];
    unsigned int length = 0;
    ASSERT_EQ(EVP_Digest(&byte, 1, digest, &length, EVP_sha256(), nullptr), 1);
    uint64_t expected = 0;
    for (int k = 0; k < 8; ++k) expected = (expected << 8) | digest[k];
    EXPECT_EQ(table[i], expected) << "gear entry " << i;
  }
}

TEST(ChunkerTest, ValidatesParameters) {
  EXPECT_TRUE(ChunkerParams::Datasets().Validate().ok());
  EXPECT_TRUE(ChunkerParams::Models().Validate().ok());
  const ChunkerParams bad[] = {
      {0, 1024, 4096},                 // min 0
      {2048, 1024, 4096},              // min > avg
      {512, 1000, 4096},               // avg not a power of two
      {64, 128, 4096},                 // avg too small for the small mask
      {1024, 4096, 4096},              // avg == max
      {1u << 20, 1u << 24, 1u << 27},  // max over 64 MiB
  };
  for (const ChunkerParams& p : bad) {
    EXPECT_EQ(p.Validate().code(), StatusCode::kInvalidArgument)
        << p.min_size << "/" << p.avg_size << "/" << p.max_size;
    EXPECT_FALSE(Chunker::Create(p).ok());
  }
}

TEST(ChunkerTest, DeterministicAndCoversTheInput) {
  const std::string data = RandomBytes(8 << 20, 1);
  const std::vector<uint64_t> a = Ends(ChunkerParams::Datasets(), data);
  const std::vector<uint64_t> b = Ends(ChunkerParams::Datasets(), data);
  EXPECT_EQ(a, b);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.back(), data.size());
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  // Content-defined: 8 MiB at ~64 KiB average is well over 50 chunks and under 8 MiB / 16 KiB.
  EXPECT_GT(a.size(), 50u);
  EXPECT_LT(a.size(), 512u);
}

TEST(ChunkerTest, PinnedBoundariesNeverChange) {
  // Boundaries decide which chunks exist on disk: a change to the algorithm or the gear table
  // would make every stored file look new. These values were recorded when the format was fixed.
  const std::string data = RandomBytes(1 << 20, 42);
  const std::vector<uint64_t> ends = Ends(ChunkerParams::Datasets(), data);
  std::string joined;
  for (uint64_t e : ends) joined += std::to_string(e) + ",";
  EXPECT_EQ(ObjectId::Hash(joined).ToHex().substr(0, 16), "899aeefb98cfeecc") << joined;
}

TEST(ChunkerTest, RespectsMinAndMaxForBothPresets) {
  for (const ChunkerParams& params : {ChunkerParams::Datasets(), ChunkerParams::Models()}) {
    const std::string data = RandomBytes(48 << 20, 2);
    const std::vector<uint64_t> ends = Ends(params, data);
    uint64_t start = 0;
    for (size_t i = 0; i < ends.size(); ++i) {
      const uint64_t length = ends[i] - start;
      EXPECT_LE(length, params.max_size);
      if (i + 1 < ends.size()) {
        EXPECT_GT(length, params.min_size);
      }
      start = ends[i];
    }
    const double average = static_cast<double>(data.size()) / static_cast<double>(ends.size());
    std::printf("chunker %u/%u/%u: %zu chunks, average %.0f bytes\n", params.min_size,
                params.avg_size, params.max_size, ends.size(), average);
    // Normalized chunking keeps the average near avg_size.
    EXPECT_GT(average, 0.75 * params.avg_size);
    EXPECT_LT(average, 1.5 * params.avg_size);
  }
}

TEST(ChunkerTest, UniformDataIsCutAtMax) {
  const ChunkerParams params = ChunkerParams::Datasets();
  const std::string zeros(1 << 20, '\0');
  const std::vector<uint64_t> ends = Ends(params, zeros);
  ASSERT_EQ(ends.size(), (1u << 20) / params.max_size);
  for (size_t i = 0; i < ends.size(); ++i) EXPECT_EQ(ends[i], (i + 1) * params.max_size);
}

TEST(ChunkerTest, InputShorterThanMinIsOneChunk) {
  const ChunkerParams params = ChunkerParams::Datasets();
  for (size_t size : {size_t{1}, size_t{100}, size_t{params.min_size}}) {
    EXPECT_EQ(Ends(params, RandomBytes(size, 3)), std::vector<uint64_t>{size});
  }
  EXPECT_TRUE(Ends(params, "").empty());
}

TEST(ChunkerTest, StreamingWithRandomBufferSizesMatchesOneShot) {
  const std::string data = RandomBytes(16 << 20, 4);
  for (const ChunkerParams& params : {ChunkerParams::Datasets(), ChunkerParams::Models()}) {
    const std::vector<uint64_t> one_shot = Ends(params, data);
    std::mt19937_64 rng(5);
    for (int round = 0; round < 3; ++round) {
      Result<Chunker> chunker = Chunker::Create(params);
      ASSERT_TRUE(chunker.ok());
      std::vector<uint64_t> streamed;
      size_t pos = 0;
      while (pos < data.size()) {
        // Mostly small feeds (down to one byte) so boundaries land at every buffer position.
        const size_t cap = round == 0 ? 16 : round == 1 ? 4096 : (1 << 20);
        const size_t n = std::min<size_t>(1 + rng() % cap, data.size() - pos);
        chunker->Update(std::string_view(data).substr(pos, n), &streamed);
        pos += n;
        if (round == 0 && pos > (2 << 20)) break;  // one-byte-ish feeds are slow; 2 MiB suffice
      }
      if (pos < data.size()) {
        chunker->Update(std::string_view(data).substr(pos), &streamed);
      }
      chunker->Finish(&streamed);
      EXPECT_EQ(streamed, one_shot) << "round " << round;
    }
  }
}

TEST(ChunkerTest, FindBoundaryReportsCutAtTheEndOfABuffer) {
  const ChunkerParams params = ChunkerParams::Datasets();
  const std::string data = RandomBytes(4 << 20, 6);
  const std::vector<uint64_t> ends = Ends(params, data);
  ASSERT_GE(ends.size(), 2u);
  // Feed exactly the first chunk: the cut falls on the buffer's last byte.
  Result<Chunker> chunker = Chunker::Create(params);
  ASSERT_TRUE(chunker.ok());
  bool boundary = false;
  const size_t used =
      chunker->FindBoundary(reinterpret_cast<const uint8_t*>(data.data()), ends[0], &boundary);
  EXPECT_EQ(used, ends[0]);
  EXPECT_TRUE(boundary);
  EXPECT_EQ(chunker->pending(), 0u);
}

// The product goal: a 1 GiB file with 1 MiB changed stores < 5 MiB of new data. Scaled to a
// 64 MiB buffer; the bound does not depend on the file size, only on chunks near the edit.
TEST(ChunkerTest, EditInTheMiddleChangesOnlyNearbyChunks) {
  const std::string base = RandomBytes(64 << 20, 7);
  const std::string patch = RandomBytes(1 << 20, 8);
  const size_t middle = base.size() / 2 + 12345;
  std::string inserted = base;
  inserted.insert(middle, patch);
  std::string overwritten = base;
  overwritten.replace(middle, patch.size(), patch);
  for (const ChunkerParams& params : {ChunkerParams::Datasets(), ChunkerParams::Models()}) {
    const uint64_t after_insert = NewChunkBytes(params, base, inserted);
    const uint64_t after_overwrite = NewChunkBytes(params, base, overwritten);
    std::printf("chunker %u/%u/%u: 1 MiB inserted -> %.2f MiB new, overwritten -> %.2f MiB new\n",
                params.min_size, params.avg_size, params.max_size, after_insert / 1048576.0,
                after_overwrite / 1048576.0);
    EXPECT_LT(after_insert, 5u << 20);
    EXPECT_LT(after_overwrite, 5u << 20);
    EXPECT_GE(after_insert, 1u << 20);  // the new bytes themselves
  }
}

TEST(ChunkerTest, ReportsThroughput) {
  const std::string data = RandomBytes(256 << 20, 9);
  for (const ChunkerParams& params : {ChunkerParams::Datasets(), ChunkerParams::Models()}) {
    Result<Chunker> chunker = Chunker::Create(params);
    ASSERT_TRUE(chunker.ok());
    std::vector<uint64_t> ends;
    Stopwatch watch;
    chunker->Update(data, &ends);
    chunker->Finish(&ends);
    std::printf("chunker %u/%u/%u: %.0f MiB/s wall, %.0f MiB/s per CPU-second, one thread\n",
                params.min_size, params.avg_size, params.max_size,
                MegabytesPerSecond(data.size(), watch.Seconds()),
                MegabytesPerSecond(data.size(), watch.CpuSeconds()));
    EXPECT_EQ(ends.back(), data.size());
  }
}

}  // namespace
}  // namespace paddock::storage
