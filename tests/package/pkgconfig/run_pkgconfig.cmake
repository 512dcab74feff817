# The pkg-config consumer test (package.pkgconfig): installs vmsock alone into
# SCRATCH_DIR/prefix with `cmake --install --prefix`, then builds consumers
# with the compiler, their source and `pkg-config --cflags --libs vmsock` (and
# --modversion, which the consumer checks against config.hpp), nothing else,
# as a Makefile or Meson user would, and runs them:
#   ../consumer/main.cpp     the CMake consumers' program (in a cross build
#                            run under the emulator)
#   asio_consumer.cpp        vmsock/asio.hpp, where <asio.hpp> is installed
#                            (not in cross builds: the compiler cannot see it)
#
# Beside them, as any program of the calling build: -std=c++17 (the .pc sets
# no language level; vmsock needs 17, and clang 14 defaults to 14) and, in a
# cross build, the toolchain's own target, sysroot and flags.
#
#   cmake -DSOURCE_DIR=... -DSCRATCH_DIR=... -DPKG_CONFIG=... -DCXX_COMPILER=...
#         [-DGENERATOR=...] [-DMAKE_PROGRAM=...] [-DTOOLCHAIN_FILE=...]
#         [-DCXX_TARGET=...] [-DSYSROOT=...] [-DCXX_FLAGS=...] [-DLINK_FLAGS=...]
#         [-DEMULATOR=a|b] -P run_pkgconfig.cmake
# Prints "vmsock-package-test-skipped: <why>" without pkg-config.
cmake_minimum_required(VERSION 3.20)

foreach(var IN ITEMS SOURCE_DIR SCRATCH_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_pkgconfig.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT PKG_CONFIG)
  message(STATUS "vmsock-package-test-skipped: no pkg-config (Debian: pkgconf)")
  return()
endif()
string(REPLACE "|" ";" EMULATOR "${EMULATOR}")

function(run step)
  message(STATUS "[pkgconfig] ${step}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "package test 'pkgconfig' FAILED: ${step} (exit ${rc})\n  command: ${cmd}\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${SCRATCH_DIR}")
file(MAKE_DIRECTORY "${SCRATCH_DIR}")
set(tool_args)
if(GENERATOR)
  list(APPEND tool_args -G "${GENERATOR}")
endif()
foreach(pair IN ITEMS MAKE_PROGRAM:CMAKE_MAKE_PROGRAM CXX_COMPILER:CMAKE_CXX_COMPILER
                      TOOLCHAIN_FILE:CMAKE_TOOLCHAIN_FILE)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  if(NOT "${${from}}" STREQUAL "")
    list(APPEND tool_args "-D${to}=${${from}}")
  endif()
endforeach()

set(prefix "${SCRATCH_DIR}/prefix")
run("configure vmsock alone" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${SCRATCH_DIR}/vmsock-build"
    ${tool_args} -DVMSOCK_BUILD_TESTS=OFF -DVMSOCK_BUILD_EXAMPLES=OFF -DVMSOCK_BUILD_BENCHMARKS=OFF
    -DVMSOCK_BUILD_TOOLS=OFF)
run("build vmsock" "${CMAKE_COMMAND}" --build "${SCRATCH_DIR}/vmsock-build")
run("install vmsock" "${CMAKE_COMMAND}" --install "${SCRATCH_DIR}/vmsock-build" --prefix "${prefix}")
set(pc "${prefix}/share/pkgconfig/vmsock.pc")
if(NOT EXISTS "${pc}")
  message(FATAL_ERROR "package test 'pkgconfig' FAILED: no share/pkgconfig/vmsock.pc in the install")
endif()

# Only the installed prefix answers (PKG_CONFIG_LIBDIR replaces the default path).
set(env "${CMAKE_COMMAND}" -E env "PKG_CONFIG_LIBDIR=${prefix}/share/pkgconfig" --unset=PKG_CONFIG_PATH)
run("pkg-config --cflags --libs vmsock" ${env} "${PKG_CONFIG}" --cflags --libs vmsock)
string(STRIP "${step_output}" flags)
separate_arguments(flag_list UNIX_COMMAND "${flags}")
run("pkg-config --modversion vmsock" ${env} "${PKG_CONFIG}" --modversion vmsock)
string(STRIP "${step_output}" version)
message(STATUS "[pkgconfig] vmsock ${version}: ${flags}")
if(NOT flags MATCHES "-I[^ ]*/include")
  message(FATAL_ERROR "package test 'pkgconfig' FAILED: no -I<prefix>/include in '${flags}'")
endif()

# The calling build's own compile and link flags: a cross toolchain's target,
# sysroot, libstdc++ directories and its -static (the MinGW runtime linked in,
# so the .exe runs under Wine without MinGW's DLLs).
set(tool_flags -std=c++17)
if(CXX_TARGET)
  list(APPEND tool_flags "--target=${CXX_TARGET}")
endif()
if(SYSROOT)
  list(APPEND tool_flags "--sysroot=${SYSROOT}")
endif()
separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
separate_arguments(link_flags UNIX_COMMAND "${LINK_FLAGS}")
list(APPEND tool_flags ${cxx_flags})
set(exe_suffix "")
if(TOOLCHAIN_FILE)
  set(exe_suffix .exe)
endif()

function(build_and_run name source)
  set(exe "${SCRATCH_DIR}/${name}${exe_suffix}")
  run("compile ${name}: ${CXX_COMPILER} ${source} <pkg-config --cflags --libs vmsock>"
      "${CXX_COMPILER}" ${tool_flags} "${source}" -o "${exe}" ${flag_list} ${ARGN} ${link_flags})
  run("run ${name}" ${EMULATOR} "${exe}")
  string(REGEX MATCHALL "ok  [^\n]*" checks "${step_output}")
  list(LENGTH checks n)
  message(STATUS "[pkgconfig] ${name}: ${n} checks passed")
  if(n EQUAL 0 OR step_output MATCHES "FAIL")
    message(FATAL_ERROR "package test 'pkgconfig' FAILED: ${name}:\n${step_output}")
  endif()
endfunction()

# The flags pkg-config printed, the source, and the version it reported.
build_and_run(consumer "${CMAKE_CURRENT_LIST_DIR}/../consumer/main.cpp"
  "-DVMSOCK_CONSUMER_EXPECTED_VERSION=\"${version}\"")
if(NOT TOOLCHAIN_FILE)
  find_file(asio_header asio.hpp PATHS /usr/include /usr/local/include NO_CACHE)
  if(asio_header)
    build_and_run(asio_consumer "${CMAKE_CURRENT_LIST_DIR}/asio_consumer.cpp")
  else()
    message(STATUS "[pkgconfig] asio_consumer skipped: <asio.hpp> not found")
  endif()
endif()
message(STATUS "[pkgconfig] passed")
