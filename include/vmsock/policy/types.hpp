// What sockets and policies say to each other and users do not: how a wait
// ended and what it waits for, the options by meaning with their values in
// transport form, and a Windows port reservation.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/deadline.hpp>
#include <vmsock/socket_types.hpp>

#include <cstdint>

VMSOCK_BEGIN_NAMESPACE

// A Windows port reservation (SIO_ACQUIRE_PORT_RESERVATION's
// INET_PORT_RESERVATION_INSTANCE): the ports it holds, start_port to
// start_port + count - 1, and the token that binds a socket to them.  A request
// with start 0 learns here which ports it got.
struct port_reservation {
  std::uint16_t start_port = 0;
  std::uint16_t count = 0;
  std::uint64_t token = 0;
};

// How a wait ended: the handle is ready, the deadline passed, or the socket's
// wake-up (cancel()) fired.
enum class wait_result { ready, timed_out, woken };

// What a wait waits for.  `connect` is writable or failed: the end of a
// non-blocking connect, whose failure Winsock's select() reports only in its
// exception set.
enum class wait_type { readable, writable, connect };

// Which of select()'s three sets a wait for `what` puts the socket in.  Only a
// connect's wait asks for the exception set: on Winsock it also means urgent
// data (MSG_OOB with SO_OOBINLINE off), which stays signalled while recv() and
// send() say WSAEWOULDBLOCK, so any other wait that asked for it would spin.
struct wait_interest {
  bool readable;
  bool writable;
  bool exceptional;
};
constexpr wait_interest interest_of(wait_type what) noexcept {
  return what == wait_type::readable   ? wait_interest{true, false, false}
         : what == wait_type::writable ? wait_interest{false, true, false}
                                       : wait_interest{false, true, true};
}

// The options vmsock knows, by meaning.  Each policy maps an id to its OS's level,
// name and value representation, or reports unsupported_on_platform.
enum class option_id {
  reuse_address,
  keep_alive,
  linger,
  receive_buffer_size,
  send_buffer_size,
  receive_timeout,
  send_timeout,
  tcp_no_delay,
  vsock_buffer_size,
  vsock_buffer_min_size,
  vsock_buffer_max_size,
  vsock_connect_timeout,
  hv_connect_timeout,
  hv_connected_suspend,
  hv_container_passthru,
  hv_high_vtl,
  socket_error,  // SO_ERROR, read-only
  v6_only,       // IPV6_V6ONLY
  reuse_port,    // SO_REUSEPORT
};

// An option's value in transport form: `on` for booleans (and linger's switch),
// `value` for integers, sizes, durations (microseconds) and linger's seconds.
struct option_value {
  bool on = false;
  std::int64_t value = 0;
};

VMSOCK_END_NAMESPACE
