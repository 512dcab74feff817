# Optional targets for the asio adapters, each defined only when its library is
# found (vmsock's package never requires either):
#   vmsock::asio        vmsock/asio.hpp: vmsock::vmsock + standalone asio's headers
#   vmsock::boost_asio  vmsock/boost_asio.hpp: vmsock::vmsock + Boost's headers
# Both add the thread library (asio needs it) and, on Windows, ws2_32 and
# mswsock.  Included by vmsock's CMakeLists.txt (add_subdirectory and
# FetchContent users: VMSOCK_ASIO_TARGETS_GLOBAL is set, so the targets are seen
# from the parent project) and by the installed vmsock-config.cmake
# (find_package(vmsock COMPONENTS asio) makes one required).
#
# Only plain paths and flags go into the targets' usage requirements, never
# another imported target, which would not be visible where the target is used.

# A project without C or C++ (LANGUAGES NONE) compiles nothing: no targets, and
# FindThreads could not run there.
get_property(_vmsock_asio_langs GLOBAL PROPERTY ENABLED_LANGUAGES)
if(NOT "CXX" IN_LIST _vmsock_asio_langs AND NOT "C" IN_LIST _vmsock_asio_langs)
  set(vmsock_asio_FOUND FALSE)
  set(vmsock_boost_asio_FOUND FALSE)
  unset(_vmsock_asio_langs)
  return()
endif()
unset(_vmsock_asio_langs)

if(VMSOCK_ASIO_TARGETS_GLOBAL)
  set(_vmsock_asio_scope GLOBAL)
else()
  set(_vmsock_asio_scope "")
endif()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads QUIET)
set(_vmsock_asio_libs vmsock::vmsock ${CMAKE_THREAD_LIBS_INIT})
if(WIN32)
  list(APPEND _vmsock_asio_libs ws2_32 mswsock)
endif()

if(TARGET vmsock::asio)
  set(vmsock_asio_FOUND TRUE)
else()
  find_path(VMSOCK_ASIO_INCLUDE_DIR asio.hpp DOC "standalone asio's include directory (vmsock::asio)")
  if(VMSOCK_ASIO_INCLUDE_DIR)
    add_library(vmsock::asio INTERFACE IMPORTED ${_vmsock_asio_scope})
    set_target_properties(vmsock::asio PROPERTIES
      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${VMSOCK_ASIO_INCLUDE_DIR}"
      INTERFACE_INCLUDE_DIRECTORIES "${VMSOCK_ASIO_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${_vmsock_asio_libs}")
    set(vmsock_asio_FOUND TRUE)
  else()
    set(vmsock_asio_FOUND FALSE)
  endif()
endif()

if(TARGET vmsock::boost_asio)
  set(vmsock_boost_asio_FOUND TRUE)
else()
  find_package(Boost 1.74 QUIET)
  if(Boost_FOUND AND EXISTS "${Boost_INCLUDE_DIRS}/boost/asio.hpp")
    add_library(vmsock::boost_asio INTERFACE IMPORTED ${_vmsock_asio_scope})
    set_target_properties(vmsock::boost_asio PROPERTIES
      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${Boost_INCLUDE_DIRS}"
      INTERFACE_INCLUDE_DIRECTORIES "${Boost_INCLUDE_DIRS}"
      INTERFACE_LINK_LIBRARIES "${_vmsock_asio_libs}")
    set(vmsock_boost_asio_FOUND TRUE)
  else()
    set(vmsock_boost_asio_FOUND FALSE)
  endif()
endif()

unset(_vmsock_asio_scope)
unset(_vmsock_asio_libs)
