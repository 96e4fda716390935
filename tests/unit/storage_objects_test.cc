// Object encodings: round trips, canonical form, strict rejection of malformed input, and
// storing the objects in a pack store under their type byte.
#include <gtest/gtest.h>

#include <random>

#include "storage/objects.h"
#include "storage/pack_store.h"
#include "storage/wire.h"
#include "tests/unit/temp_dir.h"

namespace paddock::storage {
namespace {

FileObject SampleFile() {
  return FileObject{{{ObjectId::Hash("c1"), 65536}, {ObjectId::Hash("c2"), 100}}};
}

Tree SampleTree() {
  Tree t;
  t.entries.push_back({"zeta.bin", EntryKind::kFile, ObjectId::Hash("f"), 65636, ""});
  t.entries.push_back({"run.sh", EntryKind::kExecutable, ObjectId::Hash("g"), 12, ""});
  t.entries.push_back({"latest", EntryKind::kSymlink, ObjectId(), 0, "../ckpt/step-100"});
  t.entries.push_back({"data", EntryKind::kDirectory, ObjectId::Hash("t"), 0, ""});
  t.entries.push_back({"empty", EntryKind::kFile, EmptyFileId(), 0, ""});
  t.entries.push_back({"\xc3\xa9t\xc3\xa9", EntryKind::kFile, EmptyFileId(), 0, ""});
  return t;
}

Commit SampleCommit() {
  Commit c;
  c.tree = ObjectId::Hash("root");
  c.parents = {ObjectId::Hash("p1"), ObjectId::Hash("p2")};
  c.time_ms = 1718000000123;
  c.author = "Ada <ada@example.org>";
  c.message = "train: 10 more epochs\n\nloss 0.42 → 0.31";
  c.metadata_json = R"({"job":"j-17","gpu":[0,1]})";
  return c;
}

// Every strict prefix of a valid encoding must be rejected, as must any trailing byte.
template <typename Decode>
void ExpectTruncationsAndTrailersRejected(const std::string& good, Decode decode) {
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(decode(good.substr(0, n)).status().code(), StatusCode::kInvalidArgument) << n;
  }
  EXPECT_EQ(decode(good + '\0').status().code(), StatusCode::kInvalidArgument);
}

// Random byte damage: decoding must never crash, and whatever it accepts must be canonical,
// i.e. re-encode to exactly the same bytes (so one content has one id).
template <typename Decode, typename Encode>
void ExpectMutationsSafeAndCanonical(const std::string& good, Decode decode, Encode encode) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto decoded = decode(bad);
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
      continue;
    }
    auto again = encode(*decoded);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, bad);
  }
}

TEST(FileObjectTest, RoundTrip) {
  const FileObject f = SampleFile();
  Result<std::string> bytes = EncodeFile(f);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), 8u + 2 * 36);
  Result<FileObject> back = DecodeFile(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, f);
  EXPECT_EQ(back->size(), 65636u);
}

TEST(FileObjectTest, EmptyFileHasAFixedId) {
  EXPECT_EQ(EncodeFile(FileObject{}).value(), std::string("PKF1\0\0\0\0", 8));
  EXPECT_EQ(EmptyFileId(), ObjectId::Hash(std::string("PKF1\0\0\0\0", 8)));
}

TEST(FileObjectTest, RejectsMalformed) {
  EXPECT_FALSE(EncodeFile(FileObject{{{ObjectId::Hash("c"), 0}}}).ok());
  const std::string good = EncodeFile(SampleFile()).value();
  ExpectTruncationsAndTrailersRejected(good, DecodeFile);
  std::string zero_size = good;
  zero_size.replace(8 + 32, 4, std::string(4, '\0'));
  EXPECT_FALSE(DecodeFile(zero_size).ok());
  std::string huge_count = good;
  huge_count.replace(4, 4, "\xff\xff\xff\xff");
  EXPECT_FALSE(DecodeFile(huge_count).ok());
  EXPECT_FALSE(DecodeFile("PKT1" + good.substr(4)).ok());
  ExpectMutationsSafeAndCanonical(good, DecodeFile, EncodeFile);
}

TEST(TreeTest, RoundTripSortsEntries) {
  const Tree t = SampleTree();
  Result<std::string> bytes = EncodeTree(t);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<Tree> back = DecodeTree(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->entries.size(), t.entries.size());
  // Bytewise unsigned order: "\xc3..." sorts after every ASCII name.
  const char* const expected[] = {"data",   "empty",    "latest",
                                  "run.sh", "zeta.bin", "\xc3\xa9t\xc3\xa9"};
  for (size_t i = 0; i < std::size(expected); ++i) EXPECT_EQ(back->entries[i].name, expected[i]);
  // Same set of entries in any order: same bytes, same id.
  Tree shuffled = t;
  std::reverse(shuffled.entries.begin(), shuffled.entries.end());
  EXPECT_EQ(EncodeTree(shuffled).value(), *bytes);
  EXPECT_EQ(EncodeTree(*back).value(), *bytes);
  const TreeEntry& link = back->entries[2];
  EXPECT_EQ(link.kind, EntryKind::kSymlink);
  EXPECT_EQ(link.target, "../ckpt/step-100");
  EXPECT_EQ(EncodeTree(Tree{}).value(), std::string("PKT1\0\0\0\0", 8));
}

TEST(TreeTest, RejectsInvalidEntries) {
  const auto with = [](TreeEntry e) { return EncodeTree(Tree{{e}}).status().code(); };
  const ObjectId f = ObjectId::Hash("f");
  constexpr auto kBad = StatusCode::kInvalidArgument;
  EXPECT_EQ(with({"", EntryKind::kFile, f, 1, ""}), kBad);
  EXPECT_EQ(with({".", EntryKind::kDirectory, f, 0, ""}), kBad);
  EXPECT_EQ(with({"..", EntryKind::kDirectory, f, 0, ""}), kBad);
  EXPECT_EQ(with({"a/b", EntryKind::kFile, f, 1, ""}), kBad);
  EXPECT_EQ(with({std::string("a\0b", 3), EntryKind::kFile, f, 1, ""}), kBad);
  EXPECT_EQ(with({std::string(256, 'n'), EntryKind::kFile, f, 1, ""}), kBad);
  EXPECT_EQ(with({"l", EntryKind::kSymlink, ObjectId(), 0, ""}), kBad);
  EXPECT_EQ(with({"l", EntryKind::kSymlink, f, 0, "target"}), kBad);
  EXPECT_EQ(with({"l", EntryKind::kSymlink, ObjectId(), 0, std::string(4096, 't')}), kBad);
  EXPECT_EQ(with({"e", EntryKind::kFile, f, 0, ""}), kBad);  // size 0 needs the empty id
  EXPECT_EQ(with({"e", EntryKind::kFile, EmptyFileId(), 5, ""}), kBad);
  EXPECT_EQ(with({"d", EntryKind::kDirectory, f, 3, ""}), kBad);
  EXPECT_EQ(with({"x", static_cast<EntryKind>(9), f, 1, ""}), kBad);
  EXPECT_EQ(with({std::string(255, 'n'), EntryKind::kFile, f, 1, ""}), StatusCode::kOk);
  Tree dup;
  dup.entries.push_back({"same", EntryKind::kFile, f, 1, ""});
  dup.entries.push_back({"same", EntryKind::kDirectory, f, 0, ""});
  EXPECT_EQ(EncodeTree(dup).status().code(), kBad);
}

TEST(TreeTest, DecodeRejectsMalformed) {
  const std::string good = EncodeTree(SampleTree()).value();
  ExpectTruncationsAndTrailersRejected(good, DecodeTree);
  // Two entries out of order, encoded by hand.
  std::string unsorted = "PKT1";
  PutU32(&unsorted, 2);
  for (const char* name : {"b", "a"}) {
    PutU8(&unsorted, static_cast<uint8_t>(EntryKind::kDirectory));
    PutU16(&unsorted, 1);
    unsorted += name;
    PutId(&unsorted, ObjectId::Hash("t"));
  }
  EXPECT_EQ(DecodeTree(unsorted).status().code(), StatusCode::kInvalidArgument);
  std::string huge_count = good;
  huge_count.replace(4, 4, "\xff\xff\xff\x7f");
  EXPECT_FALSE(DecodeTree(huge_count).ok());
  ExpectMutationsSafeAndCanonical(good, DecodeTree, EncodeTree);
}

TEST(CommitTest, RoundTrip) {
  const Commit c = SampleCommit();
  Result<std::string> bytes = EncodeCommit(c);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<Commit> back = DecodeCommit(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);
  Commit root;
  root.tree = ObjectId::Hash("t");
  EXPECT_EQ(DecodeCommit(EncodeCommit(root).value()).value(), root);
}

TEST(CommitTest, RejectsInvalid) {
  constexpr auto kBad = StatusCode::kInvalidArgument;
  Commit c = SampleCommit();
  c.metadata_json = "{not json";
  EXPECT_EQ(EncodeCommit(c).status().code(), kBad);
  c.metadata_json = "[1,2]";  // JSON, but not an object
  EXPECT_EQ(EncodeCommit(c).status().code(), kBad);
  c = SampleCommit();
  c.parents.push_back(c.parents[0]);
  EXPECT_EQ(EncodeCommit(c).status().code(), kBad);
  c = SampleCommit();
  c.author = "\xff\xfe";
  EXPECT_EQ(EncodeCommit(c).status().code(), kBad);
  c = SampleCommit();
  c.message = "\xed\xa0\x80";  // an encoded surrogate
  EXPECT_EQ(EncodeCommit(c).status().code(), kBad);
  c = SampleCommit();
  c.message = std::string("a\0b", 3);
  EXPECT_EQ(EncodeCommit(c).status().code(), kBad);
  c = SampleCommit();
  c.time_ms = -1;
  EXPECT_EQ(EncodeCommit(c).status().code(), kBad);
  c = SampleCommit();
  c.parents.assign(257, ObjectId());
  for (size_t i = 0; i < c.parents.size(); ++i) c.parents[i] = ObjectId::Hash(std::to_string(i));
  EXPECT_EQ(EncodeCommit(c).status().code(), kBad);
}

TEST(CommitTest, DecodeRejectsMalformed) {
  const std::string good = EncodeCommit(SampleCommit()).value();
  ExpectTruncationsAndTrailersRejected(good, DecodeCommit);
  std::string huge_count = good;
  huge_count.replace(4 + 32, 4, "\xff\xff\xff\xff");
  EXPECT_FALSE(DecodeCommit(huge_count).ok());
  EXPECT_FALSE(DecodeCommit("PKF1" + good.substr(4)).ok());
  ExpectMutationsSafeAndCanonical(good, DecodeCommit, EncodeCommit);
}

TEST(ObjectsInPackStoreTest, StoredWithTheirTypeAndIdOfTheEncoding) {
  TempDir tmp;
  Result<std::unique_ptr<PackStore>> store = PackStore::Open(tmp.path(), {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::string file = EncodeFile(SampleFile()).value();
  const std::string tree = EncodeTree(SampleTree()).value();
  const std::string commit = EncodeCommit(SampleCommit()).value();
  const ObjectId file_id = (*store)->Put(ObjectType::kFile, file).value().id;
  const ObjectId tree_id = (*store)->Put(ObjectType::kTree, tree).value().id;
  const ObjectId commit_id = (*store)->Put(ObjectType::kCommit, commit).value().id;
  EXPECT_EQ(tree_id, ObjectId::Hash(tree));
  ASSERT_TRUE((*store)->Flush().ok());
  store->reset();
  store = PackStore::Open(tmp.path(), {});
  ASSERT_TRUE(store.ok());
  Result<StoredObject> got = (*store)->Get(commit_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->type, ObjectType::kCommit);
  EXPECT_EQ(DecodeCommit(got->data).value(), SampleCommit());
  EXPECT_EQ((*store)->Get(tree_id).value().type, ObjectType::kTree);
  EXPECT_EQ(DecodeFile((*store)->Get(file_id).value().data).value(), SampleFile());
}

}  // namespace
}  // namespace paddock::storage
