// The vocabulary shared by sockets and policies: timeouts, shutdown and wait
// directions, message flags, socket types and the option ids with their values.
// Portable names only; each policy maps them to its OS's constants.
#pragma once

#include <vmsock/config.hpp>

#include <chrono>
#include <cstdint>
#include <type_traits>

namespace vmsock {

using timeout = std::chrono::milliseconds;
// Wait forever (the default of every timed operation).
inline constexpr timeout no_timeout{-1};

// When a timed operation gives up: a point on the steady clock, or never.
// Every timed operation takes one, and builds it from what it is given:
//   a duration     relative to now; no_timeout is never; any other negative
//                  duration is already expired (one non-blocking try, then
//                  timed_out); a duration too long to represent is never
//   a time_point   of std::chrono::steady_clock: an absolute deadline, which a
//                  loop of receives or accepts can share
class deadline {
 public:
  using clock = std::chrono::steady_clock;

  // never()
  constexpr deadline() noexcept = default;
  template <class Rep, class Period>
  deadline(std::chrono::duration<Rep, Period> d) noexcept {  // NOLINT: implicit by design
    if constexpr (std::is_floating_point_v<Rep>) {
      if (!(d == d)) return;  // NaN: never
    }
    if (d < d.zero()) {
      // no_timeout compared in floating point: converting a coarse duration
      // (hours::min()) to milliseconds would overflow.
      if (std::chrono::duration<double, std::milli>(d).count() == -1.0) return;
      at_ = (clock::time_point::min)();  // already expired
      return;
    }
    if (d >= std::chrono::duration<double>(max_seconds)) return;  // too long: never
    at_ = clock::now() + std::chrono::ceil<clock::duration>(d);
  }
  constexpr deadline(clock::time_point at) noexcept : at_(at) {}  // NOLINT: implicit by design

  static constexpr deadline never() noexcept { return deadline{}; }
  static deadline after(timeout t) noexcept { return deadline(t); }

  constexpr bool is_never() const noexcept { return at_ == (clock::time_point::max)(); }
  constexpr clock::time_point time_point() const noexcept { return at_; }
  bool expired() const noexcept { return !is_never() && clock::now() >= at_; }
  // What is left, rounded up to whole milliseconds (no_timeout for never,
  // zero once expired).
  timeout remaining() const noexcept {
    if (is_never()) return no_timeout;
    const auto now = clock::now();
    if (now >= at_) return timeout::zero();
    return std::chrono::ceil<timeout>(at_ - now);
  }
  // The earlier of two deadlines.
  friend constexpr deadline earlier(deadline a, deadline b) noexcept {
    return a.at_ < b.at_ ? a : b;
  }

 private:
  static constexpr double max_seconds = 100.0 * 365 * 24 * 3600;  // a century
  clock::time_point at_ = (clock::time_point::max)();
};

namespace detail {
// The deadline of the calls that have none, known at compile time, so that
// the hot path of an untimed send or receive does not test for one.
struct forever {
  static constexpr bool is_never() noexcept { return true; }
  operator deadline() const noexcept { return deadline::never(); }  // NOLINT: implicit by design
};
}  // namespace detail

// A Windows port reservation (SIO_ACQUIRE_PORT_RESERVATION's
// INET_PORT_RESERVATION_INSTANCE): the ports it holds, start_port to
// start_port + count - 1, and the token that binds a socket to them.  A request
// with start 0 learns here which ports it got.
struct port_reservation {
  std::uint16_t start_port = 0;
  std::uint16_t count = 0;
  std::uint64_t token = 0;
};

// Who is at the other end of a Unix stream or seqpacket socket (SO_PEERCRED
// on Linux): the peer process's id and its user and group ids, as they were
// when it connected.
struct credentials {
  std::int64_t pid = -1;
  std::uint32_t uid = 0xFFFFFFFFu;
  std::uint32_t gid = 0xFFFFFFFFu;
};

// How a wait ended: the handle is ready, the deadline passed, or the socket's
// wake-up (cancel()) fired.
enum class wait_result { ready, timed_out, woken };

enum class shutdown_type { receive, send, both };

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

enum class socket_type { stream, datagram, seqpacket };

// Flags for send/receive; combine with |.
enum class message_flags : unsigned {
  none = 0,
  peek = 1u << 0,        // MSG_PEEK: look at data without removing it
  out_of_band = 1u << 1, // MSG_OOB
  // MSG_TRUNC on receive: return the full length of a datagram or seqpacket
  // message even when it did not fit.  Used by datagram and seqpacket sockets.
  report_full_length = 1u << 2,
  // MSG_DONTWAIT: this call does not wait, whatever the socket's mode.
  dont_wait = 1u << 3,
};
constexpr message_flags operator|(message_flags a, message_flags b) noexcept {
  return static_cast<message_flags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has_flag(message_flags set, message_flags f) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(f)) != 0;
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

}  // namespace vmsock
