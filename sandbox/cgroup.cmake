# Cgroup drivers (unified v2, legacy v1, hybrid) and the BPF device filter. Included from
# sandbox/CMakeLists.txt.
target_sources(paddock_sandbox PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_driver.cc
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_fs.cc
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_limits.cc
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_v1.cc
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_v2.cc
  ${CMAKE_CURRENT_LIST_DIR}/device_filter.cc)
