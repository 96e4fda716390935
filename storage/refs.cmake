# storage refs: the SQLite refs database (repositories, branches, tags, commit graph), name rules
# and revision syntax.
target_sources(paddock_storage PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ref_db.cc
  ${CMAKE_CURRENT_LIST_DIR}/ref_names.cc
  ${CMAKE_CURRENT_LIST_DIR}/revision.cc
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_connection.cc)
target_link_libraries(paddock_storage PRIVATE PkgConfig::SQLITE3)
