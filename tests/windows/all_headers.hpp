// Every public vmsock header, for the include-order tests.  The socket layer
// joins once policy/winsock.hpp exists.
#pragma once

#include <vmsock/vmsock.hpp>

#include <vmsock/buffer.hpp>
#include <vmsock/detail/win_error.hpp>
#include <vmsock/options.hpp>
#include <vmsock/socket_base.hpp>

#if __has_include(<vmsock/policy/winsock.hpp>)
#  include <vmsock/policy/default.hpp>
#  include <vmsock/socket.hpp>
#endif

#if defined(VMSOCK_TEST_HAVE_FMT)
#  include <vmsock/fmt.hpp>
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
