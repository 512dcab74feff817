// Handing a socket to another process: a supervisor accepts, a worker serves.
//
//   // the supervisor (channel: a unix_stream_socket connected to the worker)
//   auto conn = server.accept();
//   vmsock::send_socket(channel, conn, worker_pid);
//   conn.close();                       // the worker has its own now
//   // the worker
//   auto conn = vmsock::receive_socket<vmsock::tcp4_socket>(channel, 30s);
//
// One API on both platforms, two mechanisms under it:
//   - POSIX: the descriptor travels in an SCM_RIGHTS message over a Unix
//     stream socket (the channel), with one data byte.  It is received with
//     MSG_CMSG_CLOEXEC (never inherited).  A message with no descriptor, with
//     several, or whose control data the kernel truncated (MSG_CTRUNC) is
//     refused, and every descriptor that came with it is closed.  The process
//     id is not needed (the descriptor goes to whoever reads the channel);
//     send_socket(channel, s) is the POSIX form, and the form with a process
//     id is accepted too, so that the same code builds on Windows.
//   - Windows: WSADuplicateSocketW makes a WSAPROTOCOL_INFOW for one target
//     process; its bytes go over the channel (any vmsock stream socket: TCP,
//     Unix) in a frame of their own (4 bytes "vmsh", their size as 4 bytes
//     little-endian, then the bytes), and the receiver opens the duplicate
//     with WSASocketW(FROM_PROTOCOL_INFO, ...) (Microsoft's lpProtocolInfo
//     path).  A frame that is not one, or whose size is not that of a
//     WSAPROTOCOL_INFOW, is refused before anything is opened.
//     share_socket / open_shared_socket give the bytes themselves, for a
//     channel of your own.
//
// The receiver checks what it was given against Socket: its family and type
// (SO_DOMAIN/SO_TYPE; Windows: SO_PROTOCOL_INFOW), and whether it listens
// (SO_ACCEPTCONN): receive_socket<tcp4_listener> takes a listening IPv4
// stream socket, receive_socket<tcp4_socket> a connected one.  A mismatch is
// refused, naming both (address_family_mismatch, or wrong_protocol_type), and
// the socket received is closed.  The socket handed out is in blocking mode
// (as every socket vmsock makes); sender and receiver share the one OS socket
// (and so its O_NONBLOCK flag), so the sender closes its copy once it is sent.
//
// Waiting: receive_socket (and send_socket) wait for the channel until the
// deadline (with none, the channel's receive_timeout if it has one, else
// forever), and cancel() of the channel ends them with operation_canceled,
// as every other blocking call.  A non-blocking channel with no deadline
// reports would_block instead of waiting.  The end of the channel's stream
// before a socket came is errc::end_of_stream.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/datagram_socket.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/options.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/socket/seqpacket_socket.hpp>
#include <vmsock/policy/types.hpp>
#include <vmsock/socket/stream_socket.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// SCM_RIGHTS (posix_policy) or WSADuplicateSocketW (winsock_policy).
template <class P, class = void>
struct passes_descriptors : std::false_type {};
template <class P>
struct passes_descriptors<P, std::void_t<decltype(P::send_handle(P::invalid_handle, P::invalid_handle,
                                                                 message_flags::none,
                                                                 std::declval<std::error_code&>()))>>
    : std::true_type {};
template <class P, class = void>
struct duplicates_sockets : std::false_type {};
template <class P>
struct duplicates_sockets<P, std::void_t<decltype(P::open_duplicate(nullptr, std::size_t{0},
                                                                    std::declval<std::error_code&>()))>>
    : std::true_type {};
// A policy whose handles hold a start-up reference (Winsock).
template <class P, class = void>
struct handoff_startup : std::false_type {};
template <class P>
struct handoff_startup<P, std::void_t<decltype(P::cleanup())>> : std::true_type {};

// What a received socket must be to become a Socket.
template <class S>
struct handoff_target {
  static constexpr socket_type type = S::kind;
  static constexpr bool listening = false;
};
template <class E, class P, class S>
struct handoff_target<listener<E, P, S>> {
  static constexpr socket_type type = S::kind;
  static constexpr bool listening = true;
};

// What went wrong, for the throwing forms' messages.
struct handoff_report {
  enum class problem { none, no_descriptor, several, truncated, mismatch, ended, bad_frame, bad_size };
  problem what = problem::none;
  std::size_t count = 0;  // descriptors that came (several, truncated), or the frame's size
  std::size_t expected = 0;  // the size a frame must have (bad_size)
  int family = 0;         // what came (mismatch)
  socket_type type = socket_type::stream;
  bool listening = false;
};

inline const char* family_text(int family) noexcept {
  if (family == inet4_endpoint::family) return "IPv4";
  if (family == inet6_endpoint::family) return "IPv6";
  if (family == unix_endpoint::family) return "Unix";
  if (family == vsock_endpoint::family) return "VSOCK";
  if (family == hv_endpoint::family) return "Hyper-V";
  return nullptr;
}

// "a listening IPv4 stream socket", "a connected Unix stream socket", "an
// IPv6 datagram socket", "a socket of family 17".
inline std::string socket_text(int family, socket_type type, bool listening) {
  std::string s;
  const char* f = family_text(family);
  if (listening)
    s += "a listening ";
  else if (type != socket_type::datagram)
    s += "a connected ";
  if (f == nullptr) {
    if (s.empty()) s += "a ";
    s += "socket of family ";
    append_decimal(s, static_cast<std::uint64_t>(family < 0 ? 0 : family));
    s += ", ";
  } else {
    if (s.empty()) s += family == inet4_endpoint::family || family == inet6_endpoint::family ? "an " : "a ";
    s += f;
    s += ' ';
  }
  s += type == socket_type::stream ? "stream" : type == socket_type::datagram ? "datagram" : "seqpacket";
  s += " socket";
  return s;
}

template <class Socket>
std::string target_text() {
  return socket_text(Socket::native_family, handoff_target<Socket>::type,
                     handoff_target<Socket>::listening);
}

// How a throwing form names the channel: its peer, else its own address,
// else its handle.
template <class E, class P>
std::string channel_text(const stream_socket<E, P>& ch) {
  if (!ch.is_open()) return "a closed socket";
  std::error_code ec;
  const E peer = ch.peer_endpoint(ec);
  if (!ec && !is_unnamed(peer)) return describe(peer, socket_type::stream);
  const E local = ch.local_endpoint(ec);
  if (!ec && !is_unnamed(local)) return describe(local, socket_type::stream);
  std::string s = "socket ";
  append_decimal(s, static_cast<std::uint64_t>(ch.native_handle()));
  return s;
}

[[noreturn]] VMSOCK_NOINLINE inline void throw_handoff(const std::error_code& ec, std::string what,
                                                       const handoff_report& r,
                                                       const std::string& expected) {
  using problem = handoff_report::problem;
  switch (r.what) {
    case problem::none:
      break;
    case problem::no_descriptor:
      what += ": the message carried no descriptor";
      break;
    case problem::several:
      what += ": the message carried ";
      append_decimal(what, r.count);
      what += " descriptors, one expected (all were closed)";
      break;
    case problem::truncated:
      what += ": the message carried more descriptors than one message is read with (";
      append_decimal(what, r.count);
      what += " arrived, the kernel dropped the rest: MSG_CTRUNC; all were closed)";
      break;
    case problem::mismatch:
      what += ": received ";
      what += socket_text(r.family, r.type, r.listening);
      what += ", expected ";
      what += expected;
      what += " (it was closed)";
      break;
    case problem::ended:
      what += ": the channel's stream ended before a socket came";
      break;
    case problem::bad_frame:
      what += ": not a vmsock hand-off frame (it starts with \"vmsh\")";
      break;
    case problem::bad_size:
      what += ": the hand-off frame carries ";
      append_decimal(what, r.count);
      what += " bytes, a WSAPROTOCOL_INFOW has ";
      append_decimal(what, r.expected);
      break;
  }
  throw_error(ec, what);
}

// Checks what `h` is against Socket and adopts it; closes it on a mismatch.
template <class Socket, class P>
Socket adopt_received(typename P::handle h, std::error_code& ec, handoff_report& r) noexcept {
  using target = handoff_target<Socket>;
  int family = 0;
  socket_type type = socket_type::stream;
  bool listening = false;
  P::socket_identity(h, family, type, listening, ec);
  if (!ec && (family != Socket::native_family || type != target::type || listening != target::listening)) {
    r.what = handoff_report::problem::mismatch;
    r.family = family;
    r.type = type;
    r.listening = listening;
    ec = family != Socket::native_family ? make_error_code(errc::address_family_mismatch)
                                         : std::make_error_code(std::errc::wrong_protocol_type);
  }
  if (ec) {
    std::error_code ignored;
    P::close(h, ignored);
    return Socket{};
  }
  Socket s(h, target::type);
  if constexpr (handoff_startup<P>::value) P::cleanup();  // the adopting socket took its own
  std::error_code ignored;
  s.set_nonblocking(false, ignored);
  return s;
}

// The effective deadline of a call without one: the channel's receive_timeout.
template <class E, class P>
deadline receive_limit(const stream_socket<E, P>& ch, const deadline& when) noexcept {
  if (!when.is_never()) return when;
  std::error_code ec;
  const auto t = ch.template get_option<receive_timeout>(ec);
  if (ec || t.value == no_timeout || t.value <= timeout::zero()) return when;
  return deadline(t.value);
}

// ---- POSIX: SCM_RIGHTS ----

template <class P, class H>
void send_descriptor(stream_socket<unix_endpoint, P>& ch, H h, const deadline& when,
                     std::error_code& ec) noexcept {
  if (!ch.is_open()) {
    ec = P::closed_error();
    return;
  }
  for (;;) {
    if (ch.is_cancelled()) {
      ec = canceled();
      return;
    }
    P::send_handle(ch.native_handle(), h, message_flags::dont_wait, ec);
    if (!ec) return;
    if (!would_block(ec)) {
      if (ch.is_cancelled()) ec = canceled();
      return;
    }
    if (ch.is_nonblocking() && when.is_never()) return;
    if (when.expired()) {
      ec = make_error_code(errc::timed_out);
      return;
    }
    if (!ch.wait_writable(when, ec)) {
      if (!ec) ec = make_error_code(errc::timed_out);
      return;
    }
  }
}

template <class P>
typename P::handle receive_descriptor(stream_socket<unix_endpoint, P>& ch, const deadline& when,
                                      std::error_code& ec, handoff_report& r) noexcept {
  using problem = handoff_report::problem;
  if (!ch.is_open()) {
    ec = P::closed_error();
    return P::invalid_handle;
  }
  const deadline limit = receive_limit(ch, when);
  for (;;) {
    if (ch.is_cancelled()) {
      ec = canceled();
      return P::invalid_handle;
    }
    typename P::handle h = P::invalid_handle;
    std::size_t count = 0;
    bool truncated = false;
    const std::size_t n = P::receive_handle(ch.native_handle(), h, count, truncated,
                                            message_flags::dont_wait, ec);
    if (ec) {
      if (!would_block(ec)) {
        if (ch.is_cancelled()) ec = canceled();
        return P::invalid_handle;
      }
      if (ch.is_nonblocking() && when.is_never()) return P::invalid_handle;
      if (limit.expired()) {
        ec = make_error_code(errc::timed_out);
        return P::invalid_handle;
      }
      if (!ch.wait_readable(limit, ec)) {
        if (!ec) ec = make_error_code(errc::timed_out);
        return P::invalid_handle;
      }
      continue;
    }
    if (n == 0) {  // cancel() shuts the channel down: that reads as its end
      if (ch.is_cancelled()) {
        ec = canceled();
      } else {
        ec = make_error_code(errc::end_of_stream);
        r.what = problem::ended;
      }
      return P::invalid_handle;
    }
    if (truncated) {
      r.what = problem::truncated;
      r.count = count;
      ec = make_error_code(errc::message_truncated);
      return P::invalid_handle;
    }
    if (count != 1) {
      r.what = count == 0 ? problem::no_descriptor : problem::several;
      r.count = count;
      ec = std::make_error_code(std::errc::bad_message);
      return P::invalid_handle;
    }
    return h;
  }
}

// ---- Windows: WSADuplicateSocketW, a frame over any stream ----

inline constexpr unsigned char handoff_magic[4] = {'v', 'm', 's', 'h'};
inline constexpr std::size_t handoff_header = 8;

template <class E, class P, class H>
void send_duplicate(stream_socket<E, P>& ch, H h, std::int64_t pid, const deadline& when,
                    std::error_code& ec) noexcept {
  constexpr std::size_t size = P::protocol_info_size;
  if (pid <= 0 || pid > 0xFFFFFFFFll) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return;
  }
  unsigned char frame[handoff_header + size] = {};
  for (std::size_t i = 0; i < 4; ++i) frame[i] = handoff_magic[i];
  for (std::size_t i = 0; i < 4; ++i) frame[4 + i] = static_cast<unsigned char>(size >> (8 * i));
  P::duplicate_handle(h, static_cast<std::uint32_t>(pid), frame + handoff_header, size, ec);
  if (ec) return;
  ch.send_all(const_buffer{frame, sizeof frame}, when, ec);
}

template <class Socket, class E, class P>
Socket receive_duplicate(stream_socket<E, P>& ch, const deadline& when, std::error_code& ec,
                         handoff_report& r) noexcept {
  using problem = handoff_report::problem;
  constexpr std::size_t size = P::protocol_info_size;
  const deadline limit = receive_limit(ch, when);
  unsigned char frame[handoff_header + size] = {};
  ch.receive_exact(mutable_buffer{frame, handoff_header}, limit, ec);
  if (ec) {
    if (ec == errc::end_of_stream) r.what = problem::ended;
    return Socket{};
  }
  for (std::size_t i = 0; i < 4; ++i) {
    if (frame[i] != handoff_magic[i]) {
      r.what = problem::bad_frame;
      ec = std::make_error_code(std::errc::bad_message);
      return Socket{};
    }
  }
  std::uint32_t got = 0;
  for (std::size_t i = 0; i < 4; ++i) got |= static_cast<std::uint32_t>(frame[4 + i]) << (8 * i);
  if (got != size) {
    r.what = problem::bad_size;
    r.count = got;
    r.expected = size;
    ec = std::make_error_code(std::errc::bad_message);
    return Socket{};
  }
  ch.receive_exact(mutable_buffer{frame + handoff_header, size}, limit, ec);
  if (ec) {
    if (ec == errc::end_of_stream) r.what = problem::ended;
    return Socket{};
  }
  const auto h = P::open_duplicate(frame + handoff_header, size, ec);
  if (ec) return Socket{};
  return adopt_received<Socket, P>(h, ec, r);
}

template <class S, class P>
void check_sendable() {
  static_assert(std::is_same_v<typename S::native_handle_type, typename P::handle>,
                "vmsock::send_socket: the socket and the channel use different policies");
  static_assert(passes_descriptors<P>::value || duplicates_sockets<P>::value,
                "vmsock::send_socket: this policy cannot hand sockets to other processes");
}

template <class S, class E, class P>
void send_any(stream_socket<E, P>& ch, const S& s, std::int64_t pid, const deadline& when,
              std::error_code& ec) noexcept {
  if (!s.is_open()) {
    ec = P::closed_error();
    return;
  }
  if constexpr (passes_descriptors<P>::value) {
    static_assert(std::is_same_v<E, unix_endpoint>,
                  "vmsock::send_socket: on POSIX the channel is a Unix stream socket (SCM_RIGHTS)");
    (void)pid;
    send_descriptor(ch, s.native_handle(), when, ec);
  } else {
    send_duplicate(ch, s.native_handle(), pid, when, ec);
  }
}

template <class Socket, class E, class P>
Socket receive_any(stream_socket<E, P>& ch, const deadline& when, std::error_code& ec,
                   handoff_report& r) noexcept {
  static_assert(std::is_same_v<typename Socket::policy_type, P>,
                "vmsock::receive_socket: the socket type and the channel use different policies");
  if constexpr (passes_descriptors<P>::value) {
    static_assert(std::is_same_v<E, unix_endpoint>,
                  "vmsock::receive_socket: on POSIX the channel is a Unix stream socket (SCM_RIGHTS)");
    const auto h = receive_descriptor(ch, when, ec, r);
    if (ec) return Socket{};
    return adopt_received<Socket, P>(h, ec, r);
  } else {
    static_assert(duplicates_sockets<P>::value,
                  "vmsock::receive_socket: this policy cannot take sockets from other processes");
    return receive_duplicate<Socket>(ch, when, ec, r);
  }
}

// "send_socket of tcp://127.0.0.1:5000 over unix:///run/sup.sock"
template <class S, class E, class P>
std::string send_text(const stream_socket<E, P>& ch, const S& s) {
  std::string what = "send_socket of ";
  if (s.is_open()) {
    std::error_code ec;
    const auto peer = s.peer_endpoint(ec);
    if (!ec && !is_unnamed(peer)) {
      what += describe(peer, s.type());
    } else {
      what += "socket ";
      append_decimal(what, static_cast<std::uint64_t>(s.native_handle()));
    }
  } else {
    what += "a closed socket";
  }
  what += " over ";
  what += channel_text(ch);
  return what;
}
template <class S, class = void>
struct has_peer_endpoint : std::false_type {};
template <class S>
struct has_peer_endpoint<S, std::void_t<decltype(std::declval<const S&>().peer_endpoint(
                                std::declval<std::error_code&>()))>> : std::true_type {};

template <class S, class E, class P>
[[noreturn]] VMSOCK_NOINLINE void throw_send(const std::error_code& ec, const stream_socket<E, P>& ch,
                                             const S& s) {
  if constexpr (has_peer_endpoint<S>::value) {
    throw_error(ec, send_text(ch, s));
  } else {
    std::string what = "send_socket of ";
    std::error_code ignored;
    const auto local = s.local_endpoint(ignored);
    if (!s.is_open())
      what += "a closed socket";
    else if (!ignored && !is_unnamed(local))
      what += "the listener on " + describe(local, s.type());
    else
      what += "a listener";
    what += " over ";
    what += channel_text(ch);
    throw_error(ec, what);
  }
}

template <class Socket, class E, class P>
[[noreturn]] VMSOCK_NOINLINE void throw_receive(const std::error_code& ec,
                                                const stream_socket<E, P>& ch,
                                                const handoff_report& r) {
  std::string what = "receive_socket (";
  what += target_text<Socket>();
  what += ") over ";
  what += channel_text(ch);
  throw_handoff(ec, what, r, target_text<Socket>());
}

}  // namespace detail

// ---- send_socket ----------------------------------------------------------------
// Hands `s` (any open vmsock socket: connected, listening, datagram) to the
// process at the other end of `channel`: process `target_pid` (Windows needs
// it; POSIX does not, and ignores it).  `s` stays open here.
template <class S, class E, class P>
void send_socket(stream_socket<E, P>& channel, const S& s, std::int64_t target_pid, deadline when,
                 std::error_code& ec) noexcept {
  detail::check_sendable<S, P>();
  detail::send_any(channel, s, target_pid, when, ec);
}
template <class S, class E, class P>
void send_socket(stream_socket<E, P>& channel, const S& s, std::int64_t target_pid,
                 std::error_code& ec) noexcept {
  send_socket(channel, s, target_pid, deadline::never(), ec);
}
template <class S, class E, class P>
void send_socket(stream_socket<E, P>& channel, const S& s, std::int64_t target_pid,
                 deadline when = deadline::never()) {
  std::error_code ec;
  send_socket(channel, s, target_pid, when, ec);
  if (ec) detail::throw_send(ec, channel, s);
}

// POSIX: no process id needed.
template <class S, class P>
void send_socket(stream_socket<unix_endpoint, P>& channel, const S& s, deadline when,
                 std::error_code& ec) noexcept {
  detail::check_sendable<S, P>();
  static_assert(detail::passes_descriptors<P>::value,
                "vmsock::send_socket: on Windows a hand-off is made for one process: "
                "send_socket(channel, s, target_pid)");
  detail::send_any(channel, s, 0, when, ec);
}
template <class S, class P>
void send_socket(stream_socket<unix_endpoint, P>& channel, const S& s, std::error_code& ec) noexcept {
  send_socket(channel, s, deadline::never(), ec);
}
template <class S, class P>
void send_socket(stream_socket<unix_endpoint, P>& channel, const S& s,
                 deadline when = deadline::never()) {
  std::error_code ec;
  send_socket(channel, s, when, ec);
  if (ec) detail::throw_send(ec, channel, s);
}

// ---- receive_socket -------------------------------------------------------------
// The next socket handed over `channel`, as a Socket (tcp4_socket,
// unix_stream_socket, vsock_listener, udp6_socket, ...), by `when`.
template <class Socket, class E, class P>
Socket receive_socket(stream_socket<E, P>& channel, deadline when, std::error_code& ec) noexcept {
  detail::handoff_report r;
  return detail::receive_any<Socket>(channel, when, ec, r);
}
template <class Socket, class E, class P>
Socket receive_socket(stream_socket<E, P>& channel, std::error_code& ec) noexcept {
  return receive_socket<Socket>(channel, deadline::never(), ec);
}
template <class Socket, class E, class P>
Socket receive_socket(stream_socket<E, P>& channel, deadline when = deadline::never()) {
  std::error_code ec;
  detail::handoff_report r;
  auto s = detail::receive_any<Socket>(channel, when, ec, r);
  if (ec) detail::throw_receive<Socket>(ec, channel, r);
  return s;
}

// ---- the bytes themselves (Windows) ------------------------------------------------
// The WSAPROTOCOL_INFOW with which process `target_pid` opens a duplicate of
// `s`, to carry over a channel of your own; on POSIX unsupported_on_platform
// (descriptors travel only with send_socket).
template <class S>
std::vector<unsigned char> share_socket(const S& s, std::int64_t target_pid, std::error_code& ec) {
  using P = typename S::policy_type;
  std::vector<unsigned char> out;
  if constexpr (detail::duplicates_sockets<P>::value) {
    if (!s.is_open()) {
      ec = P::closed_error();
      return out;
    }
    if (target_pid <= 0 || target_pid > 0xFFFFFFFFll) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return out;
    }
    out.resize(P::protocol_info_size);
    P::duplicate_handle(s.native_handle(), static_cast<std::uint32_t>(target_pid), out.data(),
                        out.size(), ec);
    if (ec) out.clear();
  } else {
    (void)s, (void)target_pid;
    ec = make_error_code(errc::unsupported_on_platform);
  }
  return out;
}
template <class S>
std::vector<unsigned char> share_socket(const S& s, std::int64_t target_pid) {
  std::error_code ec;
  auto out = share_socket(s, target_pid, ec);
  if (ec) detail::throw_error(ec, "share_socket");
  return out;
}

// Opens what share_socket made in another process for this one, checked
// against Socket as receive_socket checks.  `size` must be a
// WSAPROTOCOL_INFOW's (else std::errc::invalid_argument, nothing opened).
template <class Socket>
Socket open_shared_socket(const void* data, std::size_t size, std::error_code& ec) noexcept {
  using P = typename Socket::policy_type;
  if constexpr (detail::duplicates_sockets<P>::value) {
    if (data == nullptr || size != P::protocol_info_size) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return Socket{};
    }
    const auto h = P::open_duplicate(data, size, ec);
    if (ec) return Socket{};
    detail::handoff_report r;
    return detail::adopt_received<Socket, P>(h, ec, r);
  } else {
    (void)data, (void)size;
    ec = make_error_code(errc::unsupported_on_platform);
    return Socket{};
  }
}
template <class Socket>
Socket open_shared_socket(const void* data, std::size_t size) {
  using P = typename Socket::policy_type;
  std::error_code ec;
  if constexpr (detail::duplicates_sockets<P>::value) {
    if (data != nullptr && size != P::protocol_info_size) {
      std::string what = "open_shared_socket: ";
      detail::append_decimal(what, size);
      what += " bytes, a WSAPROTOCOL_INFOW has ";
      detail::append_decimal(what, P::protocol_info_size);
      detail::throw_error(std::make_error_code(std::errc::invalid_argument), what);
    }
    const auto h = P::open_duplicate(data, size, ec);
    if (ec) detail::throw_error(ec, "open_shared_socket");
    detail::handoff_report r;
    auto s = detail::adopt_received<Socket, P>(h, ec, r);
    if (ec) detail::throw_handoff(ec, "open_shared_socket", r, detail::target_text<Socket>());
    return s;
  } else {
    auto s = open_shared_socket<Socket>(data, size, ec);
    if (ec) detail::throw_error(ec, "open_shared_socket");
    return s;
  }
}

VMSOCK_END_NAMESPACE
