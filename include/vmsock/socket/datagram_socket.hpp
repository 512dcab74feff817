// datagram_socket<Endpoint, Policy>: datagrams, bound or connected.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/connected_ops.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

template <class Endpoint, class Policy, class Socket> class listener;

// A datagram socket: UDP, Unix datagram, VSOCK datagram where the transport has it.
template <class Endpoint, class Policy = default_policy>
class datagram_socket : public detail::connected_ops<datagram_socket<Endpoint, Policy>, Endpoint,
                                                     Policy, socket_type::datagram> {
  using base = detail::connected_ops<datagram_socket<Endpoint, Policy>, Endpoint, Policy,
                                     socket_type::datagram>;
  friend base;
  static_assert(!std::is_same_v<Endpoint, hv_endpoint>,
                "vmsock: Hyper-V sockets have no datagrams (AF_HYPERV is stream-only, and so is "
                "the Linux hv_sock transport)");

 public:
  datagram_socket() noexcept = default;
  // On Windows an unconnected UDP socket's receive would report an earlier
  // send's ICMP errors (see open() below); elsewhere there is nothing to ask.
  static constexpr bool reports_icmp_errors =
      detail::is_ip_endpoint<Endpoint> && detail::reports_udp_icmp_errors<Policy>::value;
  // Adopts `h` (also what hand-off and the asio hand-over do).  An
  // unconnected IP socket is made what open() makes it (below: on Windows,
  // no ICMP reports to receive_from); a connected one keeps its own.  Best
  // effort: a constructor cannot fail, and a socket that keeps the reports
  // still works.
  explicit datagram_socket(typename Policy::handle h,
                           socket_type type = socket_type::datagram) noexcept
      : base(h, type) {
    if constexpr (reports_icmp_errors) {
      if (this->is_open()) {
        std::error_code ec;
        static_cast<void>(this->peer_endpoint(ec));
        if (ec) Policy::set_udp_icmp_errors(h, false, ec);
      }
    }
  }

 private:
  template <class, class, class> friend class listener;
  datagram_socket(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:
  // An unbound datagram socket (the OS binds it on first send).  On Windows
  // an unconnected UDP socket would fail its next receive_from with
  // WSAECONNRESET once a send_to drew an ICMP port-unreachable, or
  // WSAENETRESET after a time-exceeded (Linux reports no such thing to
  // unconnected sockets): vmsock turns both off (SIO_UDP_CONNRESET,
  // SIO_UDP_NETRESET), as Go's net package does the first.  A connected one
  // keeps them: its peer's going is its own error.
  static datagram_socket open(std::error_code& ec) noexcept {
    datagram_socket s(
        base::owned,
        Policy::open(base::native_family, socket_type::datagram, base::native_protocol, ec),
        socket_type::datagram);
    if (ec) return datagram_socket{};
    if constexpr (reports_icmp_errors) {
      Policy::set_udp_icmp_errors(s.native_handle(), false, ec);
      if (ec) return datagram_socket{};
    }
    return s;
  }
  static datagram_socket open() {
    std::error_code ec;
    auto s = open(ec);
    if (ec) detail::throw_error(ec, detail::open_what<Endpoint>(socket_type::datagram));
    return s;
  }
  // A datagram socket bound to `local`.  (A factory, not named bind: the
  // member bind() of an open socket stays reachable, and s.bind(ep) binds s.)
  static datagram_socket open(const Endpoint& local, std::error_code& ec) noexcept {
    auto s = open(ec);
    if (ec) return s;
    s.bind(local, ec);
    if (ec) return datagram_socket{};
    return s;
  }
  static datagram_socket open(const Endpoint& local) {
    std::error_code ec;
    auto s = open(local, ec);
    if (ec) detail::throw_error(ec, "bind to", detail::describe(local, socket_type::datagram));
    return s;
  }
  // A datagram socket whose default destination (and only source) is
  // `remote`: connect(ep[, deadline][, setup items...][, ec]), see connected_ops.
  using base::connect;

  // Connects this open socket (bound or not) to `remote`, connect(2) on a
  // datagram socket: `remote` becomes the default destination of send and
  // the only source receive takes datagrams from.  For a socket that must
  // receive first and then answer one sender (socat's UDP-LISTEN): open(local),
  // receive_from, set_peer(sender).  Nothing waits.  On Windows the socket
  // reports its peer's going as a connected one does (both reports back on).
  void set_peer(const Endpoint& remote, std::error_code& ec) noexcept {
    typename base::os_endpoint native;
    if (!base::to_os(remote, native, ec)) return;
    this->connect_to(native, deadline::never(), ec);
    if (ec) return;
    if constexpr (reports_icmp_errors) Policy::set_udp_icmp_errors(this->native_handle(), true, ec);
  }
  void set_peer(const Endpoint& remote) {
    std::error_code ec;
    set_peer(remote, ec);
    if (ec)
      detail::throw_error(ec, "connect to",
                          detail::describe_failure(remote, socket_type::datagram, ec));
  }

  std::size_t send_to(const_buffer b, const Endpoint& to, std::error_code& ec) noexcept {
    return send_to_until(b, to, detail::forever{}, ec);
  }
  std::size_t send_to(const_buffer b, const Endpoint& to, deadline when,
                      std::error_code& ec) noexcept {
    return send_to_until(b, to, when, ec);
  }
  template <class When>
  std::size_t send_to_until(const_buffer b, const Endpoint& to, const When& when,
                            std::error_code& ec) noexcept {
    typename base::os_endpoint native;
    if (!base::to_os(to, native, ec)) return 0;
    const auto sa = native.to_native();
    if (this->waits_in_os(when)) {
      if (this->cancelled_now(ec)) return 0;
      return this->settled(
          Policy::send_to(this->handle_, &b, 1, message_flags::none, &sa, native.native_size(), ec),
          ec);
    }
    typename base::transfer t{base::transfer::kind::send_to, &b, 1, message_flags::none};
    t.to = &sa;
    t.to_len = native.native_size();
    return this->io_waiting(wait_type::writable, when, t, ec);
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_to(const R& r, const Endpoint& to, std::error_code& ec) noexcept {
    return send_to(buffer(r), to, ec);
  }
  std::size_t send_to(const_buffer b, const Endpoint& to, deadline when = deadline::never()) {
    std::error_code ec;
    const std::size_t n = send_to(b, to, when, ec);
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
    return receive_from_until(b, from, detail::forever{}, ec);
  }
  std::size_t receive_from(mutable_buffer b, Endpoint& from, deadline when,
                           std::error_code& ec) noexcept {
    return receive_from_until(b, from, when, ec);
  }
  template <class When>
  std::size_t receive_from_until(mutable_buffer b, Endpoint& from, const When& when,
                                 std::error_code& ec) noexcept {
    typename base::native_storage sa{};
    std::size_t len = sizeof sa;
    std::size_t n = 0;
    if (this->waits_in_os(when)) {
      if (this->cancelled_now(ec)) return 0;
      n = this->settled(Policy::receive_from(this->handle_, &b, 1,
                                             message_flags::report_full_length, &sa, len, ec),
                        ec);
    } else {
      typename base::transfer t{base::transfer::kind::receive_from, &b, 1,
                                message_flags::report_full_length};
      t.from = &sa;
      t.from_cap = sizeof sa;
      t.from_len = &len;
      n = this->io_waiting(wait_type::readable, when, t, ec);
    }
    // Windows reports a truncated datagram as an error, POSIX by its length;
    // either way the sender is filled in.
    const bool truncated = ec == errc::message_truncated || (!ec && n > b.size);
    if (ec && !truncated) return n;
    if (len == 0) {
      from = Endpoint{};  // a sender with no address: an unbound Unix socket (unnamed)
    } else if (!base::from_os(&sa, len, from, ec)) {
      return n;
    }
    if (truncated) ec = make_error_code(errc::message_truncated);
    return n;
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_from(R& r, Endpoint& from, std::error_code& ec) noexcept {
    return receive_from(buffer(r), from, ec);
  }
  std::size_t receive_from(mutable_buffer b, Endpoint& from) {
    return receive_from(b, from, deadline::never());
  }
  std::size_t receive_from(mutable_buffer b, Endpoint& from, deadline when) {
    std::error_code ec;
    const std::size_t n = receive_from(b, from, when, ec);
    if (ec) this->receive_failed(ec, n, b.size);
    return n;
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_from(R& r, Endpoint& from, deadline when, std::error_code& ec) noexcept {
    return receive_from(buffer(r), from, when, ec);
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_from(R& r, Endpoint& from, deadline when) {
    return receive_from(buffer(r), from, when);
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_from(R& r, Endpoint& from) {
    return receive_from(buffer(r), from);
  }
};

VMSOCK_END_NAMESPACE
