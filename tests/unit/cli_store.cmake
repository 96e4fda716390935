# The CLI's store parts: REPO@REF parsing, --range and --metadata, and the `paddock store` output.
# Included from tests/unit/CMakeLists.txt; pure functions, no daemon.
paddock_unit_test(cli_store_test cli_store_test.cc)
target_link_libraries(cli_store_test PRIVATE paddock_cli_core)
