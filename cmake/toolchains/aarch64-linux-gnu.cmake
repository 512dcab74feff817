# Cross-compiles vmsock's tests for 64-bit Arm Linux with Debian's
# aarch64-linux-gnu-g++ and runs them under qemu-aarch64-static.
#
#   cmake -S . -B build/arm64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
#   (or: cmake --workflow --preset arm64)
#
# Debian: g++-aarch64-linux-gnu, qemu-user-static.  See linux-cross.cmake.
set(VMSOCK_CROSS_TRIPLE aarch64-linux-gnu)
set(VMSOCK_CROSS_PROCESSOR aarch64)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake")
