# NVML discovery, telemetry and MIG changes against the test NVML library (tests/test_nvml) and
# the machine descriptions in tests/fixtures/machines.
paddock_unit_test(gpu_nvml_test gpu_nvml_test.cc)
target_link_libraries(gpu_nvml_test PRIVATE paddock_gpu nlohmann_json::nlohmann_json)
target_compile_definitions(gpu_nvml_test PRIVATE
  PADDOCK_TEST_NVML_LIBRARY="$<TARGET_FILE:paddock_test_nvml>")
add_dependencies(gpu_nvml_test paddock_test_nvml)
