// basic_socket<Endpoint, Policy>: one owned OS socket handle.  The socket
// categories (stream_socket, listener, datagram_socket, seqpacket_socket)
// derive from it.
//
// Every fallible operation comes twice: one throws std::system_error whose
// message names the operation and the endpoint ("connect to vsock://2:5000:
// Connection refused"); the other takes std::error_code& and is noexcept.
// Nothing here calls the OS: the Policy does.
//
// What does not depend on the endpoint type (the handle, cancel(), the waits)
// is detail::socket_core<Policy>, which basic_socket derives from; the
// lifecycle is described there.
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/config.hpp>
#include <vmsock/endpoint/fwd.hpp>
#include <vmsock/endpoint/detail/os_address.hpp>
#include <vmsock/socket/detail/socket_core.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/options.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/policy/types.hpp>
#if VMSOCK_WINDOWS
#  include <vmsock/socket/detail/hv_access_hint.hpp>
#endif

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE

namespace detail {

// How an endpoint is written in an error message: IP endpoints get the scheme of
// the socket type (tcp:// or udp://); the others carry their own.
template <class E> std::string describe(const E& ep, socket_type type) {
  if constexpr (is_ip_endpoint<E>) {
    std::string s = type == socket_type::datagram ? "udp://" : "tcp://";
    s += ep.to_string();
    return s;
  } else {
    (void)type;
    return ep.to_string();
  }
}

// The same in the message of a failed bind, listen or connect; a Hyper-V
// socket that Windows refused with WSAEACCES gets a hint at the likely causes
// (detail/hv_access_hint.hpp: only Windows has AF_HYPERV, so only Windows
// parses it).
template <class E>
std::string describe_failure(const E& ep, socket_type type, const std::error_code& ec) {
  std::string s = describe(ep, type);
#if VMSOCK_WINDOWS
  append_hv_access_hint(s, ep, ec);
#else
  (void)ec;
#endif
  return s;
}

// An accepted Unix connection's peer has no name; the listener's path says more.
template <class E> bool is_unnamed(const E& ep) noexcept {
  if constexpr (std::is_same_v<E, unix_endpoint>)
    return ep.is_unnamed();
  else
    return (void)ep, false;
}

// "open IPv4 datagram socket": what an open() that failed was opening.
template <class E> std::string open_what(socket_type type) {
  std::string s = "open ";
  if constexpr (std::is_same_v<E, inet4_endpoint>)
    s += "IPv4 ";
  else if constexpr (std::is_same_v<E, inet6_endpoint>)
    s += "IPv6 ";
  else if constexpr (std::is_same_v<E, unix_endpoint>)
    s += "Unix ";
  else if constexpr (std::is_same_v<E, vsock_endpoint>)
    s += "VSOCK ";
  else if constexpr (std::is_same_v<E, hv_endpoint>)
    s += "Hyper-V ";
  s += type == socket_type::stream     ? "stream"
       : type == socket_type::datagram ? "datagram"
                                       : "seqpacket";
  s += " socket";
  return s;
}

}  // namespace detail

template <class Endpoint, class Policy = default_policy>
class basic_socket : public detail::socket_core<Policy> {
  using core = detail::socket_core<Policy>;
  // Its error messages name the socket it holds.
  template <class> friend class basic_any_stream_socket;

 protected:
  using os = detail::os_address<Policy, Endpoint>;
  using os_endpoint = typename os::type;
  using core::cancel_;
  using core::handle_;
  using core::listening_;
  using core::nonblocking_;
  using core::owned;
  using core::type_;
  using typename core::owned_t;

 public:
  using endpoint_type = Endpoint;
  using policy_type = Policy;
  using native_handle_type = typename Policy::handle;

  // The family and protocol the OS sees: AF_VSOCK for an hv_endpoint on Linux,
  // AF_HYPERV for a vsock_endpoint on Windows.
  static constexpr int native_family = os_endpoint::family;
  static constexpr int native_protocol = os_endpoint::protocol;

  basic_socket() noexcept = default;
  // Adopts an open handle of the given type; the socket closes it.  Its
  // blocking mode is read where the OS tells it (POSIX), else taken to be
  // blocking.  (On Windows the policy takes a Winsock reference for it,
  // released by close, and makes it non-blocking inside Winsock.)
  explicit basic_socket(native_handle_type h, socket_type type = socket_type::stream) noexcept
      : core(h, type) {
    cancel_.shutdown_wakes = detail::shutdown_wakes_poll<Policy>(native_family);
  }

  using core::close;
  void close() {
    if (!this->is_open()) return;
    // The names are read (no allocation) while the handle lives, and turned
    // into text only if the close fails.
    const names n = read_names();
    std::error_code ec;
    core::close(ec);
    if (ec) detail::throw_error(ec, "close of", describe(n));
  }

  Endpoint local_endpoint(std::error_code& ec) const noexcept { return name_of(false, ec); }
  Endpoint local_endpoint() const {
    std::error_code ec;
    auto ep = local_endpoint(ec);
    if (ec) fail(ec, "local_endpoint of");
    return ep;
  }

  template <class Option> void set_option(const Option& opt, std::error_code& ec) noexcept {
    static_assert(Option::template applies_to<Endpoint>,
                  "vmsock: this socket option does not apply to this endpoint type");
    if (const errc e = opt.validate(); e != errc{}) {
      ec = make_error_code(e);
      return;
    }
    Policy::set_option(handle_, Option::id, opt.encode(), ec);
  }
  // The message names the option and its value: "set_option
  // receive_buffer_size=-1 on tcp://127.0.0.1:5000: ...".
  template <class Option> void set_option(const Option& opt) {
    std::error_code ec;
    set_option(opt, ec);
    if (ec) fail(ec, "set_option " + detail::option_text(opt) + " on");
  }

  template <class Option> Option get_option(std::error_code& ec) const noexcept {
    static_assert(Option::template applies_to<Endpoint>,
                  "vmsock: this socket option does not apply to this endpoint type");
    option_value v;
    Policy::get_option(handle_, Option::id, v, ec);
    if (ec) return Option{};
    return Option::template decode<Option>(v);
  }
  template <class Option> Option get_option() const {
    std::error_code ec;
    auto o = get_option<Option>(ec);
    if (ec) fail(ec, std::string("get_option ") + Option::name + " on");
    return o;
  }

  using core::set_nonblocking;
  void set_nonblocking(bool on) {
    std::error_code ec;
    core::set_nonblocking(on, ec);
    if (ec) fail(ec, "set_nonblocking on");
  }

  using core::wait_readable;
  using core::wait_writable;
  bool wait_readable(deadline when = deadline::never()) const {
    std::error_code ec;
    const bool r = core::wait_readable(when, ec);
    if (ec) fail(ec, "wait_readable on");
    return r;
  }
  bool wait_writable(deadline when = deadline::never()) const {
    std::error_code ec;
    const bool r = core::wait_writable(when, ec);
    if (ec) fail(ec, "wait_writable on");
    return r;
  }

  // Windows port reservations (SIO_*_PORT_RESERVATION) for IP sockets; on POSIX
  // they fail with errc::unsupported_on_platform.  acquire: `count` ports from
  // `start` (0: the system chooses), held for as long as this socket lives;
  // associate (before bind; at the end of listen/connect it is the setup step
  // vmsock::associate_port_reservation{token}): bind takes its port from them.
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  port_reservation acquire_port_reservation(std::uint16_t start, std::uint16_t count,
                                            std::error_code& ec) noexcept {
    return Policy::acquire_port_reservation(handle_, start, count, ec);
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  port_reservation acquire_port_reservation(std::uint16_t start, std::uint16_t count) {
    std::error_code ec;
    const auto r = acquire_port_reservation(start, count, ec);
    if (ec) fail(ec, "acquire_port_reservation on");
    return r;
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  void associate_port_reservation(std::uint64_t token, std::error_code& ec) noexcept {
    Policy::associate_port_reservation(handle_, token, ec);
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  void associate_port_reservation(std::uint64_t token) {
    std::error_code ec;
    associate_port_reservation(token, ec);
    if (ec) fail(ec, "associate_port_reservation on");
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  void release_port_reservation(std::uint64_t token, std::error_code& ec) noexcept {
    Policy::release_port_reservation(handle_, token, ec);
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  void release_port_reservation(std::uint64_t token) {
    std::error_code ec;
    release_port_reservation(token, ec);
    if (ec) fail(ec, "release_port_reservation on");
  }

  // An unbound socket of this endpoint type (bind/connect come later).
  static basic_socket open(socket_type type, std::error_code& ec) noexcept {
    return basic_socket(owned, Policy::open(native_family, type, native_protocol, ec), type);
  }
  static basic_socket open(socket_type type) {
    std::error_code ec;
    auto s = open(type, ec);
    if (ec) detail::throw_error(ec, detail::open_what<Endpoint>(type));
    return s;
  }

  // Binds to `ep`.
  void bind(const Endpoint& ep, std::error_code& ec) noexcept {
    os_endpoint native;
    if (!to_os(ep, native, ec)) return;
    const auto sa = native.to_native();
    Policy::bind(handle_, &sa, native.native_size(), ec);
  }
  void bind(const Endpoint& ep) {
    std::error_code ec;
    bind(ep, ec);
    if (ec) detail::throw_error(ec, "bind to", detail::describe_failure(ep, type_, ec));
  }

 protected:
  basic_socket(owned_t t, native_handle_type h, socket_type type) noexcept : core(t, h, type) {
    cancel_.shutdown_wakes = detail::shutdown_wakes_poll<Policy>(native_family);
  }

  // Connects this open socket to `native`: see socket_core::connect_native.
  void connect_to(const os_endpoint& native, const deadline& when, std::error_code& ec) noexcept {
    const auto sa = native.to_native();
    this->connect_native(&sa, native.native_size(), native_family, when, ec);
  }

  static bool to_os(const Endpoint& ep, os_endpoint& out, std::error_code& ec) noexcept {
    const errc e = os::to_os(ep, out);
    if (e != errc{}) {
      ec = make_error_code(e);
      return false;
    }
    return true;
  }
  static bool from_os(const void* sa, std::size_t len, Endpoint& out,
                      std::error_code& ec) noexcept {
    const auto native = os_endpoint::from_native(sa, len);
    if (!native) {
      ec = make_error_code(errc::address_family_mismatch);
      return false;
    }
    const errc e = os::from_os(*native, out);
    if (e != errc{}) {
      ec = make_error_code(e);
      return false;
    }
    ec.clear();
    return true;
  }

  // An accepted peer's name.  A name the endpoint type cannot express never
  // fails an accept: on a Windows host a VSOCK listener's peer is a VM by its
  // own GUID (or HV_GUID_CHILDREN...), which has no CID; it reads as
  // cid::any with the port its service id carries (port_any if none), and
  // peer_hv_endpoint() gives the VM id.  false only for a name of another
  // family (then `out` is left as it was).
  static bool peer_from_os(const void* sa, std::size_t len, Endpoint& out) noexcept {
    std::error_code ec;
    if (from_os(sa, len, out, ec)) return true;
    if constexpr (std::is_same_v<Endpoint, vsock_endpoint> &&
                  std::is_same_v<os_endpoint, hv_endpoint>) {
      if (const auto hv = os_endpoint::from_native(sa, len)) {
        out = os::peer_name_of(*hv);
        return true;
      }
    }
    return false;
  }

  // Storage big enough for the OS's form of this endpoint type.
  using native_storage = typename os_endpoint::native_type;

  Endpoint name_of(bool peer, std::error_code& ec) const noexcept {
    Endpoint ep{};
    if (!this->is_open()) {
      ec = Policy::closed_error();
      return ep;
    }
    native_storage sa{};
    std::size_t len = sizeof sa;
    if (peer)
      Policy::peer_name(handle_, &sa, len, ec);
    else
      Policy::local_name(handle_, &sa, len, ec);
    if (!ec) from_os(&sa, len, ep, ec);
    return ep;
  }

  // What an error message may name this socket by, read without allocating:
  // its peer (a connected socket, a connected datagram socket included) and
  // its own address, and the handle.
  struct names {
    native_storage peer{}, local{};
    std::size_t peer_len = 0, local_len = 0;  // 0: not known
    native_handle_type handle = Policy::invalid_handle;
  };
  names read_names() const noexcept {
    names n;
    n.handle = handle_;
    if (!this->is_open()) return n;
    std::error_code ec;
    if (!listening_) {
      n.peer_len = sizeof n.peer;
      Policy::peer_name(handle_, &n.peer, n.peer_len, ec);
      if (ec) n.peer_len = 0;
    }
    n.local_len = sizeof n.local;
    Policy::local_name(handle_, &n.local, n.local_len, ec);
    if (ec) n.local_len = 0;
    return n;
  }
  // The best of them: the peer, else the local endpoint (an accepted Unix
  // connection's peer is unnamed; the listener's path says more), else the handle.
  std::string describe(const names& n) const {
    if (n.handle == Policy::invalid_handle) return "a closed socket";
    std::error_code ec;
    Endpoint ep{};
    if (n.peer_len != 0 && from_os(&n.peer, n.peer_len, ep, ec) && !detail::is_unnamed(ep))
      return detail::describe(ep, type_);
    if (n.local_len != 0 && from_os(&n.local, n.local_len, ep, ec) && !detail::is_unnamed(ep))
      return detail::describe(ep, type_);
    std::string s = "socket ";
    detail::append_decimal(s, static_cast<std::uint64_t>(n.handle));
    return s;
  }
  // Only ever called on an error path.
  std::string describe_self() const { return describe(read_names()); }

  [[noreturn]] VMSOCK_NOINLINE void fail(const std::error_code& ec, std::string_view op) const {
    detail::throw_error(ec, op, describe_self());
  }
};

VMSOCK_END_NAMESPACE
