// The POSIX hand-off: one descriptor in an SCM_RIGHTS message, with one data
// byte, over a Unix stream socket (the channel), sent and received without
// waiting in the OS, in the channel's own wait loop, so that its deadline,
// SO_RCVTIMEO/SO_SNDTIMEO and cancel() end the wait as for any call
// (handoff.hpp says what is refused and why).
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/deadline.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/error.hpp>
#include <vmsock/host/detail/handoff_common.hpp>
#include <vmsock/socket/detail/cancel_state.hpp>
#include <vmsock/socket/detail/socket_core.hpp>
#include <vmsock/socket/stream_socket.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class P, class H>
void send_descriptor(stream_socket<unix_endpoint, P>& ch, H h, const deadline& when,
                     std::error_code& ec) noexcept {
  core_access::wait_loop(ch, wait_type::writable, when, 0, ec, [&](std::error_code& e) {
    P::send_handle(ch.native_handle(), h, message_flags::dont_wait, e);
    return 0;
  });
}

template <class P>
unique_handle<P> receive_descriptor(stream_socket<unix_endpoint, P>& ch, const deadline& when,
                                    std::error_code& ec, handoff_report& r) noexcept {
  using problem = handoff_report::problem;
  typename P::handle got = P::invalid_handle;
  std::size_t count = 0;
  bool truncated = false;
  const std::size_t n = core_access::wait_loop(
      ch, wait_type::readable, when, std::size_t{0}, ec, [&](std::error_code& e) {
        return P::receive_handle(ch.native_handle(), got, count, truncated,
                                 message_flags::dont_wait, e);
      });
  unique_handle<P> h(got);
  if (ec) return {};
  if (n == 0) {  // cancel() shuts the channel down: that reads as its end
    if (ch.is_cancelled()) {
      ec = canceled();
    } else {
      ec = make_error_code(errc::end_of_stream);
      r.what = problem::ended;
    }
    return {};
  }
  if (truncated) {
    r.what = problem::truncated;
    r.count = count;
    ec = make_error_code(errc::message_truncated);
    return {};
  }
  if (count != 1) {
    r.what = count == 0 ? problem::no_descriptor : problem::several;
    r.count = count;
    ec = std::make_error_code(std::errc::bad_message);
    return {};
  }
  return h;
}

}  // namespace detail
VMSOCK_END_NAMESPACE
