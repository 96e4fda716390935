# MIG layout planning and the GPU allocator: pure logic, no I/O (gpu/mig_layout.h, gpu/allocator.h).
target_sources(paddock_gpu PRIVATE ${CMAKE_CURRENT_LIST_DIR}/mig_layout.cc
                                   ${CMAKE_CURRENT_LIST_DIR}/allocator.cc)
