// winsock_calls: what every part of winsock_policy (policy/winsock.hpp) names:
// its handle types, how it reports errors (WSAGetLastError() codes that
// compare equal to the portable std::errc conditions) and check(), which each
// call ends with.  The common base of the policy's parts (winsock_wakeup,
// winsock_waits, winsock_options, winsock_handoff), so that each part is a
// header of its own and reports errors exactly as the policy does.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS

#  include <vmsock/detail/native.hpp>
#  include <vmsock/detail/win_error.hpp>

#  include <cstddef>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

struct winsock_calls {
  using handle = SOCKET;
  static constexpr handle invalid_handle = INVALID_SOCKET;
  static constexpr std::size_t max_buffers = 64;
  // The handle of a wake-up for cancel() (winsock_wakeup.hpp).
  using wake_handle = SOCKET;
  static constexpr wake_handle invalid_wake = INVALID_SOCKET;

  static std::error_code os_error(int code) noexcept { return detail::make_os_error(code); }
  static std::error_code last_error() noexcept { return os_error(::WSAGetLastError()); }
  static std::error_code closed_error() noexcept { return os_error(WSAENOTSOCK); }

 protected:
  static bool check(int r, std::error_code& ec) noexcept {
    if (r == SOCKET_ERROR) {
      ec = last_error();
      return false;
    }
    ec.clear();
    return true;
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_WINDOWS
