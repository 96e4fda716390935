// The versioned store's routes: /api/v1/repos/... (repositories, commits, trees, files, diffs,
// branches, tags, merge, revert, checkout, archives) and /api/v1/store/{gc,fsck}. docs/api.md,
// "Repositories", is the user's description; daemon/openapi.json the machine's.
//
// Who may do what: every authenticated caller reads and writes every repository (a small team
// shares them); deleting a repository, gc and fsck need an admin. Host paths are accessed with the
// caller's own file system identity (daemon/host_identity.h): token callers get 403 for them and
// move data as tar archives instead.
//
// Streaming: a tar upload (POST .../commits with a tar content type) goes from the socket through
// the tar reader into the store as it arrives, never held whole and not bound by
// api.max_body_bytes ([store] max_upload_bytes bounds it instead); file downloads (with Range) and
// archives are written to the socket as they are read from the store.
//
// Errors are problem+json: the store's kInvalidArgument names the request field it concerns,
// kNotFound is 404, kAlreadyExists 409 already-exists, kConflict 409 conflict (a moved branch,
// with the branch's current "head"), merge conflicts 409 merge-conflict with "conflicts",
// kPermissionDenied 403 naming the host path, kResourceExhausted 507. While the store is disabled
// or could not be opened every route answers 503 store-unavailable with the reason.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "daemon/router.h"

namespace paddock {

namespace storage {
class Store;
}

// The store as the routes see it. Owned by the Daemon, which fills it before the server takes
// requests and empties it only after the server has stopped.
struct StoreContext {
  storage::Store* store = nullptr;            // null: disabled, or it could not be opened
  std::string unavailable;                    // why `store` is null, for the 503
  std::atomic<uint64_t> max_upload_bytes{0};  // [store] max_upload_bytes; 0 = unlimited (reload)
};

// `*context` is read at request time, so it may be set after registration (null: 503).
void RegisterStoreRoutes(Router* router, StoreContext* const* context);

}  // namespace paddock
