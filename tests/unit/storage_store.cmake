# Storage store: the facade as its users (daemon routes, benchmarks) rely on it: commits,
# checkouts, history, merge, tar; concurrency, gc, crash safety, a full disk, dedup and speed;
# file system identities and permissions (as root; skipped otherwise).
paddock_unit_test(storage_store_test storage_store_test.cc storage_store_stress_test.cc
                  storage_store_identity_test.cc)
target_link_libraries(storage_store_test PRIVATE paddock_storage PkgConfig::LIBARCHIVE)
