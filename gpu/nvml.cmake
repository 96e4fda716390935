# NVML: loaded with dlopen() at run time, never linked (packages must run without a driver).
target_sources(paddock_gpu PRIVATE nvml_library.cc nvml_discovery.cc)
target_link_libraries(paddock_gpu PUBLIC ${CMAKE_DL_LIBS})
