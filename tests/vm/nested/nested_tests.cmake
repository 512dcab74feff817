# The nested harness (tests/vm/nested): vmsock across a real
# virtio-vsock boundary, in CI.  Included at the end of tests/vm/CMakeLists.txt,
# after vsock_tests.cmake (whose _vmsock_guest_program it uses); does nothing
# when the VM tests are off.
#
#   vmsock_add_nested_vm_test(NAME <name>
#                             CASES <name> <host command> <guest command> ...
#                             [HOST_FILES <path[=dest]>...] [GUEST_FILES ...]
#                             [FILES ...] [WITH_SOCAT] [TIMEOUT <seconds>]
#                             [LABELS <label>...])
#     One ctest case (label vm-nested) and one boot of the outer test guest,
#     which loads vhost_vsock (CID 2) and boots the inner one under qemu with
#     -device vhost-vsock-pci,guest-cid=3; the inner boot is shared by every
#     case.  Each case is a host-side and a guest-side busybox sh command line,
#     run at the same time in the outer and the inner guest; it passes when
#     both exit 0.  FILES go to both guests, HOST_FILES to the outer only,
#     GUEST_FILES to the inner only (generator expressions allowed; ELF files
#     bring their shared libraries).  TIMEOUT bounds the whole outer boot
#     (default 1200 s): the wall against a hang, not a budget.  The inner
#     guest lives until the host side says it is done; no limit inside is
#     shorter than this one but the wait for a guest side's result, which
#     scales with the inner boot time measured in the same run (outer.sh).  Skipped (exit
#     77) when qemu or the kernel package is missing, unless
#     VMSOCK_REQUIRE_SUITES is set in the environment (CI): then it fails.
#     RUN_SERIAL: two layers of TCG on a 2-core machine want both cores.
#
#   vm_nested        the paired tests (test_nested_*.cpp, one binary run on
#                    both sides): addressing, the kernel's vsock_test cases,
#                    the connect timeout of a paused guest, the examples and
#                    socat both ways, the throughput figures, `vmsock mux`
#                    in front of the inner guest (vmsock's hybrid client and
#                    listener through it, both ways), and a host agent
#                    across its guest's kill and reboot (a second inner
#                    boot).

get_property(_vmsock_nested_off GLOBAL PROPERTY VMSOCK_VM_OFF)

function(vmsock_add_nested_vm_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "WITH_SOCAT" "NAME;TIMEOUT"
    "CASES;HOST_FILES;GUEST_FILES;FILES;LABELS")
  if(NOT arg_NAME)
    message(FATAL_ERROR "vmsock_add_nested_vm_test: NAME is required")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "vmsock_add_nested_vm_test(${arg_NAME}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  list(LENGTH arg_CASES n)
  math(EXPR rest "${n} % 3")
  if(n EQUAL 0 OR NOT rest EQUAL 0)
    message(FATAL_ERROR "vmsock_add_nested_vm_test(${arg_NAME}): CASES is a list of "
      "<name> <host command> <guest command> triples")
  endif()
  get_property(off GLOBAL PROPERTY VMSOCK_VM_OFF)
  if(off)
    return()
  endif()
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 1200)
  endif()

  set(cmd "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/run-nested.sh"
    --kernel-cache "${VMSOCK_VM_KERNEL_CACHE}"
    --work "${CMAKE_CURRENT_BINARY_DIR}/vm-work/${arg_NAME}"
    --timeout ${arg_TIMEOUT}
    --accel ${VMSOCK_VM_ACCEL})
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 3)
    math(EXPR h "${i} + 1")
    math(EXPR g "${i} + 2")
    list(GET arg_CASES ${i} name)
    list(GET arg_CASES ${h} host)
    list(GET arg_CASES ${g} guest)
    list(APPEND cmd --case "${name}" "${host}" "${guest}")
  endforeach()
  foreach(file IN LISTS arg_FILES)
    list(APPEND cmd --file "${file}")
  endforeach()
  foreach(file IN LISTS arg_HOST_FILES)
    list(APPEND cmd --host-file "${file}")
  endforeach()
  foreach(file IN LISTS arg_GUEST_FILES)
    list(APPEND cmd --guest-file "${file}")
  endforeach()
  if(arg_WITH_SOCAT)
    list(APPEND cmd --with-socat)
  endif()

  add_test(NAME ${arg_NAME} COMMAND ${cmd})
  math(EXPR ctest_timeout "${arg_TIMEOUT} + 20")
  set_tests_properties(${arg_NAME} PROPERTIES
    LABELS "vm-nested;${arg_LABELS}"
    SKIP_RETURN_CODE 77
    RUN_SERIAL TRUE
    TIMEOUT ${ctest_timeout})
endfunction()

if(NOT _vmsock_nested_off)
  add_executable(vm_nested_tests
    nested/nested_support.cpp nested/nested_support.hpp
    test_nested_addressing.cpp test_nested_stream.cpp test_nested_timeout.cpp
    test_nested_interop.cpp test_nested_bench.cpp test_nested_harness.cpp
    test_nested_restart.cpp test_nested_mux.cpp)
  target_compile_definitions(vm_nested_tests PRIVATE VMSOCK_NESTED_PROGRAM="vm_nested_tests")
  _vmsock_guest_program(vm_nested_tests)
  # guest_support.hpp and nested/ (_vmsock_guest_program adds the directory of
  # the list file that calls it: this one), raw_io.hpp.
  target_include_directories(vm_nested_tests PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}"
    "${PROJECT_SOURCE_DIR}/benchmarks")
  target_link_libraries(vm_nested_tests PRIVATE GTest::gtest)
  vmsock_vm_static(vm_nested_tests)

  # One line per side of a case: the same binary, the same tests.
  set(_vmsock_nested_run "vm_nested_tests --gtest_color=no --gtest_filter=")
  set(_vmsock_nested_cases "")
  foreach(case IN ITEMS "addressing=Harness.*:Addressing.*" "kernel-cases=KernelCases.*"
                        "connect-timeout=ConnectTimeout.*")
    string(REPLACE "=" ";" case "${case}")
    list(GET case 0 name)
    list(GET case 1 filter)
    list(APPEND _vmsock_nested_cases ${name} "${_vmsock_nested_run}'${filter}'"
      "${_vmsock_nested_run}'${filter}'")
  endforeach()
  set(_vmsock_nested_files $<TARGET_FILE:vm_nested_tests>)
  set(_vmsock_nested_host_files "")
  # The examples (built after tests/, so named by generator expression only)
  # on both sides, and socat against them.
  if(VMSOCK_BUILD_EXAMPLES)
    list(APPEND _vmsock_nested_cases
      interop "${_vmsock_nested_run}'Examples.*:Socat.*'" "${_vmsock_nested_run}'Examples.*:Socat.*'")
    list(APPEND _vmsock_nested_files $<TARGET_FILE:echo_server> $<TARGET_FILE:echo_client>)
  endif()
  list(APPEND _vmsock_nested_cases
    throughput "${_vmsock_nested_run}'Throughput.*'" "${_vmsock_nested_run}'Throughput.*'")
  # `vmsock mux` on the host side in front of the inner guest (tools/, also
  # built after tests/: named by generator expression only); the guest side
  # needs only the test program.
  if(VMSOCK_BUILD_TOOLS)
    list(APPEND _vmsock_nested_cases
      mux "${_vmsock_nested_run}'Mux.*'" "${_vmsock_nested_run}'Mux.*'")
    set(_vmsock_nested_host_files $<TARGET_FILE:vmsock-cli>)
  endif()
  # Last: its host side kills the inner guest and boots it again (which
  # resumes its list at this case); a second boot that fails then takes no
  # other case's result with it.
  list(APPEND _vmsock_nested_cases
    restart "${_vmsock_nested_run}'Restart.*'" "${_vmsock_nested_run}'Restart.*'")

  vmsock_add_nested_vm_test(NAME vm_nested
    CASES ${_vmsock_nested_cases}
    FILES ${_vmsock_nested_files}
    HOST_FILES ${_vmsock_nested_host_files}
    WITH_SOCAT)
endif()
