// The operations every connected socket shares (send and receive in every
// buffer form, with or without a deadline, shutdown, peer_endpoint, the
// connect step), for stream_socket, datagram_socket and seqpacket_socket.
// Every buffer form (a buffer or range, pointer and size, an initializer_list
// of buffers, a pointer to buffers and their count) comes with and without a
// deadline, each throwing and with a trailing std::error_code&.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/basic_socket.hpp>
#include <vmsock/socket/detail/setup.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE

namespace detail {

// Connected-socket operations shared by stream and seqpacket sockets, and by
// connected datagram sockets: send and receive with every buffer form.  Kind
// says whether a receive is a byte stream (zero bytes: the peer is done) or a
// message (its full length is asked for; a larger one is message_truncated).
template <class Derived, class Endpoint, class Policy, socket_type Kind>
class connected_ops : public basic_socket<Endpoint, Policy> {
  using base = basic_socket<Endpoint, Policy>;

 public:
  static constexpr socket_type kind = Kind;
  using base::base;

 protected:
  connected_ops(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:
  // ---- send ----
  // Waits (until the deadline, if one is given) for room for at least one
  // byte, and sends what fits: the count.
  std::size_t send(const const_buffer* bufs, std::size_t count, message_flags flags,
                   std::error_code& ec) noexcept {
    return this->send_until(bufs, count, flags, forever{}, ec);
  }
  std::size_t send(const_buffer b, message_flags flags, std::error_code& ec) noexcept {
    return send(&b, 1, flags, ec);
  }
  std::size_t send(const_buffer b, std::error_code& ec) noexcept {
    return send(&b, 1, message_flags::none, ec);
  }
  std::size_t send(const_buffer b, deadline when, std::error_code& ec) noexcept {
    return this->send_until(&b, 1, message_flags::none, when, ec);
  }
  std::size_t send(const const_buffer* bufs, std::size_t count, deadline when,
                   std::error_code& ec) noexcept {
    return this->send_until(bufs, count, message_flags::none, when, ec);
  }
  std::size_t send(std::initializer_list<const_buffer> bufs, std::error_code& ec) noexcept {
    return send(bufs.begin(), bufs.size(), message_flags::none, ec);
  }
  std::size_t send(std::initializer_list<const_buffer> bufs, deadline when,
                   std::error_code& ec) noexcept {
    return send(bufs.begin(), bufs.size(), when, ec);
  }
  std::size_t send(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return send(const_buffer{data, size}, ec);
  }
  std::size_t send(const void* data, std::size_t size, deadline when,
                   std::error_code& ec) noexcept {
    return send(const_buffer{data, size}, when, ec);
  }
  template <class R, std::enable_if_t<is_const_range<R>, int> = 0>
  std::size_t send(const R& r, std::error_code& ec) noexcept {
    return send(buffer(r), ec);
  }
  template <class R, std::enable_if_t<is_const_range<R>, int> = 0>
  std::size_t send(const R& r, deadline when, std::error_code& ec) noexcept {
    return send(buffer(r), when, ec);
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
  std::size_t send(const const_buffer* bufs, std::size_t count, deadline when) {
    std::error_code ec;
    const std::size_t n = send(bufs, count, when, ec);
    if (ec) this->fail(ec, "send to");
    return n;
  }
  std::size_t send(const_buffer b, deadline when) { return send(&b, 1, when); }
  std::size_t send(std::initializer_list<const_buffer> bufs) {
    return send(bufs.begin(), bufs.size());
  }
  std::size_t send(std::initializer_list<const_buffer> bufs, deadline when) {
    return send(bufs.begin(), bufs.size(), when);
  }
  std::size_t send(const void* data, std::size_t size) { return send(const_buffer{data, size}); }
  std::size_t send(const void* data, std::size_t size, deadline when) {
    return send(const_buffer{data, size}, when);
  }
  template <class R, std::enable_if_t<is_const_range<R>, int> = 0> std::size_t send(const R& r) {
    return send(buffer(r));
  }
  template <class R, std::enable_if_t<is_const_range<R>, int> = 0>
  std::size_t send(const R& r, deadline when) {
    return send(buffer(r), when);
  }

  // ---- receive ----
  // Waits (until the deadline, if one is given) for data, and takes what is
  // there: the count; zero on a stream means the peer is done.
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                      std::error_code& ec) noexcept {
    return receive_until(bufs, count, flags, forever{}, ec);
  }
  std::size_t receive(mutable_buffer b, message_flags flags, std::error_code& ec) noexcept {
    return receive(&b, 1, flags, ec);
  }
  std::size_t receive(mutable_buffer b, std::error_code& ec) noexcept {
    return receive(&b, 1, message_flags::none, ec);
  }
  std::size_t receive(mutable_buffer b, deadline when, std::error_code& ec) noexcept {
    return receive_until(&b, 1, message_flags::none, when, ec);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, deadline when,
                      std::error_code& ec) noexcept {
    return receive_until(bufs, count, message_flags::none, when, ec);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> bufs, std::error_code& ec) noexcept {
    return receive(bufs.begin(), bufs.size(), message_flags::none, ec);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> bufs, deadline when,
                      std::error_code& ec) noexcept {
    return receive(bufs.begin(), bufs.size(), when, ec);
  }
  std::size_t receive(void* data, std::size_t size, std::error_code& ec) noexcept {
    return receive(mutable_buffer{data, size}, ec);
  }
  std::size_t receive(void* data, std::size_t size, deadline when, std::error_code& ec) noexcept {
    return receive(mutable_buffer{data, size}, when, ec);
  }
  template <class R, std::enable_if_t<is_mutable_range<R>, int> = 0>
  std::size_t receive(R& r, std::error_code& ec) noexcept {
    return receive(buffer(r), ec);
  }
  template <class R, std::enable_if_t<is_mutable_range<R>, int> = 0>
  std::size_t receive(R& r, deadline when, std::error_code& ec) noexcept {
    return receive(buffer(r), when, ec);
  }

  std::size_t receive(const mutable_buffer* bufs, std::size_t count,
                      message_flags flags = message_flags::none) {
    std::error_code ec;
    const std::size_t n = receive(bufs, count, flags, ec);
    if (ec) receive_failed(ec, n, total_size(bufs, count));
    return n;
  }
  std::size_t receive(mutable_buffer b, message_flags flags = message_flags::none) {
    return receive(&b, 1, flags);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, deadline when) {
    std::error_code ec;
    const std::size_t n = receive(bufs, count, when, ec);
    if (ec) receive_failed(ec, n, total_size(bufs, count));
    return n;
  }
  std::size_t receive(mutable_buffer b, deadline when) { return receive(&b, 1, when); }
  std::size_t receive(std::initializer_list<mutable_buffer> bufs) {
    return receive(bufs.begin(), bufs.size());
  }
  std::size_t receive(std::initializer_list<mutable_buffer> bufs, deadline when) {
    return receive(bufs.begin(), bufs.size(), when);
  }
  std::size_t receive(void* data, std::size_t size) { return receive(mutable_buffer{data, size}); }
  std::size_t receive(void* data, std::size_t size, deadline when) {
    return receive(mutable_buffer{data, size}, when);
  }
  template <class R, std::enable_if_t<is_mutable_range<R>, int> = 0> std::size_t receive(R& r) {
    return receive(buffer(r));
  }
  template <class R, std::enable_if_t<is_mutable_range<R>, int> = 0>
  std::size_t receive(R& r, deadline when) {
    return receive(buffer(r), when);
  }

  void shutdown(shutdown_type how, std::error_code& ec) noexcept {
    if (!this->is_open()) {
      ec = Policy::closed_error();
      return;
    }
    Policy::shutdown(this->handle_, how, ec);
  }
  void shutdown(shutdown_type how) {
    std::error_code ec;
    shutdown(how, ec);
    if (ec) this->fail(ec, "shutdown of");
  }

  // Create, connect, return the connected socket: one call.  The connect ends
  // by `when` (a duration or a steady_clock time point; no deadline: never)
  // with errc::timed_out (== std::errc::timed_out).  Setup items (options,
  // vmsock::control) given after the deadline are applied between socket()
  // and connect: connect(ep, 10s, vmsock::vsock_buffer_size{1 << 20}).  On
  // VSOCK the kernel's own connect timeout is set to the deadline, so that 10 s
  // means 10 s; with no deadline it stays at the socket's (2 s by default).
  // To cancel a connect from another thread, use a connector.
  static Derived connect(const Endpoint& remote, deadline when, std::error_code& ec) noexcept {
    detail::setup_failure f;
    return connect_socket(remote, nullptr, when, ec, f);
  }
  static Derived connect(const Endpoint& remote, std::error_code& ec) noexcept {
    return connect(remote, deadline::never(), ec);
  }
  // As connect, from a given local endpoint (bound first).
  static Derived connect(const Endpoint& remote, const Endpoint& local, deadline when,
                         std::error_code& ec) noexcept {
    detail::setup_failure f;
    return connect_socket(remote, &local, when, ec, f);
  }
  static Derived connect(const Endpoint& remote, deadline when = deadline::never()) {
    std::error_code ec;
    auto s = connect(remote, when, ec);
    if (ec) detail::throw_error(ec, "connect to", detail::describe_failure(remote, Kind, ec));
    return s;
  }
  static Derived connect(const Endpoint& remote, const Endpoint& local,
                         deadline when = deadline::never()) {
    std::error_code ec;
    auto s = connect(remote, local, when, ec);
    if (ec) detail::throw_error(ec, "connect to", detail::describe_failure(remote, Kind, ec));
    return s;
  }
  // With setup items: connect(ep, when, items...) throws;
  // connect(ep, when, items..., ec) is noexcept.  vmsock::wait_for_ready{}
  // among them retries until the peer is up, by `when` (required here: see
  // wait_for_ready.hpp).
  template <class... A, std::enable_if_t<detail::connect_items_then_ec<A&&...>::value, int> = 0>
  static Derived connect(const Endpoint& remote, deadline when, A&&... a) noexcept {
    detail::setup_failure f;
    detail::ready_outcome r;
    return connect_items(remote, when, detail::last_ec(a...), f, r, a...);
  }
  template <class I, class... A,
            std::enable_if_t<detail::all_connect_items<I, A...> && !detail::is_ec<I>, int> = 0>
  static Derived connect(const Endpoint& remote, deadline when, const I& item, const A&... items) {
    std::error_code ec;
    detail::setup_failure f;
    detail::ready_outcome r;
    auto s = connect_items(remote, when, ec, f, r, item, items...);
    if (ec)
      detail::throw_error(ec, detail::ready_setup_message(
                                  "connect to " + detail::describe_failure(remote, Kind, ec), f, r,
                                  ec, item, items...));
    return s;
  }

  // The peer process of a Unix stream or seqpacket socket: pid, uid, gid
  // (SO_PEERCRED).  unsupported_on_platform where the OS has no such thing.
  template <
      class E = Endpoint,
      std::enable_if_t<std::is_same_v<E, unix_endpoint> && Kind != socket_type::datagram, int> = 0>
  credentials peer_credentials(std::error_code& ec) const noexcept {
    if (!this->is_open()) {
      ec = Policy::closed_error();
      return {};
    }
    return Policy::peer_credentials(this->handle_, ec);
  }
  template <
      class E = Endpoint,
      std::enable_if_t<std::is_same_v<E, unix_endpoint> && Kind != socket_type::datagram, int> = 0>
  credentials peer_credentials() const {
    std::error_code ec;
    auto c = peer_credentials(ec);
    if (ec) this->fail(ec, "peer_credentials of");
    return c;
  }

  // The peer as a Hyper-V address, whatever the endpoint type: on Windows the
  // name Hyper-V gave (a VM's own GUID, which no CID can express); on Linux
  // the VSOCK name through the mapping (no_mapping for CIDs it lacks).
  template <class E = Endpoint,
            std::enable_if_t<std::is_same_v<E, vsock_endpoint> || std::is_same_v<E, hv_endpoint>,
                             int> = 0>
  detail::dependent_t<hv_endpoint, E> peer_hv_endpoint(std::error_code& ec) const noexcept {
    // Spelled through E, so that this header needs no Hyper-V definitions:
    // the program that calls it has included them.
    using hv_type = detail::dependent_t<hv_endpoint, E>;
    if (!this->is_open()) {
      ec = Policy::closed_error();
      return {};
    }
    if constexpr (std::is_same_v<typename base::os_endpoint, hv_endpoint>) {
      typename base::native_storage sa{};
      std::size_t len = sizeof sa;
      Policy::peer_name(this->handle_, &sa, len, ec);
      if (ec) return {};
      if (const auto hv = hv_type::from_native(&sa, len)) return *hv;
      ec = make_error_code(errc::address_family_mismatch);
      return {};
    } else if constexpr (std::is_same_v<E, hv_endpoint>) {
      return this->peer_endpoint(ec);
    } else {
      // The VSOCK name through the mapping that carries Hyper-V addresses
      // over AF_VSOCK (the names the kernel reports keep any port).
      const E v = this->peer_endpoint(ec);
      hv_type out{};
      if (ec) return out;
      if (const errc e = detail::os_address<posix_policy, hv_type>::from_os(v, out); e != errc{})
        ec = make_error_code(e);
      return out;
    }
  }
  template <class E = Endpoint,
            std::enable_if_t<std::is_same_v<E, vsock_endpoint> || std::is_same_v<E, hv_endpoint>,
                             int> = 0>
  detail::dependent_t<hv_endpoint, E> peer_hv_endpoint() const {
    std::error_code ec;
    auto ep = peer_hv_endpoint(ec);
    if (ec) this->fail(ec, "peer_hv_endpoint of");
    return ep;
  }

  Endpoint peer_endpoint(std::error_code& ec) const noexcept { return this->name_of(true, ec); }
  Endpoint peer_endpoint() const {
    std::error_code ec;
    auto ep = peer_endpoint(ec);
    if (ec) this->fail(ec, "peer_endpoint of");
    return ep;
  }

 protected:
  template <class When>
  std::size_t receive_until(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                            const When& when, std::error_code& ec) noexcept {
    if constexpr (Kind == socket_type::stream) {
      return base::receive_until(bufs, count, flags, when, ec);
    } else {
      // A message: its full length is asked for, and a larger one than the
      // buffers is message_truncated.
      const std::size_t n =
          base::receive_until(bufs, count, flags | message_flags::report_full_length, when, ec);
      if (!ec && n > total_size(bufs, count)) ec = make_error_code(errc::message_truncated);
      return n;
    }
  }

  // Opens a socket of the derived type, applies the setup items, binds it to
  // `local` if given and connects it by `when`.
  template <class... A>
  VMSOCK_NOINLINE static Derived connect_socket(const Endpoint& remote, const Endpoint* local,
                                                const deadline& when, std::error_code& ec,
                                                setup_failure& f, const A&... items) noexcept {
    typename base::os_endpoint native;
    if (!base::to_os(remote, native, ec)) return Derived{};
    Derived d(base::owned, Policy::open(base::native_family, Kind, base::native_protocol, ec),
              Kind);
    if (ec) {
      f.what = setup_failure::step::open;
      return Derived{};
    }
    if (!apply_items(d, ec, f, items...)) return Derived{};
    if (local != nullptr) {
      d.bind(*local, ec);
      if (ec) {
        f.what = setup_failure::step::bind;
        return Derived{};
      }
    }
    d.connect_to(native, when, ec);
    if (ec) return Derived{};
    return d;
  }

  // connect_socket, again with a fresh socket each time while the peer is not
  // up yet, when wait_for_ready is among the items.
  template <class... A>
  static Derived connect_items(const Endpoint& remote, const deadline& when, std::error_code& ec,
                               setup_failure& f, ready_outcome& r, const A&... items) noexcept {
    static_assert(Kind != socket_type::datagram || !has_ready_wait<A...>,
                  "vmsock::wait_for_ready: a datagram connect is never refused");
    return connect_items_ready<Policy, Derived>(
        ready_transport_of<Endpoint>(), when, r, ec,
        [&](std::error_code& e) { return connect_socket(remote, nullptr, when, e, f, items...); },
        items...);
  }

  // The throwing receives' error path; a message socket adds the sizes.
  [[noreturn]] VMSOCK_NOINLINE void receive_failed(const std::error_code& ec, std::size_t n,
                                                   std::size_t capacity) const;
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

template <class Derived, class Endpoint, class Policy, socket_type Kind>
void connected_ops<Derived, Endpoint, Policy, Kind>::receive_failed(const std::error_code& ec,
                                                                    std::size_t n,
                                                                    std::size_t capacity) const {
  if constexpr (Kind == socket_type::stream) {
    (void)n, (void)capacity;
    this->fail(ec, "receive from");
  } else {
    throw_message_error(ec, this->describe_self(), n, capacity);
  }
}

}  // namespace detail

VMSOCK_END_NAMESPACE
