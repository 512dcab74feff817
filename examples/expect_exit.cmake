# Runs a program and checks both its exit code and its output, which a ctest
# case's PASS_REGULAR_EXPRESSION alone cannot (it ignores the exit code):
#
#   cmake -DEXIT=N -DOUTPUT=REGEX [-DNOT_OUTPUT=REGEX] [-DEMULATOR=A|B|C]
#         -P expect_exit.cmake -- PROGRAM [ARGS...]
#
# OUTPUT must match stdout and stderr together; NOT_OUTPUT must not.  EMULATOR
# is the build's CMAKE_CROSSCOMPILING_EMULATOR with '|' for ';' (Wine, for the
# Windows build), put before PROGRAM.
cmake_minimum_required(VERSION 3.20)

set(command)
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(NOT command OR NOT DEFINED EXIT OR NOT DEFINED OUTPUT)
  message(FATAL_ERROR "usage: cmake -DEXIT=N -DOUTPUT=REGEX -P expect_exit.cmake -- PROGRAM [ARGS...]")
endif()
if(EMULATOR)
  string(REPLACE "|" ";" EMULATOR "${EMULATOR}")
endif()

execute_process(COMMAND ${EMULATOR} ${command}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
if(NOT rc STREQUAL EXIT)
  message(FATAL_ERROR "exit code ${rc}, expected ${EXIT}")
endif()
if(NOT out MATCHES "${OUTPUT}")
  message(FATAL_ERROR "the output does not match: ${OUTPUT}")
endif()
if(DEFINED NOT_OUTPUT AND out MATCHES "${NOT_OUTPUT}")
  message(FATAL_ERROR "the output matches what it must not: ${NOT_OUTPUT}")
endif()
message("exit code ${rc} and output as expected")
