# Storage gc: reachability, garbage collection (concurrency, crash safety) and fsck.
paddock_unit_test(storage_gc_test storage_gc_test.cc storage_fsck_test.cc)
target_link_libraries(storage_gc_test PRIVATE paddock_storage)
