# Seccomp profile of the sandbox (sandbox/seccomp_policy.{h,cc}), built with libseccomp.
# Included from sandbox/CMakeLists.txt after paddock_sandbox is defined.
pkg_check_modules(LIBSECCOMP REQUIRED IMPORTED_TARGET libseccomp)
target_sources(paddock_sandbox PRIVATE ${CMAKE_CURRENT_LIST_DIR}/seccomp_policy.cc)
target_link_libraries(paddock_sandbox PUBLIC PkgConfig::LIBSECCOMP)
