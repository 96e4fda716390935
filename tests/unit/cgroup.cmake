# Cgroup drivers and the BPF device filter. Included from tests/unit/CMakeLists.txt.
#   cgroup_test: fake cgroup trees in a temp dir and the device program's logic; runs anywhere.
#   cgroup_kernel_test: the real kernel (root); each test prints SKIP with the reason when the host
#   lacks what it needs.
paddock_unit_test(cgroup_test cgroup_fake_tree_test.cc cgroup_device_filter_test.cc
                  cgroup_limits_test.cc)
target_link_libraries(cgroup_test PRIVATE paddock_sandbox)

paddock_unit_test(cgroup_kernel_test cgroup_kernel_test.cc)
target_link_libraries(cgroup_kernel_test PRIVATE paddock_sandbox)
