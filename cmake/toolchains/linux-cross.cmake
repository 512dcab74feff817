# Shared by the Linux cross toolchains (aarch64-linux-gnu.cmake,
# s390x-linux-gnu.cmake): Debian's cross g++ against its cross sysroot
# /usr/<triple>, and the tests run under qemu-user through
# CMAKE_CROSSCOMPILING_EMULATOR.  The including file sets VMSOCK_CROSS_TRIPLE
# (aarch64-linux-gnu, ...) and VMSOCK_CROSS_PROCESSOR (aarch64, s390x, ...);
# VMSOCK_QEMU_ARCH when qemu's name for it differs (qemu-aarch64, qemu-s390x).
#
# Debian: g++-<triple> (the compiler, its libstdc++ and glibc in /usr/<triple>)
# and qemu-user-static.  No prebuilt GoogleTest or fmt exists for the target:
# the presets build GoogleTest from /usr/src/googletest (package googletest)
# and use fmt header-only (tests/windows/fmt-header-only).
#
# Variables a user may set:
#   VMSOCK_CROSS_SYSROOT  the target's libraries, default /usr/<triple>
#   VMSOCK_QEMU           the qemu-user binary, found when unset
if(NOT VMSOCK_CROSS_TRIPLE OR NOT VMSOCK_CROSS_PROCESSOR)
  message(FATAL_ERROR "linux-cross.cmake: include it from a toolchain file that sets "
                      "VMSOCK_CROSS_TRIPLE and VMSOCK_CROSS_PROCESSOR")
endif()
if(NOT VMSOCK_QEMU_ARCH)
  set(VMSOCK_QEMU_ARCH "${VMSOCK_CROSS_PROCESSOR}")
endif()

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR "${VMSOCK_CROSS_PROCESSOR}")

find_program(VMSOCK_CROSS_CXX NAMES "${VMSOCK_CROSS_TRIPLE}-g++"
  DOC "${VMSOCK_CROSS_TRIPLE} C++ compiler (Debian: g++-${VMSOCK_CROSS_TRIPLE})" REQUIRED)
find_program(VMSOCK_CROSS_CC NAMES "${VMSOCK_CROSS_TRIPLE}-gcc"
  DOC "${VMSOCK_CROSS_TRIPLE} C compiler")
set(CMAKE_CXX_COMPILER "${VMSOCK_CROSS_CXX}")
if(VMSOCK_CROSS_CC)
  set(CMAKE_C_COMPILER "${VMSOCK_CROSS_CC}")
endif()

set(VMSOCK_CROSS_SYSROOT "/usr/${VMSOCK_CROSS_TRIPLE}" CACHE PATH
  "The target's glibc and libstdc++ (Debian's cross sysroot)")

# Headers, libraries and CMake packages from the target's tree only, never
# from the host's /usr (the host's libgtest and libfmt are x86-64); programs
# from the host.
list(APPEND CMAKE_FIND_ROOT_PATH "${VMSOCK_CROSS_SYSROOT}")
list(REMOVE_DUPLICATES CMAKE_FIND_ROOT_PATH)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# qemu-user runs the target's programs: ctest, test discovery and custom
# commands all come through it.  -L is where it finds the target's dynamic
# loader and shared libraries.  (Without binfmt_misc, a test program that
# execs another target program cannot run it: qemu passes execve to the host
# kernel.  Host programs, /bin/sh, run natively.)
find_program(VMSOCK_QEMU NAMES "qemu-${VMSOCK_QEMU_ARCH}-static" "qemu-${VMSOCK_QEMU_ARCH}"
  DOC "qemu-user for ${VMSOCK_CROSS_PROCESSOR} (Debian: qemu-user-static)")
if(CMAKE_CROSSCOMPILING_EMULATOR)
  # Given by the caller: kept.
elseif(VMSOCK_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${VMSOCK_QEMU};-L;${VMSOCK_CROSS_SYSROOT}")
else()
  message(WARNING "qemu-${VMSOCK_QEMU_ARCH}-static not found (Debian: apt-get install "
                  "qemu-user-static): the tests will build but cannot run")
endif()
