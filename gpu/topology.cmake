# hwloc topology, /proc/driver/nvidia and the merged GPU inventory. Included from
# gpu/CMakeLists.txt. hwloc stays private: gpu/topology.h keeps hwloc.h out of its users.
pkg_check_modules(HWLOC REQUIRED IMPORTED_TARGET hwloc)
target_sources(paddock_gpu PRIVATE topology.cc cpulist.cc proc_driver.cc inventory.cc)
target_link_libraries(paddock_gpu PRIVATE PkgConfig::HWLOC)
