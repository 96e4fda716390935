# gpu/topology, gpu/cpulist, gpu/proc_driver and gpu/inventory. Included from
# tests/unit/CMakeLists.txt. Uses the hwloc XML exports in tests/fixtures/hwloc and temp dirs laid
# out like /proc; needs no GPU.
paddock_unit_test(gpu_topology_test gpu_topology_test.cc gpu_cpulist_test.cc
                  gpu_proc_driver_test.cc gpu_inventory_test.cc)
target_link_libraries(gpu_topology_test PRIVATE paddock_gpu)
