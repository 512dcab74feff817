# Fault injection and resource tests (label socket).  Included from
# tests/socket/CMakeLists.txt.  Linux only: they use accept4, /proc/self/fd,
# abstract Unix names, and replace C library functions in the executable.
if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  return()
endif()
# Not under ThreadSanitizer: its runtime defines operator new itself (the
# allocation counting replaces it too) and delivers signals late (the EINTR
# storms count them).  The ASan build runs both.
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=thread")
  return()
endif()
find_package(Threads REQUIRED)

# fault_policy over real loopback sockets.  test_fault.cpp also defines recv,
# send, accept4, connect, poll, close, ... in front of the C library's (a tap
# that counts real EINTRs), reaching the real ones with dlsym(RTLD_NEXT).
vmsock_add_test(vmsock_fault_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fault.cpp
  LABELS socket fault
  LIBRARIES Threads::Threads ${CMAKE_DL_LIBS}
  TIMEOUT 300)

# Allocation counting (this executable replaces the global operator new),
# descriptor leaks, inheritance across exec, SIGPIPE.
vmsock_add_test(vmsock_resource_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_resources.cpp
  LABELS socket fault
  LIBRARIES Threads::Threads
  TIMEOUT 300)
