// The POSIX hand-off: one descriptor in an SCM_RIGHTS message, with one data
// byte, over a Unix stream socket (the channel), sent and received without
// waiting in the OS so that the deadline and cancel() of the channel end the
// wait (handoff.hpp says what is refused and why).
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/deadline.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/error.hpp>
#include <vmsock/host/detail/handoff_common.hpp>
#include <vmsock/socket/detail/cancel_state.hpp>
#include <vmsock/socket/stream_socket.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class P, class H>
void send_descriptor(stream_socket<unix_endpoint, P>& ch, H h, const deadline& when,
                     std::error_code& ec) noexcept {
  if (!ch.is_open()) {
    ec = P::closed_error();
    return;
  }
  for (;;) {
    if (ch.is_cancelled()) {
      ec = canceled();
      return;
    }
    P::send_handle(ch.native_handle(), h, message_flags::dont_wait, ec);
    if (!ec) return;
    if (!would_block(ec)) {
      if (ch.is_cancelled()) ec = canceled();
      return;
    }
    if (ch.is_nonblocking() && when.is_never()) return;
    if (when.expired()) {
      ec = make_error_code(errc::timed_out);
      return;
    }
    if (!ch.wait_writable(when, ec)) {
      if (!ec) ec = make_error_code(errc::timed_out);
      return;
    }
  }
}

template <class P>
typename P::handle receive_descriptor(stream_socket<unix_endpoint, P>& ch, const deadline& when,
                                      std::error_code& ec, handoff_report& r) noexcept {
  using problem = handoff_report::problem;
  if (!ch.is_open()) {
    ec = P::closed_error();
    return P::invalid_handle;
  }
  const deadline limit = receive_limit(ch, when);
  for (;;) {
    if (ch.is_cancelled()) {
      ec = canceled();
      return P::invalid_handle;
    }
    typename P::handle h = P::invalid_handle;
    std::size_t count = 0;
    bool truncated = false;
    const std::size_t n =
        P::receive_handle(ch.native_handle(), h, count, truncated, message_flags::dont_wait, ec);
    if (ec) {
      if (!would_block(ec)) {
        if (ch.is_cancelled()) ec = canceled();
        return P::invalid_handle;
      }
      if (ch.is_nonblocking() && when.is_never()) return P::invalid_handle;
      if (limit.expired()) {
        ec = make_error_code(errc::timed_out);
        return P::invalid_handle;
      }
      if (!ch.wait_readable(limit, ec)) {
        if (!ec) ec = make_error_code(errc::timed_out);
        return P::invalid_handle;
      }
      continue;
    }
    if (n == 0) {  // cancel() shuts the channel down: that reads as its end
      if (ch.is_cancelled()) {
        ec = canceled();
      } else {
        ec = make_error_code(errc::end_of_stream);
        r.what = problem::ended;
      }
      return P::invalid_handle;
    }
    if (truncated) {
      r.what = problem::truncated;
      r.count = count;
      ec = make_error_code(errc::message_truncated);
      return P::invalid_handle;
    }
    if (count != 1) {
      r.what = count == 0 ? problem::no_descriptor : problem::several;
      r.count = count;
      ec = std::make_error_code(std::errc::bad_message);
      return P::invalid_handle;
    }
    return h;
  }
}

}  // namespace detail
VMSOCK_END_NAMESPACE
