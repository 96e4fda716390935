# ld.so.cache reader and driver file discovery. Included from tests/unit/CMakeLists.txt.
# Builds fake driver libraries with the C compiler and indexes them with the real ldconfig (inside
# a temporary root, so the host's caches are not touched).
paddock_unit_test(gpu_driver_files_test gpu_driver_files_test.cc)
target_link_libraries(gpu_driver_files_test PRIVATE paddock_gpu)
