# vmsock_list_headers(<out-var> [DETAIL] [PLATFORM Windows|POSIX])
# vmsock's headers for this platform (or the one named), relative to include/
# and sorted: the public ones (vmsock/*.hpp, vmsock/policy/*.hpp) and with
# DETAIL also vmsock/detail/*.hpp.  Globbed, so that a new header is listed by
# existing; the other platform's policy header is left out.  Used by the
# compile matrix and by the unit tests' all-headers translation units.
function(vmsock_list_headers out)
  cmake_parse_arguments(arg "DETAIL" "PLATFORM" "" ${ARGN})
  if(NOT arg_PLATFORM)
    if(WIN32)
      set(arg_PLATFORM Windows)
    else()
      set(arg_PLATFORM POSIX)
    endif()
  endif()
  set(patterns vmsock/*.hpp vmsock/policy/*.hpp)
  if(arg_DETAIL)
    list(APPEND patterns vmsock/detail/*.hpp)
  endif()
  list(TRANSFORM patterns PREPEND "${PROJECT_SOURCE_DIR}/include/")
  file(GLOB headers CONFIGURE_DEPENDS RELATIVE "${PROJECT_SOURCE_DIR}/include" ${patterns})
  if(arg_PLATFORM STREQUAL "Windows")
    list(REMOVE_ITEM headers vmsock/policy/posix.hpp)
  else()
    list(REMOVE_ITEM headers vmsock/policy/winsock.hpp)
  endif()
  list(SORT headers)
  set(${out} "${headers}" PARENT_SCOPE)
endfunction()
