# The CLI's GPU parts: --gpus parsing, the `paddock gpus` tables, granted GPUs in `sandbox
# inspect` and `sandbox ls`. Included from tests/unit/CMakeLists.txt; pure functions, no daemon.
paddock_unit_test(cli_gpu_test cli_gpu_test.cc)
target_link_libraries(cli_gpu_test PRIVATE paddock_cli_core)
