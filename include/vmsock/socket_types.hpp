// The words of a socket's calls that are not endpoints or deadlines: its
// type, which direction a shutdown closes, the flags of a send or receive, and
// who the peer of a Unix socket is.  Portable names; each policy maps them to
// its OS's constants.
#pragma once

#include <vmsock/config.hpp>

#include <cstdint>

VMSOCK_BEGIN_NAMESPACE

// Who is at the other end of a Unix stream or seqpacket socket (SO_PEERCRED
// on Linux): the peer process's id and its user and group ids, as they were
// when it connected.
struct credentials {
  std::int64_t pid = -1;
  std::uint32_t uid = 0xFFFFFFFFu;
  std::uint32_t gid = 0xFFFFFFFFu;
};

enum class shutdown_type { receive, send, both };

enum class socket_type { stream, datagram, seqpacket };

// Flags for send/receive; combine with |.
enum class message_flags : unsigned {
  none = 0,
  peek = 1u << 0,         // MSG_PEEK: look at data without removing it
  out_of_band = 1u << 1,  // MSG_OOB
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

VMSOCK_END_NAMESPACE
