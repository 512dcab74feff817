# Cross-compiles vmsock's tests for 64-bit Windows with MinGW-w64's g++ and
# runs them under Wine.
#
#   cmake -S . -B build/windows --toolchain cmake/toolchains/mingw-w64.cmake
#   (or: cmake --preset windows)
#
# Debian: g++-mingw-w64-x86-64-posix (the posix thread model, so std::thread and
# std::mutex work) and wine64.  Variables a user may set before this file runs
# (-D on the command line or a preset's cacheVariables):
#   VMSOCK_MINGW_PREFIX  tool prefix, default x86_64-w64-mingw32
#   VMSOCK_WINE          the Wine loader, found when unset
#   VMSOCK_WINEPREFIX    Wine's prefix, default <build>/wine-prefix; Wine
#                        creates it on the first run (a few seconds)

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(VMSOCK_MINGW_PREFIX "x86_64-w64-mingw32" CACHE STRING "MinGW-w64 tool prefix")

# The -posix drivers select the posix thread model; the plain names may point
# at the win32 one, where std::thread does not exist in GCC 12.
find_program(VMSOCK_MINGW_CXX NAMES "${VMSOCK_MINGW_PREFIX}-g++-posix" "${VMSOCK_MINGW_PREFIX}-g++"
  DOC "MinGW-w64 C++ compiler (posix thread model)" REQUIRED)
find_program(VMSOCK_MINGW_CC NAMES "${VMSOCK_MINGW_PREFIX}-gcc-posix" "${VMSOCK_MINGW_PREFIX}-gcc"
  DOC "MinGW-w64 C compiler (posix thread model)")
find_program(VMSOCK_MINGW_RC NAMES "${VMSOCK_MINGW_PREFIX}-windres" DOC "MinGW-w64 resource compiler")

set(CMAKE_CXX_COMPILER "${VMSOCK_MINGW_CXX}")
if(VMSOCK_MINGW_CC)
  set(CMAKE_C_COMPILER "${VMSOCK_MINGW_CC}")
endif()
if(VMSOCK_MINGW_RC)
  set(CMAKE_RC_COMPILER "${VMSOCK_MINGW_RC}")
endif()

# Headers, libraries and CMake packages come from the MinGW sysroot only, never
# from the host's /usr (the host's libgtest, libfmt or glibc headers must not
# leak into a Windows build); programs (the tools above, Wine) from the host.
# Roots given by the user (-DCMAKE_FIND_ROOT_PATH=<an install prefix of
# Windows packages>, e.g. where vmsock itself was installed) come first.
list(APPEND CMAKE_FIND_ROOT_PATH "/usr/${VMSOCK_MINGW_PREFIX}")
list(REMOVE_DUPLICATES CMAKE_FIND_ROOT_PATH)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# libgcc, libstdc++ and winpthread linked in: the .exe then runs under Wine (or
# on a bare Windows machine) without copying MinGW's DLLs beside it or onto PATH.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")

include("${CMAKE_CURRENT_LIST_DIR}/wine-emulator.cmake")
