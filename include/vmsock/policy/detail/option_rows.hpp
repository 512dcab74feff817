// option_rows: the rows that BSD sockets and Winsock share in the policies'
// option tables (posix_options, winsock_options): vmsock's option id to a
// level, a name and the kind of value it carries.  Each policy adds the rows
// of its own platform and encodes each kind as its platform does (a
// duration is a timeval on POSIX, a DWORD of milliseconds on Windows).
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/policy/types.hpp>

#if VMSOCK_POSIX
#  include <netinet/tcp.h>
#endif

VMSOCK_BEGIN_NAMESPACE
namespace detail {

enum class option_kind { boolean, integer, u64, duration, linger };

struct native_option {
  int level = 0;
  int name = 0;
  option_kind kind = option_kind::integer;
};

// The row of an option both platforms spell alike; false for any other.
constexpr bool shared_option_row(option_id id, native_option& o) noexcept {
  switch (id) {
  case option_id::reuse_address: o = {SOL_SOCKET, SO_REUSEADDR, option_kind::boolean}; return true;
  case option_id::keep_alive: o = {SOL_SOCKET, SO_KEEPALIVE, option_kind::boolean}; return true;
  case option_id::linger: o = {SOL_SOCKET, SO_LINGER, option_kind::linger}; return true;
  case option_id::receive_buffer_size:
    o = {SOL_SOCKET, SO_RCVBUF, option_kind::integer};
    return true;
  case option_id::send_buffer_size: o = {SOL_SOCKET, SO_SNDBUF, option_kind::integer}; return true;
  case option_id::receive_timeout:
    o = {SOL_SOCKET, SO_RCVTIMEO, option_kind::duration};
    return true;
  case option_id::send_timeout: o = {SOL_SOCKET, SO_SNDTIMEO, option_kind::duration}; return true;
  case option_id::tcp_no_delay: o = {IPPROTO_TCP, TCP_NODELAY, option_kind::boolean}; return true;
  case option_id::socket_error: o = {SOL_SOCKET, SO_ERROR, option_kind::integer}; return true;
  case option_id::v6_only: o = {IPPROTO_IPV6, IPV6_V6ONLY, option_kind::boolean}; return true;
  default: return false;
  }
}

}  // namespace detail
VMSOCK_END_NAMESPACE
