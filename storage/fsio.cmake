# storage fsio: moving bytes between the file system (and tar archives) and the store.
# GLOBAL: the tests build hostile archives with libarchive too.
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET GLOBAL libarchive)
target_sources(paddock_storage PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/checkout.cc
  ${CMAKE_CURRENT_LIST_DIR}/file_io.cc
  ${CMAKE_CURRENT_LIST_DIR}/snapshot.cc
  ${CMAKE_CURRENT_LIST_DIR}/stat_cache.cc
  ${CMAKE_CURRENT_LIST_DIR}/tar_io.cc
  ${CMAKE_CURRENT_LIST_DIR}/work_queue.cc)
target_link_libraries(paddock_storage PRIVATE PkgConfig::LIBARCHIVE Threads::Threads)
