# cmake -D PRESET=<workflow> -D SOURCE_DIR=<repo> -D NEEDS=<tool;...>
#       [-D RUN_NEEDS=<tool;...> -D CAPABILITY=<probe script>] -P run_suite.cmake
# Runs one workflow preset of the source tree.
#
# NEEDS are the tools that build the suite, RUN_NEEDS those that run its
# tests.  A missing one is a missing package: the suite prints
# "suite <name> skipped: ..." (the test's SKIP_REGULAR_EXPRESSION), or fails
# when VMSOCK_REQUIRE_SUITES is set (CI).
#
# CAPABILITY is a probe of the machine itself (a script that prints "yes", or
# "no: <why>" and exits 1), for what no package can give: 32-bit x86 programs
# on a kernel that refuses them.  Where the probe says no, the suite is built
# (the build is what finds the compile errors of that target) and its tests
# are skipped with the probe's answer, also under VMSOCK_REQUIRE_SUITES; the
# RUN_NEEDS are then not needed.
function(find_tool tool out)
  if(IS_ABSOLUTE "${tool}")
    set(found "")
    if(EXISTS "${tool}")
      set(found "${tool}")
    endif()
  else()
    find_program(found_${tool} "${tool}")
    set(found "${found_${tool}}")
  endif()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

function(missing tool)
  if(DEFINED ENV{VMSOCK_REQUIRE_SUITES})
    message(FATAL_ERROR "suite ${PRESET}: ${tool} is not installed")
  endif()
  message("suite ${PRESET} skipped: ${tool} is not installed")
endfunction()

set(can_run TRUE)
if(CAPABILITY)
  execute_process(COMMAND "${CAPABILITY}" OUTPUT_VARIABLE answer
    OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE probe_rc)
  if(NOT probe_rc EQUAL 0)
    set(can_run FALSE)
  endif()
endif()

set(tools ${NEEDS})
if(can_run)
  list(APPEND tools ${RUN_NEEDS})
endif()
foreach(tool IN LISTS tools)
  find_tool("${tool}" found)
  if(NOT found)
    missing("${tool}")
    return()
  endif()
endforeach()

string(TIMESTAMP start "%s")
if(can_run)
  execute_process(
    COMMAND "${CMAKE_COMMAND}" --workflow --preset "${PRESET}"
    WORKING_DIRECTORY "${SOURCE_DIR}"
    RESULT_VARIABLE rc)
else()
  # The configure and build steps of the workflow, without its tests.
  execute_process(
    COMMAND "${CMAKE_COMMAND}" --preset "${PRESET}"
    COMMAND_ERROR_IS_FATAL ANY
    WORKING_DIRECTORY "${SOURCE_DIR}")
  execute_process(
    COMMAND "${CMAKE_COMMAND}" --build --preset "${PRESET}"
    WORKING_DIRECTORY "${SOURCE_DIR}"
    RESULT_VARIABLE rc)
endif()
string(TIMESTAMP stop "%s")
math(EXPR seconds "${stop} - ${start}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "suite ${PRESET}: cmake --workflow --preset ${PRESET} failed (${rc}) after ${seconds} s")
endif()
if(NOT can_run)
  get_filename_component(probe "${CAPABILITY}" NAME)
  message("suite ${PRESET} skipped: built in ${seconds} s, tests not run: this machine "
    "cannot run them (${probe}: ${answer})")
  return()
endif()
message("suite ${PRESET}: passed in ${seconds} s")
