// The checks of the package tests' consumer programs: each check prints "ok  "
// or "FAIL" and what it checked (run_consumer.cmake shows those lines), and
// report() prints the last line, "passed: 0 failure(s)", that it looks for.
#pragma once

#include <cstdio>

namespace consumer {

inline int failures = 0;

inline void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

// main()'s exit status: nonzero when a check failed.
inline int report() {
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "passed", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace consumer
