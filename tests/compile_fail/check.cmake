# Compiles SOURCE and succeeds only if that FAILS with EXPECT in the output.
# -D COMPILER=... -D SOURCE=... -D INCLUDE=... -D EXPECT=... [-D STD=17]
# [-D FLAGS=-Werror|...] (flags separated by '|')
if(NOT STD)
  set(STD 17)
endif()
string(REPLACE "|" ";" FLAGS "${FLAGS}")
execute_process(
  COMMAND "${COMPILER}" -std=c++${STD} ${FLAGS} -fsyntax-only "-I${INCLUDE}" "${SOURCE}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
string(FIND "${out}${err}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} failed to compile, but not for the expected reason "
                      "(\"${EXPECT}\"):\n${err}")
endif()
message(STATUS "${SOURCE}: refused as expected (\"${EXPECT}\")")
