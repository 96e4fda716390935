# paddock_vm_test(): a ctest test that runs a payload in the QEMU VM of tests/vm (Debian 12,
# systemd as PID 1, pure cgroup v2). tests/vm/CMakeLists.txt includes this file; another
# CMakeLists.txt that is processed before it can include it too:
#   include(${PROJECT_SOURCE_DIR}/tests/vm/PaddockVmTest.cmake)
#
#   paddock_vm_test(<name> <payload script> [<binary>...]
#                   [TIMEOUT <seconds>]   ctest timeout, default 600 (the VM gets 120 s less,
#                                         so that run-in-vm reports a hung VM before ctest kills it)
#                   [MEMORY <size>]       VM memory, default 2G
#                   [SMP <n>]             virtual CPUs, default 2
#                   [FILES <path>...]     more files or directories for the payload
#                   [LABELS <label>...]   labels besides "vm")
#
# At test time the payload is assembled in a temporary directory: the script (as `run`) and each
# binary (a target name, or a path) and FILES entry, all at the top of the payload disk. In the
# VM, `run` runs as root with /mnt/test (the payload) as working directory, and PADDOCK_VM=1 and
# PADDOCK_VM_OUT=/mnt/test/out set; its output and exit status are the test's, and what it writes
# to $PADDOCK_VM_OUT is copied to <build dir>/<name>.out/ with the VM's console.log. The binaries
# must run on Debian 12 with the libraries build-image installs. tests/vm/run-gtests is a
# ready-made script that runs every binary of the payload as a GoogleTest binary.
#
# Example:
#   paddock_vm_test(vm.sandbox_cgroup ${PADDOCK_VM_RUN_GTESTS} sandbox_cgroup_test)
#
# Without QEMU (package qemu-system-x86) or e2fsprogs the test prints "SKIP: no VM: <reason>" and
# counts as skipped.
include_guard(GLOBAL)

set(PADDOCK_VM_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "tests/vm")
set(PADDOCK_VM_RUN_GTESTS ${CMAKE_CURRENT_LIST_DIR}/run-gtests CACHE INTERNAL
    "payload script that runs every binary of the payload as a GoogleTest binary")

function(paddock_vm_test name script)
  cmake_parse_arguments(PARSE_ARGV 2 VM "" "TIMEOUT;MEMORY;SMP" "FILES;LABELS")
  if(NOT VM_TIMEOUT)
    set(VM_TIMEOUT 600)
  endif()
  if(NOT VM_MEMORY)
    set(VM_MEMORY 2G)
  endif()
  if(NOT VM_SMP)
    set(VM_SMP 2)
  endif()
  math(EXPR vm_timeout "${VM_TIMEOUT} - 120")
  if(vm_timeout LESS 60)
    set(vm_timeout 60)
  endif()

  get_filename_component(script ${script} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  set(adds)
  foreach(item IN LISTS VM_UNPARSED_ARGUMENTS)
    if(TARGET ${item})
      list(APPEND adds --add $<TARGET_FILE:${item}>)
    else()
      get_filename_component(path ${item} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
      list(APPEND adds --add ${path})
    endif()
  endforeach()
  foreach(item IN LISTS VM_FILES)
    get_filename_component(path ${item} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND adds --add ${path})
  endforeach()

  add_test(NAME ${name}
           COMMAND bash ${PADDOCK_VM_DIR}/run-in-vm --run ${script} ${adds}
                   --timeout ${vm_timeout} --memory ${VM_MEMORY} --smp ${VM_SMP}
                   --out ${CMAKE_CURRENT_BINARY_DIR}/${name}.out)
  set(labels vm ${VM_LABELS})
  set_tests_properties(${name} PROPERTIES
    LABELS "${labels}"
    TIMEOUT ${VM_TIMEOUT}
    # QEMU's TCG runs one host thread per virtual CPU.
    PROCESSORS ${VM_SMP}
    SKIP_REGULAR_EXPRESSION "(^|\n)SKIP: no VM: ")
endfunction()
