# Seccomp profile tests: load the real filter into forked children and probe the kernel.
# Included from tests/unit/CMakeLists.txt after paddock_unit_test() is defined.
paddock_unit_test(seccomp_test ${CMAKE_CURRENT_LIST_DIR}/seccomp_test.cc)
target_link_libraries(seccomp_test PRIVATE paddock_sandbox)
