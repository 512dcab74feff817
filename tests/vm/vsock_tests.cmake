# vmsock's own AF_VSOCK tests in the test guest (the any-transport layer's
# guest cases among them).  Included at the end of tests/vm/CMakeLists.txt, after the harness
# functions are defined; does nothing when the VM tests are off.
#
#   vm_vsock        one boot: `ip link set lo up` (guest-init.sh leaves lo down
#                   and the connect_first / listen_all cases need TCP on
#                   127.0.0.1), then vm_vsock_tests (stream, seqpacket,
#                   endpoints, hvsock mapping, connect_first, listen_all) and
#                   vm_vsock_interop (socat both ways, the echo examples)
#   vm_vsock_bench  one boot: bench_vsock, vmsock vs raw syscalls over VSOCK,
#                   5 repetitions of 0.3 s per case, interleaved at random;
#                   prints the vmsock/raw ratios (RESULTS.md), the paired
#                   cases' being the ones that hold still under host load
#
# The test programs are built -O2 whatever the build type (a 256 MiB transfer
# under TCG takes about a minute at -O0) and linked statically; bench_vsock is
# dynamic because Debian's libbenchmark-dev ships no static libbenchmark.a
# (the harness copies its shared libraries into the guest).

get_property(_vmsock_vsock_off GLOBAL PROPERTY VMSOCK_VM_OFF)
if(NOT _vmsock_vsock_off)
  find_package(Threads REQUIRED)

  # Optimised and without DWARF in the guest: -O2 after the build type's
  # flags, debug sections stripped at link time (smaller initramfs, faster boot).
  function(_vmsock_guest_program target)
    target_include_directories(${target} PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
    target_compile_options(${target} PRIVATE -O2)
    target_link_options(${target} PRIVATE -Wl,--strip-debug)
    target_link_libraries(${target} PRIVATE vmsock::vmsock Threads::Threads)
    if(TARGET vmsock_warnings)
      target_link_libraries(${target} PRIVATE vmsock_warnings)
    endif()
  endfunction()

  add_executable(vm_vsock_tests
    test_guest_main.cpp test_vsock_stream.cpp test_vsock_seqpacket.cpp test_vsock_hv.cpp
    test_vsock_uri.cpp test_vsock_lifecycle.cpp guest_support.hpp)
  target_compile_definitions(vm_vsock_tests PRIVATE VMSOCK_VM_PROGRAM="vm_vsock_tests")
  add_executable(vm_vsock_interop test_guest_main.cpp test_vsock_interop.cpp guest_support.hpp)
  target_compile_definitions(vm_vsock_interop PRIVATE VMSOCK_VM_PROGRAM="vm_vsock_interop")
  foreach(target vm_vsock_tests vm_vsock_interop)
    _vmsock_guest_program(${target})
    target_link_libraries(${target} PRIVATE GTest::gtest)
    vmsock_vm_static(${target})
  endforeach()

  # The examples (another part of the tree) ride along when they are built:
  # socat against echo_server, echo_client against socat and echo_server.
  set(_vmsock_interop_files "")
  set(_vmsock_interop_filter "")
  # (examples/ is added after tests/, so its targets cannot be asked for here;
  # $<TARGET_FILE:...> resolves when the build files are generated.)
  if(VMSOCK_BUILD_EXAMPLES)
    list(APPEND _vmsock_interop_files $<TARGET_FILE:echo_server> $<TARGET_FILE:echo_client>)
  else()
    set(_vmsock_interop_filter " --gtest_filter=-Examples.*")
  endif()

  vmsock_add_vm_test(NAME vm_vsock
    FILES $<TARGET_FILE:vm_vsock_tests> $<TARGET_FILE:vm_vsock_interop> ${_vmsock_interop_files}
    WITH_SOCAT
    COMMANDS
      "ip link set lo up"
      "vm_vsock_tests --gtest_color=no"
      "vm_vsock_interop --gtest_color=no${_vmsock_interop_filter}"
    TIMEOUT 240)

  find_package(benchmark QUIET)  # Debian: libbenchmark-dev
  if(benchmark_FOUND)
    add_executable(bench_vsock bench_vsock.cpp guest_support.hpp)
    _vmsock_guest_program(bench_vsock)
    target_link_libraries(bench_vsock PRIVATE benchmark::benchmark GTest::gtest)
    target_include_directories(bench_vsock PRIVATE "${PROJECT_SOURCE_DIR}/benchmarks")  # raw_io.hpp
    vmsock_add_vm_test(NAME vm_vsock_bench
      TARGETS bench_vsock
      ARGS --benchmark_min_time=0.3 --benchmark_repetitions=5
           --benchmark_enable_random_interleaving=true --benchmark_color=false
      LABELS bench
      TIMEOUT 180)
  else()
    message(STATUS "vmsock: vm_vsock_bench skipped: Google Benchmark not found (Debian: libbenchmark-dev)")
  endif()
endif()

# Peer control in the guest (tests/vm/test_vsock_peer.cpp): peer filters over
# VSOCK (only CID 2 refuses the CID 1 peer until CID 1 is allowed; vm_ids on
# a VSOCK listener; an any_listener over VSOCK and TCP), a VSOCK connection
# and a VSOCK listener handed to a worker started with fork + exec
# (tests/socket/handoff_worker.cpp, static), 1,000 concurrent VSOCK
# connections held open and echoing (figures printed, as in tests/scale).
if(NOT _vmsock_vsock_off)
  add_executable(vm_handoff_worker "${PROJECT_SOURCE_DIR}/tests/socket/handoff_worker.cpp")
  add_executable(vm_vsock_peer_tests test_guest_main.cpp test_vsock_peer.cpp guest_support.hpp)
  target_compile_definitions(vm_vsock_peer_tests PRIVATE VMSOCK_VM_PROGRAM="vm_vsock_peer_tests"
    VMSOCK_HANDOFF_WORKER="/tests/bin/vm_handoff_worker")
  target_link_libraries(vm_vsock_peer_tests PRIVATE GTest::gtest)
  foreach(target vm_handoff_worker vm_vsock_peer_tests)
    _vmsock_guest_program(${target})
    target_include_directories(${target} PRIVATE
      "${PROJECT_SOURCE_DIR}/tests/socket" "${PROJECT_SOURCE_DIR}/tests/scale")
    vmsock_vm_static(${target})
  endforeach()
  vmsock_add_vm_test(NAME vm_vsock_peer
    FILES $<TARGET_FILE:vm_vsock_peer_tests> $<TARGET_FILE:vm_handoff_worker>
    COMMANDS "ip link set lo up" "vm_vsock_peer_tests --gtest_color=no --gtest_filter=-VsockScale.*"
      # a process of its own, so that its memory figures are its own
      "vm_vsock_peer_tests --gtest_color=no --gtest_filter=VsockScale.*"
    TIMEOUT 240)
endif()
