# Storage refs: the SQLite refs database, name rules and revision syntax.
paddock_unit_test(storage_refs_test storage_ref_db_test.cc storage_ref_names_test.cc
                  storage_revision_test.cc)
target_link_libraries(storage_refs_test PRIVATE paddock_storage PkgConfig::SQLITE3)
