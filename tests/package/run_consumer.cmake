# Proves that vmsock can be consumed: configures, builds and runs the project in
# consumer/ against vmsock in one of four ways.  Run with cmake -P:
#
#   cmake -DMODE=<mode> -DSOURCE_DIR=<vmsock source> -DSCRATCH_DIR=<empty-able dir>
#         [-DGENERATOR=...] [-DMAKE_PROGRAM=...] [-DCXX_COMPILER=...]
#         [-DGENERATOR_PLATFORM=...] [-DGENERATOR_TOOLSET=...]
#         [-DTOOLCHAIN_FILE=...] [-DEMULATOR=...] -P run_consumer.cmake
#
# MODE:
#   install           configure vmsock alone (tests, examples, benchmarks off),
#                     `cmake --install --prefix` it into SCRATCH_DIR/prefix, check the
#                     installed layout and the version file, then find_package it;
#                     this consumer also builds with vmsock.hpp precompiled.
#   install_unbuilt   configure vmsock as a user does (the tool at its default,
#                     on) and `cmake --install` it with nothing built: the headers
#                     and the package land, the unbuilt tool is left out.
#   add_subdirectory  add_subdirectory(SOURCE_DIR) from the consumer.
#   fetchcontent      FetchContent_Declare(vmsock SOURCE_DIR SOURCE_DIR): the working tree.
#   fetchcontent_git  FetchContent_Declare(vmsock GIT_REPOSITORY file://SOURCE_DIR
#                     GIT_TAG <HEAD>): a real clone, offline; tests the committed HEAD.
#                     Prints "vmsock-package-test-skipped: <why>" and stops when
#                     SOURCE_DIR is not a git checkout (ctest reports it skipped).
#
# The generator, compiler and toolchain of the calling build are passed on, so
# each consumer is built with the same tools.  Exits nonzero, with the failing
# step's output, on the first failure.
cmake_minimum_required(VERSION 3.20)

foreach(var IN ITEMS MODE SOURCE_DIR SCRATCH_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
get_filename_component(SOURCE_DIR "${SOURCE_DIR}" ABSOLUTE)
get_filename_component(SCRATCH_DIR "${SCRATCH_DIR}" ABSOLUTE)
set(consumer_dir "${CMAKE_CURRENT_LIST_DIR}/consumer")
set(probe_dir "${CMAKE_CURRENT_LIST_DIR}/version_probe")
set(config Debug)  # for multi-config generators; single-config ones ignore it

string(TIMESTAMP started "%s")
function(log)
  string(TIMESTAMP now "%s")
  math(EXPR elapsed "${now} - ${started}")
  string(JOIN "" msg ${ARGN})
  message(STATUS "[${MODE} +${elapsed}s] ${msg}")
endfunction()

function(fail)
  string(JOIN "" msg ${ARGN})
  message(FATAL_ERROR "package test '${MODE}' FAILED: ${msg}")
endfunction()

# The arguments that make a configure use the caller's tools: -G/-A/-T, and an
# initial cache (-C) for the rest, so values holding ';' (an emulator with its
# arguments) arrive intact.
set(tool_args)
if(GENERATOR)
  list(APPEND tool_args -G "${GENERATOR}")
endif()
if(GENERATOR_PLATFORM)
  list(APPEND tool_args -A "${GENERATOR_PLATFORM}")
endif()
if(GENERATOR_TOOLSET)
  list(APPEND tool_args -T "${GENERATOR_TOOLSET}")
endif()
set(tools_cache "${SCRATCH_DIR}/tools-cache.cmake")
list(APPEND tool_args -C "${tools_cache}")
set(tools_cache_text "# The calling build's tools, written by run_consumer.cmake\n")
foreach(pair IN ITEMS MAKE_PROGRAM:CMAKE_MAKE_PROGRAM CXX_COMPILER:CMAKE_CXX_COMPILER
                      TOOLCHAIN_FILE:CMAKE_TOOLCHAIN_FILE EMULATOR:CMAKE_CROSSCOMPILING_EMULATOR)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  if(NOT "${${from}}" STREQUAL "")
    string(APPEND tools_cache_text "set(${to} [==[${${from}}]==] CACHE STRING \"\")\n")
  endif()
endforeach()

# run(<step> <command...>): runs a command, fails with its output if it fails.
# Its combined output is left in step_output in the caller's scope.
function(run step)
  log("${step}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    fail("${step} (exit ${rc})\n  command: ${cmd}\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# Configure, build and run the consumer project in <bin>, consuming vmsock the
# way <consumer_mode> says (consumer/CMakeLists.txt), with extra -D arguments.
function(build_and_run_consumer bin consumer_mode)
  run("configure the consumer" "${CMAKE_COMMAND}" -S "${consumer_dir}" -B "${bin}" ${tool_args}
      "-DVMSOCK_CONSUMER_MODE=${consumer_mode}" ${ARGN})
  run("build the consumer" "${CMAKE_COMMAND}" --build "${bin}" --config ${config})
  # Only the consumer's own tests may be registered (vmsock_consumer,
  # vmsock_asio_consumer where asio is found, vmsock_pch_consumer where asked
  # for): a vmsock that registers its tests inside a consumer's build would
  # show up here.
  run("list the consumer's tests" "${CMAKE_CTEST_COMMAND}" --test-dir "${bin}" -C ${config} -N)
  string(REGEX MATCHALL "Test +#[0-9]+: [^\n]+" listed "${step_output}")
  set(names "")
  foreach(line IN LISTS listed)
    string(REGEX REPLACE "^Test +#[0-9]+: " "" name "${line}")
    string(STRIP "${name}" name)
    list(APPEND names "${name}")
    if(NOT name MATCHES "^vmsock_(asio_|pch_)?consumer$")
      fail("the consumer's build registers other tests than its own ('${name}'):\n${step_output}")
    endif()
  endforeach()
  if(NOT "vmsock_consumer" IN_LIST names)
    fail("the consumer's own test is not registered:\n${step_output}")
  endif()
  if("vmsock_asio_consumer" IN_LIST names)
    log("  vmsock::asio found: an asio consumer builds and runs too")
  endif()
  if("-DVMSOCK_CONSUMER_PCH=ON" IN_LIST ARGN)
    if(NOT "vmsock_pch_consumer" IN_LIST names)
      fail("the precompiled-header consumer is not registered:\n${step_output}")
    endif()
    # The precompiled header was made (g++ .gch, clang and MSVC .pch); that
    # the units used it, -Werror=invalid-pch has said by letting them build.
    file(GLOB_RECURSE pch_files "${bin}/CMakeFiles/vmsock_pch_consumer.dir/*.gch"
         "${bin}/CMakeFiles/vmsock_pch_consumer.dir/*.pch")
    if(NOT pch_files)
      fail("the precompiled-header consumer built without a precompiled header")
    endif()
    log("  a consumer of two files with vmsock.hpp precompiled builds and runs")
  endif()
  run("run the consumer" "${CMAKE_CTEST_COMMAND}" --test-dir "${bin}" -C ${config}
      --output-on-failure --verbose)
  if(NOT step_output MATCHES "passed: 0 failure")
    fail("the consumer ran but did not report its checks:\n${step_output}")
  endif()
  # Show what the consumer checked (ctest -V of this test prints it).
  string(REGEX MATCHALL "[0-9]+: ok  [^\n]*" checks "${step_output}")
  foreach(line IN LISTS checks)
    string(REGEX REPLACE "^[0-9]+: " "" line "${line}")
    log("  ${line}")
  endforeach()
endfunction()

# Every header under <root>/vmsock, relative to <root>.
function(list_headers root out)
  file(GLOB_RECURSE headers RELATIVE "${root}" "${root}/vmsock/*.hpp")
  list(SORT headers)
  set(${out} "${headers}" PARENT_SCOPE)
endfunction()

# find_package(vmsock <version>) from the prefix alone, as a consumer whose
# CMAKE_SIZEOF_VOID_P is <sizeof_void_p>; <expect> is FOUND or NOT_FOUND.  The
# prefix is a find root as well as a prefix: see the install mode below.
function(probe_version prefix version sizeof_void_p expect)
  string(REGEX REPLACE "[^A-Za-z0-9_.-]" "_" name "probe-${version}-${sizeof_void_p}")
  set(bin "${SCRATCH_DIR}/${name}")
  set(what "find_package(vmsock ${version}) with CMAKE_SIZEOF_VOID_P=${sizeof_void_p}")
  log("${what}: expect ${expect}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${probe_dir}" -B "${bin}" ${tool_args}
      "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_FIND_ROOT_PATH=${prefix}"
      "-DPROBE_VERSION=${version}"
      "-DPROBE_SIZEOF_VOID_P=${sizeof_void_p}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(expect STREQUAL "FOUND" AND NOT rc EQUAL 0)
    fail("${what} should succeed:\n${out}")
  elseif(expect STREQUAL "NOT_FOUND")
    if(rc EQUAL 0)
      fail("${what} should fail (SameMajorVersion), but it found:\n${out}")
    endif()
    # It must fail for the version, not for a missing or broken package.
    # (CMake wraps its message, so any whitespace may separate the words.)
    if(NOT out MATCHES "compatible[ \t\r\n]+with[ \t\r\n]+requested[ \t\r\n]+version"
       OR NOT out MATCHES "version: 0\\.1\\.0")
      fail("${what} failed, but not because of the version:\n${out}")
    endif()
  endif()
endfunction()

log("scratch directory ${SCRATCH_DIR}")
file(REMOVE_RECURSE "${SCRATCH_DIR}")
file(MAKE_DIRECTORY "${SCRATCH_DIR}")
file(WRITE "${tools_cache}" "${tools_cache_text}")

if(MODE STREQUAL "install")
  set(vmsock_bin "${SCRATCH_DIR}/vmsock-build")
  set(prefix "${SCRATCH_DIR}/prefix")
  # The default CMAKE_INSTALL_PREFIX is kept, and the install goes elsewhere with
  # --prefix: the installed config must be relocatable.
  run("configure vmsock alone" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${vmsock_bin}" ${tool_args}
      -DVMSOCK_BUILD_TESTS=OFF -DVMSOCK_BUILD_EXAMPLES=OFF -DVMSOCK_BUILD_BENCHMARKS=OFF)
  run("build vmsock" "${CMAKE_COMMAND}" --build "${vmsock_bin}" --config ${config})
  run("install vmsock" "${CMAKE_COMMAND}" --install "${vmsock_bin}" --config ${config}
      --prefix "${prefix}")
  # The tool was built (top level: VMSOCK_BUILD_TOOLS is on), so it is installed.
  file(GLOB installed_tool "${prefix}/bin/vmsock" "${prefix}/bin/vmsock.exe")
  if(NOT installed_tool)
    fail("the built tool was not installed in bin/")
  endif()

  # Header-only, so the package is architecture independent: share/, never lib/.
  set(cmake_dir "${prefix}/share/cmake/vmsock")
  foreach(f IN ITEMS vmsock-config.cmake vmsock-config-version.cmake vmsock-targets.cmake)
    if(NOT EXISTS "${cmake_dir}/${f}")
      fail("${f} is not installed in share/cmake/vmsock")
    endif()
  endforeach()
  file(GLOB arch_dirs "${prefix}/lib*/cmake/vmsock")
  if(arch_dirs)
    fail("a package config was installed in an architecture-specific place: ${arch_dirs}")
  endif()
  list_headers("${SOURCE_DIR}/include" source_headers)
  list_headers("${prefix}/include" installed_headers)
  if(NOT source_headers STREQUAL installed_headers)
    fail("installed headers differ from include/:\n  source:    ${source_headers}\n"
         "  installed: ${installed_headers}")
  endif()
  list(LENGTH installed_headers n)
  log("installed ${n} headers and the package files in share/cmake/vmsock")

  # The version file: SameMajorVersion, and any pointer size.
  probe_version("${prefix}" 0.1 8 FOUND)
  probe_version("${prefix}" 0.1 4 FOUND)     # ARCH_INDEPENDENT: a 32-bit consumer finds it too
  probe_version("${prefix}" 0 8 FOUND)
  probe_version("${prefix}" "0.1...<1" 8 FOUND)
  probe_version("${prefix}" 1 8 NOT_FOUND)   # another major version
  probe_version("${prefix}" 0.2 8 NOT_FOUND) # newer than what is installed

  # Under a cross toolchain find_package re-roots CMAKE_PREFIX_PATH into the
  # sysroot (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY): the prefix is given as a
  # find root too.  In a native build, where the find modes are BOTH, that only
  # adds re-rooted paths that do not exist.
  build_and_run_consumer("${SCRATCH_DIR}/consumer" find_package "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DCMAKE_FIND_ROOT_PATH=${prefix}" "-DVMSOCK_EXPECTED_DIR=${cmake_dir}"
    -DVMSOCK_CONSUMER_PCH=ON)
elseif(MODE STREQUAL "install_unbuilt")
  # A header-only library is installed without building anything; the tool,
  # on by default at the top level, installs only when it was built.
  set(vmsock_bin "${SCRATCH_DIR}/vmsock-build")
  set(prefix "${SCRATCH_DIR}/prefix")
  run("configure vmsock alone" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${vmsock_bin}" ${tool_args}
      -DVMSOCK_BUILD_TESTS=OFF -DVMSOCK_BUILD_EXAMPLES=OFF -DVMSOCK_BUILD_BENCHMARKS=OFF)
  file(STRINGS "${vmsock_bin}/CMakeCache.txt" tools_on REGEX "^VMSOCK_BUILD_TOOLS:BOOL=ON$")
  if(NOT tools_on)
    fail("VMSOCK_BUILD_TOOLS is not on at the top level: this case would prove nothing")
  endif()
  run("install vmsock, nothing built" "${CMAKE_COMMAND}" --install "${vmsock_bin}"
      --config ${config} --prefix "${prefix}")
  if(step_output MATCHES "CMake Error")
    fail("the install reported an error:\n${step_output}")
  endif()
  set(cmake_dir "${prefix}/share/cmake/vmsock")
  foreach(f IN ITEMS vmsock-config.cmake vmsock-config-version.cmake vmsock-targets.cmake)
    if(NOT EXISTS "${cmake_dir}/${f}")
      fail("${f} is not installed in share/cmake/vmsock")
    endif()
  endforeach()
  if(NOT EXISTS "${prefix}/share/pkgconfig/vmsock.pc")
    fail("vmsock.pc is not installed in share/pkgconfig")
  endif()
  list_headers("${SOURCE_DIR}/include" source_headers)
  list_headers("${prefix}/include" installed_headers)
  if(NOT source_headers STREQUAL installed_headers)
    fail("installed headers differ from include/:\n  source:    ${source_headers}\n"
         "  installed: ${installed_headers}")
  endif()
  file(GLOB installed_tool "${prefix}/bin/vmsock" "${prefix}/bin/vmsock.exe")
  if(installed_tool)
    fail("a tool nobody built was installed: ${installed_tool}")
  endif()
  list(LENGTH installed_headers n)
  log("installed ${n} headers and the package files with nothing built; no tool")
  probe_version("${prefix}" 0.1 8 FOUND)
elseif(MODE STREQUAL "add_subdirectory" OR MODE STREQUAL "fetchcontent")
  build_and_run_consumer("${SCRATCH_DIR}/consumer" ${MODE} "-DVMSOCK_SOURCE_DIR=${SOURCE_DIR}")
elseif(MODE STREQUAL "fetchcontent_git")
  find_package(Git QUIET)
  if(NOT GIT_EXECUTABLE)
    message(STATUS "vmsock-package-test-skipped: no git executable")
    return()
  endif()
  # SOURCE_DIR must be the top of a git checkout with a commit (not, say, an
  # unpacked tarball that happens to lie inside some other repository).
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --show-toplevel
    RESULT_VARIABLE rc OUTPUT_VARIABLE top ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0)
    get_filename_component(top "${top}" REALPATH)
    get_filename_component(real_source "${SOURCE_DIR}" REALPATH)
    if(NOT top STREQUAL real_source)
      set(rc 1)
      set(err "it lies inside the checkout ${top}")
    endif()
  endif()
  if(rc EQUAL 0)
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --verify HEAD
      RESULT_VARIABLE rc OUTPUT_VARIABLE head ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
  if(NOT rc EQUAL 0)
    message(STATUS "vmsock-package-test-skipped: ${SOURCE_DIR} is not the top of a git "
                   "checkout with a commit: ${err}")
    return()
  endif()
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" status --porcelain
    OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(dirty)
    log("note: the working tree has uncommitted changes, and this test fetches the commit ${head}")
  endif()
  build_and_run_consumer("${SCRATCH_DIR}/consumer" ${MODE} "-DVMSOCK_GIT_URL=file://${SOURCE_DIR}"
    "-DVMSOCK_GIT_TAG=${head}")
else()
  fail("unknown MODE; expected install, install_unbuilt, add_subdirectory, fetchcontent or "
       "fetchcontent_git")
endif()

log("passed")
