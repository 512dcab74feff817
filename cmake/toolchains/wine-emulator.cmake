# Shared by the cross toolchains: run the .exe files under Wine through
# CMAKE_CROSSCOMPILING_EMULATOR, with a Wine prefix inside the build tree.
# Included from a toolchain file; sets nothing when Wine is not installed (the
# build then compiles and links, and ctest has nothing to run the tests with).

# Debian 12 installs the 64-bit loader as /usr/lib/wine/wine64 and no wine64 on
# PATH; /usr/bin/wine is a script that prefers a wine32 that may be absent.
# A 32-bit toolchain sets VMSOCK_WINE_NAMES to the 32-bit loader's name (wine:
# /usr/lib/wine/wine, Debian's wine32).
if(NOT VMSOCK_WINE_NAMES)
  set(VMSOCK_WINE_NAMES wine64 wine)
endif()
find_program(VMSOCK_WINE NAMES ${VMSOCK_WINE_NAMES}
  PATHS /usr/lib/wine /usr/lib64/wine /opt/wine-stable/bin
  DOC "Wine loader that runs the cross-built tests")

if(NOT DEFINED VMSOCK_WINEPREFIX)
  # CMAKE_BINARY_DIR is the top of the build tree when a toolchain file runs.
  set(VMSOCK_WINEPREFIX "${CMAKE_BINARY_DIR}/wine-prefix" CACHE PATH
    "Wine prefix the tests run in (created on first use)")
endif()

if(CMAKE_CROSSCOMPILING_EMULATOR)
  # Given by the caller (a consumer project built by vmsock's package tests
  # gets the calling build's, and so shares its Wine prefix): kept.
elseif(VMSOCK_WINE)
  # A list: the wrapper, then its fixed arguments; ctest appends the program.
  set(CMAKE_CROSSCOMPILING_EMULATOR
    "${CMAKE_CURRENT_LIST_DIR}/wine-run.sh;${VMSOCK_WINE};${VMSOCK_WINEPREFIX}")
else()
  message(WARNING "Wine not found (Debian: apt-get install wine64): "
                  "the Windows tests will build but cannot run")
endif()
