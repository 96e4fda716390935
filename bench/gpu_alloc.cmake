# GPU allocator: decision latency and placement quality against the brute-force optimum
# (bench/gpu_alloc.cc, whose header says how to run and read it). Pure logic, no GPU needed.
add_executable(paddock_bench_gpu_alloc ${CMAKE_CURRENT_LIST_DIR}/gpu_alloc.cc)
target_link_libraries(paddock_bench_gpu_alloc PRIVATE paddock_gpu)

# Smoke run: 1000 requests per machine, every whole-GPU decision compared with the brute force;
# passes when all are optimal. It asserts nothing about speed.
add_test(NAME bench.gpu_alloc_smoke COMMAND paddock_bench_gpu_alloc --check)
set_tests_properties(bench.gpu_alloc_smoke PROPERTIES LABELS bench TIMEOUT 120)
