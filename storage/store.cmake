# storage store: the facade (repositories, commits, checkouts, merge, gc, fsck) and the per-thread
# file system identity it reads and writes host paths with.
target_sources(paddock_storage PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/commit_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/fs_identity.cc
  ${CMAKE_CURRENT_LIST_DIR}/store.cc
  ${CMAKE_CURRENT_LIST_DIR}/tree_paths.cc)
