# The asio adapters in the test guest.  Included at the end of
# tests/vm/CMakeLists.txt; does nothing when the VM tests are off or asio is
# missing.  C++20 (coroutines), static, as the other guest programs; the
# tests -O1, the benchmark -O2.
#
#   vm_asio        one boot: `ip link set lo up`, vm_asio_tests (test_asio.cpp
#                  once per asio flavour: standalone asio and Boost.Asio), then
#                  asio_interop.sh (the asio_agent example against its client
#                  and against socat, over VSOCK, Hyper-V, TCP and Unix)
#   vm_asio_bench  one boot: bench_asio, vmsock::asio::vsock_stream against
#                  asio's generic::stream_protocol, paired; 3 repetitions of
#                  0.3 s per case, a smoke run (tests/vm/RESULTS.md has longer)

get_property(_vmsock_asio_vm_off GLOBAL PROPERTY VMSOCK_VM_OFF)
if(NOT _vmsock_asio_vm_off AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU"
   AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 10)
  find_path(VMSOCK_VM_ASIO_INCLUDE asio.hpp)
  find_path(VMSOCK_VM_BOOST_ASIO_INCLUDE boost/asio.hpp)
  set(_vmsock_asio_objects)
  foreach(flavour IN ITEMS asio boost_asio)
    string(TOUPPER "${flavour}" upper)
    if(NOT VMSOCK_VM_${upper}_INCLUDE)
      message(STATUS "vmsock: vm_asio without ${flavour} (its headers were not found)")
      continue()
    endif()
    add_library(vm_asio_tests_${flavour} OBJECT test_asio.cpp)
    target_include_directories(vm_asio_tests_${flavour} PRIVATE "${PROJECT_SOURCE_DIR}/tests/asio")
    target_link_libraries(vm_asio_tests_${flavour} PRIVATE GTest::gtest)
    target_compile_features(vm_asio_tests_${flavour} PRIVATE cxx_std_20)
    if(flavour STREQUAL "boost_asio")
      target_compile_definitions(vm_asio_tests_${flavour} PRIVATE VMSOCK_TEST_BOOST_ASIO=1)
    endif()
    _vmsock_guest_program(vm_asio_tests_${flavour})
    # After the guest's -O2: -O1 keeps 128 MiB under TCG quick and halves the
    # build of these coroutine-heavy objects; no DWARF (stripped anyway).
    target_compile_options(vm_asio_tests_${flavour} PRIVATE -O1 -g0)
    vmsock_vm_static(vm_asio_tests_${flavour})
    list(APPEND _vmsock_asio_objects $<TARGET_OBJECTS:vm_asio_tests_${flavour}>)
  endforeach()

  if(_vmsock_asio_objects)
    add_executable(vm_asio_tests test_guest_main.cpp ${_vmsock_asio_objects})
    target_compile_definitions(vm_asio_tests PRIVATE VMSOCK_VM_PROGRAM="vm_asio_tests")
    target_link_libraries(vm_asio_tests PRIVATE GTest::gtest)
    _vmsock_guest_program(vm_asio_tests)
    vmsock_vm_static(vm_asio_tests)

    # The example and socat, when the example is built (examples/CMakeLists.txt
    # builds it with the same conditions: asio, g++ 10+, native).
    set(_vmsock_asio_files "")
    set(_vmsock_asio_commands "")
    if(VMSOCK_BUILD_EXAMPLES AND VMSOCK_VM_ASIO_INCLUDE)
      list(APPEND _vmsock_asio_files $<TARGET_FILE:asio_agent> $<TARGET_FILE:asio_agent_client>
        "${CMAKE_CURRENT_LIST_DIR}/asio_interop.sh")
      list(APPEND _vmsock_asio_commands "asio_interop.sh 30000")
    endif()
    vmsock_add_vm_test(NAME vm_asio
      FILES $<TARGET_FILE:vm_asio_tests> ${_vmsock_asio_files}
      WITH_SOCAT
      COMMANDS
        "ip link set lo up"
        "vm_asio_tests --gtest_color=no"
        ${_vmsock_asio_commands}
      TIMEOUT 240)
  endif()

  if(VMSOCK_VM_ASIO_INCLUDE)
    add_executable(bench_asio bench_asio.cpp)
    target_compile_features(bench_asio PRIVATE cxx_std_20)
    target_link_libraries(bench_asio PRIVATE GTest::gtest)  # guest_support.hpp's record()
    _vmsock_guest_program(bench_asio)
    target_compile_options(bench_asio PRIVATE -g0)  # stripped at link anyway
    vmsock_vm_static(bench_asio)
    vmsock_add_vm_test(NAME vm_asio_bench
      TARGETS bench_asio
      ARGS --repetitions 3 --min-time 0.3
      LABELS bench
      TIMEOUT 180)
  endif()
endif()
