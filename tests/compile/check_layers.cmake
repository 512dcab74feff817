# The layering rule (docs/layers.md), checked on the tree: a header includes
# only headers of its own layer and of the layers below it.  The layers, from
# the bottom: base (the files of include/vmsock/ and its detail/), endpoint,
# policy, socket, any, host, interop.  The short paths of include/vmsock/ (the
# forwarding headers) and vmsock.hpp are above every layer: they may include
# anything and nothing includes them.
#
#   cmake -D INCLUDE=<include dir> -P check_layers.cmake
cmake_minimum_required(VERSION 3.20)
set(layers base endpoint policy socket any host interop)
# An arrow that may run upward, "from -> to", with its reason in
# docs/layers.md.  None today.
set(allowed)

function(rank_of out header)
  if(header MATCHES "^([a-z_]+)/")
    list(FIND layers "${CMAKE_MATCH_1}" r)
    if(r EQUAL -1)  # include/vmsock/detail/
      set(r 0)
    endif()
  else()
    file(STRINGS "${INCLUDE}/vmsock/${header}" first LIMIT_COUNT 1)
    if(header STREQUAL "vmsock.hpp" OR first MATCHES "^// A short path")
      set(r 99)
    else()
      set(r 0)
    endif()
  endif()
  set(${out} ${r} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE headers RELATIVE "${INCLUDE}/vmsock" "${INCLUDE}/vmsock/*.hpp")
list(SORT headers)
set(upward)
set(arrows 0)
foreach(h IN LISTS headers)
  rank_of(from "${h}")
  file(STRINGS "${INCLUDE}/vmsock/${h}" lines REGEX "^#[ \t]*include[ \t]*<vmsock/")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^#[ \t]*include[ \t]*<vmsock/([^>]+)>.*" "\\1" to "${line}")
    if(NOT EXISTS "${INCLUDE}/vmsock/${to}")
      list(APPEND upward "${h} -> ${to} (no such header)")
      continue()
    endif()
    math(EXPR arrows "${arrows} + 1")
    rank_of(r "${to}")
    if(r EQUAL 99 AND NOT from EQUAL 99)
      list(APPEND upward "${h} -> ${to} (a short path: include the header itself)")
    elseif(r GREATER from AND NOT r EQUAL 99 AND NOT "${h} -> ${to}" IN_LIST allowed)
      list(GET layers ${from} lf)
      list(GET layers ${r} lt)
      list(APPEND upward "${h} -> ${to} (${lf} includes ${lt})")
    endif()
  endforeach()
endforeach()
list(LENGTH headers n)
list(LENGTH allowed a)
if(upward)
  list(JOIN upward "\n  " text)
  message(FATAL_ERROR "include arrows that run upward:\n  ${text}")
endif()
message(STATUS "${n} headers, ${arrows} include arrows, none upward (${a} allowed by check_layers.cmake)")
