// posix_options: posix_policy's socket options (policy/posix.hpp): the table
// from vmsock's option ids to a level, a name and the encoding of the value
// (int, 64-bit, timeval, linger), and set_option/get_option, which encode and
// decode by it.  The rows Winsock spells alike are option_rows.hpp's; a new
// option is a row there or here (and in socket/options.hpp).
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_POSIX

#  include <vmsock/detail/native.hpp>
#  include <vmsock/error.hpp>
#  include <vmsock/policy/detail/option_rows.hpp>
#  include <vmsock/policy/detail/posix_calls.hpp>
#  include <vmsock/policy/types.hpp>

#  include <sys/socket.h>
#  include <sys/time.h>

#  include <cstdint>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

struct posix_options : posix_calls {
  static void set_option(handle h, option_id id, const option_value& v,
                         std::error_code& ec) noexcept {
    native_option o;
    if (!lookup(id, o, ec)) return;
    switch (o.kind) {
    case option_kind::boolean:
    case option_kind::integer: {
      const int x = o.kind == option_kind::boolean ? (v.on ? 1 : 0) : static_cast<int>(v.value);
      check(::setsockopt(h, o.level, o.name, &x, sizeof x), ec);
      return;
    }
    case option_kind::u64: {
      const unsigned long long x = static_cast<unsigned long long>(v.value);
      check(::setsockopt(h, o.level, o.name, &x, sizeof x), ec);
      return;
    }
    case option_kind::duration: {
      timeval tv{};
      tv.tv_sec = static_cast<decltype(tv.tv_sec)>(v.value / 1000000);
      tv.tv_usec = static_cast<decltype(tv.tv_usec)>(v.value % 1000000);
      check(::setsockopt(h, o.level, o.name, &tv, sizeof tv), ec);
      return;
    }
    case option_kind::linger: {
      ::linger l{};
      l.l_onoff = v.on ? 1 : 0;
      l.l_linger = static_cast<int>(v.value);
      check(::setsockopt(h, o.level, o.name, &l, sizeof l), ec);
      return;
    }
    }
  }

  static void get_option(handle h, option_id id, option_value& v, std::error_code& ec) noexcept {
    native_option o;
    if (!lookup(id, o, ec)) return;
    v = option_value{};
    switch (o.kind) {
    case option_kind::boolean:
    case option_kind::integer: {
      int x = 0;
      socklen_t l = sizeof x;
      if (!check(::getsockopt(h, o.level, o.name, &x, &l), ec)) return;
      v.on = x != 0;
      v.value = x;
      return;
    }
    case option_kind::u64: {
      unsigned long long x = 0;
      socklen_t l = sizeof x;
      if (!check(::getsockopt(h, o.level, o.name, &x, &l), ec)) return;
      v.value = static_cast<std::int64_t>(x);
      return;
    }
    case option_kind::duration: {
      timeval tv{};
      socklen_t l = sizeof tv;
      if (!check(::getsockopt(h, o.level, o.name, &tv, &l), ec)) return;
      v.value = static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
      return;
    }
    case option_kind::linger: {
      ::linger lg{};
      socklen_t l = sizeof lg;
      if (!check(::getsockopt(h, o.level, o.name, &lg, &l), ec)) return;
      v.on = lg.l_onoff != 0;
      v.value = lg.l_linger;
      return;
    }
    }
  }

 private:
  static bool lookup(option_id id, native_option& o, std::error_code& ec) noexcept {
    if (shared_option_row(id, o)) return true;
    switch (id) {
#  if defined(SO_REUSEPORT)
    case option_id::reuse_port: o = {SOL_SOCKET, SO_REUSEPORT, option_kind::boolean}; return true;
#  endif
#  if VMSOCK_LINUX
    case option_id::vsock_buffer_size:
      o = {AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, option_kind::u64};
      return true;
    case option_id::vsock_buffer_min_size:
      o = {AF_VSOCK, SO_VM_SOCKETS_BUFFER_MIN_SIZE, option_kind::u64};
      return true;
    case option_id::vsock_buffer_max_size:
      o = {AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, option_kind::u64};
      return true;
    // On Linux a Hyper-V socket is an AF_VSOCK socket (hv_sock transport), so
    // HVSOCKET_CONNECT_TIMEOUT becomes the VSOCK connect timeout.
    case option_id::vsock_connect_timeout:
    case option_id::hv_connect_timeout:
      o = {AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, option_kind::duration};
      return true;
#  endif
    default: ec = make_error_code(errc::unsupported_on_platform); return false;
    }
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_POSIX
