# The driver's user-space files (libraries via ld.so.cache, tools via PATH) for sandboxes whose
# root is a directory. Included from gpu/CMakeLists.txt.
target_sources(paddock_gpu PRIVATE ld_cache.cc driver_files.cc)
