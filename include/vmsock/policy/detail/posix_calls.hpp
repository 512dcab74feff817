// posix_calls: what every part of posix_policy (policy/posix.hpp) names: its
// handle types, how it reports errors, and the small helpers each system call
// ends with (check, succeeded/failed, MSG_NOSIGNAL, the message-flag table).
// The common base of the policy's parts (posix_wakeup, posix_waits,
// posix_options, posix_handoff), so that each part is a header of its own and
// reports errors exactly as the policy does.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_POSIX

#  include <vmsock/detail/native.hpp>
#  include <vmsock/socket_types.hpp>

#  include <sys/socket.h>
#  include <sys/types.h>

#  include <cerrno>
#  include <cstddef>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

struct posix_calls {
  using handle = int;
  static constexpr handle invalid_handle = -1;
  // Buffers per scatter/gather call; more are sent or filled by later calls.
  static constexpr std::size_t max_buffers = 64;
  // The handle of a wake-up for cancel() (posix_wakeup.hpp).
  using wake_handle = int;
  static constexpr wake_handle invalid_wake = -1;

  static std::error_code os_error(int code) noexcept { return {code, std::system_category()}; }
  static std::error_code last_error() noexcept { return os_error(errno); }
  // What an operation on a closed socket reports (the OS's answer for a bad handle).
  static std::error_code closed_error() noexcept { return os_error(EBADF); }

 protected:
#  if defined(MSG_NOSIGNAL)
  static constexpr int no_sigpipe = MSG_NOSIGNAL;
#  else
  static constexpr int no_sigpipe = 0;  // SO_NOSIGPIPE would be set at open()
#  endif

  // The success and failure ends of a transfer.  ec is cleared only when set:
  // clearing calls std::system_category(), out of line, on every transfer.
  static std::size_t succeeded(ssize_t n, std::error_code& ec) noexcept {
    if (ec) ec.clear();
    return static_cast<std::size_t>(n);
  }
  VMSOCK_NOINLINE static std::size_t failed(std::error_code& ec) noexcept {
    ec = last_error();
    return 0;
  }

  static bool check(int r, std::error_code& ec) noexcept {
    if (r < 0) {
      ec = last_error();
      return false;
    }
    ec.clear();
    return true;
  }

  // vmsock's four flags to the OS's: a table, looked up once per call.
  struct flag_table {
    int native[16] = {};
    constexpr flag_table() {
      for (unsigned i = 0; i < 16; ++i) {
        const auto f = static_cast<message_flags>(i);
        int n = 0;
        if (has_flag(f, message_flags::peek)) n |= MSG_PEEK;
        if (has_flag(f, message_flags::out_of_band)) n |= MSG_OOB;
        if (has_flag(f, message_flags::report_full_length)) n |= MSG_TRUNC;
        if (has_flag(f, message_flags::dont_wait)) n |= MSG_DONTWAIT;
        native[i] = n;
      }
    }
  };
  static int native_flags(message_flags f) noexcept {
    static constexpr flag_table table{};
    return table.native[static_cast<unsigned>(f) & 15u];
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_POSIX
