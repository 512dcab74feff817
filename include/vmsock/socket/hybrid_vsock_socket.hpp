// The host side of hybrid vsock (Firecracker, Cloud Hypervisor, vhost-device-
// vsock, OpenVMM): sockets that reach a guest's vsock port through the VMM's
// Unix socket, and listeners for the guest's connections to the host.
//
//   auto s = vmsock::hybrid_vsock_stream_socket::connect({"/run/fc.vsock", 5000}, 5s);
//   s.send_all(request);                    // an ordinary Unix stream from here on
//   auto l = vmsock::hybrid_vsock_listener::listen({"/run/fc.vsock", 6000});
//   auto c = l.accept();                    // the guest connected to CID 2, port 6000
//
// The handshake (the VMM's documentation, and its source where the two differ):
// the host connects to the VMM's socket, writes "CONNECT <port>\n" in one
// write, and the VMM answers "OK <n>\n": Firecracker and Cloud Hypervisor the
// host-side port they assigned (counting up from 1 << 30), vhost-device-vsock
// the guest port, OpenVMM a GUID.  Bytes the guest sends right after the
// answer follow it in the same stream: the answer is read up to its '\n' and
// never past it.  When nothing listens on the guest port, when the VM is not
// running, or when the line is malformed, the VMM closes the socket without a
// word: that is errc::hybrid_vsock_refused (== std::errc::connection_refused).
// Firecracker has no half-close: an end of stream from either side closes both
// directions (shutdown(send) ends the connection).
//
// Firecracker's seqpacket vsock (a SOCK_SEQPACKET uds_path) works the same way
// with messages: the request goes as its muxer reads it (its first 10 bytes in
// one message, then one message per byte: see hybrid_handshake), the answer
// is one message, and every message after it is one of the guest's.  The
// handshake itself, which the asio adapter shares, is detail/hybrid_handshake.hpp.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/detail/hybrid_handshake.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/seqpacket_socket.hpp>
#include <vmsock/socket/stream_socket.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

VMSOCK_BEGIN_NAMESPACE

// A hybrid vsock VMM's answer line as it came: raw() (its '\n' included when
// it came), line(), is_ok(), argument() (what followed "OK "), and awaited
// (the VMM took the Unix connection and had not ended its answer when the
// handshake stopped).  The hybrid connector's and the asio socket's
// last_answer() give it, kept after a failed connect.
using hybrid_vsock_answer = detail::hybrid_answer;

template <class UnixSocket> class basic_hybrid_vsock_listener;

// A connection to (or from) a guest port through a VMM's Unix socket: a Unix
// stream (or seqpacket) socket whose handshake is done.  Every operation of the
// Unix socket applies: send/receive with deadlines, cancel(), shutdown,
// peer_credentials (the VMM's process); peer_endpoint() and local_endpoint()
// are the Unix addresses, hybrid_endpoint() the hybrid one.
template <class UnixSocket> class basic_hybrid_vsock_socket : public UnixSocket {
  using policy = typename UnixSocket::policy_type;

 public:
  using unix_socket_type = UnixSocket;
  static constexpr socket_type kind = UnixSocket::kind;

  basic_hybrid_vsock_socket() noexcept = default;
  // Adopts a Unix socket on which the handshake was made (or that a hybrid
  // listener accepted), with the endpoint it belongs to.
  basic_hybrid_vsock_socket(UnixSocket&& s, const hybrid_vsock_endpoint& ep) noexcept
      : UnixSocket(std::move(s)), ep_(ep) {}

  // Connects to the VMM's socket and makes the handshake, both by `when`.
  static basic_hybrid_vsock_socket connect(const hybrid_vsock_endpoint& ep, deadline when,
                                           std::error_code& ec) noexcept {
    detail::hybrid_answer a;
    detail::setup_failure f;
    return connect_once(ep, when, ec, a, f);
  }
  static basic_hybrid_vsock_socket connect(const hybrid_vsock_endpoint& ep,
                                           std::error_code& ec) noexcept {
    return connect(ep, deadline::never(), ec);
  }
  static basic_hybrid_vsock_socket connect(const hybrid_vsock_endpoint& ep,
                                           deadline when = deadline::never()) {
    std::error_code ec;
    detail::hybrid_answer a;
    detail::setup_failure f;
    auto s = connect_once(ep, when, ec, a, f);
    if (ec) detail::throw_error(ec, "connect to", detail::hybrid_failure(ep, ec, a, kind));
    return s;
  }
  // With setup items for the Unix socket (options, vmsock::control):
  // connect(ep, when, items...) throws; connect(ep, when, items..., ec) is
  // noexcept.  vmsock::wait_for_ready{} among them retries, by `when`, while
  // the socket file is missing, refused, or the VMM closes without a word.
  template <class... A, std::enable_if_t<detail::connect_items_then_ec<A&&...>::value, int> = 0>
  static basic_hybrid_vsock_socket connect(const hybrid_vsock_endpoint& ep, deadline when,
                                           A&&... a) noexcept {
    detail::hybrid_answer answer;
    detail::setup_failure f;
    detail::ready_outcome r;
    return connect_with(ep, when, detail::last_ec(a...), answer, f, r, a...);
  }
  template <class I, class... A,
            std::enable_if_t<detail::all_connect_items<I, A...> && !detail::is_ec<I>, int> = 0>
  static basic_hybrid_vsock_socket connect(const hybrid_vsock_endpoint& ep, deadline when,
                                           const I& item, const A&... items) {
    std::error_code ec;
    detail::hybrid_answer answer;
    detail::setup_failure f;
    detail::ready_outcome r;
    auto s = connect_with(ep, when, ec, answer, f, r, item, items...);
    if (ec)
      detail::throw_error(ec, detail::ready_setup_message(
                                  "connect to " + detail::hybrid_failure(ep, ec, answer, kind), f,
                                  r, ec, item, items...));
    return s;
  }

  // The VMM's socket and the vsock port of this connection: the guest's port
  // for one this host made, the host's port for one the guest made.
  const hybrid_vsock_endpoint& hybrid_endpoint() const noexcept { return ep_; }
  // What followed "OK " in the VMM's answer (empty for an accepted
  // connection): Firecracker's host-side port, vhost-device-vsock's guest
  // port, OpenVMM's GUID.
  std::string_view answer() const noexcept { return {answer_, answer_len_}; }
  // answer() as a port number, when it is one.
  std::optional<std::uint32_t> answer_port() const noexcept {
    const auto p = detail::parse_decimal(answer(), 0xFFFFFFFFu, "");
    if (!p) return std::nullopt;
    return static_cast<std::uint32_t>(p.value);
  }

 private:
  template <class> friend class connector;

  void set_answer(const detail::hybrid_answer& a) noexcept {
    const std::string_view arg = a.argument();
    answer_len_ = static_cast<std::uint8_t>(arg.size());
    for (std::size_t i = 0; i < arg.size(); ++i) answer_[i] = arg[i];
  }

  // connect_once, again while the VMM is not up yet, with wait_for_ready.
  template <class... A>
  static basic_hybrid_vsock_socket connect_with(const hybrid_vsock_endpoint& ep, deadline when,
                                                std::error_code& ec, detail::hybrid_answer& a,
                                                detail::setup_failure& f, detail::ready_outcome& r,
                                                const A&... items) noexcept {
    return detail::connect_items_ready<policy, basic_hybrid_vsock_socket>(
        detail::ready_transport::local, when, r, ec,
        [&](std::error_code& e) { return connect_once(ep, when, e, a, f, items...); }, items...);
  }
  template <class... A>
  static basic_hybrid_vsock_socket connect_once(const hybrid_vsock_endpoint& ep, deadline when,
                                                std::error_code& ec, detail::hybrid_answer& a,
                                                detail::setup_failure& f,
                                                const A&... items) noexcept {
    auto c = connector<basic_hybrid_vsock_socket>::open(ec);
    if (ec) {
      f.what = detail::setup_failure::step::open;
      return {};
    }
    if (!detail::apply_items(c, ec, f, items...)) return {};
    auto s = c.connect(ep, when, ec);
    a = c.last_answer();
    return s;
  }

  hybrid_vsock_endpoint ep_;
  char answer_[detail::hybrid_answer::max] = {};
  std::uint8_t answer_len_ = 0;
};

// The connect of a hybrid vsock socket, cancellable from another thread:
//   vmsock::connector<vmsock::hybrid_vsock_stream_socket> c = decltype(c)::open();
//   auto s = c.connect({"/run/fc.vsock", 5000}, 10s);   // c.cancel() ends it
// cancel() ends the Unix connect and the handshake alike.
template <class UnixSocket>
class connector<basic_hybrid_vsock_socket<UnixSocket>>
    : public basic_socket<unix_endpoint, typename UnixSocket::policy_type> {
  using Policy = typename UnixSocket::policy_type;
  using base = basic_socket<unix_endpoint, Policy>;

 public:
  using socket_t = basic_hybrid_vsock_socket<UnixSocket>;

  connector() noexcept = default;

  VMSOCK_NODISCARD(VMSOCK_STATIC_OPEN_REASON)
  static connector open(std::error_code& ec) noexcept {
    connector c;
    static_cast<base&>(c) = base::open(UnixSocket::kind, ec);
    return c;
  }
  VMSOCK_NODISCARD(VMSOCK_STATIC_OPEN_REASON)
  static connector open() {
    std::error_code ec;
    auto c = open(ec);
    if (ec) detail::throw_error(ec, detail::open_what<unix_endpoint>(UnixSocket::kind));
    return c;
  }

  // Connects to the VMM's socket and makes the handshake by `when` (or until
  // cancel()), and returns the connection; the connector is then empty.  On
  // failure it is closed: open a new one.
  socket_t connect(const hybrid_vsock_endpoint& ep, deadline when, std::error_code& ec) noexcept {
    answer_ = detail::hybrid_answer{};
    if (ep.empty()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return fail();
    }
    typename base::os_endpoint native;
    if (!base::to_os(ep.uds(), native, ec)) return fail();
    this->connect_to(native, when, ec);
    if (ec) return fail();
    detail::hybrid_handshake<UnixSocket::kind>(
        ep.port(), answer_, ec,
        [&](const_buffer b, std::error_code& e) {
          if constexpr (UnixSocket::kind == socket_type::seqpacket)
            this->send_until(&b, 1, message_flags::none, when, e);
          else
            this->template transfer_all<true>(&b, 1, when, e);
        },
        [&](mutable_buffer b, message_flags flags, std::error_code& e) {
          if (UnixSocket::kind == socket_type::seqpacket)
            flags = flags | message_flags::report_full_length;
          const std::size_t n = this->receive_until(&b, 1, flags, when, e);
          if (!e && n > b.size) e = make_error_code(errc::message_truncated);
          return n;
        });
    if (ec) return fail();
    UnixSocket s;
    this->move_to(s);
    socket_t out(std::move(s), ep);
    out.set_answer(answer_);
    return out;
  }
  socket_t connect(const hybrid_vsock_endpoint& ep, std::error_code& ec) noexcept {
    return connect(ep, deadline::never(), ec);
  }
  socket_t connect(const hybrid_vsock_endpoint& ep, deadline when = deadline::never()) {
    std::error_code ec;
    auto s = connect(ep, when, ec);
    if (ec)
      detail::throw_error(ec, "connect to",
                          detail::hybrid_failure(ep, ec, answer_, UnixSocket::kind));
    return s;
  }

  // The answer of the last connect, as received (for messages).
  const hybrid_vsock_answer& last_answer() const noexcept { return answer_; }

 private:
  socket_t fail() noexcept {
    std::error_code ignored;
    this->close(ignored);
    return socket_t{};
  }

  detail::hybrid_answer answer_;
};

// Serves the guest's connections to host port P (CID 2, port P): listens on
// the Unix socket "<uds_path>_<P>", where the VMM connects for each one, with
// the Unix listener's rules (a stale socket file is replaced, a live one
// refused, the file removed on close; peer filters see the VMM's process).
template <class UnixSocket>
class basic_hybrid_vsock_listener
    : public listener<unix_endpoint, typename UnixSocket::policy_type, UnixSocket> {
  using Policy = typename UnixSocket::policy_type;
  using base = listener<unix_endpoint, Policy, UnixSocket>;

 public:
  using socket_t = basic_hybrid_vsock_socket<UnixSocket>;

  basic_hybrid_vsock_listener() noexcept = default;
  basic_hybrid_vsock_listener(base&& l, const hybrid_vsock_endpoint& ep) noexcept
      : base(std::move(l)), ep_(ep) {}

  static basic_hybrid_vsock_listener listen(const hybrid_vsock_endpoint& ep, int backlog,
                                            std::error_code& ec) noexcept {
    if (ep.empty()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return {};
    }
    return {base::listen(ep.listen_uds(), backlog, ec), ep};
  }
  static basic_hybrid_vsock_listener listen(const hybrid_vsock_endpoint& ep,
                                            std::error_code& ec) noexcept {
    return listen(ep, base::default_backlog, ec);
  }
  static basic_hybrid_vsock_listener listen(const hybrid_vsock_endpoint& ep,
                                            int backlog = base::default_backlog) {
    if (ep.empty())
      detail::throw_error(std::make_error_code(std::errc::invalid_argument), "listen on",
                          ep.to_string());
    return {base::listen(ep.listen_uds(), backlog), ep};
  }
  template <class... A, std::enable_if_t<detail::items_then_ec<A&&...>::value, int> = 0>
  static basic_hybrid_vsock_listener listen(const hybrid_vsock_endpoint& ep, int backlog,
                                            A&&... a) noexcept {
    std::error_code& ec = detail::last_ec(a...);
    if (ep.empty()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return {};
    }
    return {base::listen(ep.listen_uds(), backlog, std::forward<A>(a)...), ep};
  }
  template <class I, class... A,
            std::enable_if_t<detail::all_setup_items<I, A...> && !detail::is_ec<I>, int> = 0>
  static basic_hybrid_vsock_listener listen(const hybrid_vsock_endpoint& ep, int backlog,
                                            const I& item, const A&... items) {
    if (ep.empty())
      detail::throw_error(std::make_error_code(std::errc::invalid_argument), "listen on",
                          ep.to_string());
    return {base::listen(ep.listen_uds(), backlog, item, items...), ep};
  }

  socket_t accept(std::error_code& ec) noexcept { return {base::accept(ec), ep_}; }
  socket_t accept(deadline when, std::error_code& ec) noexcept {
    return {base::accept(when, ec), ep_};
  }
  socket_t accept() { return {base::accept(), ep_}; }
  socket_t accept(deadline when) { return {base::accept(when), ep_}; }

  // The VMM's socket and the host port this listener serves.
  const hybrid_vsock_endpoint& hybrid_endpoint() const noexcept { return ep_; }

 private:
  hybrid_vsock_endpoint ep_;
};

template <class Policy = default_policy>
using basic_hybrid_vsock_stream_socket =
    basic_hybrid_vsock_socket<stream_socket<unix_endpoint, Policy>>;
template <class Policy = default_policy>
using basic_hybrid_vsock_seqpacket_socket =
    basic_hybrid_vsock_socket<seqpacket_socket<unix_endpoint, Policy>>;

using hybrid_vsock_stream_socket = basic_hybrid_vsock_stream_socket<>;
using hybrid_vsock_listener = basic_hybrid_vsock_listener<stream_socket<unix_endpoint>>;
// Firecracker's seqpacket vsock: SOCK_SEQPACKET Unix sockets (Linux).
using hybrid_vsock_seqpacket_socket = basic_hybrid_vsock_seqpacket_socket<>;
using hybrid_vsock_seqpacket_listener =
    basic_hybrid_vsock_listener<seqpacket_socket<unix_endpoint>>;

VMSOCK_END_NAMESPACE
