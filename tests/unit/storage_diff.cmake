# Storage diff: tree diff, three-way merge and revert.
paddock_unit_test(storage_diff_test storage_tree_diff_test.cc storage_merge_test.cc)
target_link_libraries(storage_diff_test PRIVATE paddock_storage)
