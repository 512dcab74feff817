// Every public vmsock header, for the include-order tests.
#pragma once

#include <vmsock/vmsock.hpp>  // the umbrella: endpoints, sockets, policy, uri

#include <vmsock/detail/win_error.hpp>
#include <vmsock/host/hv_registry.hpp>  // not in the umbrella: the registry step
#include <vmsock/policy/winsock.hpp>

#if defined(VMSOCK_TEST_HAVE_FMT)
#  include <vmsock/interop/fmt.hpp>
#endif

// Neither the build nor the library may define these for the user.  MinGW's
// libstdc++ defines NOMINMAX itself (bits/os_defines.h), so only other standard
// libraries can show it here; check_no_windows_macros.cmake reads vmsock's
// headers for a #define of either, whatever the library.
#if defined(NOMINMAX) && !defined(__GLIBCXX__)
#  error "NOMINMAX is defined: vmsock must not define it, nor need it"
#endif
#if defined(WIN32_LEAN_AND_MEAN)
#  error "WIN32_LEAN_AND_MEAN is defined: vmsock must not define it, nor need it"
#endif
