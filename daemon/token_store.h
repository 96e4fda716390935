// TokenStore: the bearer tokens that authenticate TCP callers of the API.
//
// Only each token's SHA-256 is stored (table api_tokens); the secret is shown once, when created.
// The built-in "admin" token's secret lives in <state_dir>/admin.token (mode 0600, root-only) so
// an administrator can read it; deleting that file and restarting the daemon rotates it.
// All methods are thread-safe; Authenticate() is served from memory (it is on every request).
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "daemon/state_db.h"

namespace paddock {

inline constexpr std::string_view kAdminTokenName = "admin";

struct TokenInfo {
  std::string name;
  bool admin = false;
  int64_t created_at = 0;  // unix seconds
};

class TokenStore {
 public:
  // `db` must outlive the store.
  explicit TokenStore(StateDb* db) : db_(db) {}

  // Loads every token from the database.
  Status Load();
  // Makes sure the admin token exists and matches the file at `token_path`, creating a new secret
  // in that file (0600) when the file is missing.
  Status EnsureAdminToken(const std::string& token_path);

  // Creates a token; returns its info and the secret. Names are 1-64 of [A-Za-z0-9._-], not only
  // dots.
  Result<std::pair<TokenInfo, std::string>> Create(const std::string& name, bool admin);
  // Removes a token by name. The admin token cannot be removed (kFailedPrecondition).
  Status Remove(const std::string& name);
  std::vector<TokenInfo> List() const;
  size_t size() const;

  // The token whose secret is `secret`, if any.
  std::optional<TokenInfo> Authenticate(std::string_view secret) const;

  static bool IsValidName(std::string_view name);

 private:
  Status Upsert(const TokenInfo& info, const std::string& hash);

  StateDb* db_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, TokenInfo> by_hash_;
};

// Hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// A new random secret: "pdk_" + 43 base64url characters (256 bits).
std::string NewTokenSecret();

}  // namespace paddock
