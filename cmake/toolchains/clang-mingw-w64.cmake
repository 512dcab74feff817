# The second Windows compiler: clang++ --target=x86_64-w64-mingw32 against
# MinGW-w64's headers and GCC's libstdc++ (Debian's clang has no MinGW runtime
# of its own).  It compiles, links and runs the same tests as mingw-w64.cmake.
#
#   cmake -S . -B build/windows-clang --toolchain cmake/toolchains/clang-mingw-w64.cmake
#
# Debian: clang, lld (optional), g++-mingw-w64-x86-64-posix (headers, CRT,
# libstdc++), wine64.
# Variables a user may set before this file runs:
#   VMSOCK_MINGW_PREFIX  target triple and tool prefix, default x86_64-w64-mingw32
#   VMSOCK_CLANG         clang++ to use, default the first clang++ on PATH
#   VMSOCK_CLANG_LINKER  -fuse-ld value: lld when ld.lld is installed, else bfd
#                        (MinGW's binutils)
#   VMSOCK_WINE, VMSOCK_WINEPREFIX  as in mingw-w64.cmake

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(VMSOCK_MINGW_PREFIX "x86_64-w64-mingw32" CACHE STRING "MinGW-w64 target triple")
# lld links clang's objects against GCC's libstdc++.a quietly; MinGW's bfd ld
# works too but warns "duplicate section ... has different size" for
# libstdc++'s typeinfo names on every link.
find_program(VMSOCK_LLD NAMES ld.lld DOC "LLVM's linker (Debian: lld)")
if(VMSOCK_LLD)
  set(VMSOCK_CLANG_LINKER "lld" CACHE STRING "Linker for clang's MinGW driver (-fuse-ld=)")
else()
  set(VMSOCK_CLANG_LINKER "bfd" CACHE STRING "Linker for clang's MinGW driver (-fuse-ld=)")
endif()

find_program(VMSOCK_CLANG NAMES clang++ DOC "clang++ used as a Windows cross compiler" REQUIRED)
find_program(VMSOCK_CLANG_C NAMES clang DOC "clang used as a Windows cross compiler")
find_program(VMSOCK_MINGW_GXX NAMES "${VMSOCK_MINGW_PREFIX}-g++-posix" "${VMSOCK_MINGW_PREFIX}-g++"
  DOC "MinGW-w64 g++, asked where its libstdc++ lives" REQUIRED)
find_program(VMSOCK_MINGW_RC NAMES "${VMSOCK_MINGW_PREFIX}-windres" DOC "MinGW-w64 resource compiler")

set(CMAKE_CXX_COMPILER "${VMSOCK_CLANG}")
set(CMAKE_CXX_COMPILER_TARGET "${VMSOCK_MINGW_PREFIX}")
if(VMSOCK_CLANG_C)
  set(CMAKE_C_COMPILER "${VMSOCK_CLANG_C}")
  set(CMAKE_C_COMPILER_TARGET "${VMSOCK_MINGW_PREFIX}")
endif()
if(VMSOCK_MINGW_RC)
  set(CMAKE_RC_COMPILER "${VMSOCK_MINGW_RC}")
endif()

# The MinGW sysroot (/usr/x86_64-w64-mingw32 on Debian): its include/ and lib/.
# A sysroot also keeps the host's /usr/include off clang's search path, where
# the driver would otherwise put it.
set(CMAKE_SYSROOT "/usr/${VMSOCK_MINGW_PREFIX}")

# GCC's directory (.../lib/gcc/x86_64-w64-mingw32/12-posix): libstdc++'s headers
# and archives, libgcc, crtbegin.o.  Clang 14's driver does not find the
# "-posix" directory by itself, so it is named explicitly.
execute_process(COMMAND "${VMSOCK_MINGW_GXX}" -print-libgcc-file-name
  OUTPUT_VARIABLE _vmsock_libgcc OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _vmsock_rc)
if(NOT _vmsock_rc EQUAL 0 OR NOT EXISTS "${_vmsock_libgcc}")
  message(FATAL_ERROR "${VMSOCK_MINGW_GXX} -print-libgcc-file-name failed: ${_vmsock_libgcc}")
endif()
get_filename_component(VMSOCK_MINGW_GCC_DIR "${_vmsock_libgcc}" DIRECTORY)
set(_vmsock_cxx_inc "${VMSOCK_MINGW_GCC_DIR}/include/c++")
if(NOT EXISTS "${_vmsock_cxx_inc}/vector")
  message(FATAL_ERROR "libstdc++ headers not found in ${_vmsock_cxx_inc}")
endif()

# With a sysroot clang adds no C++ library directory of its own, so these are
# the only ones (no -nostdinc++ needed; it would warn on every link line).
string(JOIN " " CMAKE_CXX_FLAGS_INIT
  "-isystem ${_vmsock_cxx_inc}"
  "-isystem ${_vmsock_cxx_inc}/${VMSOCK_MINGW_PREFIX}"
  "-isystem ${_vmsock_cxx_inc}/backward")

# -B finds crtbegin.o/crtend.o, -L libstdc++.a and libgcc.a; -pthread adds
# winpthread, which the posix-model libstdc++ needs; -static as in the g++
# toolchain, so the .exe needs no DLL from MinGW.
set(_vmsock_link "-fuse-ld=${VMSOCK_CLANG_LINKER} -B${VMSOCK_MINGW_GCC_DIR} -L${VMSOCK_MINGW_GCC_DIR} -pthread")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_vmsock_link} -static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_vmsock_link}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_vmsock_link}")

# Roots given by the user (-DCMAKE_FIND_ROOT_PATH=<an install prefix of
# Windows packages>, e.g. where vmsock itself was installed) come first.
list(APPEND CMAKE_FIND_ROOT_PATH "/usr/${VMSOCK_MINGW_PREFIX}")
list(REMOVE_DUPLICATES CMAKE_FIND_ROOT_PATH)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

include("${CMAKE_CURRENT_LIST_DIR}/wine-emulator.cmake")
