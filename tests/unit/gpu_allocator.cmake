# GPU units, the allocator (checked against a brute-force reference) and MIG layout planning.
# Pure logic: runs anywhere, no GPU needed. Included from tests/unit/CMakeLists.txt.
paddock_unit_test(gpu_allocator_test ${CMAKE_CURRENT_LIST_DIR}/gpu_allocator_test.cc)
target_link_libraries(gpu_allocator_test PRIVATE paddock_gpu)
