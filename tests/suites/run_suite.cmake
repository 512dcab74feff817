# cmake -D PRESET=<workflow> -D SOURCE_DIR=<repo> -D NEEDS=<tool;...> -P run_suite.cmake
# Runs one workflow preset of the source tree.  When a tool it needs is missing
# it prints "skipped: ..." (the test's SKIP_REGULAR_EXPRESSION), unless
# VMSOCK_REQUIRE_SUITES is set.
foreach(tool IN LISTS NEEDS)
  if(IS_ABSOLUTE "${tool}")
    set(found "")
    if(EXISTS "${tool}")
      set(found "${tool}")
    endif()
  else()
    find_program(found_${tool} "${tool}")
    set(found "${found_${tool}}")
  endif()
  if(NOT found)
    if(DEFINED ENV{VMSOCK_REQUIRE_SUITES})
      message(FATAL_ERROR "suite ${PRESET}: ${tool} is not installed")
    endif()
    message("suite ${PRESET} skipped: ${tool} is not installed")
    return()
  endif()
endforeach()

string(TIMESTAMP start "%s")
execute_process(
  COMMAND "${CMAKE_COMMAND}" --workflow --preset "${PRESET}"
  WORKING_DIRECTORY "${SOURCE_DIR}"
  RESULT_VARIABLE rc)
string(TIMESTAMP stop "%s")
math(EXPR seconds "${stop} - ${start}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "suite ${PRESET}: cmake --workflow --preset ${PRESET} failed (${rc}) after ${seconds} s")
endif()
message("suite ${PRESET}: passed in ${seconds} s")
