# Storage core: chunker, pack store, object encodings.
paddock_unit_test(storage_core_test storage_chunker_test.cc storage_pack_store_test.cc
                  storage_objects_test.cc)
target_link_libraries(storage_core_test PRIVATE paddock_storage)
