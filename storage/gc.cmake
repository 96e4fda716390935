# storage gc: reachability from root commits, garbage collection of packs, fsck.
target_sources(paddock_storage PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/fsck.cc
  ${CMAKE_CURRENT_LIST_DIR}/gc.cc
  ${CMAKE_CURRENT_LIST_DIR}/path_finder.cc
  ${CMAKE_CURRENT_LIST_DIR}/reachability.cc)
