# Settings and dependencies for vmsock's own tests, examples and benchmarks.
# Never included when vmsock is a subproject or an installed package.

include(FetchContent)

# Warnings for vmsock's own targets: vmsock_warnings is linked by every test,
# example and benchmark, never by the vmsock target itself.
add_library(vmsock_warnings INTERFACE)
if(MSVC)
  target_compile_options(vmsock_warnings INTERFACE /W4 $<$<BOOL:${VMSOCK_WERROR}>:/WX>)
else()
  target_compile_options(vmsock_warnings INTERFACE -Wall -Wextra -Wpedantic
    -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
    $<$<BOOL:${VMSOCK_WERROR}>:-Werror>)
endif()

# fmt: the system's first (Debian: libfmt-dev), else fetched.  FIND_PACKAGE_ARGS
# makes FetchContent_MakeAvailable try find_package before any download.
if(NOT TARGET fmt::fmt)
  FetchContent_Declare(fmt
    URL https://github.com/fmtlib/fmt/releases/download/10.2.1/fmt-10.2.1.zip
    DOWNLOAD_EXTRACT_TIMESTAMP TRUE
    FIND_PACKAGE_ARGS 9 CONFIG)
  FetchContent_MakeAvailable(fmt)
endif()
