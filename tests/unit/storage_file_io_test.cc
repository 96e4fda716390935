// file_io: streaming files into the store and back, chunk boundaries, range reads, the choice of
// chunker parameters and constant-memory streaming of large files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "storage/chunker.h"
#include "storage/file_io.h"
#include "storage/objects.h"
#include "tests/unit/storage_fsio_test_util.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

using testing::MegabytesPerSecond;
using testing::OpenTestStore;
using testing::RandomBytes;
using testing::Stopwatch;
using testing::WriteTestFile;

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenTestStore(dir_.Join("store")); }

  WrittenFile Write(std::string_view content,
                    const ChunkerParams& params = ChunkerParams::Datasets()) {
    const std::string path = dir_.Join("input");
    WriteTestFile(path, content);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    Result<WrittenFile> written = WriteFileObject(store_.get(), fd.get(), params);
    EXPECT_TRUE(written.ok()) << written.status().ToString();
    return written.ok() ? *written : WrittenFile{};
  }

  std::string ReadBack(const ObjectId& id) {
    const std::string path = dir_.Join("output");
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    const Status s = ReadFileObject(*store_, id, fd.get());
    EXPECT_TRUE(s.ok()) << s.ToString();
    Result<std::string> content = ReadFileToString(path);
    return content.ok() ? *content : "";
  }

  std::string Range(const ObjectId& id, uint64_t offset, uint64_t length) {
    std::string out;
    Result<uint64_t> n = ReadRange(*store_, id, offset, length, [&](std::string_view piece) {
      out += piece;
      return Status::Ok();
    });
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (n.ok()) {
      EXPECT_EQ(*n, out.size());
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<PackStore> store_;
};

TEST_F(FileIoTest, ContentComesBackExactlyForSizesAroundTheChunkLimits) {
  const ChunkerParams params = ChunkerParams::Datasets();
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{params.min_size - 1}, size_t{params.min_size},
        size_t{params.min_size + 1}, size_t{params.max_size}, size_t{3 * params.max_size + 17}}) {
    const std::string content = RandomBytes(size, size);
    const WrittenFile written = Write(content);
    EXPECT_EQ(written.size, size);
    EXPECT_EQ(ReadBack(written.id), content) << size;
  }
}

TEST_F(FileIoTest, ChunksAreTheChunkerBoundariesAndTheIdIsTheChunkListHash) {
  const std::string content = RandomBytes(1 << 20, 7);
  const WrittenFile written = Write(content);
  Result<FileObject> file = GetFileObject(*store_, written.id);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  Result<std::vector<uint64_t>> ends = ChunkEnds(ChunkerParams::Datasets(), content);
  ASSERT_TRUE(ends.ok());
  ASSERT_EQ(file->chunks.size(), ends->size());
  uint64_t start = 0;
  for (size_t i = 0; i < ends->size(); ++i) {
    const std::string_view chunk = std::string_view(content).substr(start, (*ends)[i] - start);
    EXPECT_EQ(file->chunks[i].id, ObjectId::Hash(chunk));
    EXPECT_EQ(file->chunks[i].size, chunk.size());
    start = (*ends)[i];
  }
  EXPECT_EQ(written.id, ObjectId::Hash(EncodeFile(*file).value()));
}

TEST_F(FileIoTest, SmallFileIsOneChunkAndEmptyFileIsTheEmptyFileObject) {
  const WrittenFile small = Write("hello, world\n");
  Result<FileObject> file = GetFileObject(*store_, small.id);
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(file->chunks.size(), 1u);
  EXPECT_EQ(file->chunks[0].id, ObjectId::Hash("hello, world\n"));

  const WrittenFile empty = Write("");
  EXPECT_EQ(empty.id, EmptyFileId());
  EXPECT_EQ(empty.size, 0u);
  EXPECT_EQ(ReadBack(empty.id), "");
}

TEST_F(FileIoTest, WritingTheSameContentAgainStoresNothing) {
  const std::string content = RandomBytes(500'000, 3);
  const WrittenFile first = Write(content);
  EXPECT_GT(first.bytes_stored, 0u);
  const WrittenFile second = Write(content);
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.bytes_stored, 0u);
}

TEST_F(FileIoTest, ReadRangeAtAndAroundChunkBoundaries) {
  const std::string content = RandomBytes(700'000, 11);
  const WrittenFile written = Write(content);
  Result<std::vector<uint64_t>> ends = ChunkEnds(ChunkerParams::Datasets(), content);
  ASSERT_TRUE(ends.ok());
  ASSERT_GE(ends->size(), 4u);
  std::vector<uint64_t> offsets = {0};
  for (uint64_t end : *ends) {
    offsets.push_back(end - 1);
    offsets.push_back(end);
    if (end + 1 < content.size()) offsets.push_back(end + 1);
  }
  for (uint64_t offset : offsets) {
    for (uint64_t length :
         {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{100'000}, uint64_t{10'000'000}}) {
      const std::string expected = content.substr(offset, length);
      ASSERT_EQ(Range(written.id, offset, length), expected) << offset << "+" << length;
    }
  }
}

TEST_F(FileIoTest, ReadRangeNeverFetchesChunksBeforeTheRange) {
  // A file object whose first chunk is not in the store: a range after it must still work,
  // which proves the reader finds its start from the chunk sizes alone.
  const std::string second = RandomBytes(1000, 5);
  const ObjectId present = store_->Put(ObjectType::kChunk, second)->id;
  FileObject file;
  file.chunks = {ChunkRef{ObjectId::Hash("never stored"), 4000}, ChunkRef{present, 1000}};
  const ObjectId id = store_->Put(ObjectType::kFile, EncodeFile(file).value())->id;

  EXPECT_EQ(Range(id, 4000, 1000), second);
  EXPECT_EQ(Range(id, 4100, 50), second.substr(100, 50));
  std::string ignored;
  Result<uint64_t> early = ReadRange(*store_, id, 3999, 2, [&](std::string_view piece) {
    ignored += piece;
    return Status::Ok();
  });
  EXPECT_EQ(early.status().code(), StatusCode::kNotFound);
}

TEST_F(FileIoTest, ReadRangeRejectsAStartPastTheEnd) {
  const WrittenFile written = Write("0123456789");
  EXPECT_EQ(Range(written.id, 10, 5), "");
  Result<uint64_t> past =
      ReadRange(*store_, written.id, 11, 1, [](std::string_view) { return Status::Ok(); });
  EXPECT_EQ(past.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FileIoTest, ReadingATreeAsAFileIsRefused) {
  const ObjectId tree = store_->Put(ObjectType::kTree, EncodeTree(Tree{}).value())->id;
  UniqueFd fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  EXPECT_EQ(ReadFileObject(*store_, tree, fd.get()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFileObject(*store_, ObjectId::Hash("absent"), fd.get()).code(),
            StatusCode::kNotFound);
}

TEST(ChooseChunkerParamsTest, ModelsForLargeOrModelLikeFilesDatasetsOtherwise) {
  EXPECT_EQ(ChooseChunkerParams("weights.safetensors", 10), ChunkerParams::Models());
  EXPECT_EQ(ChooseChunkerParams("dir/model.GGUF", 10), ChunkerParams::Models());
  for (const char* name : {"a.pt", "a.bin", "a.ckpt", "a.onnx", "a.h5"}) {
    EXPECT_EQ(ChooseChunkerParams(name, 1), ChunkerParams::Models()) << name;
  }
  EXPECT_EQ(ChooseChunkerParams("train.csv", 64ull << 20), ChunkerParams::Models());
  EXPECT_EQ(ChooseChunkerParams("train.csv", (64ull << 20) - 1), ChunkerParams::Datasets());
  EXPECT_EQ(ChooseChunkerParams("notes.pth.txt", 100), ChunkerParams::Datasets());
  EXPECT_EQ(ChooseChunkerParams("bin", 100), ChunkerParams::Datasets());
}

TEST_F(FileIoTest, LargeFileStreamsInBoundedMemory) {
  // 96 MiB written in pieces, so the test itself never holds it; the store must not either.
  constexpr size_t kPiece = 4u << 20;
  constexpr int kPieces = 24;
  const std::string path = dir_.Join("large.bin");
  {
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    for (int i = 0; i < kPieces; ++i) ASSERT_TRUE(WriteAll(out.get(), RandomBytes(kPiece, i)).ok());
  }
  if (!testing::ResetPeakResident()) GTEST_SKIP() << "cannot reset VmHWM here";
  const uint64_t before = testing::PeakResidentBytes();
  Stopwatch watch;
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  Result<WrittenFile> written = WriteFileObject(store_.get(), in.get(), ChunkerParams::Models());
  const double seconds = watch.Seconds();
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  const uint64_t growth = testing::PeakResidentBytes() - before;
  std::printf("[ figures ] WriteFileObject 96 MiB: %.0f MB/s (%.2f s), peak RSS growth %.1f MiB\n",
              MegabytesPerSecond(kPiece * kPieces, seconds), seconds,
              static_cast<double>(growth) / (1 << 20));
  EXPECT_EQ(written->size, kPiece * kPieces);
  EXPECT_LT(growth, 24u << 20);
}

}  // namespace
}  // namespace paddock::storage
