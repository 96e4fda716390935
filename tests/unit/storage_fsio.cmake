# Storage fsio: files, snapshots, checkouts and tar archives against the real file system.
paddock_unit_test(storage_fsio_test storage_file_io_test.cc storage_snapshot_test.cc
                  storage_checkout_test.cc storage_tar_io_test.cc)
target_link_libraries(storage_fsio_test PRIVATE paddock_storage PkgConfig::LIBARCHIVE)
