# Cross-compiles vmsock's tests for IBM Z Linux (s390x, big-endian) with
# Debian's s390x-linux-gnu-g++ and runs them under qemu-s390x-static.
#
#   cmake -S . -B build/s390x --toolchain cmake/toolchains/s390x-linux-gnu.cmake
#   (or: cmake --workflow --preset s390x)
#
# Debian: g++-s390x-linux-gnu, qemu-user-static.  See linux-cross.cmake.
set(VMSOCK_CROSS_TRIPLE s390x-linux-gnu)
set(VMSOCK_CROSS_PROCESSOR s390x)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake")
