// basic_socket<Endpoint, Policy>: one owned OS socket handle, and the socket
// categories built on it: stream_socket, listener, datagram_socket,
// seqpacket_socket (with seqpacket_listener).
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
  // Gives up ownership: the caller closes the returned handle.
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
    std::error_code ec;
    const auto what = is_open() ? describe_self() : std::string();
    close(ec);
    if (ec) detail::throw_error(ec, "close", what);
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
    if (ec) detail::throw_error(ec, "open socket for", detail::describe(Endpoint{}, type));
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

  // The best name for this socket in an error message: the peer, else the
  // local endpoint, else the handle.  Only ever called on an error path.
  std::string describe_self() const {
    if (!is_open()) return "a closed socket";
    std::error_code ec;
    if (type_ != socket_type::datagram) {
      const Endpoint peer = name_of(true, ec);
      if (!ec && !detail::is_unnamed(peer)) return detail::describe(peer, type_);
    }
    const Endpoint local = name_of(false, ec);
    if (!ec && !detail::is_unnamed(local)) return detail::describe(local, type_);
    std::string s = "socket ";
    detail::append_decimal(s, static_cast<std::uint64_t>(handle_));
    return s;
  }

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

namespace detail {

// Connected-socket operations shared by stream and seqpacket sockets, and by
// connected datagram sockets: send and receive with every buffer form.
template <class Derived, class Endpoint, class Policy>
class connected_ops : public basic_socket<Endpoint, Policy> {
  using base = basic_socket<Endpoint, Policy>;

 public:
  using base::base;

 protected:
  connected_ops(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:
  // ---- send ----
  std::size_t send(const const_buffer* bufs, std::size_t count, message_flags flags,
                   std::error_code& ec) noexcept {
    const std::size_t n = Policy::send(this->handle_, bufs, count, flags, ec);
    if (ec) this->normalize_timeout(ec);
    return n;
  }
  std::size_t send(const_buffer b, message_flags flags, std::error_code& ec) noexcept {
    return send(&b, 1, flags, ec);
  }
  std::size_t send(const_buffer b, std::error_code& ec) noexcept {
    return send(&b, 1, message_flags::none, ec);
  }
  std::size_t send(std::initializer_list<const_buffer> bufs, std::error_code& ec) noexcept {
    return send(bufs.begin(), bufs.size(), message_flags::none, ec);
  }
  std::size_t send(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return send(const_buffer{data, size}, ec);
  }
  template <class R, std::enable_if_t<is_const_range<R>, int> = 0>
  std::size_t send(const R& r, std::error_code& ec) noexcept {
    return send(buffer(r), ec);
  }

  std::size_t send(const const_buffer* bufs, std::size_t count,
                   message_flags flags = message_flags::none) {
    std::error_code ec;
    const std::size_t n = send(bufs, count, flags, ec);
    if (ec) this->fail(ec, "send to");
    return n;
  }
  std::size_t send(const_buffer b, message_flags flags = message_flags::none) {
    return send(&b, 1, flags);
  }
  std::size_t send(std::initializer_list<const_buffer> bufs) {
    return send(bufs.begin(), bufs.size());
  }
  std::size_t send(const void* data, std::size_t size) { return send(const_buffer{data, size}); }
  template <class R, std::enable_if_t<is_const_range<R>, int> = 0>
  std::size_t send(const R& r) {
    return send(buffer(r));
  }

  // ---- receive ----
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                      std::error_code& ec) noexcept {
    return static_cast<Derived*>(this)->do_receive(bufs, count, flags, ec);
  }
  std::size_t receive(mutable_buffer b, message_flags flags, std::error_code& ec) noexcept {
    return receive(&b, 1, flags, ec);
  }
  std::size_t receive(mutable_buffer b, std::error_code& ec) noexcept {
    return receive(&b, 1, message_flags::none, ec);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> bufs, std::error_code& ec) noexcept {
    return receive(bufs.begin(), bufs.size(), message_flags::none, ec);
  }
  std::size_t receive(void* data, std::size_t size, std::error_code& ec) noexcept {
    return receive(mutable_buffer{data, size}, ec);
  }
  template <class R, std::enable_if_t<is_mutable_range<R>, int> = 0>
  std::size_t receive(R& r, std::error_code& ec) noexcept {
    return receive(buffer(r), ec);
  }

  std::size_t receive(const mutable_buffer* bufs, std::size_t count,
                      message_flags flags = message_flags::none) {
    std::error_code ec;
    const std::size_t n = receive(bufs, count, flags, ec);
    if (ec) static_cast<Derived*>(this)->receive_failed(ec, n, total_size(bufs, count));
    return n;
  }
  std::size_t receive(mutable_buffer b, message_flags flags = message_flags::none) {
    return receive(&b, 1, flags);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> bufs) {
    return receive(bufs.begin(), bufs.size());
  }
  std::size_t receive(void* data, std::size_t size) { return receive(mutable_buffer{data, size}); }
  template <class R, std::enable_if_t<is_mutable_range<R>, int> = 0>
  std::size_t receive(R& r) {
    return receive(buffer(r));
  }

  void shutdown(shutdown_type how, std::error_code& ec) noexcept {
    Policy::shutdown(this->handle_, how, ec);
  }
  void shutdown(shutdown_type how) {
    std::error_code ec;
    shutdown(how, ec);
    if (ec) this->fail(ec, "shutdown of");
  }

  Endpoint peer_endpoint(std::error_code& ec) const noexcept { return this->name_of(true, ec); }
  Endpoint peer_endpoint() const {
    std::error_code ec;
    auto ep = peer_endpoint(ec);
    if (ec) this->fail(ec, "peer_endpoint of");
    return ep;
  }

 protected:
  // Opens a socket of the derived type and connects it, waiting at most `t`.
  static Derived connect_socket(socket_type type, const Endpoint& remote, const Endpoint* local,
                                timeout t, std::error_code& ec) noexcept {
    typename base::os_endpoint native;
    if (!base::to_os(remote, native, ec)) return Derived{};
    base s = base::open(type, ec);
    if (ec) return Derived{};
    Derived d(base::owned, s.release(), type);
    if (local != nullptr) {
      d.bind(*local, ec);
      if (ec) return Derived{};
    }
    const auto sa = native.to_native();
    if (t < timeout::zero()) {
      Policy::connect(d.handle_, &sa, native.native_size(), ec);
      if (ec) return Derived{};
      return d;
    }
    // Timed: connect without blocking, wait for writability, read the result.
    Policy::set_nonblocking(d.handle_, true, ec);
    if (ec) return Derived{};
    Policy::connect(d.handle_, &sa, native.native_size(), ec);
    // Only "in progress" means the connect goes on; an AF_UNIX EAGAIN (a full
    // backlog) means it did not start.
    if (ec == std::errc::operation_in_progress) {
      if (!Policy::poll(d.handle_, wait_type::writable, t, ec)) {
        if (!ec) ec = make_error_code(errc::timed_out);
        return Derived{};
      }
      Policy::pending_error(d.handle_, ec);
    }
    if (ec) return Derived{};
    Policy::set_nonblocking(d.handle_, false, ec);
    if (ec) return Derived{};
    return d;
  }

  // The default receive: a stream; zero means the peer closed its sending side.
  std::size_t do_receive(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                         std::error_code& ec) noexcept {
    const std::size_t n = Policy::receive(this->handle_, bufs, count, flags, ec);
    if (ec) this->normalize_timeout(ec);
    return n;
  }
  [[noreturn]] VMSOCK_NOINLINE void receive_failed(const std::error_code& ec, std::size_t,
                                                   std::size_t) const {
    this->fail(ec, "receive from");
  }

  // A message receive (datagram, seqpacket): the full length is asked for, and a
  // message larger than the buffers is reported as message_truncated with that length.
  std::size_t receive_message(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                              std::error_code& ec) noexcept {
    const std::size_t n = Policy::receive(this->handle_, bufs, count,
                                          flags | message_flags::report_full_length, ec);
    if (ec) {
      this->normalize_timeout(ec);
      return n;
    }
    if (n > total_size(bufs, count)) ec = make_error_code(errc::message_truncated);
    return n;
  }
};

[[noreturn]] VMSOCK_NOINLINE inline void throw_message_error(const std::error_code& ec,
                                                             std::string what, std::size_t n,
                                                             std::size_t capacity) {
  if (ec == errc::message_truncated) {
    if (n > capacity) {
      what += " (message of ";
      append_decimal(what, n);
      what += " bytes, buffer of ";
    } else {  // the OS did not say how large it was (Windows)
      what += " (message larger than the buffer of ";
    }
    append_decimal(what, capacity);
    what += ')';
  }
  throw_error(ec, "receive from", what);
}

}  // namespace detail

// A connected byte stream: TCP, Unix stream, VSOCK stream, Hyper-V socket.
template <class Endpoint, class Policy = default_policy>
class stream_socket
    : public detail::connected_ops<stream_socket<Endpoint, Policy>, Endpoint, Policy> {
  using base = detail::connected_ops<stream_socket<Endpoint, Policy>, Endpoint, Policy>;
  friend base;

 public:
  stream_socket() noexcept = default;
  explicit stream_socket(typename Policy::handle h,
                         socket_type type = socket_type::stream) noexcept
      : base(h, type) {}

 private:
  template <class, class, class>
  friend class listener;
  stream_socket(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:

  // Create, connect, return the connected socket: one call.  With a timeout the
  // connect is non-blocking plus a wait; expiry is errc::timed_out
  // (== std::errc::timed_out).
  static stream_socket connect(const Endpoint& remote, timeout t, std::error_code& ec) noexcept {
    return base::connect_socket(socket_type::stream, remote, nullptr, t, ec);
  }
  static stream_socket connect(const Endpoint& remote, std::error_code& ec) noexcept {
    return connect(remote, no_timeout, ec);
  }
  // As connect, from a given local endpoint (bound first).
  static stream_socket connect(const Endpoint& remote, const Endpoint& local, timeout t,
                               std::error_code& ec) noexcept {
    return base::connect_socket(socket_type::stream, remote, &local, t, ec);
  }
  static stream_socket connect(const Endpoint& remote, timeout t = no_timeout) {
    std::error_code ec;
    auto s = connect(remote, t, ec);
    if (ec) detail::throw_error(ec, "connect to", detail::describe(remote, socket_type::stream));
    return s;
  }
  static stream_socket connect(const Endpoint& remote, const Endpoint& local,
                               timeout t = no_timeout) {
    std::error_code ec;
    auto s = connect(remote, local, t, ec);
    if (ec) detail::throw_error(ec, "connect to", detail::describe(remote, socket_type::stream));
    return s;
  }

  // Sends every byte, looping over short writes (and, on a non-blocking socket,
  // waiting for room).  Returns the bytes sent: all of them unless ec is set.
  std::size_t send_all(const const_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return transfer_all<true>(bufs, count, ec);
  }
  std::size_t send_all(const_buffer b, std::error_code& ec) noexcept { return send_all(&b, 1, ec); }
  std::size_t send_all(std::initializer_list<const_buffer> bufs, std::error_code& ec) noexcept {
    return send_all(bufs.begin(), bufs.size(), ec);
  }
  std::size_t send_all(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return send_all(const_buffer{data, size}, ec);
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r, std::error_code& ec) noexcept {
    return send_all(buffer(r), ec);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count) {
    std::error_code ec;
    const std::size_t n = send_all(bufs, count, ec);
    if (ec) partial_failure(ec, "send_all to", n, total_size(bufs, count), "sent");
    return n;
  }
  std::size_t send_all(const_buffer b) { return send_all(&b, 1); }
  std::size_t send_all(std::initializer_list<const_buffer> bufs) {
    return send_all(bufs.begin(), bufs.size());
  }
  std::size_t send_all(const void* data, std::size_t size) { return send_all(const_buffer{data, size}); }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r) {
    return send_all(buffer(r));
  }

  // Fills the buffers completely.  If the peer closes first the error is
  // errc::end_of_stream and the result says how many bytes did arrive.
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count,
                            std::error_code& ec) noexcept {
    return transfer_all<false>(bufs, count, ec);
  }
  std::size_t receive_exact(mutable_buffer b, std::error_code& ec) noexcept {
    return receive_exact(&b, 1, ec);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> bufs, std::error_code& ec) noexcept {
    return receive_exact(bufs.begin(), bufs.size(), ec);
  }
  std::size_t receive_exact(void* data, std::size_t size, std::error_code& ec) noexcept {
    return receive_exact(mutable_buffer{data, size}, ec);
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_exact(R& r, std::error_code& ec) noexcept {
    return receive_exact(buffer(r), ec);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count) {
    std::error_code ec;
    const std::size_t n = receive_exact(bufs, count, ec);
    if (ec) partial_failure(ec, "receive_exact from", n, total_size(bufs, count), "received");
    return n;
  }
  std::size_t receive_exact(mutable_buffer b) { return receive_exact(&b, 1); }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> bufs) {
    return receive_exact(bufs.begin(), bufs.size());
  }
  std::size_t receive_exact(void* data, std::size_t size) {
    return receive_exact(mutable_buffer{data, size});
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_exact(R& r) {
    return receive_exact(buffer(r));
  }

 private:
  // Moves through a buffer sequence without copying it: `first` is the index
  // of the first unfinished buffer and `offset` how far into it we are.
  template <bool Sending, class Buffer>
  std::size_t transfer_all(const Buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    std::size_t done = 0;
    std::size_t first = 0;
    std::size_t offset = 0;
    ec.clear();
    while (first < count && bufs[first].size == offset) ++first, offset = 0;
    while (first < count) {
      // The current window: the rest of bufs[first], then whole buffers.
      Buffer window[Policy::max_buffers];
      std::size_t n = 0;
      for (std::size_t i = first; i < count && n < Policy::max_buffers; ++i) {
        if (i == first)
          window[n++] = Buffer{static_cast<decltype(Buffer{}.data)>(
                                   static_cast<std::conditional_t<Sending, const char*, char*>>(
                                       bufs[i].data) + offset),
                               bufs[i].size - offset};
        else if (bufs[i].size != 0)
          window[n++] = bufs[i];
      }
      std::size_t got = 0;
      if constexpr (Sending)
        got = Policy::send(this->handle_, window, n, message_flags::none, ec);
      else
        got = Policy::receive(this->handle_, window, n, message_flags::none, ec);
      if (ec) {
        if (this->nonblocking_ && detail::would_block(ec)) {
          if (!Policy::poll(this->handle_, Sending ? wait_type::writable : wait_type::readable,
                            no_timeout, ec))
            return done;
          continue;
        }
        this->normalize_timeout(ec);
        return done;
      }
      if (!Sending && got == 0) {
        ec = make_error_code(errc::end_of_stream);
        return done;
      }
      done += got;
      // Advance (first, offset) by `got` bytes.
      while (got > 0 && first < count) {
        const std::size_t left = bufs[first].size - offset;
        if (got < left) {
          offset += got;
          got = 0;
        } else {
          got -= left;
          ++first;
          offset = 0;
        }
      }
      while (first < count && bufs[first].size == offset) ++first, offset = 0;
    }
    return done;
  }

  [[noreturn]] VMSOCK_NOINLINE void partial_failure(const std::error_code& ec, std::string_view op,
                                                    std::size_t done, std::size_t total,
                                                    const char* verb) const {
    std::string what = this->describe_self();
    what += " (";
    detail::append_decimal(what, done);
    what += " of ";
    detail::append_decimal(what, total);
    what += " bytes ";
    what += verb;
    what += ')';
    detail::throw_error(ec, op, what);
  }
};

// A datagram socket: UDP, Unix datagram, VSOCK datagram where the transport has it.
template <class Endpoint, class Policy = default_policy>
class datagram_socket
    : public detail::connected_ops<datagram_socket<Endpoint, Policy>, Endpoint, Policy> {
  using base = detail::connected_ops<datagram_socket<Endpoint, Policy>, Endpoint, Policy>;
  friend base;

 public:
  datagram_socket() noexcept = default;
  explicit datagram_socket(typename Policy::handle h,
                           socket_type type = socket_type::datagram) noexcept
      : base(h, type) {}

 private:
  template <class, class, class>
  friend class listener;
  datagram_socket(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:

  // An unbound datagram socket (the OS binds it on first send).
  static datagram_socket open(std::error_code& ec) noexcept {
    auto s = basic_socket<Endpoint, Policy>::open(socket_type::datagram, ec);
    return datagram_socket(base::owned, s.release(), socket_type::datagram);
  }
  static datagram_socket open() {
    std::error_code ec;
    auto s = open(ec);
    if (ec) detail::throw_error(ec, "open datagram socket");
    return s;
  }
  // A datagram socket bound to `local`.
  static datagram_socket bind(const Endpoint& local, std::error_code& ec) noexcept {
    auto s = open(ec);
    if (ec) return s;
    s.basic_socket<Endpoint, Policy>::bind(local, ec);
    if (ec) return datagram_socket{};
    return s;
  }
  static datagram_socket bind(const Endpoint& local) {
    std::error_code ec;
    auto s = bind(local, ec);
    if (ec) detail::throw_error(ec, "bind to", detail::describe(local, socket_type::datagram));
    return s;
  }
  // A datagram socket whose default destination (and only source) is `remote`.
  static datagram_socket connect(const Endpoint& remote, std::error_code& ec) noexcept {
    return base::connect_socket(socket_type::datagram, remote, nullptr, no_timeout, ec);
  }
  static datagram_socket connect(const Endpoint& remote) {
    std::error_code ec;
    auto s = connect(remote, ec);
    if (ec) detail::throw_error(ec, "connect to", detail::describe(remote, socket_type::datagram));
    return s;
  }

  std::size_t send_to(const_buffer b, const Endpoint& to, std::error_code& ec) noexcept {
    typename base::os_endpoint native;
    if (!base::to_os(to, native, ec)) return 0;
    const auto sa = native.to_native();
    const std::size_t n =
        Policy::send_to(this->handle_, &b, 1, message_flags::none, &sa, native.native_size(), ec);
    if (ec) this->normalize_timeout(ec);
    return n;
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_to(const R& r, const Endpoint& to, std::error_code& ec) noexcept {
    return send_to(buffer(r), to, ec);
  }
  std::size_t send_to(const_buffer b, const Endpoint& to) {
    std::error_code ec;
    const std::size_t n = send_to(b, to, ec);
    if (ec) detail::throw_error(ec, "send_to", detail::describe(to, socket_type::datagram));
    return n;
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_to(const R& r, const Endpoint& to) {
    return send_to(buffer(r), to);
  }

  // Receives one datagram and its sender.  When the datagram is larger than the
  // buffer, the buffer holds its start, the result is the datagram's full size
  // and ec is errc::message_truncated.
  std::size_t receive_from(mutable_buffer b, Endpoint& from, std::error_code& ec) noexcept {
    typename base::native_storage sa{};
    std::size_t len = sizeof sa;
    const std::size_t n = Policy::receive_from(this->handle_, &b, 1,
                                               message_flags::report_full_length, &sa, len, ec);
    if (ec) {
      this->normalize_timeout(ec);
      return n;
    }
    if (len == 0) {
      from = Endpoint{};  // a sender with no address: an unbound Unix socket (unnamed)
    } else if (!base::from_os(&sa, len, from, ec)) {
      return n;
    }
    if (n > b.size) ec = make_error_code(errc::message_truncated);
    return n;
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_from(R& r, Endpoint& from, std::error_code& ec) noexcept {
    return receive_from(buffer(r), from, ec);
  }
  std::size_t receive_from(mutable_buffer b, Endpoint& from) {
    std::error_code ec;
    const std::size_t n = receive_from(b, from, ec);
    if (ec) this->receive_failed(ec, n, b.size);
    return n;
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_from(R& r, Endpoint& from) {
    return receive_from(buffer(r), from);
  }

 private:
  std::size_t do_receive(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                         std::error_code& ec) noexcept {
    return this->receive_message(bufs, count, flags, ec);
  }
  [[noreturn]] VMSOCK_NOINLINE void receive_failed(const std::error_code& ec, std::size_t n,
                                                   std::size_t capacity) const {
    detail::throw_message_error(ec, this->describe_self(), n, capacity);
  }
};


// A connected socket that keeps message boundaries: VSOCK SOCK_SEQPACKET (Linux
// 5.16+), Unix SOCK_SEQPACKET.  Each send is one message; each receive takes one
// message, reporting errc::message_truncated (with the full length as result)
// when the message did not fit.
template <class Endpoint, class Policy = default_policy>
class seqpacket_socket
    : public detail::connected_ops<seqpacket_socket<Endpoint, Policy>, Endpoint, Policy> {
  using base = detail::connected_ops<seqpacket_socket<Endpoint, Policy>, Endpoint, Policy>;
  friend base;

 public:
  static constexpr socket_type kind = socket_type::seqpacket;

  seqpacket_socket() noexcept = default;
  explicit seqpacket_socket(typename Policy::handle h,
                            socket_type type = socket_type::seqpacket) noexcept
      : base(h, type) {}

 private:
  template <class, class, class>
  friend class listener;
  seqpacket_socket(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:

  static seqpacket_socket connect(const Endpoint& remote, timeout t, std::error_code& ec) noexcept {
    return base::connect_socket(socket_type::seqpacket, remote, nullptr, t, ec);
  }
  static seqpacket_socket connect(const Endpoint& remote, std::error_code& ec) noexcept {
    return connect(remote, no_timeout, ec);
  }
  static seqpacket_socket connect(const Endpoint& remote, timeout t = no_timeout) {
    std::error_code ec;
    auto s = connect(remote, t, ec);
    if (ec) detail::throw_error(ec, "connect to", detail::describe(remote, socket_type::seqpacket));
    return s;
  }

 private:
  std::size_t do_receive(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                         std::error_code& ec) noexcept {
    return this->receive_message(bufs, count, flags, ec);
  }
  [[noreturn]] VMSOCK_NOINLINE void receive_failed(const std::error_code& ec, std::size_t n,
                                                   std::size_t capacity) const {
    detail::throw_message_error(ec, this->describe_self(), n, capacity);
  }
};

// A listening socket.  accept() returns a connected Socket (a stream_socket by
// default; seqpacket_listener accepts seqpacket_sockets).
template <class Endpoint, class Policy = default_policy,
          class Socket = stream_socket<Endpoint, Policy>>
class listener : public basic_socket<Endpoint, Policy> {
  using base = basic_socket<Endpoint, Policy>;

 public:
  using socket_type_t = Socket;
  static constexpr int default_backlog = Policy::max_backlog;

  listener() noexcept = default;
  explicit listener(typename Policy::handle h, socket_type type = socket_kind()) noexcept
      : base(h, type) {}

  // Create, bind, listen: one call.  IP listeners get reuse_address where the
  // policy says it is safe (POSIX).
  static listener listen(const Endpoint& local, int backlog, std::error_code& ec) noexcept {
    const socket_type type = socket_kind();
    auto s = base::open(type, ec);
    if (ec) return listener{};
    listener l(base::owned, s.release(), type);
    if constexpr (detail::is_ip_endpoint<Endpoint>) {
      if (Policy::listener_reuse_address) {
        l.set_option(reuse_address{true}, ec);
        if (ec) return listener{};
      }
    }
    l.bind(local, ec);
    if (ec) return listener{};
    Policy::listen(l.handle_, backlog, ec);
    if (ec) return listener{};
    return l;
  }
  static listener listen(const Endpoint& local, std::error_code& ec) noexcept {
    return listen(local, default_backlog, ec);
  }
  static listener listen(const Endpoint& local, int backlog = default_backlog) {
    std::error_code ec;
    auto l = listen(local, backlog, ec);
    if (ec) detail::throw_error(ec, "listen on", detail::describe(local, socket_kind()));
    return l;
  }

  // Waits for and returns the next connection (and, with `peer`, who it is from).
  Socket accept(Endpoint& peer, std::error_code& ec) noexcept {
    typename base::native_storage sa{};
    std::size_t len = sizeof sa;
    Socket s(base::owned, Policy::accept(this->handle_, &sa, len, ec), socket_kind());
    if (ec) {
      this->normalize_timeout(ec);
      return Socket{};
    }
    if (!base::from_os(&sa, len, peer, ec)) return Socket{};
    return s;
  }
  Socket accept(std::error_code& ec) noexcept {
    Endpoint ignored{};
    return accept(ignored, ec);
  }
  // Waits at most `t`; expiry is errc::timed_out.
  Socket accept(timeout t, Endpoint& peer, std::error_code& ec) noexcept {
    if (!Policy::poll(this->handle_, wait_type::readable, t, ec)) {
      if (!ec) ec = make_error_code(errc::timed_out);
      return Socket{};
    }
    return accept(peer, ec);
  }
  Socket accept(timeout t, std::error_code& ec) noexcept {
    Endpoint ignored{};
    return accept(t, ignored, ec);
  }

  Socket accept(Endpoint& peer) {
    std::error_code ec;
    auto s = accept(peer, ec);
    if (ec) this->fail(ec, "accept on");
    return s;
  }
  Socket accept() {
    Endpoint ignored{};
    return accept(ignored);
  }
  Socket accept(timeout t, Endpoint& peer) {
    std::error_code ec;
    auto s = accept(t, peer, ec);
    if (ec) this->fail(ec, "accept on");
    return s;
  }
  Socket accept(timeout t) {
    Endpoint ignored{};
    return accept(t, ignored);
  }

 private:
  listener(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

  static constexpr socket_type socket_kind() noexcept {
    if constexpr (std::is_same_v<Socket, seqpacket_socket<Endpoint, Policy>>)
      return socket_type::seqpacket;
    else
      return socket_type::stream;
  }
};

template <class Endpoint, class Policy = default_policy>
using seqpacket_listener = listener<Endpoint, Policy, seqpacket_socket<Endpoint, Policy>>;

// Names for the common cases.
using tcp4_socket = stream_socket<inet4_endpoint>;
using tcp6_socket = stream_socket<inet6_endpoint>;
using tcp4_listener = listener<inet4_endpoint>;
using tcp6_listener = listener<inet6_endpoint>;
using udp4_socket = datagram_socket<inet4_endpoint>;
using udp6_socket = datagram_socket<inet6_endpoint>;
using unix_stream_socket = stream_socket<unix_endpoint>;
using unix_listener = listener<unix_endpoint>;
using unix_datagram_socket = datagram_socket<unix_endpoint>;
using vsock_stream_socket = stream_socket<vsock_endpoint>;
using vsock_listener = listener<vsock_endpoint>;
using vsock_seqpacket_socket = seqpacket_socket<vsock_endpoint>;
using vsock_seqpacket_listener = seqpacket_listener<vsock_endpoint>;
using hv_stream_socket = stream_socket<hv_endpoint>;
using hv_listener = listener<hv_endpoint>;

}  // namespace vmsock
