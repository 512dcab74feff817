// basic_socket<Endpoint, Policy>: one owned OS socket handle.  The socket
// categories (stream_socket, listener, datagram_socket, seqpacket_socket)
// derive from it.
//
// Every fallible operation comes twice: one throws std::system_error whose
// message names the operation and the endpoint ("connect to vsock://2:5000:
// Connection refused"); the other takes std::error_code& and is noexcept.
// Nothing here calls the OS: the Policy does.
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/config.hpp>
#include <vmsock/detail/os_address.hpp>
#include <vmsock/error.hpp>
#include <vmsock/hyperv.hpp>
#include <vmsock/inet.hpp>
#include <vmsock/options.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/socket_base.hpp>
#include <vmsock/unix.hpp>
#include <vmsock/vsock.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace vmsock {

namespace detail {

// How an endpoint is written in an error message: IP endpoints get the scheme of
// the socket type (tcp:// or udp://); the others carry their own.
template <class E>
std::string describe(const E& ep, socket_type type) {
  if constexpr (is_ip_endpoint<E>) {
    std::string s = type == socket_type::datagram ? "udp://" : "tcp://";
    s += ep.to_string();
    return s;
  } else {
    (void)type;
    return ep.to_string();
  }
}

// An accepted Unix connection's peer has no name; the listener's path says more.
template <class E>
bool is_unnamed(const E& ep) noexcept {
  if constexpr (std::is_same_v<E, unix_endpoint>)
    return ep.is_unnamed();
  else
    return (void)ep, false;
}

// "open IPv4 datagram socket": what an open() that failed was opening.
template <class E>
std::string open_what(socket_type type) {
  std::string s = "open ";
  if constexpr (std::is_same_v<E, inet4_endpoint>) s += "IPv4 ";
  else if constexpr (std::is_same_v<E, inet6_endpoint>) s += "IPv6 ";
  else if constexpr (std::is_same_v<E, unix_endpoint>) s += "Unix ";
  else if constexpr (std::is_same_v<E, vsock_endpoint>) s += "VSOCK ";
  else if constexpr (std::is_same_v<E, hv_endpoint>) s += "Hyper-V ";
  s += type == socket_type::stream ? "stream" : type == socket_type::datagram ? "datagram" : "seqpacket";
  s += " socket";
  return s;
}

// Policies that must account for a handle the user hands over (Winsock's
// start-up reference) provide adopt(); for the others it is nothing.
template <class Policy, class = void>
struct has_adopt : std::false_type {};
template <class Policy>
struct has_adopt<Policy, std::void_t<decltype(Policy::adopt(Policy::invalid_handle))>>
    : std::true_type {};

template <class Policy>
void adopt_handle(typename Policy::handle h) noexcept {
  if constexpr (has_adopt<Policy>::value) Policy::adopt(h);
  else (void)h;
}

inline bool would_block(const std::error_code& ec) noexcept {
  return ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again;
}

}  // namespace detail

template <class Endpoint, class Policy = default_policy>
class basic_socket {
 protected:
  using os = detail::os_address<Policy, Endpoint>;
  using os_endpoint = typename os::type;

 public:
  using endpoint_type = Endpoint;
  using policy_type = Policy;
  using native_handle_type = typename Policy::handle;

  // The family and protocol the OS sees: AF_VSOCK for an hv_endpoint on Linux,
  // AF_HYPERV for a vsock_endpoint on Windows.
  static constexpr int native_family = os_endpoint::family;
  static constexpr int native_protocol = os_endpoint::protocol;

  basic_socket() noexcept = default;
  // Adopts an open handle of the given type; the socket closes it.  (On
  // Windows the policy takes a Winsock reference for it, released by close.)
  explicit basic_socket(native_handle_type h, socket_type type = socket_type::stream) noexcept
      : handle_(h), type_(type) {
    if (h != Policy::invalid_handle) detail::adopt_handle<Policy>(h);
  }

  basic_socket(const basic_socket&) = delete;
  basic_socket& operator=(const basic_socket&) = delete;
  basic_socket(basic_socket&& o) noexcept
      : handle_(std::exchange(o.handle_, Policy::invalid_handle)),
        type_(o.type_),
        nonblocking_(o.nonblocking_) {}
  basic_socket& operator=(basic_socket&& o) noexcept {
    if (this != &o) {
      reset();
      handle_ = std::exchange(o.handle_, Policy::invalid_handle);
      type_ = o.type_;
      nonblocking_ = o.nonblocking_;
    }
    return *this;
  }
  ~basic_socket() { reset(); }

  native_handle_type native_handle() const noexcept { return handle_; }
  bool is_open() const noexcept { return handle_ != Policy::invalid_handle; }
  socket_type type() const noexcept { return type_; }
  // Gives up ownership: the caller closes the returned handle (on Windows it
  // also owns the handle's WSAStartup reference: see policy/winsock.hpp).
  native_handle_type release() noexcept { return std::exchange(handle_, Policy::invalid_handle); }

  // The handle is released even when the OS reports an error for the close.
  void close(std::error_code& ec) noexcept {
    if (!is_open()) {
      ec.clear();
      return;
    }
    Policy::close(release(), ec);
  }
  void close() {
    if (!is_open()) return;
    // The names are read (no allocation) while the handle lives, and turned
    // into text only if the close fails.
    const names n = read_names();
    std::error_code ec;
    close(ec);
    if (ec) detail::throw_error(ec, "close of", describe(n));
  }

  Endpoint local_endpoint(std::error_code& ec) const noexcept {
    return name_of(false, ec);
  }
  Endpoint local_endpoint() const {
    std::error_code ec;
    auto ep = local_endpoint(ec);
    if (ec) fail(ec, "local_endpoint of");
    return ep;
  }

  template <class Option>
  void set_option(const Option& opt, std::error_code& ec) noexcept {
    static_assert(Option::template applies_to<Endpoint>,
                  "vmsock: this socket option does not apply to this endpoint type");
    if (const errc e = opt.validate(); e != errc{}) {
      ec = make_error_code(e);
      return;
    }
    Policy::set_option(handle_, Option::id, opt.encode(), ec);
  }
  template <class Option>
  void set_option(const Option& opt) {
    std::error_code ec;
    set_option(opt, ec);
    if (ec) fail(ec, "set_option on");
  }

  template <class Option>
  Option get_option(std::error_code& ec) const noexcept {
    static_assert(Option::template applies_to<Endpoint>,
                  "vmsock: this socket option does not apply to this endpoint type");
    option_value v;
    Policy::get_option(handle_, Option::id, v, ec);
    if (ec) return Option{};
    return Option::template decode<Option>(v);
  }
  template <class Option>
  Option get_option() const {
    std::error_code ec;
    auto o = get_option<Option>(ec);
    if (ec) fail(ec, "get_option on");
    return o;
  }

  void set_nonblocking(bool on, std::error_code& ec) noexcept {
    Policy::set_nonblocking(handle_, on, ec);
    if (!ec) nonblocking_ = on;
  }
  void set_nonblocking(bool on) {
    std::error_code ec;
    set_nonblocking(on, ec);
    if (ec) fail(ec, "set_nonblocking on");
  }
  bool is_nonblocking() const noexcept { return nonblocking_; }

  // true when ready; false when the timeout expired (not an error).
  bool wait_readable(timeout t, std::error_code& ec) const noexcept {
    return Policy::poll(handle_, wait_type::readable, t, ec);
  }
  bool wait_readable(timeout t = no_timeout) const {
    std::error_code ec;
    const bool r = wait_readable(t, ec);
    if (ec) fail(ec, "wait_readable on");
    return r;
  }
  bool wait_writable(timeout t, std::error_code& ec) const noexcept {
    return Policy::poll(handle_, wait_type::writable, t, ec);
  }
  bool wait_writable(timeout t = no_timeout) const {
    std::error_code ec;
    const bool r = wait_writable(t, ec);
    if (ec) fail(ec, "wait_writable on");
    return r;
  }

  // Windows port reservations (SIO_*_PORT_RESERVATION) for IP sockets; on POSIX
  // they fail with errc::unsupported_on_platform.
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  std::uint64_t acquire_port_reservation(std::uint16_t start, std::uint16_t count,
                                         std::error_code& ec) noexcept {
    return Policy::acquire_port_reservation(handle_, start, count, ec);
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  std::uint64_t acquire_port_reservation(std::uint16_t start, std::uint16_t count) {
    std::error_code ec;
    const auto token = acquire_port_reservation(start, count, ec);
    if (ec) fail(ec, "acquire_port_reservation on");
    return token;
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
    if (ec) detail::throw_error(ec, "bind to", detail::describe(ep, type_));
  }

 protected:
  // Wraps a handle the policy just opened or accepted (which already holds
  // whatever the policy needs): no adoption step.
  struct owned_t {};
  static constexpr owned_t owned{};
  basic_socket(owned_t, native_handle_type h, socket_type type) noexcept : handle_(h), type_(type) {}

  static bool to_os(const Endpoint& ep, os_endpoint& out, std::error_code& ec) noexcept {
    const errc e = os::to_os(ep, out);
    if (e != errc{}) {
      ec = make_error_code(e);
      return false;
    }
    return true;
  }
  static bool from_os(const void* sa, std::size_t len, Endpoint& out, std::error_code& ec) noexcept {
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

  // Storage big enough for the OS's form of this endpoint type.
  using native_storage = typename os_endpoint::native_type;

  Endpoint name_of(bool peer, std::error_code& ec) const noexcept {
    native_storage sa{};
    std::size_t len = sizeof sa;
    if (peer)
      Policy::peer_name(handle_, &sa, len, ec);
    else
      Policy::local_name(handle_, &sa, len, ec);
    Endpoint ep{};
    if (!ec) from_os(&sa, len, ep, ec);
    return ep;
  }

  // A socket timeout on a blocking socket surfaces as EAGAIN on POSIX and as
  // WSAETIMEDOUT on Windows; both become timed_out.  On a non-blocking socket
  // EAGAIN stays what it is: "try again".
  void normalize_timeout(std::error_code& ec) const noexcept {
    if (!nonblocking_ && detail::would_block(ec)) ec = make_error_code(errc::timed_out);
  }

  // What an error message may name this socket by, read without allocating:
  // its peer (connected kinds) and its own address, and the handle.
  struct names {
    native_storage peer{}, local{};
    std::size_t peer_len = 0, local_len = 0;  // 0: not known
    native_handle_type handle = Policy::invalid_handle;
  };
  names read_names() const noexcept {
    names n;
    n.handle = handle_;
    if (!is_open()) return n;
    std::error_code ec;
    if (type_ != socket_type::datagram) {
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

  void reset() noexcept {
    if (is_open()) {
      std::error_code ignored;
      Policy::close(release(), ignored);
    }
  }

  native_handle_type handle_ = Policy::invalid_handle;
  socket_type type_ = socket_type::stream;
  bool nonblocking_ = false;
};

}  // namespace vmsock
