// Typed socket options.  Each knows its meaning (option_id; the policy maps it to
// the OS's level, name and representation) and the endpoint types it applies to,
// so that a VSOCK option on a TCP socket does not compile:
//
//   sock.set_option(vmsock::tcp_no_delay{true});
//   auto size = sock.get_option<vmsock::receive_buffer_size>().value;
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/fwd.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/types.hpp>

#include <vmsock/detail/text.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class E>
inline constexpr bool is_ip_endpoint =
    std::is_same_v<E, inet4_endpoint> || std::is_same_v<E, inet6_endpoint>;

struct every_family {
  template <class E> static constexpr bool applies = true;
};
struct ip_family {
  template <class E> static constexpr bool applies = is_ip_endpoint<E>;
};
struct ip6_family {
  template <class E> static constexpr bool applies = std::is_same_v<E, inet6_endpoint>;
};
struct vsock_family {
  template <class E> static constexpr bool applies = std::is_same_v<E, vsock_endpoint>;
};
struct hv_family {
  template <class E> static constexpr bool applies = std::is_same_v<E, hv_endpoint>;
};
// The options of every socket that is AF_HYPERV on Windows: hv_endpoint ones
// and vsock_endpoint ones (on Linux, where both are AF_VSOCK, the policy
// answers unsupported_on_platform for what Windows alone has).  A connect
// timeout has a name per family (vsock_connect_timeout, hv_connect_timeout).
struct hyperv_socket_family {
  template <class E>
  static constexpr bool applies =
      std::is_same_v<E, hv_endpoint> || std::is_same_v<E, vsock_endpoint>;
};

template <option_id Id, class Families> struct bool_option {
  bool value = false;
  static constexpr option_id id = Id;
  template <class E> static constexpr bool applies_to = Families::template applies<E>;
  constexpr errc validate() const noexcept { return errc{}; }
  constexpr option_value encode() const noexcept { return {value, value ? 1 : 0}; }
  template <class Self> static constexpr Self decode(const option_value& v) noexcept {
    return Self{v.on};
  }
  void append_value(std::string& out) const { out += value ? "true" : "false"; }
};

template <option_id Id, class Families, class T> struct int_option {
  T value{};
  static constexpr option_id id = Id;
  template <class E> static constexpr bool applies_to = Families::template applies<E>;
  constexpr errc validate() const noexcept {
    return value < T{} ? errc::invalid_option_value : errc{};
  }
  constexpr option_value encode() const noexcept {
    return {false, static_cast<std::int64_t>(value)};
  }
  template <class Self> static constexpr Self decode(const option_value& v) noexcept {
    return Self{static_cast<T>(v.value)};
  }
  void append_value(std::string& out) const {
    if constexpr (std::is_signed_v<T>) {
      if (value < T{}) {
        out += '-';
        append_decimal(out, static_cast<std::uint64_t>(-static_cast<std::int64_t>(value)));
        return;
      }
    }
    append_decimal(out, static_cast<std::uint64_t>(value));
  }
};

// A duration.  For SO_RCVTIMEO/SO_SNDTIMEO (Forever) zero or no_timeout means
// "wait forever", as the OS reads a zero there.  The VM connect timeouts have
// no "forever": the kernel reads zero as its default (2 s), so no_timeout is
// refused there rather than silently meaning 2 s.
template <option_id Id, class Families, std::int64_t MaxMs = -1, bool Forever = true>
struct timeout_option {
  timeout value = Forever ? no_timeout : timeout::zero();
  static constexpr option_id id = Id;
  template <class E> static constexpr bool applies_to = Families::template applies<E>;
  constexpr errc validate() const noexcept {
    if (value < timeout::zero() && !(Forever && value == no_timeout))
      return errc::invalid_option_value;
    if (MaxMs >= 0 && value.count() > MaxMs) return errc::invalid_option_value;
    return errc{};
  }
  constexpr option_value encode() const noexcept {
    return {false, value == no_timeout ? 0 : static_cast<std::int64_t>(value.count()) * 1000};
  }
  template <class Self> static constexpr Self decode(const option_value& v) noexcept {
    // The OS may round up to its clock tick; whole milliseconds are kept.
    if (Forever && v.value == 0) return Self{no_timeout};
    return Self{timeout{(v.value + 999) / 1000}};
  }
  void append_value(std::string& out) const {
    if (value == no_timeout) {
      out += "no_timeout";
      return;
    }
    if (value < timeout::zero()) {
      out += '-';
      append_decimal(out, static_cast<std::uint64_t>(-value.count()));
    } else {
      append_decimal(out, static_cast<std::uint64_t>(value.count()));
    }
    out += "ms";
  }
};

// "receive_buffer_size=-1": how an option is named in an error message.
template <class Option> std::string option_text(const Option& o) {
  std::string s = Option::name;
  s += '=';
  o.append_value(s);
  return s;
}

// Whether O is one of vmsock's typed options.
template <class O, class = void> struct is_option : std::false_type {};
template <class O>
struct is_option<
    O, std::void_t<decltype(O::id), decltype(O::name), decltype(std::declval<const O&>().encode())>>
    : std::true_type {};

}  // namespace detail

// SO_REUSEADDR.  Listening IP sockets get it by default on POSIX.
struct reuse_address : detail::bool_option<option_id::reuse_address, detail::every_family> {
  static constexpr const char* name = "reuse_address";
};
// SO_REUSEPORT (Linux): several sockets may bind the same IP address and port,
// and the kernel spreads connections or datagrams over them.  Set before bind,
// so pass it to listen() or open().  Windows has no such option
// (unsupported_on_platform).
struct reuse_port : detail::bool_option<option_id::reuse_port, detail::ip_family> {
  static constexpr const char* name = "reuse_port";
};
// SO_KEEPALIVE
struct keep_alive : detail::bool_option<option_id::keep_alive, detail::every_family> {
  static constexpr const char* name = "keep_alive";
};
// TCP_NODELAY: IP stream sockets only.
struct tcp_no_delay : detail::bool_option<option_id::tcp_no_delay, detail::ip_family> {
  static constexpr const char* name = "tcp_no_delay";
};
// IPV6_V6ONLY: IPv6 sockets only.
struct v6_only : detail::bool_option<option_id::v6_only, detail::ip6_family> {
  static constexpr const char* name = "v6_only";
};

// SO_RCVBUF / SO_SNDBUF in bytes (Linux reports twice the value set: its bookkeeping).
struct receive_buffer_size
    : detail::int_option<option_id::receive_buffer_size, detail::every_family, int> {
  static constexpr const char* name = "receive_buffer_size";
};
struct send_buffer_size
    : detail::int_option<option_id::send_buffer_size, detail::every_family, int> {
  static constexpr const char* name = "send_buffer_size";
};

// SO_RCVTIMEO / SO_SNDTIMEO.  When one expires a blocking receive or send fails
// with an error equal to std::errc::timed_out, on every platform.
struct receive_timeout : detail::timeout_option<option_id::receive_timeout, detail::every_family> {
  static constexpr const char* name = "receive_timeout";
};
struct send_timeout : detail::timeout_option<option_id::send_timeout, detail::every_family> {
  static constexpr const char* name = "send_timeout";
};

// SO_LINGER: on close, wait up to `time` for unsent data (or, with enabled and a
// zero time, reset the connection).
struct linger {
  bool enabled = false;
  std::chrono::seconds time{0};
  static constexpr option_id id = option_id::linger;
  template <class E> static constexpr bool applies_to = true;
  constexpr errc validate() const noexcept {
    return time.count() < 0 || time.count() > 65535 ? errc::invalid_option_value : errc{};
  }
  constexpr option_value encode() const noexcept { return {enabled, time.count()}; }
  template <class Self> static constexpr Self decode(const option_value& v) noexcept {
    return Self{v.on, std::chrono::seconds{v.value}};
  }
  static constexpr const char* name = "linger";
  void append_value(std::string& out) const {
    out += enabled ? "on," : "off,";
    if (time.count() < 0) {
      out += '-';
      detail::append_decimal(out, static_cast<std::uint64_t>(-time.count()));
    } else {
      detail::append_decimal(out, static_cast<std::uint64_t>(time.count()));
    }
    out += 's';
  }
};

// SO_VM_SOCKETS_BUFFER_SIZE / _MIN_SIZE / _MAX_SIZE (bytes; VSOCK sockets only).
struct vsock_buffer_size
    : detail::int_option<option_id::vsock_buffer_size, detail::vsock_family, std::uint64_t> {
  static constexpr const char* name = "vsock_buffer_size";
};
struct vsock_buffer_min_size
    : detail::int_option<option_id::vsock_buffer_min_size, detail::vsock_family, std::uint64_t> {
  static constexpr const char* name = "vsock_buffer_min_size";
};
struct vsock_buffer_max_size
    : detail::int_option<option_id::vsock_buffer_max_size, detail::vsock_family, std::uint64_t> {
  static constexpr const char* name = "vsock_buffer_max_size";
};

// SO_VM_SOCKETS_CONNECT_TIMEOUT (VSOCK; the kernel's default is 2 s, and it
// reads zero as that default).  no_timeout is invalid_option_value.
struct vsock_connect_timeout
    : detail::timeout_option<option_id::vsock_connect_timeout, detail::vsock_family, -1, false> {
  static constexpr const char* name = "vsock_connect_timeout";
};

// HVSOCKET_CONNECT_TIMEOUT, at most 300000 ms (HVSOCKET_CONNECT_TIMEOUT_MAX); a
// larger value (or no_timeout) is the error invalid_option_value, never
// silently clamped.
struct hv_connect_timeout : detail::timeout_option<option_id::hv_connect_timeout, detail::hv_family,
                                                   hv::connect_timeout_max_ms, false> {
  static constexpr const char* name = "hv_connect_timeout";
};
// HVSOCKET_CONNECTED_SUSPEND: keep the connection over a VM pause (Windows only).
struct hv_connected_suspend
    : detail::bool_option<option_id::hv_connected_suspend, detail::hyperv_socket_family> {
  static constexpr const char* name = "hv_connected_suspend";
};
// HVSOCKET_CONTAINER_PASSTHRU (2; Windows only).  Obsolete: the current SDK's
// hvsocket.h no longer defines it; kept for the hosts that still take it.
struct hv_container_passthru
    : detail::bool_option<option_id::hv_container_passthru, detail::hyperv_socket_family> {
  static constexpr const char* name = "hv_container_passthru";
};
// HVSOCKET_HIGH_VTL: connect to the guest's VTL 2 (Windows only).
struct hv_high_vtl : detail::bool_option<option_id::hv_high_vtl, detail::hyperv_socket_family> {
  static constexpr const char* name = "hv_high_vtl";
};

VMSOCK_END_NAMESPACE
