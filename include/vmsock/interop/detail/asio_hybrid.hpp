// The asio adapters' hybrid vsock protocol (the host side of Firecracker,
// Cloud Hypervisor, vhost-device-vsock, OpenVMM), for vmsock/asio.hpp and
// vmsock/boost_asio.hpp: a Unix stream socket whose connect makes the VMM's
// CONNECT handshake, and an acceptor for the guest's connections on
// "<path>_<port>".  Written once over a `Lib` (see detail/asio_protocols.hpp),
// which here also names const_buffer, mutable_buffer, is_eof(ec) and
// operation_aborted().  The endpoint is detail/asio_hybrid_endpoint.hpp; the
// acceptor and the hand-over from vmsock's hybrid sockets and listeners are in
// detail/asio_hybrid_acceptor.hpp.
//
//   hybrid_vsock_stream::socket s(io);
//   co_await s.async_connect(vmsock::hybrid_vsock_endpoint{"/run/fc.vsock", 5000}, use_awaitable);
//   s.answer();                      // what followed "OK " (Firecracker: the host-side port)
//   hybrid_vsock_stream::acceptor a(io, vmsock::hybrid_vsock_endpoint{"/run/fc.vsock", 6000});
//
// The handshake is detail::hybrid_handshake's (hybrid_vsock_socket.hpp), with
// its helpers: the request from hybrid_request in one send, the answer read
// as detail::read_line reads it (an async_receive with message_peek, then an
// async_read_some of exactly the bytes up to and with the '\n', which are
// queued and come at once; where the peek is refused, pieces of
// hybrid_answer::next_read()), so that no byte of the guest's that follows
// the answer's '\n' is taken; the same errors (hybrid_vsock_refused, also for
// a VMM that closed before it read the request: hybrid_closed_by_vmm;
// hybrid_vsock_bad_answer; the OS's), as asio error codes (Lib::from_std).
// The blocking connect runs hybrid_handshake itself.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/interop/detail/asio_handover.hpp>
#include <vmsock/interop/detail/asio_hybrid_endpoint.hpp>
#include <vmsock/interop/detail/asio_protocols.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/endpoint/unix.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Lib, class Base> class asio_hybrid_socket;
template <class Lib, class Base> class asio_hybrid_acceptor;  // detail/asio_hybrid_acceptor.hpp

// ---- the protocol ----------------------------------------------------------------

// asio's Protocol and AcceptableProtocol: an AF_UNIX stream, as the VMM's
// socket is.
template <class Lib> class asio_hybrid_protocol {
 public:
  using endpoint = asio_hybrid_endpoint<Lib>;
  using socket = asio_hybrid_socket<
      Lib, typename Lib::template stream_socket<asio_hybrid_protocol, typename Lib::executor>>;
  using acceptor = asio_hybrid_acceptor<
      Lib, typename Lib::template socket_acceptor<asio_hybrid_protocol, typename Lib::executor>>;

  static constexpr int native_family = unix_endpoint::family;

  int family() const noexcept { return native_family; }
  int type() const noexcept { return SOCK_STREAM; }
  int protocol() const noexcept { return 0; }

  friend bool operator==(const asio_hybrid_protocol&, const asio_hybrid_protocol&) noexcept {
    return true;
  }
  friend bool operator!=(const asio_hybrid_protocol&, const asio_hybrid_protocol&) noexcept {
    return false;
  }
};

// ---- the socket ------------------------------------------------------------------

// The verdict on a finished answer (the VMM closed, or its '\n' came):
// hybrid_handshake's for a stream.
inline std::error_code hybrid_verdict(const hybrid_answer& a) noexcept {
  if (a.len == 0) return make_error_code(errc::hybrid_vsock_refused);
  if (!a.is_ok() || a.text[a.len - 1] != '\n')
    return make_error_code(errc::hybrid_vsock_bad_answer);
  return {};
}

// asio's basic_stream_socket of hybrid_vsock_stream (Base) whose connect and
// async_connect make the Unix connect and the CONNECT handshake.  They hide
// Base's (not virtual): asio's range connect calls Base's, a Unix connect
// with no handshake.  On failure the socket is closed (a later connect opens
// it again).  answer() is what followed "OK " once connected.
template <class Lib, class Base> class asio_hybrid_socket : public asio_ready_socket<Lib, Base> {
  using layer = asio_ready_socket<Lib, Base>;

 public:
  using typename Base::endpoint_type;
  using typename Base::executor_type;
  using typename Base::protocol_type;
  using error_code = typename Lib::error_code;

  template <class Executor1> struct rebind_executor {
    using other =
        asio_hybrid_socket<Lib, typename Base::template rebind_executor<Executor1>::other>;
  };

  using layer::layer;
  explicit asio_hybrid_socket(Base&& plain) noexcept : layer(std::move(plain)) {}
  asio_hybrid_socket(asio_hybrid_socket&& o) noexcept
      : layer(static_cast<layer&&>(o)),
        answer_(std::exchange(o.answer_, hybrid_answer{})),
        connected_(std::exchange(o.connected_, false)) {}
  asio_hybrid_socket& operator=(asio_hybrid_socket&& o) noexcept {
    layer::operator=(static_cast<layer&&>(o));
    answer_ = std::exchange(o.answer_, hybrid_answer{});
    connected_ = std::exchange(o.connected_, false);
    return *this;
  }
  // From this socket type with another executor.
  template <class Base1,
            std::enable_if_t<!std::is_same_v<Base1, Base> && std::is_constructible_v<Base, Base1&&>,
                             int> = 0>
  asio_hybrid_socket(asio_hybrid_socket<Lib, Base1>&& o)  // NOLINT(google-explicit-constructor)
      : layer(static_cast<Base1&&>(o)),
        answer_(std::exchange(o.answer_, hybrid_answer{})),
        connected_(std::exchange(o.connected_, false)) {}

  // What followed "OK " in the VMM's answer (Firecracker and Cloud
  // Hypervisor: the host-side port; vhost-device-vsock: the guest port;
  // OpenVMM: a GUID); empty before a connect, after a failed one and for an
  // accepted connection.  Read it once the connect completed.
  std::string_view answer() const noexcept {
    return connected_ ? answer_.argument() : std::string_view();
  }
  // answer() as a port number, when it is one.
  std::optional<std::uint32_t> answer_port() const noexcept {
    const auto p = parse_decimal(answer(), 0xFFFFFFFFu, "");
    if (!p) return std::nullopt;
    return static_cast<std::uint32_t>(p.value);
  }
  // The answer of the last connect as it came (raw(): its '\n' included when
  // it came), kept after a failed one: what a junk answer said, or that the
  // VMM took the connection and said nothing.  vmsock::make_hybrid_error words
  // it as the synchronous connect's exception.
  const hybrid_vsock_answer& last_answer() const noexcept { return answer_; }

  // The blocking form, through detail::hybrid_handshake itself.  Throws
  // asio's system_error: "connect to hybrid-vsock:///run/fc.vsock:5000: ..."
  // (and what the VMM answered, for a bad answer).
  void connect(const endpoint_type& peer) {
    error_code ec;
    connect_sync(peer, ec);
    if (ec) {
      std::error_code no_port;
      const auto v = peer.value(no_port);
      Lib::throw_error(ec, "connect to " + (no_port ? peer.to_string()
                                                    : hybrid_failure(v, Lib::to_std(ec), answer_)));
    }
  }
  void connect(const endpoint_type& peer, error_code& ec) { connect_sync(peer, ec); }

  // Connect and handshake as one composed operation (async_compose: the
  // handler's executor, allocator and cancellation slot are kept; per-operation
  // cancellation is terminal).  cancel() or close() ends it with
  // operation_aborted.  The socket must stay where it is until it completes.
  template <class Token = typename Lib::template default_token<executor_type>>
  auto async_connect(const endpoint_type& peer,
                     Token&& token = typename Lib::template default_token<executor_type>()) {
    return Lib::template compose<void(error_code), Token>(connect_op{this, peer}, token, *this);
  }
  // With vmsock::wait_for_ready{}: again while the VMM's socket file is missing
  // or the VMM closes without a word, until `within` (errc::timed_out;
  // no_timeout: until a cancel); the socket must be closed at the call (see
  // detail/asio_ready_connect.hpp).
  template <class Token = typename Lib::template default_token<executor_type>>
  auto async_connect(const endpoint_type& peer, timeout within, const wait_for_ready& w,
                     Token&& token = typename Lib::template default_token<executor_type>()) {
    return asio_async_connect_when_ready<Lib>(*this, peer, within, w, ready_transport::local,
                                              nullptr, token);
  }
  // The same, telling `report` the attempts made and the last one's error.
  template <class Token = typename Lib::template default_token<executor_type>>
  auto async_connect(const endpoint_type& peer, timeout within, const wait_for_ready& w,
                     ready_report& report,
                     Token&& token = typename Lib::template default_token<executor_type>()) {
    return asio_async_connect_when_ready<Lib>(*this, peer, within, w, ready_transport::local,
                                              &report, token);
  }

 private:
  template <class, class> friend class asio_hybrid_socket;
  template <class, class, class> friend struct asio_counterpart;

  // The answer stays for last_answer(); answer() no longer gives it.
  void fail(error_code& ec, const error_code& why) noexcept {
    ec = why;
    connected_ = false;
    error_code ignored;
    Base::close(ignored);
  }

  void connect_sync(const endpoint_type& peer, error_code& ec) {
    answer_ = hybrid_answer{};
    connected_ = false;
    Base::connect(peer, ec);
    if (ec) return fail(ec, ec);
    error_code os;  // the OS's error as asio reported it
    std::error_code hec;
    hybrid_handshake<socket_type::stream>(
        peer.port(), answer_, hec,
        [&](const_buffer b, std::error_code& e) {
          const char* p = static_cast<const char*>(b.data);
          std::size_t left = b.size;
          while (left != 0 && !os) {
            const std::size_t n = Base::write_some(typename Lib::const_buffer(p, left), os);
            p += n;
            left -= n;
          }
          e = Lib::to_std(os);
        },
        [&](mutable_buffer b, message_flags f, std::error_code& e) -> std::size_t {
          error_code r;
          const typename Lib::mutable_buffer into(b.data, b.size);
          const std::size_t n = has_flag(f, message_flags::peek)
                                    ? Base::receive(into, Base::message_peek, r)
                                    : Base::read_some(into, r);
          if (Lib::is_eof(r)) r = {};
          os = r;
          e = Lib::to_std(r);
          return n;
        });
    // The OS's error as asio reported it, when the handshake passed it on.
    if (hec) return fail(ec, os && hec == Lib::to_std(os) ? os : Lib::from_std(hec));
    connected_ = true;
    ec = {};
  }

  struct connect_op {
    asio_hybrid_socket* socket;
    endpoint_type peer;
    // peeking: what the VMM sent so far; taking: `take` of those bytes (up to
    // and with a '\n'); reading: in pieces, where the peek is refused.
    enum class step { start, connecting, sending, peeking, taking, reading } at = step::start;
    std::size_t request_size = 0;
    std::size_t sent = 0;
    std::size_t take = 0;

    template <class Self> void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
      asio_hybrid_socket& s = *socket;
      hybrid_answer& a = s.answer_;  // stays put while the operation runs
      switch (at) {
      case step::start: {
        at = step::connecting;
        a = hybrid_answer{};
        s.connected_ = false;
        const endpoint_type to = peer;  // `self`, and this object in it, moves below
        s.Base::async_connect(to, std::move(self));
        return;
      }
      case step::connecting:
        if (ec) return finish(self, ec);
        // The request is sent from the answer's buffer, which is empty until it is.
        request_size = hybrid_request(a.text, peer.port());
        a.awaited = true;
        at = step::sending;
        break;
      case step::sending:
        // A VMM that closed before it read the request: a close without a word.
        if (ec && hybrid_closed_by_vmm(Lib::to_std(ec))) {
          a = hybrid_answer{};
          return finish(self, Lib::from_std(make_error_code(errc::hybrid_vsock_refused)));
        }
        if (ec) return finish(self, ec);
        sent += n;
        if (sent == request_size) {
          a = hybrid_answer{};
          a.awaited = true;
          at = step::peeking;
        }
        break;
      case step::peeking:
        if (ec && peek_refused(Lib::to_std(ec))) {
          at = step::reading;
          break;
        }
        if (!ec && n != 0) {
          take = line_part(a.text + a.len, n);
          at = step::taking;
          break;
        }
        return ended(self, ec);
      case step::taking:
      case step::reading:
        if (ec || n == 0) return ended(self, ec);
        a.len = static_cast<std::uint8_t>(a.len + n);
        if (at == step::taking) {
          take -= n;
          if (take != 0) break;  // (the rest is queued too)
          at = step::peeking;
        }
        if (a.text[a.len - 1] == '\n' || a.len == a.max) return ended(self, ec);
        break;
      }
      // An operation that completed just as a cancellation was asked for.
      if (asio_was_cancelled(self)) return finish(self, Lib::operation_aborted());
      char* const room = a.text + a.len;
      if (at == step::sending)
        s.Base::async_write_some(typename Lib::const_buffer(a.text + sent, request_size - sent),
                                 std::move(self));
      else if (at == step::peeking)
        s.Base::async_receive(typename Lib::mutable_buffer(room, a.max - a.len), Base::message_peek,
                              std::move(self));
      else
        s.Base::async_read_some(
            typename Lib::mutable_buffer(room, at == step::taking ? take : a.next_read()),
            std::move(self));
    }

    // The answer ended (its '\n', 64 bytes, the VMM's close) or a receive
    // failed: the verdict.  (An error but the VMM's close, a cancel among
    // them, leaves the answer awaited.)
    template <class Self> void ended(Self& self, const error_code& ec) {
      hybrid_answer& a = socket->answer_;
      if (ec && !Lib::is_eof(ec) && !hybrid_closed_by_vmm(Lib::to_std(ec))) return finish(self, ec);
      a.awaited = false;
      finish(self, Lib::from_std(hybrid_verdict(a)));
    }

    template <class Self> void finish(Self& self, const error_code& ec) {
      if (ec) {
        error_code ignored;
        socket->fail(ignored, ec);
      } else {
        socket->connected_ = true;
      }
      self.complete(ec);
    }
  };

  hybrid_answer answer_;    // the last connect's, as received
  bool connected_ = false;  // that connect succeeded: answer() gives it
};

}  // namespace detail

// The exception the synchronous connect to `peer` would have thrown, for an
// asio hybrid_vsock_stream connect of `s` that ended with `ec` (its
// std::error_code: vmsock::asio::to_std), from s.last_answer():
//   connect to hybrid-vsock:///run/fc.vsock:5000 (answered "ERR nope\x0a"): ...
//   connect to hybrid-vsock:///run/fc.vsock:5000 (the VMM took the connection
//   and sent no answer): operation timed out
// With the ready_report of a wait-for-ready connect, how the wait went too
// (as vmsock::make_ready_error words it).
template <class Lib, class Base>
std::system_error make_hybrid_error(const std::error_code& ec, const hybrid_vsock_endpoint& peer,
                                    const detail::asio_hybrid_socket<Lib, Base>& s) {
  return std::system_error(ec, "connect to " + detail::hybrid_failure(peer, ec, s.last_answer()));
}
template <class Lib, class Base>
std::system_error make_hybrid_error(const std::error_code& ec, const hybrid_vsock_endpoint& peer,
                                    const detail::asio_hybrid_socket<Lib, Base>& s,
                                    const ready_report& r) {
  detail::ready_outcome o;
  o.attempts = r.attempts;
  o.last = r.last;
  return std::system_error(
      ec, detail::ready_message("connect to " + detail::hybrid_failure(peer, ec, s.last_answer()),
                                o, ec));
}

VMSOCK_END_NAMESPACE
