# GPU units, the allocator (checked against a brute-force reference) and MIG layout planning.
# Pure logic: runs anywhere, no GPU needed. Included from tests/unit/CMakeLists.txt.
# The same checks also run on the inventories built from the hwloc exports and, through the test
# NVML library (tests/test_nvml), the machine descriptions.
paddock_unit_test(gpu_allocator_test ${CMAKE_CURRENT_LIST_DIR}/gpu_allocator_test.cc)
target_link_libraries(gpu_allocator_test PRIVATE paddock_gpu)
target_compile_definitions(gpu_allocator_test PRIVATE
  PADDOCK_TEST_NVML_LIBRARY="$<TARGET_FILE:paddock_test_nvml>")
add_dependencies(gpu_allocator_test paddock_test_nvml)
