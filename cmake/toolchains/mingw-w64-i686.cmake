# Cross-compiles vmsock's tests for 32-bit Windows (i686) with MinGW-w64's g++
# and runs them under 32-bit Wine.  As mingw-w64.cmake (which this includes),
# but for the i686-w64-mingw32 tools: a 32-bit SOCKET (UINT_PTR), 32-bit
# size_t and pointers, the x86 calling conventions of the Windows API.
#
#   cmake -S . -B build/mingw-i686 --toolchain cmake/toolchains/mingw-w64-i686.cmake
#   (or: cmake --workflow --preset mingw-i686)
#
# Debian: g++-mingw-w64-i686-posix, and for running the tests wine32:i386
# (`dpkg --add-architecture i386`, then apt-get update; the 32-bit loader is
# /usr/lib/wine/wine).  Without it the tests build but have nothing to run
# under.  Variables as in mingw-w64.cmake.
set(VMSOCK_MINGW_PREFIX "i686-w64-mingw32" CACHE STRING "MinGW-w64 tool prefix")
# Only the 32-bit loader: the 64-bit one cannot start a 32-bit program
# without wine32 installed beside it.
set(VMSOCK_WINE_NAMES wine)
include("${CMAKE_CURRENT_LIST_DIR}/mingw-w64.cmake")
set(CMAKE_SYSTEM_PROCESSOR i686)
