# storage core: chunking, compression, pack files and their indexes, object encodings.
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
target_sources(paddock_storage PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/chunker.cc
  ${CMAKE_CURRENT_LIST_DIR}/compression.cc
  ${CMAKE_CURRENT_LIST_DIR}/objects.cc
  ${CMAKE_CURRENT_LIST_DIR}/pack_file.cc
  ${CMAKE_CURRENT_LIST_DIR}/pack_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/pack_store.cc
  ${CMAKE_CURRENT_LIST_DIR}/wire.cc)
target_link_libraries(paddock_storage PRIVATE PkgConfig::ZSTD nlohmann_json::nlohmann_json)
