// The bodies of socket_core's calls that wait in poll()/select() beside the
// wake-up handle (or the overlapped Hyper-V connect) rather than in the OS:
// a send or receive that must wait (io_waiting) and accept_native, both in
// wait_loop (socket_core.hpp), connect_native and its Hyper-V form.  Out of the class so that
// socket_core.hpp reads as what a socket is; socket_core.hpp includes this file at its end, and
// this file includes socket_core.hpp, so either one alone is whole.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/fwd.hpp>
#include <vmsock/deadline.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/types.hpp>
#include <vmsock/socket/detail/cancel_state.hpp>
#include <vmsock/socket/detail/socket_core.hpp>

#include <cstddef>
#include <cstdint>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Policy>
template <class R, class Attempt>
R socket_core<Policy>::wait_loop(wait_type what, const deadline& when, R failed,
                                 std::error_code& ec, Attempt&& attempt) noexcept {
  if (!usable(ec)) return failed;
  deadline limit = when;
  bool first = true;
  for (;;) {
    R r = attempt(ec);
    if (!ec || !detail::would_block(ec) || (nonblocking_ && when.is_never())) {
      if (ec && cancel_.cancelled.load()) ec = detail::canceled();
      return r;
    }
    if (first && when.is_never()) {
      const timeout tm = Policy::blocking_timeout(handle_, what);
      if (tm != no_timeout) limit = deadline(tm);
    }
    first = false;
    if (limit.expired()) {  // a deadline already passed: that was the one try
      ec = make_error_code(errc::timed_out);
      return failed;
    }
    const wait_result w = wait_for(what, limit, ec);
    if (ec) return failed;
    if (w == wait_result::timed_out) {
      ec = make_error_code(errc::timed_out);
      return failed;
    }
  }
}

template <class Policy>
std::size_t socket_core<Policy>::io_waiting(wait_type what, const deadline& when, const transfer& t,
                                            std::error_code& ec) noexcept {
  return wait_loop(what, when, std::size_t{0}, ec,
                   [&](std::error_code& e) { return attempt(t, message_flags::dont_wait, e); });
}

template <class Policy>
void socket_core<Policy>::connect_native(const void* sa, std::size_t len, int family,
                                         const deadline& when, std::error_code& ec) noexcept {
  if (!usable(ec)) return;
  if (Policy::connect_overlapped(family)) {
    connect_overlapped(sa, len, when, ec);
    return;
  }
  const auto h = handle_;
  const bool restore = !os_nonblocking();
  if (restore) {
    Policy::set_nonblocking(h, true, ec);
    if (ec) return;
  }
  Policy::prepare_connect(h, family, when, ec);
  if (ec) return;
  Policy::connect(h, sa, len, ec);
  if (ec == std::errc::operation_in_progress) {
    const wait_result r =
        when.expired() ? wait_result::timed_out : wait_for(wait_type::connect, when, ec);
    if (ec) return;
    if (r == wait_result::timed_out) {
      ec = make_error_code(errc::timed_out);
      return;
    }
    Policy::pending_error(h, ec);
  }
  if (ec) {
    // Linux VSOCK answers a port nobody listens on with ECONNRESET.
    if (family == vsock::address_family && ec == std::errc::connection_reset)
      ec = make_error_code(errc::vsock_connection_refused);
    if (cancel_.cancelled.load()) ec = detail::canceled();
    return;
  }
  if (restore) Policy::set_nonblocking(h, false, ec);
}

template <class Policy>
inline void socket_core<Policy>::connect_overlapped(const void* sa, std::size_t len,
                                                    const deadline& when,
                                                    std::error_code& ec) noexcept {
  const auto h = handle_;
  if (!when.is_never()) {
    const timeout left = when.remaining();
    if (left.count() > hv::connect_timeout_max_ms) {
      ec = make_error_code(errc::hv_connect_timeout_too_long);
      return;
    }
    option_value v;  // microseconds; an expired deadline is one short try
    v.value = static_cast<std::int64_t>(left.count() > 0 ? left.count() : 1) * 1000;
    Policy::set_option(h, option_id::hv_connect_timeout, v, ec);
    if (ec) return;
  }
  typename Policy::pending_connect p;
  if (Policy::start_connect(h, sa, len, p, ec)) {
    // A cancel() that came before the connect started had nothing to end:
    // its flag is seen here (it is set before cancel() interrupts).
    const wait_result r =
        cancel_.cancelled.load() ? wait_result::woken : Policy::wait_connect(h, p, when, ec);
    if (r == wait_result::ready && !ec) {
      Policy::finish_connect(h, p, ec);
    } else {
      Policy::abort_connect(h, p);
      if (!ec) ec = r == wait_result::timed_out ? make_error_code(errc::timed_out) : canceled();
    }
  }
  if (ec && cancel_.cancelled.load()) ec = detail::canceled();
}

template <class Policy>
typename socket_core<Policy>::native_handle_type socket_core<Policy>::accept_native(
    void* sa, std::size_t cap, std::size_t& len, const deadline& when,
    std::error_code& ec) noexcept {
  // A cancel() that shut the listener down between the wait and the accept
  // (Linux then answers EINVAL) is the cancellation: wait_loop says so.
  return wait_loop(wait_type::readable, when, Policy::invalid_handle, ec, [&](std::error_code& e) {
    len = cap;
    const auto h = Policy::accept(handle_, sa, len, e);
    return e ? Policy::invalid_handle : h;
  });
}

// What the layers above may use of a socket's core besides its public calls:
// the wait loop, for a call of their own on the socket (hand-off's SCM_RIGHTS
// messages), so that it waits, times out and is cancelled as every call does.
struct core_access {
  template <class Policy, class R, class Attempt>
  static R wait_loop(socket_core<Policy>& s, wait_type what, const deadline& when, R failed,
                     std::error_code& ec, Attempt&& attempt) noexcept {
    return s.wait_loop(what, when, failed, ec, std::forward<Attempt>(attempt));
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE
