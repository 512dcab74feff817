// winsock_options: winsock_policy's socket options (policy/winsock.hpp): the
// table from vmsock's option ids to a level, a name and the encoding of the
// value (DWORD, milliseconds, linger), the Hyper-V ones (HVSOCKET_*) among
// them, and set_option/get_option, which encode and decode by it.  The rows
// BSD sockets spell alike are option_rows.hpp's; a new option is a row there
// or here (and in socket/options.hpp).
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS

#  include <vmsock/detail/native.hpp>
#  include <vmsock/endpoint/hyperv.hpp>
#  include <vmsock/error.hpp>
#  include <vmsock/policy/detail/option_rows.hpp>
#  include <vmsock/policy/detail/winsock_calls.hpp>
#  include <vmsock/policy/types.hpp>

#  include <cstdint>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

struct winsock_options : winsock_calls {
  static void set_option(handle h, option_id id, const option_value& v,
                         std::error_code& ec) noexcept {
    native_option o;
    if (!lookup(id, o, ec)) return;
    // A VSOCK connect timeout is HVSOCKET_CONNECT_TIMEOUT here: its limit too.
    if ((id == option_id::vsock_connect_timeout || id == option_id::hv_connect_timeout) &&
        v.value > static_cast<std::int64_t>(hv::connect_timeout_max_ms) * 1000) {
      ec = make_error_code(errc::invalid_option_value);
      return;
    }
    switch (o.kind) {
    case option_kind::boolean:
    case option_kind::integer:
    case option_kind::duration: {
      DWORD x = 0;
      if (o.kind == option_kind::boolean)
        x = v.on ? 1 : 0;
      else if (o.kind == option_kind::integer)
        x = static_cast<DWORD>(v.value);
      else  // microseconds -> milliseconds, rounded up so a tiny timeout is not "none"
        x = static_cast<DWORD>((v.value + 999) / 1000);
      check(::setsockopt(h, o.level, o.name, reinterpret_cast<const char*>(&x), sizeof x), ec);
      return;
    }
    case option_kind::u64: {  // no Winsock row yet; encoded as POSIX does
      const unsigned long long x = static_cast<unsigned long long>(v.value);
      check(::setsockopt(h, o.level, o.name, reinterpret_cast<const char*>(&x), sizeof x), ec);
      return;
    }
    case option_kind::linger: {
      ::linger l{};
      l.l_onoff = static_cast<u_short>(v.on ? 1 : 0);
      l.l_linger = static_cast<u_short>(v.value);
      check(::setsockopt(h, o.level, o.name, reinterpret_cast<const char*>(&l), sizeof l), ec);
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
    case option_kind::integer:
    case option_kind::duration: {
      DWORD x = 0;
      int l = sizeof x;
      if (!check(::getsockopt(h, o.level, o.name, reinterpret_cast<char*>(&x), &l), ec)) return;
      v.on = x != 0;
      v.value = o.kind == option_kind::duration ? static_cast<std::int64_t>(x) * 1000
                                                : static_cast<std::int64_t>(x);
      return;
    }
    case option_kind::u64: {
      unsigned long long x = 0;
      int l = sizeof x;
      if (!check(::getsockopt(h, o.level, o.name, reinterpret_cast<char*>(&x), &l), ec)) return;
      v.value = static_cast<std::int64_t>(x);
      return;
    }
    case option_kind::linger: {
      ::linger lg{};
      int l = sizeof lg;
      if (!check(::getsockopt(h, o.level, o.name, reinterpret_cast<char*>(&lg), &l), ec)) return;
      v.on = lg.l_onoff != 0;
      v.value = lg.l_linger;
      return;
    }
    }
  }

 private:
  // HV_PROTOCOL_RAW and the HVSOCKET_* names, as hyperv.hpp defines them.
  static constexpr int hv_level = 1;

  static bool lookup(option_id id, native_option& o, std::error_code& ec) noexcept {
    if (shared_option_row(id, o)) return true;
    switch (id) {
    // A VSOCK socket on Windows is an AF_HYPERV socket: its connect timeout is
    // HVSOCKET_CONNECT_TIMEOUT.
    case option_id::vsock_connect_timeout:
    case option_id::hv_connect_timeout: o = {hv_level, 0x01, option_kind::duration}; return true;
    case option_id::hv_container_passthru: o = {hv_level, 0x02, option_kind::boolean}; return true;
    case option_id::hv_connected_suspend: o = {hv_level, 0x04, option_kind::boolean}; return true;
    case option_id::hv_high_vtl: o = {hv_level, 0x08, option_kind::boolean}; return true;
    default: ec = make_error_code(errc::unsupported_on_platform); return false;
    }
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_WINDOWS
