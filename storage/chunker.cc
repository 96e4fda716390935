#include "storage/chunker.h"

#include <algorithm>
#include <bit>
#include <string>

namespace paddock::storage {
namespace {

// Entry i = big-endian first 8 bytes of SHA-256({i}); generated once and pasted here because the
// table decides chunk boundaries and must never change. chunker_test recomputes it.
constexpr uint64_t kGear[256] = {
    0x6e340b9cffb37a98ULL, 0x4bf5122f344554c5ULL, 0xdbc1b4c900ffe48dULL, 0x084fed08b978af4dULL,
    0xe52d9c508c502347ULL, 0xe77b9a9ae9e30b0dULL, 0x67586e98fad27da0ULL, 0xca358758f6d27e6cULL,
    0xbeead77994cf5733ULL, 0x2b4c342f5433ebe5ULL, 0x01ba4719c80b6fe9ULL, 0xe7cf46a078fed4faULL,
    0xef6cbd2161eaea79ULL, 0x9d1e0e2d9459d065ULL, 0x4d7b3ef7300acf70ULL, 0xdc0e9c3658a1a3edULL,
    0xc555eab45d08845aULL, 0x4a64a107f0cb3253ULL, 0xf299791cddd3d666ULL, 0xab897fbdedfa502bULL,
    0x83891d7fe85c33e5ULL, 0x2f0fd1e89b8de1d5ULL, 0x7cb7c4547cf26535ULL, 0x8f11b05da785e43eULL,
    0x452ba1ddef80246cULL, 0x68aa2e2ee5dff96eULL, 0x58f7b0780592032eULL, 0x77adfc95029e73b1ULL,
    0xbd4fc42a21f1f860ULL, 0x1f18d650d205d71dULL, 0x9652595f37edd08cULL, 0xffe679bb831c95b6ULL,
    0x36a9e7f1c95b82ffULL, 0xbb7208bc9b5d7c04ULL, 0x8a331fdde7032f33ULL, 0x334359b90efed75dULL,
    0x09fc96082d34c2dfULL, 0xbbf3f11cb5b43e70ULL, 0x951dcee3a7a4f3aaULL, 0x265fda17a34611b1ULL,
    0x32ebb1abcc1c601cULL, 0xba5ec51d07a4ac0eULL, 0x684888c0ebb17f37ULL, 0xa318c24216defe20ULL,
    0xd03502c43d74a30bULL, 0x3973e022e93220f9ULL, 0xcdb4ee2aea69cc6aULL, 0x8a5edab282632443ULL,
    0x5feceb66ffc86f38ULL, 0x6b86b273ff34fce1ULL, 0xd4735e3a265e16eeULL, 0x4e07408562bedb8bULL,
    0x4b227777d4dd1fc6ULL, 0xef2d127de37b942bULL, 0xe7f6c011776e8db7ULL, 0x7902699be42c8a8eULL,
    0x2c624232cdd22177ULL, 0x19581e27de7ced00ULL, 0xe7ac0786668e0ff0ULL, 0x41b805ea7ac014e2ULL,
    0xdabd3aff769f07ebULL, 0x380918b946a52664ULL, 0x62b67e1f685b7fefULL, 0x8a8de823d5ed3e12ULL,
    0xc3641f8544d7c02fULL, 0x559aead08264d579ULL, 0xdf7e70e5021544f4ULL, 0x6b23c0d5f35d1b11ULL,
    0x3f39d5c348e5b79dULL, 0xa9f51566bd6705f7ULL, 0xf67ab10ad4e4c531ULL, 0x333e0a1e27815d0cULL,
    0x44bd7ae60f478faeULL, 0xa83dd0ccbffe39d0ULL, 0x6da43b944e494e88ULL, 0x86be9a55762d316aULL,
    0x72dfcfb0c470ac25ULL, 0x08f271887ce94707ULL, 0x8ce86a6ae65d3692ULL, 0xc4694f2e93d5c4e7ULL,
    0x5c62e091b8c0565fULL, 0x4ae81572f06e1b88ULL, 0x8c2574892063f995ULL, 0x8de0b3c47f112c59ULL,
    0xe632b7095b0bf32cULL, 0xa25513c7e0f6eaa8ULL, 0xde5a6f78116eca62ULL, 0xfcb5f40df9be6baeULL,
    0x4b68ab3847feda7dULL, 0x18f5384d58bcb1bbULL, 0xbbeebd879e1dff69ULL, 0x245843abef9e72e7ULL,
    0xa9253dc8529dd214ULL, 0xcfae0d4248f7142fULL, 0x74cd9ef9c7e15f57ULL, 0xd2e2adf7177b7a8aULL,
    0x8d33f520a3c4cef8ULL, 0xca978112ca1bbdcaULL, 0x3e23e8160039594aULL, 0x2e7d2c03a9507ae2ULL,
    0x18ac3e7343f01689ULL, 0x3f79bb7b435b0532ULL, 0x252f10c83610ebcaULL, 0xcd0aa9856147b6c5ULL,
    0xaaa9402664f1a41fULL, 0xde7d1b721a1e0632ULL, 0x189f40034be7a199ULL, 0x8254c329a92850f6ULL,
    0xacac86c0e609ca90ULL, 0x62c66a7a5dd70c31ULL, 0x1b16b1df538ba12dULL, 0x65c74c15a686187bULL,
    0x148de9c5a7a44d19ULL, 0x8e35c2cd3bf6641bULL, 0x454349e422f05297ULL, 0x043a718774c572bdULL,
    0xe3b98a4da31a127dULL, 0x0bfe935e70c321c7ULL, 0x4c94485e0c21ae6cULL, 0x50e721e49c013f00ULL,
    0x2d711642b726b044ULL, 0xa1fce4363854ff88ULL, 0x594e519ae499312bULL, 0x021fb596db81e6d0ULL,
    0xcbe5cfdf7c2118a9ULL, 0xd10b36aa74a59bcfULL, 0x7ace431cb61584cbULL, 0x620bfdaa346b088fULL,
    0x76be8b528d0075f7ULL, 0x591b7cc95037822dULL, 0xa5ab782c805e8bfbULL, 0x5ee0dd4d4840229fULL,
    0xaaa8e61e7faf37ddULL, 0xc00e7f889cfc9216ULL, 0x3cbdaf66b3dd2b17ULL, 0x4bfa260a661d6811ULL,
    0x4f362f9093bb8e70ULL, 0xe9b0c031f0493d3fULL, 0x2d31936919341244ULL, 0x3ebe1b59762a1c80ULL,
    0x9defb0a9e163278bULL, 0x075198bfe61765d3ULL, 0x949f94d858ef6ad1ULL, 0x5e37305c587caf07ULL,
    0x9e076ceaf246b600ULL, 0x7da59d0dfbe21f43ULL, 0x956062137518b270ULL, 0xd16bd22f7196c0a7ULL,
    0x67c872d4912c71f1ULL, 0x5bad0d1132ac152cULL, 0x84873854dba02cf6ULL, 0x2a0ab732b4e9d85eULL,
    0x79bec7ff3e69d1b4ULL, 0xfd9528b920d6d395ULL, 0x0605d1534eb8995fULL, 0x8d36bbb3d6fbf24fULL,
    0x6e3faf1e27d45fcaULL, 0x9d277175737fb500ULL, 0x35af2d15ebde4d67ULL, 0x1f184f101c67d585ULL,
    0xc19a797fa1fd590cULL, 0x8a8950f762366322ULL, 0x0a43b22d89fa2499ULL, 0x6d90fbacc073ee0bULL,
    0x88aa3e3b1f22c616ULL, 0x6922e93e3827642cULL, 0xfe1dcd3abfcd6b16ULL, 0x2dbf9365a0b09d85ULL,
    0x74e1ade320c66075ULL, 0x9e8e8c37a53bac77ULL, 0xbceef655b5a03491ULL, 0x087d80f7f182dd44ULL,
    0xee6bb86b44339392ULL, 0x22adaf058a2cb668ULL, 0x19753a9b7681b361ULL, 0x5a6e7a4754af8e7fULL,
    0xf4f97c88c409dcf3ULL, 0x149488d869cbef08ULL, 0x9be3799f24592e94ULL, 0x65f15821061635e6ULL,
    0x27952171c7fcdf0dULL, 0x892f60b39450a0e7ULL, 0xca41841c5c98e34fULL, 0x4d6a8e90039fc978ULL,
    0xd3bb0d59e354ea84ULL, 0x04d6c0c946716aacULL, 0x281c93990bac2c69ULL, 0xcbecda1c7d37d4c0ULL,
    0x26e5bfe4b0686167ULL, 0x68325720aabd7c82ULL, 0x478508483cbb05deULL, 0xb12dc850a3b0a3b7ULL,
    0xe4ff5e7d7a7f08e9ULL, 0xd1bbd73bb09190bfULL, 0xc557e71380112b98ULL, 0xae3f4619b0413d70ULL,
    0xd1211001882d2ce1ULL, 0x5a0ec31daa84fa27ULL, 0x49994461d6b46390ULL, 0x3340883aad3038ddULL,
    0x7c5bd2d144fdde49ULL, 0x4fb733bedb74fec8ULL, 0x13598656f10fa962ULL, 0x383e5d7d58caa41cULL,
    0x1dd8312636f6a0bfULL, 0x9a7b7b3a5d50781bULL, 0xc337ded6f56c0720ULL, 0x7a4a4b50f5121ed5ULL,
    0xd4b0c0a4a8cc6c25ULL, 0xb5c9a5f48292e3fbULL, 0x85f97e04d754c81dULL, 0x28969cdfa74a12c8ULL,
    0x528a84ce6b18eb7dULL, 0xcdce9374e0fecee1ULL, 0x0a2c6ea0370d1d49ULL, 0x414a21e525a759e3ULL,
    0xaf193a8cdcd0e3fbULL, 0x19152ddfba193b5bULL, 0x5d5c7d20a3aab9c1ULL, 0xb7d25296e7bc6a6bULL,
    0xfb95aa98d6e6c582ULL, 0x2795044ce0f83f71ULL, 0x7941cb07924fdc7bULL, 0x2ea970ff63aec5d7ULL,
    0x7d8c5da7fd418379ULL, 0xf031efa58744e97aULL, 0x30a5bfa58e128af9ULL, 0x457e4854863e7efaULL,
    0x5e1effe9b7bab73dULL, 0xab61ba11a38b007fULL, 0x0a3aaee7ccfb1a64ULL, 0xd0752b60adb148caULL,
    0xe6f207509afa3908ULL, 0xde2e331d891ae267ULL, 0x3ad4e44a4306fb62ULL, 0xf8d20e598df20877ULL,
    0x45f83d17e10b34fcULL, 0xf3df1f9c358ae8ecULL, 0x94455e3ed9f716beULL, 0x4d4d75d742863ab9ULL,
    0xfde502858306c235ULL, 0xd4f09e5c5af99a24ULL, 0x966c7c47125c7457ULL, 0x782e02029374527bULL,
    0x2017ff3461395672ULL, 0x27abdeddfe850349ULL, 0xb0b2988b6bbe724bULL, 0x50868f20258bbc9cULL,
    0xe596a8e5c49dd20aULL, 0xd52022534fa2dba3ULL, 0xaa7225e7d5b0a255ULL, 0x04b8d34e20e604caULL,
    0x98722e2ebed8ed3dULL, 0x3e151409ace91cb3ULL, 0xaa687b58b0e73e2eULL, 0xa8100ae6aa1940d0ULL,
};

// Normalized chunking, level 2: before avg_size the mask has log2(avg)+2 bits (cut probability
// 1/(4*avg) per byte), after it log2(avg)-2 bits (4/avg), which pulls chunk sizes towards avg.
// The mask takes the top bits because in a shift-left gear hash bit k depends on the last k+1
// bytes only; the top bits see the full 64-byte window.
uint64_t TopBitsMask(int bits) { return ~uint64_t{0} << (64 - bits); }

// Hashes bytes [0, n) of `p` into *hash, stopping just after the first byte after which
// (*hash & mask) == 0 (and setting *found). Returns the number of bytes hashed.
size_t ScanWithMask(const uint8_t* p, size_t n, uint64_t mask, uint64_t* hash, bool* found) {
  uint64_t h = *hash;
  for (size_t i = 0; i < n; ++i) {
    h = (h << 1) + kGear[p[i]];
    if ((h & mask) == 0) {
      *hash = h;
      *found = true;
      return i + 1;
    }
  }
  *hash = h;
  return n;
}

}  // namespace

std::span<const uint64_t, 256> GearTable() { return std::span<const uint64_t, 256>(kGear); }

Status ChunkerParams::Validate() const {
  const std::string sizes =
      std::to_string(min_size) + "/" + std::to_string(avg_size) + "/" + std::to_string(max_size);
  if (!(min_size > 0 && min_size < avg_size && avg_size < max_size)) {
    return Status::InvalidArgument("chunker sizes must satisfy 0 < min < avg < max, got " + sizes);
  }
  if (max_size > kMaxChunkSize) {
    return Status::InvalidArgument("chunker max size over 64 MiB: " + sizes);
  }
  if (!std::has_single_bit(avg_size) || avg_size < 256) {
    return Status::InvalidArgument("chunker avg size must be a power of two >= 256, got " + sizes);
  }
  return Status::Ok();
}

Result<Chunker> Chunker::Create(const ChunkerParams& params) {
  PADDOCK_RETURN_IF_ERROR(params.Validate());
  return Chunker(params);
}

Chunker::Chunker(const ChunkerParams& params) : params_(params) {
  const int avg_bits = std::countr_zero(params.avg_size);
  mask_small_ = TopBitsMask(avg_bits + 2);
  mask_large_ = TopBitsMask(avg_bits - 2);
}

size_t Chunker::FindBoundary(const uint8_t* data, size_t size, bool* boundary) {
  // The first min_size bytes of a chunk are not hashed at all: no cut can fall there, and
  // skipping them is much of FastCDC's speed.
  size_t used = std::min<size_t>(length_ < params_.min_size ? params_.min_size - length_ : 0, size);
  length_ += static_cast<uint32_t>(used);
  bool cut = false;
  used += ScanRegion(data + used, size - used, params_.avg_size, mask_small_, &cut);
  if (!cut) used += ScanRegion(data + used, size - used, params_.max_size, mask_large_, &cut);
  if (length_ == params_.max_size) cut = true;
  position_ += used;
  if (cut) {
    // The next chunk starts from a clean hash, so its boundaries do not depend on this chunk.
    length_ = 0;
    hash_ = 0;
  }
  *boundary = cut;
  return used;
}

size_t Chunker::ScanRegion(const uint8_t* p, size_t size, uint32_t end, uint64_t mask, bool* cut) {
  if (length_ >= end || size == 0) return 0;
  const size_t n = std::min<size_t>(end - length_, size);
  const size_t hashed = ScanWithMask(p, n, mask, &hash_, cut);
  length_ += static_cast<uint32_t>(hashed);
  return hashed;
}

void Chunker::Update(std::string_view data, std::vector<uint64_t>* chunk_ends) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    bool boundary = false;
    const size_t used = FindBoundary(p, left, &boundary);
    p += used;
    left -= used;
    if (boundary) chunk_ends->push_back(position_);
  }
}

void Chunker::Finish(std::vector<uint64_t>* chunk_ends) {
  if (length_ > 0) chunk_ends->push_back(position_);
  length_ = 0;
  hash_ = 0;
  position_ = 0;
}

Result<std::vector<uint64_t>> ChunkEnds(const ChunkerParams& params, std::string_view data) {
  Result<Chunker> chunker = Chunker::Create(params);
  if (!chunker.ok()) return chunker.status();
  std::vector<uint64_t> ends;
  chunker->Update(data, &ends);
  chunker->Finish(&ends);
  return ends;
}

}  // namespace paddock::storage
