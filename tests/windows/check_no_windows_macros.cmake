# cmake -DINCLUDE_DIR=<repo>/include -P check_no_windows_macros.cmake
# vmsock's headers must not change the user's Windows macros: no #define of
# NOMINMAX or WIN32_LEAN_AND_MEAN (httplib's mistake), no #undef of min or max.
# MinGW's libstdc++ defines NOMINMAX itself, so a compiled test cannot see this
# there; reading the headers can.
file(GLOB_RECURSE headers "${INCLUDE_DIR}/vmsock/*.hpp")
if(NOT headers)
  message(FATAL_ERROR "no headers under ${INCLUDE_DIR}/vmsock")
endif()
set(bad "")
foreach(h IN LISTS headers)
  file(STRINGS "${h}" lines REGEX "^[ \t]*#[ \t]*(define|undef)[ \t]+(NOMINMAX|WIN32_LEAN_AND_MEAN|min|max)([ \t(]|$)")
  foreach(l IN LISTS lines)
    list(APPEND bad "${h}: ${l}")
  endforeach()
endforeach()
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "vmsock headers change the user's Windows macros:\n  ${text}")
endif()
list(LENGTH headers n)
message(STATUS "${n} headers checked: no NOMINMAX, WIN32_LEAN_AND_MEAN, min or max macros")
