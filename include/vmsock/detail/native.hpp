// The one place that picks the operating system's socket-address headers.
// Endpoints need the native sockaddr types for to_native()/from_native(); the
// system calls themselves live in policy/ and nowhere else.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS
// winsock2.h must come before windows.h.  vmsock defines neither
// WIN32_LEAN_AND_MEAN nor NOMINMAX.  When the user's <windows.h> came first
// without WIN32_LEAN_AND_MEAN it brought the old winsock.h along:
//   - MinGW-w64's winsock2.h undoes winsock.h's macros and works, but says
//     "#warning Please include winsock2.h before windows.h", an error under
//     -Werror that GCC 12's diagnostic pragmas cannot silence; its only test
//     of that case is winsock.h's guard, which winsock2.h defines again.
//   - Microsoft's winsock2.h then redefines winsock.h's types (C2011 on
//     fd_set, sockaddr, ...): nothing a header can undo, so say what to do.
#  if defined(_WINSOCKAPI_) && !defined(_WINSOCK2API_)
#    if defined(__MINGW32__)
#      undef _WINSOCKAPI_
#    else
#      error \
          "vmsock: <winsock.h> was included before vmsock (by <windows.h> without WIN32_LEAN_AND_MEAN). Include vmsock (or <winsock2.h>) before <windows.h>, or define WIN32_LEAN_AND_MEAN for the whole build."
#    endif
#  endif
#  include <winsock2.h>
#  include <ws2tcpip.h>
// Users who link neither through CMake nor pkg-config still get Winsock.
#  if defined(_MSC_VER)
#    pragma comment(lib, "ws2_32.lib")
#  endif
// <afunix.h> arrived with Windows SDK 10.0.17063.  Without it, vmsock
// declares the same sockaddr_un itself (below); vmsock never includes
// <hvsocket.h> (it defines SOCKADDR_HV and the Hyper-V constants itself).
#  if defined(__has_include)
#    if __has_include(<afunix.h>)
#      include <afunix.h>
#      define VMSOCK_HAVE_AFUNIX_H 1
#    endif
#  endif
#else
#  include <netinet/in.h>
#  include <sys/socket.h>
#  include <sys/un.h>
#  if VMSOCK_LINUX
#    include <linux/vm_sockets.h>
#  endif
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#if !defined(VMSOCK_HAVE_AFUNIX_H)
#  define VMSOCK_HAVE_AFUNIX_H 0
#endif

VMSOCK_BEGIN_NAMESPACE
namespace detail {

#if VMSOCK_WINDOWS
using native_family_t = ADDRESS_FAMILY;
#else
using native_family_t = sa_family_t;
#endif

// The Unix-domain address: the system's, or on a Windows SDK without
// <afunix.h> the same layout (ADDRESS_FAMILY and 108 bytes of path).
#if VMSOCK_WINDOWS && !VMSOCK_HAVE_AFUNIX_H
struct sockaddr_un {
  ADDRESS_FAMILY sun_family;
  char sun_path[108];
};
using unix_sockaddr = sockaddr_un;
#else
using unix_sockaddr = ::sockaddr_un;
#endif

// Reads the address family of a sockaddr of unknown type without aliasing it.
inline bool native_family(const void* sa, std::size_t len, int& family) noexcept {
  if (sa == nullptr || len < sizeof(native_family_t)) return false;
  native_family_t f{};
  std::memcpy(&f, static_cast<const char*>(sa) + offsetof(sockaddr, sa_family), sizeof f);
  family = f;
  return true;
}

}  // namespace detail
VMSOCK_END_NAMESPACE
