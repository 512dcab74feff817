// winsock_wakeup: how cancel() ends a wait on Windows, a part of
// winsock_policy (policy/winsock.hpp).  Every wait is in select(), beside a
// wake-up socket that cancel() signals; interrupt() ends a Hyper-V connect's
// ConnectEx.  Policy is winsock_policy: the wake-up socket is made by its
// open() and closed by its close(), so that it holds a WSAStartup reference.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS

#  include <vmsock/detail/native.hpp>
#  include <vmsock/policy/detail/winsock_calls.hpp>
#  include <vmsock/socket_types.hpp>

#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Policy> struct winsock_wakeup : winsock_calls {
  // ---- wake-ups for cancel() ------------------------------------------------
  // A UDP socket on 127.0.0.1 connected to itself: select() sees it readable
  // once signal_wake has sent it a byte, and for good (nobody reads it).  It
  // holds its own WSAStartup reference.

  static wake_handle open_wake(std::error_code& ec) noexcept {
    const SOCKET w = Policy::open(AF_INET, socket_type::datagram, 0, ec);
    if (ec) return invalid_wake;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = ::htonl(INADDR_LOOPBACK);
    int l = sizeof sa;
    if (::bind(w, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::getsockname(w, reinterpret_cast<sockaddr*>(&sa), &l) != 0 ||
        ::connect(w, reinterpret_cast<sockaddr*>(&sa), l) != 0) {
      ec = last_error();
      std::error_code ignored;
      Policy::close(w, ignored);
      return invalid_wake;
    }
    return w;
  }
  static void signal_wake(wake_handle w) noexcept {
    const char one = 1;
    ::send(w, &one, 1, 0);
  }
  static void close_wake(wake_handle w) noexcept {
    std::error_code ignored;
    Policy::close(w, ignored);
  }
  static void yield() noexcept { ::SwitchToThread(); }
  // Nothing waits inside Winsock (the wake-up ends every wait) but a Hyper-V
  // connect's ConnectEx, which CancelIoEx ends (it cancels only overlapped
  // operations, and vmsock starts no other); cancel() shuts the socket down
  // all the same, so that the peer sees what it sees on POSIX.
  static void interrupt(handle h) noexcept {
    ::CancelIoEx(reinterpret_cast<HANDLE>(h), nullptr);
    ::shutdown(h, SD_BOTH);
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_WINDOWS
