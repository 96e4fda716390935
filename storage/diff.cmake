# storage diff: tree diff, three-way merge and revert over trees in a PackStore.
target_sources(paddock_storage PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/merge.cc
  ${CMAKE_CURRENT_LIST_DIR}/tree_diff.cc
  ${CMAKE_CURRENT_LIST_DIR}/tree_loader.cc)
