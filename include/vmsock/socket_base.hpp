// The vocabulary shared by sockets and policies: timeouts, shutdown and wait
// directions, message flags, socket types and the option ids with their values.
// Portable names only; each policy maps them to its OS's constants.
#pragma once

#include <vmsock/config.hpp>

#include <chrono>
#include <cstdint>

namespace vmsock {

using timeout = std::chrono::milliseconds;
// Wait forever (the default of every timed operation).
inline constexpr timeout no_timeout{-1};

enum class shutdown_type { receive, send, both };

enum class wait_type { readable, writable };

enum class socket_type { stream, datagram, seqpacket };

// Flags for send/receive; combine with |.
enum class message_flags : unsigned {
  none = 0,
  peek = 1u << 0,        // MSG_PEEK: look at data without removing it
  out_of_band = 1u << 1, // MSG_OOB
  // MSG_TRUNC on receive: return the full length of a datagram or seqpacket
  // message even when it did not fit.  Used by datagram and seqpacket sockets.
  report_full_length = 1u << 2,
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
};

// An option's value in transport form: `on` for booleans (and linger's switch),
// `value` for integers, sizes, durations (microseconds) and linger's seconds.
struct option_value {
  bool on = false;
  std::int64_t value = 0;
};

}  // namespace vmsock
