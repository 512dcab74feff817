# Who may connect, handing sockets over, socket activation, 10,000
# connections.  Included from tests/socket/CMakeLists.txt.  Label socket, and:
#   vmsock_peer_tests        peer_filter.hpp and ip_network.hpp on loopback
#                            (here and under Wine)
#   vmsock_handoff_tests     handoff.hpp over SCM_RIGHTS, a fork+exec'd worker
#                            (Linux; vmsock_handoff_worker is the worker)
#   vmsock_windows_handoff_tests  WSADuplicateSocketW into a second process
#                            (Windows, under Wine; tests/windows/test_handoff.cpp)
#   vmsock_activation_tests  systemd.hpp under Debian's systemd-socket-activate
#                            (Linux; tests/activation/)
#   vmsock_scale_tests       10,000 concurrent TCP connections on loopback
#                            (Linux; tests/scale/; label scale too)
find_package(Threads REQUIRED)

vmsock_add_test(vmsock_peer_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_peer_filters.cpp
  LABELS socket
  LIBRARIES Threads::Threads
  TIMEOUT 180)
target_include_directories(vmsock_peer_tests PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
# ThreadSanitizer's runtime defines operator new itself: no allocation count.
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=thread")
  target_compile_definitions(vmsock_peer_tests PRIVATE VMSOCK_TEST_NO_ALLOCATION_COUNT=1)
endif()

if(WIN32 AND EXISTS "${PROJECT_SOURCE_DIR}/tests/windows/test_handoff.cpp")
  set(_vmsock_win_tests "${PROJECT_SOURCE_DIR}/tests/windows")
  add_executable(vmsock_windows_handoff_worker "${_vmsock_win_tests}/handoff_worker_win.cpp")
  target_link_libraries(vmsock_windows_handoff_worker PRIVATE vmsock::vmsock vmsock_warnings)
  target_include_directories(vmsock_windows_handoff_worker PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
  vmsock_add_test(vmsock_windows_handoff_tests
    SOURCES "${_vmsock_win_tests}/test_handoff.cpp"
    LABELS windows socket
    TIMEOUT 180)
  target_include_directories(vmsock_windows_handoff_tests PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
  add_dependencies(vmsock_windows_handoff_tests vmsock_windows_handoff_worker)
  target_compile_definitions(vmsock_windows_handoff_tests PRIVATE
    "VMSOCK_HANDOFF_WORKER=\"$<TARGET_FILE_NAME:vmsock_windows_handoff_worker>\"")
endif()

if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  return()
endif()

# ---- hand-off ----
add_executable(vmsock_handoff_worker ${CMAKE_CURRENT_LIST_DIR}/handoff_worker.cpp)
target_link_libraries(vmsock_handoff_worker PRIVATE vmsock::vmsock vmsock_warnings)
target_include_directories(vmsock_handoff_worker PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
vmsock_add_test(vmsock_handoff_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_handoff.cpp
  LABELS socket
  LIBRARIES Threads::Threads
  TIMEOUT 120)
add_dependencies(vmsock_handoff_tests vmsock_handoff_worker)
target_include_directories(vmsock_handoff_tests PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
target_compile_definitions(vmsock_handoff_tests PRIVATE
  "VMSOCK_HANDOFF_WORKER=\"$<TARGET_FILE:vmsock_handoff_worker>\"")

# ---- socket activation, against the real systemd-socket-activate ----
set(_vmsock_activation "${PROJECT_SOURCE_DIR}/tests/activation")
find_program(VMSOCK_SYSTEMD_SOCKET_ACTIVATE systemd-socket-activate
  PATHS /usr/bin /lib/systemd /usr/lib/systemd)
add_executable(vmsock_activated "${_vmsock_activation}/activated.cpp")
target_link_libraries(vmsock_activated PRIVATE vmsock::vmsock vmsock_warnings)
vmsock_add_test(vmsock_activation_tests
  SOURCES "${_vmsock_activation}/test_activation.cpp"
  LABELS socket activation
  LIBRARIES Threads::Threads
  TIMEOUT 120)
add_dependencies(vmsock_activation_tests vmsock_activated)
if(VMSOCK_SYSTEMD_SOCKET_ACTIVATE)
  set(_vmsock_ssa "${VMSOCK_SYSTEMD_SOCKET_ACTIVATE}")
else()
  set(_vmsock_ssa "")
  message(STATUS "vmsock: systemd-socket-activate not found: the activation tests will skip "
                 "(Debian: apt-get install systemd)")
endif()
target_compile_definitions(vmsock_activation_tests PRIVATE
  "VMSOCK_ACTIVATED=\"$<TARGET_FILE:vmsock_activated>\""
  "VMSOCK_SYSTEMD_SOCKET_ACTIVATE=\"${_vmsock_ssa}\"")

# ---- scale: 10,000 concurrent TCP connections ----
vmsock_add_test(vmsock_scale_tests
  SOURCES "${PROJECT_SOURCE_DIR}/tests/scale/test_scale.cpp"
  LABELS socket scale
  LIBRARIES Threads::Threads
  TIMEOUT 180)
target_include_directories(vmsock_scale_tests PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
