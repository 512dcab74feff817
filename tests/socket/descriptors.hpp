// How many descriptors this process has open (Linux: /proc/self/fd), for the
// tests that prove nothing leaks.  0 where it cannot be told.
#pragma once

#include <vmsock/config.hpp>

#include <cstddef>

#if VMSOCK_LINUX
#  include <dirent.h>
#endif

namespace vmsock_test {

inline std::size_t open_descriptors() {
  std::size_t n = 0;
#if VMSOCK_LINUX
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
#endif
  return n;
}

}  // namespace vmsock_test
