# Compiles vmsock's headers with one compiler in one language mode, with every
# warning of vmsock_warnings made an error, -fsyntax-only.
#   -D COMPILER=<name>      g++ or clang++ (looked up now, on PATH; versioned
#                           names such as clang++-14 count as installed), or
#                           clang++-mingw: clang++ --target=x86_64-w64-mingw32
#                           against MinGW-w64's headers and libstdc++, with the
#                           flags cmake/toolchains/clang-mingw-w64.cmake uses
#                           (needs x86_64-w64-mingw32-g++-posix, which knows
#                           where they are)
#   -D STD=17|20
#   -D MODE=each|all        each header in its own TU, or one TU with them all
#   -D INCLUDE=<dir>        vmsock's include directory
#   -D HEADERS=<a|b|...>    headers relative to INCLUDE ('|'-separated)
#   -D FMT_INCLUDE=<a|b>    fmt's include directories (for vmsock/fmt.hpp)
#   -D IMPLICIT_INCLUDE=<a|b> the compilers' default include directories
#   -D WORK=<dir>           where the generated TUs go
#   -D EXTRA=<a|b>          more flags (-fno-exceptions for the no-exceptions mode)
# A compiler that is not installed is skipped: the output says
# "vmsock-compile-skip: <why>" and the test's SKIP_REGULAR_EXPRESSION matches it.
cmake_minimum_required(VERSION 3.20)

if(COMPILER STREQUAL "g++")
  set(names g++ g++-14 g++-13 g++-12 g++-11 g++-10)
elseif(COMPILER STREQUAL "clang++" OR COMPILER STREQUAL "clang++-mingw")
  set(names clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14)
else()
  message(FATAL_ERROR "unknown COMPILER '${COMPILER}'")
endif()
find_program(cxx NAMES ${names} NO_CACHE)
if(NOT cxx)
  string(REPLACE ";" ", " names "${names}")
  message("vmsock-compile-skip: ${COMPILER} is not installed (looked for: ${names})")
  return()
endif()

string(REPLACE "|" ";" headers "${HEADERS}")
string(REPLACE "|" ";" fmt_dirs "${FMT_INCLUDE}")
set(flags -std=c++${STD} -fsyntax-only -Wall -Wextra -Wpedantic -Wshadow -Wconversion
  -Wsign-conversion -Wold-style-cast -Werror "-I${INCLUDE}")
if(DEFINED EXTRA AND NOT EXTRA STREQUAL "")
  string(REPLACE "|" ";" extra "${EXTRA}")
  list(APPEND flags ${extra})
endif()
file(MAKE_DIRECTORY "${WORK}")

if(COMPILER STREQUAL "clang++-mingw")
  # The MinGW sysroot keeps the host's /usr/include out; GCC's directory
  # (.../lib/gcc/x86_64-w64-mingw32/12-posix) holds libstdc++'s headers.
  set(triple x86_64-w64-mingw32)
  find_program(mingw_gxx NAMES ${triple}-g++-posix ${triple}-g++ NO_CACHE)
  if(NOT mingw_gxx OR NOT EXISTS "/usr/${triple}/include/winsock2.h")
    message("vmsock-compile-skip: MinGW-w64 is not installed (${triple}-g++-posix and "
            "/usr/${triple}/include; Debian: g++-mingw-w64-x86-64-posix)")
    return()
  endif()
  execute_process(COMMAND "${mingw_gxx}" -print-libgcc-file-name
    OUTPUT_VARIABLE libgcc OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  get_filename_component(gcc_dir "${libgcc}" DIRECTORY)
  set(cxx_inc "${gcc_dir}/include/c++")
  if(NOT rc EQUAL 0 OR NOT EXISTS "${cxx_inc}/vector")
    message(FATAL_ERROR "${mingw_gxx} -print-libgcc-file-name gave no libstdc++: ${libgcc}")
  endif()
  list(PREPEND flags "--target=${triple}" "--sysroot=/usr/${triple}"
    -isystem "${cxx_inc}" -isystem "${cxx_inc}/${triple}" -isystem "${cxx_inc}/backward")
  # fmt (for vmsock/fmt.hpp) lives in the host's /usr/include, which must not
  # come in front of MinGW's C headers: only its fmt/ directory is linked in.
  foreach(dir IN LISTS fmt_dirs)
    if(dir AND EXISTS "${dir}/fmt/format.h" AND NOT EXISTS "${WORK}/fmt-include/fmt")
      file(MAKE_DIRECTORY "${WORK}/fmt-include")
      file(CREATE_LINK "${dir}/fmt" "${WORK}/fmt-include/fmt" SYMBOLIC)
    endif()
  endforeach()
  if(EXISTS "${WORK}/fmt-include/fmt")
    list(APPEND flags -isystem "${WORK}/fmt-include")
  endif()
else()
  # fmt's headers are not ours to warn about: -isystem.  Except where fmt lives
  # in a default directory (Debian: /usr/include), which -isystem would move in
  # front of the C++ library's own and break its #include_next.
  string(REPLACE "|" ";" implicit "${IMPLICIT_INCLUDE}")
  list(APPEND implicit /usr/include /usr/local/include)
  foreach(dir IN LISTS fmt_dirs)
    if(dir AND NOT dir IN_LIST implicit)
      list(APPEND flags "-isystem" "${dir}")
    endif()
  endforeach()
endif()

# vmsock/asio.hpp needs asio itself: it is compiled where asio is installed.
function(vmsock_include_line out header)
  if(header MATCHES "^vmsock/(interop/)?asio\\.hpp$")
    set(${out} "#if __has_include(<asio.hpp>)\n#  include <${header}>\n#endif\n" PARENT_SCOPE)
  else()
    set(${out} "#include <${header}>\n" PARENT_SCOPE)
  endif()
endfunction()

if(MODE STREQUAL "all")
  set(text "// Generated: every vmsock header in one translation unit.\n")
  foreach(h IN LISTS headers)
    vmsock_include_line(line "${h}")
    string(APPEND text "${line}")
  endforeach()
  string(APPEND text "int main() { return 0; }\n")
  file(WRITE "${WORK}/all_headers.cpp" "${text}")
  set(units all_headers)
  set(unit_all_headers "${WORK}/all_headers.cpp")
else()
  set(units)
  foreach(h IN LISTS headers)
    # A short path (a forwarding header) is one include of a header that is
    # checked alone itself; the all-headers unit still includes it.
    file(STRINGS "${INCLUDE}/${h}" first LIMIT_COUNT 1)
    if(first MATCHES "^// A short path")
      continue()
    endif()
    string(MAKE_C_IDENTIFIER "${h}" id)
    vmsock_include_line(line "${h}")
    file(WRITE "${WORK}/${id}.cpp" "// Generated: ${h} alone.\n${line}")
    list(APPEND units ${id})
    set(unit_${id} "${WORK}/${id}.cpp")
    set(header_${id} "${h}")
  endforeach()
endif()

execute_process(COMMAND "${cxx}" --version OUTPUT_VARIABLE version ERROR_QUIET)
string(REGEX MATCH "^[^\n]*" version "${version}")
if(COMPILER STREQUAL "clang++-mingw")
  string(APPEND version " --target=${triple}, MinGW-w64 headers, libstdc++ of ${gcc_dir}")
endif()
message(STATUS "${version}, C++${STD}")

set(failed)
list(LENGTH units count)
foreach(u IN LISTS units)
  execute_process(COMMAND "${cxx}" ${flags} "${unit_${u}}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(MODE STREQUAL "all")
    set(what "all headers together")
  else()
    set(what "${header_${u}} alone")
  endif()
  if(rc EQUAL 0 AND "${out}${err}" STREQUAL "")
    message(STATUS "ok: ${what}")
  else()
    message("FAILED: ${what}:\n${out}${err}")
    list(APPEND failed "${what}")
  endif()
endforeach()

if(failed)
  list(LENGTH failed n)
  string(REPLACE ";" "\n  " failed "${failed}")
  message(FATAL_ERROR "${n} of ${count} compiles failed with ${COMPILER} C++${STD}:\n  ${failed}")
endif()
message(STATUS "${count} compiles, ${COMPILER} C++${STD}: all warning-free")
