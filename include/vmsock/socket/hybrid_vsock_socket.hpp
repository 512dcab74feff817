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
// is one message, and every message after it is one of the guest's.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/read_line.hpp>
#include <vmsock/socket/connector.hpp>
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

namespace detail {

// The VMM's answer line, as received (its '\n' included when it came).
struct hybrid_answer {
  // The longest answer read: "OK " and a GUID in braces with its '\n' is 42.
  static constexpr std::size_t max = 64;
  char text[max] = {};
  std::uint8_t len = 0;
  // The VMM took the Unix connection and its answer had not ended (no '\n',
  // no close) when the handshake stopped: a timeout there is the VMM's
  // silence, not a socket file that is missing or a VMM that refused.
  bool awaited = false;

  std::string_view raw() const noexcept { return {text, len}; }
  // The line without its '\n'.
  std::string_view line() const noexcept {
    std::string_view l = raw();
    if (!l.empty() && l.back() == '\n') l.remove_suffix(1);
    return l;
  }
  bool is_ok() const noexcept { return starts_ok(line()); }
  // How many bytes a stream that cannot peek asks for next, so that it never
  // takes one past the answer's '\n' (the guest's bytes may follow in the same
  // write): up to the shortest line the bytes so far can start, "OK\n" (3), or
  // "OK 0\n" (5) once "OK " came; then one at a time.
  std::size_t next_read() const noexcept {
    if (len < 3) return 3u - len;
    if (len < 5 && text[0] == 'O' && text[1] == 'K' && text[2] == ' ') return 5u - len;
    return 1;
  }
  // What follows "OK ": Firecracker's host-side port, vhost-device-vsock's
  // guest port, OpenVMM's GUID.
  std::string_view argument() const noexcept {
    std::string_view l = line();
    if (!starts_ok(l)) return {};
    l.remove_prefix(2);
    while (!l.empty() && l.front() == ' ') l.remove_prefix(1);
    return l;
  }

 private:
  static bool starts_ok(std::string_view l) noexcept {
    return l.size() >= 2 && l[0] == 'O' && l[1] == 'K' && (l.size() == 2 || l[2] == ' ');
  }
};

// "CONNECT <port>\n" into `out` (at least 20 bytes); its length.
inline std::size_t hybrid_request(char* out, std::uint32_t port) noexcept {
  constexpr std::string_view verb = "CONNECT ";
  std::size_t n = 0;
  for (char c : verb) out[n++] = c;
  char digits[10];
  std::size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + port % 10);
    port /= 10;
  } while (port != 0);
  while (d != 0) out[n++] = digits[--d];
  out[n++] = '\n';
  return n;
}

// The shortest "OK <n>" answer ("OK 0\n").  A bare "OK\n" (3 bytes) is an
// answer too: hybrid_answer::next_read() says how much a stream reads.
inline constexpr std::size_t hybrid_shortest_answer = 5;

// What a close by the VMM looks like when it did not read all of the request
// first (Firecracker past its 1023 connections accepts and drops at once):
// EPIPE to the send, ECONNRESET (Windows: also WSAECONNABORTED) to the
// receive, instead of an end of stream.  A close without a word all the same.
inline bool hybrid_closed_by_vmm(const std::error_code& ec) noexcept {
  return ec == std::errc::broken_pipe || ec == std::errc::connection_reset ||
         ec == std::errc::connection_aborted;
}

// The handshake on a connected Unix socket `s` (a socket_core of a class that
// grants access: the callers pass their own send and receive), by `when`.
// SendAll(const_buffer, ec) sends every byte; Receive(mutable_buffer,
// message_flags, ec) one call's worth.  A stream's answer is read with
// detail::read_line (a peek, then exactly the line); on failure `a` holds what
// came back.
template <socket_type Kind, class SendAll, class Receive>
void hybrid_handshake(std::uint32_t port, hybrid_answer& a, std::error_code& ec, SendAll send_all,
                      Receive receive) noexcept {
  a = hybrid_answer{};
  a.awaited = true;
  char request[24];
  const std::size_t n = hybrid_request(request, port);
  if constexpr (Kind == socket_type::seqpacket) {
    // Firecracker's seqpacket muxer reads the request as it reads a stream's:
    // one read of 10 bytes ("CONNECT 0\n", the shortest request), then one
    // byte per read up to the '\n'.  On a SOCK_SEQPACKET socket each read
    // takes one message and drops what of it does not fit, so one message of
    // "CONNECT 5000\n" would lose "00\n".  The request goes as those reads
    // take it: its first 10 bytes in one message, then a message per byte.
    // The muxer reads them without waiting once the first is there, so they
    // go back to back, right after the connect.
    for (std::size_t at = 0; at < n && !ec;) {
      const std::size_t part = at == 0 ? (n < 10 ? n : 10) : 1;
      send_all(const_buffer{request + at, part}, ec);
      at += part;
    }
  } else {
    send_all(const_buffer{request, n}, ec);
  }
  if (ec) {
    if (hybrid_closed_by_vmm(ec)) {
      a.awaited = false;
      ec = make_error_code(errc::hybrid_vsock_refused);
    }
    return;
  }
  if constexpr (Kind == socket_type::seqpacket) {
    const std::size_t got = receive(mutable_buffer{a.text, a.max}, message_flags::none, ec);
    if (ec == errc::message_truncated) {
      a.len = static_cast<std::uint8_t>(a.max);
      a.awaited = false;
      ec = make_error_code(errc::hybrid_vsock_bad_answer);
      return;
    }
    if (ec && !hybrid_closed_by_vmm(ec)) return;
    a.len = static_cast<std::uint8_t>(ec ? 0 : got);
  } else {
    std::size_t len = 0;
    const line_read r = read_line(
        a.text, a.max, len, receive,
        [&] {
          a.len = static_cast<std::uint8_t>(len);
          return a.next_read();
        },
        ec);
    a.len = static_cast<std::uint8_t>(len);
    if (r == line_read::full) {
      a.awaited = false;
      ec = make_error_code(errc::hybrid_vsock_bad_answer);
      return;
    }
    // (A VMM that closed before reading it all: ECONNRESET rather than an end.)
    if (r == line_read::failed && !hybrid_closed_by_vmm(ec)) return;
  }
  a.awaited = false;  // it ended: a '\n', or the VMM closed
  if (a.len == 0) {
    ec = make_error_code(errc::hybrid_vsock_refused);
    return;
  }
  if (!a.is_ok() || (Kind == socket_type::stream && a.text[a.len - 1] != '\n')) {
    ec = make_error_code(errc::hybrid_vsock_bad_answer);
    return;
  }
  ec.clear();
}

// "hybrid-vsock:///run/fc.vsock:5000" (after "connect to") and, for an answer
// that is not OK, what came back; for a timeout while the VMM held the
// connection, that it did not answer (so that nobody looks for a missing
// socket file or a stopped VMM).  (A seqpacket answer is one message: one
// without a '\n' was not cut by a close.)
inline std::string hybrid_failure(const hybrid_vsock_endpoint& ep, const std::error_code& ec,
                                  const hybrid_answer& a, socket_type kind = socket_type::stream) {
  std::string s = ep.to_string();
  if (ec == errc::hybrid_vsock_bad_answer) {
    s += " (answered ";
    s += quote(a.raw());
    if (a.len == a.max)
      s += ", cut at 64 bytes";
    else if (kind == socket_type::stream && a.raw().back() != '\n')
      s += ", then closed";
    s += ')';
  } else if (ec == std::errc::timed_out && a.awaited) {
    if (a.len == 0) {
      s += " (the VMM took the connection and sent no answer)";
    } else {
      s += " (the VMM took the connection and answered ";
      s += quote(a.raw());
      s += " with no end of line)";
    }
  }
  return s;
}

}  // namespace detail

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
  const detail::hybrid_answer& last_answer() const noexcept { return answer_; }

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
