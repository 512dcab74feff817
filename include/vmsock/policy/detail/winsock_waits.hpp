// winsock_waits: how winsock_policy (policy/winsock.hpp) waits: select() on
// one socket or several, beside the wake-up socket of cancel(), until a
// deadline, in day-long slices.  A part of the policy, in a header of its own.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS

#  include <vmsock/deadline.hpp>
#  include <vmsock/detail/native.hpp>
#  include <vmsock/policy/detail/winsock_calls.hpp>
#  include <vmsock/policy/types.hpp>

#  include <cstddef>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

struct winsock_waits : winsock_calls {
  // select() rather than WSAPoll: WSAPoll did not report a failed connect
  // before Windows 10 2004.  Two sockets at most (and the wake-up), so
  // FD_SETSIZE is no limit.
  static wait_result poll(handle h, wait_type what, wake_handle wake, const deadline& when,
                          std::error_code& ec) noexcept {
    fd_set main_set;
    fd_set read_set;
    fd_set except_set;
    FD_ZERO(&main_set);
    FD_ZERO(&read_set);
    FD_ZERO(&except_set);
    fd_set* readable = &read_set;
    fd_set* writable = nullptr;
    fd_set* failed = nullptr;
    const wait_interest in = interest_of(what);  // which sets, and why (policy/types.hpp)
    if (in.readable) FD_SET(h, &read_set);
    if (in.writable) {
      FD_SET(h, &main_set);
      writable = &main_set;
    }
    if (in.exceptional) {
      FD_SET(h, &except_set);
      failed = &except_set;
    }
    if (wake != invalid_wake) FD_SET(wake, &read_set);
    const int r = wait(readable, writable, failed, when, ec);
    if (r < 0) return wait_result::ready;  // ec says why
    if (wake != invalid_wake && FD_ISSET(wake, &read_set)) return wait_result::woken;
    return r > 0 ? wait_result::ready : wait_result::timed_out;
  }

  // Waits until one of `count` handles is readable; see posix_policy::poll_any.
  static wait_result poll_any(const handle* hs, std::size_t count, std::size_t start,
                              wake_handle wake, const deadline& when, std::size_t& ready,
                              std::error_code& ec) noexcept {
    if (count == 0 || count > max_buffers || count + 1 > FD_SETSIZE) {
      ec = os_error(WSAEINVAL);
      return wait_result::ready;
    }
    fd_set set;
    FD_ZERO(&set);
    for (std::size_t i = 0; i < count; ++i) FD_SET(hs[i], &set);
    if (wake != invalid_wake) FD_SET(wake, &set);
    const int r = wait(&set, nullptr, nullptr, when, ec);
    if (r < 0) return wait_result::ready;
    if (r == 0) return wait_result::timed_out;
    if (wake != invalid_wake && FD_ISSET(wake, &set)) return wait_result::woken;
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t i = (start + k) % count;
      if (FD_ISSET(hs[i], &set)) {
        ready = i;
        return wait_result::ready;
      }
    }
    return wait_result::timed_out;  // not reached: select counted a ready socket
  }

 private:
  // select() until something is ready or `when` passes.  The count of ready
  // sockets, 0 on timeout, -1 on error.
  static int wait(fd_set* readable, fd_set* writable, fd_set* failed, const deadline& when,
                  std::error_code& ec) noexcept {
    // select() changes the sets; a wait that is cut into day-long slices
    // restores them for the next slice.
    const fd_set r0 = readable ? *readable : fd_set{};
    const fd_set w0 = writable ? *writable : fd_set{};
    const fd_set f0 = failed ? *failed : fd_set{};
    constexpr long slice_ms = 24L * 3600 * 1000;
    for (;;) {
      const timeout left = when.remaining();
      timeval tv{};
      timeval* ptv = nullptr;
      bool sliced = left < timeout::zero();
      long ms = slice_ms;
      if (!sliced) {
        sliced = left.count() > slice_ms;
        if (!sliced) ms = static_cast<long>(left.count());
      }
      tv.tv_sec = ms / 1000;
      tv.tv_usec = (ms % 1000) * 1000;
      ptv = &tv;
      const int r = ::select(0, readable, writable, failed, ptv);
      if (r == SOCKET_ERROR) {
        ec = last_error();
        return -1;
      }
      if (r > 0 || !sliced) {
        ec.clear();
        return r;
      }
      if (readable) *readable = r0;
      if (writable) *writable = w0;
      if (failed) *failed = f0;
    }
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_WINDOWS
