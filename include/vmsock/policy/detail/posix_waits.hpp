// posix_waits: how posix_policy (policy/posix.hpp) waits: poll(2) on one
// socket or several, beside the wake handle of cancel(), until a deadline,
// resuming after EINTR.  A part of the policy, in a header of its own.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_POSIX

#  include <vmsock/deadline.hpp>
#  include <vmsock/policy/detail/posix_calls.hpp>
#  include <vmsock/policy/types.hpp>

#  include <poll.h>

#  include <cerrno>
#  include <climits>
#  include <cstddef>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

struct posix_waits : posix_calls {
  // Waits until `h` is ready for `what`, `wake` fires (cancel()) or `when`
  // passes.  Errors and hang-ups count as ready: the next operation reports
  // them.  `wake` may be invalid_wake.
  static wait_result poll(handle h, wait_type what, wake_handle wake, const deadline& when,
                          std::error_code& ec) noexcept {
    // Never POLLPRI (urgent data), for the reason interest_of gives.
    pollfd p[2] = {{h, static_cast<short>(interest_of(what).readable ? POLLIN : POLLOUT), 0},
                   {wake, POLLIN, 0}};
    const std::size_t n = wake == invalid_wake ? 1 : 2;
    const int r = wait(p, n, when, ec);
    if (r < 0) return wait_result::ready;  // ec says why
    if (n == 2 && p[1].revents != 0) return wait_result::woken;
    return r > 0 ? wait_result::ready : wait_result::timed_out;
  }

  // Waits until one of `count` handles is readable.  `ready` is the first
  // ready one at or after index `start` (wrapping), so callers can take turns.
  // At most max_buffers handles.
  static wait_result poll_any(const handle* hs, std::size_t count, std::size_t start,
                              wake_handle wake, const deadline& when, std::size_t& ready,
                              std::error_code& ec) noexcept {
    if (count == 0 || count > max_buffers) {
      ec = os_error(EINVAL);
      return wait_result::ready;
    }
    pollfd p[max_buffers + 1];
    for (std::size_t i = 0; i < count; ++i) p[i] = pollfd{hs[i], POLLIN, 0};
    std::size_t n = count;
    if (wake != invalid_wake) p[n++] = pollfd{wake, POLLIN, 0};
    const int r = wait(p, n, when, ec);
    if (r < 0) return wait_result::ready;
    if (r == 0) return wait_result::timed_out;
    if (n > count && p[count].revents != 0) return wait_result::woken;
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t i = (start + k) % count;
      if (p[i].revents != 0) {
        ready = i;
        return wait_result::ready;
      }
    }
    return wait_result::timed_out;  // not reached: poll counted a ready entry
  }

 protected:
  // poll(2) until something is ready or `when` passes, resuming after EINTR
  // with the time left.  The count of ready entries, 0 on timeout, -1 on error.
  static int wait(pollfd* p, std::size_t count, const deadline& when,
                  std::error_code& ec) noexcept {
    for (;;) {
      const timeout left = when.remaining();
      bool clamped = false;
      int ms = -1;
      if (left >= timeout::zero()) {
        clamped = left.count() > INT_MAX;
        ms = clamped ? INT_MAX : static_cast<int>(left.count());
      }
      const int r = ::poll(p, static_cast<nfds_t>(count), ms);
      if (r > 0 || (r == 0 && !clamped)) {
        ec.clear();
        return r;
      }
      if (r < 0 && errno != EINTR) {
        ec = last_error();
        return -1;
      }
    }
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_POSIX
