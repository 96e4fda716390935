#include "daemon/token_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <ctime>
#include <mutex>

#include "base/file_util.h"
#include "base/hex.h"
#include "base/log.h"

namespace paddock {

std::string Sha256Hex(std::string_view data) {
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up, under a lock, on
  // every call, and this runs on every authenticated request.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, kSha256, nullptr);
  return HexEncode(digest, length);
}

std::string NewTokenSecret() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: nothing safe to do
  // base64url without padding: 32 bytes -> 43 characters.
  std::string out = "pdk_";
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

bool TokenStore::IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  // "." and ".." cannot appear as a path segment (/api/v1/tokens/..), so could never be removed.
  if (name.find_first_not_of('.') == std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Status TokenStore::Load() {
  std::unordered_map<std::string, TokenInfo> loaded;
  PADDOCK_RETURN_IF_ERROR(db_->Query(
      "SELECT name, sha256, admin, created_at FROM api_tokens", {}, [&](const StateDb::Row& r) {
        TokenInfo info{std::get<std::string>(r[0]), std::get<int64_t>(r[2]) != 0,
                       std::get<int64_t>(r[3])};
        loaded.emplace(std::get<std::string>(r[1]), std::move(info));
      }));
  std::unique_lock lock(mutex_);
  by_hash_ = std::move(loaded);
  return Status::Ok();
}

Status TokenStore::Upsert(const TokenInfo& info, const std::string& hash) {
  return db_->Query(
      "INSERT INTO api_tokens(name, sha256, admin, created_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(name) DO UPDATE SET sha256 = excluded.sha256, admin = excluded.admin, "
      "created_at = excluded.created_at",
      {info.name, hash, int64_t{info.admin ? 1 : 0}, info.created_at});
}

Status TokenStore::EnsureAdminToken(const std::string& token_path) {
  std::string secret;
  auto existing = ReadFileToString(token_path);
  if (existing.ok()) {
    secret = *existing;
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == ' ')) secret.pop_back();
  }
  if (secret.empty()) {
    secret = NewTokenSecret();
    PADDOCK_RETURN_IF_ERROR(WriteFileAtomically(token_path, secret + "\n", 0600));
    LogInfo("created admin token", {{"TOKEN_FILE", token_path}});
  }
  const std::string hash = Sha256Hex(secret);
  {
    std::shared_lock lock(mutex_);
    auto it = by_hash_.find(hash);
    if (it != by_hash_.end() && it->second.name == kAdminTokenName) return Status::Ok();
  }
  TokenInfo info{std::string(kAdminTokenName), true, static_cast<int64_t>(std::time(nullptr))};
  PADDOCK_RETURN_IF_ERROR(Upsert(info, hash));
  return Load();
}

Result<std::pair<TokenInfo, std::string>> TokenStore::Create(const std::string& name, bool admin) {
  if (!IsValidName(name)) {
    return Status::InvalidArgument("token names are 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  TokenInfo info{name, admin, static_cast<int64_t>(std::time(nullptr))};
  std::string secret = NewTokenSecret();
  const std::string hash = Sha256Hex(secret);
  Status s = db_->Query(
      "INSERT INTO api_tokens(name, sha256, admin, created_at) "
      "VALUES (?1, ?2, ?3, ?4)",
      {name, hash, int64_t{admin ? 1 : 0}, info.created_at});
  if (s.code() == StatusCode::kConflict) {
    return Status::AlreadyExists("a token named \"" + name + "\" exists already");
  }
  PADDOCK_RETURN_IF_ERROR(s);
  std::unique_lock lock(mutex_);
  by_hash_.emplace(hash, info);
  return std::make_pair(info, std::move(secret));
}

Status TokenStore::Remove(const std::string& name) {
  if (name == kAdminTokenName) {
    return Status::FailedPrecondition(
        "the admin token cannot be removed; delete admin.token and restart to rotate it");
  }
  auto removed = db_->Execute("DELETE FROM api_tokens WHERE name = ?1", {name});
  if (!removed.ok()) return removed.status();
  if (*removed == 0) return Status::NotFound("no token named \"" + name + "\"");
  std::unique_lock lock(mutex_);
  std::erase_if(by_hash_, [&](const auto& entry) { return entry.second.name == name; });
  return Status::Ok();
}

std::vector<TokenInfo> TokenStore::List() const {
  std::vector<TokenInfo> out;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [hash, info] : by_hash_) out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

size_t TokenStore::size() const {
  std::shared_lock lock(mutex_);
  return by_hash_.size();
}

std::optional<TokenInfo> TokenStore::Authenticate(std::string_view secret) const {
  if (secret.empty()) return std::nullopt;
  const std::string hash = Sha256Hex(secret);
  std::shared_lock lock(mutex_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

}  // namespace paddock
