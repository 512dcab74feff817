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
#include <vmsock/host/detail/handoff_common.hpp>
#include <vmsock/host/detail/handoff_messages.hpp>
#include <vmsock/host/detail/handoff_posix.hpp>
#include <vmsock/host/detail/handoff_target.hpp>
#include <vmsock/host/detail/handoff_windows.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// Which of the two mechanisms the policy has: SCM_RIGHTS where it passes
// descriptors (detail/handoff_posix.hpp), else a duplicate for one process
// (detail/handoff_windows.hpp).
template <class S, class P> void check_sendable() {
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
    static_assert(
        std::is_same_v<E, unix_endpoint>,
        "vmsock::receive_socket: on POSIX the channel is a Unix stream socket (SCM_RIGHTS)");
    auto h = receive_descriptor(ch, when, ec, r);
    if (ec) return Socket{};
    return adopt_received<Socket, P>(std::move(h), ec, r);
  } else {
    static_assert(duplicates_sockets<P>::value,
                  "vmsock::receive_socket: this policy cannot take sockets from other processes");
    return receive_duplicate<Socket>(ch, when, ec, r);
  }
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
void send_socket(stream_socket<unix_endpoint, P>& channel, const S& s,
                 std::error_code& ec) noexcept {
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
template <class S> std::vector<unsigned char> share_socket(const S& s, std::int64_t target_pid) {
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
    detail::unique_handle<P> h(P::open_duplicate(data, size, ec));
    if (ec) return Socket{};
    detail::handoff_report r;
    return detail::adopt_received<Socket, P>(std::move(h), ec, r);
  } else {
    (void)data, (void)size;
    ec = make_error_code(errc::unsupported_on_platform);
    return Socket{};
  }
}
template <class Socket> Socket open_shared_socket(const void* data, std::size_t size) {
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
    detail::unique_handle<P> h(P::open_duplicate(data, size, ec));
    if (ec) detail::throw_error(ec, "open_shared_socket");
    detail::handoff_report r;
    auto s = detail::adopt_received<Socket, P>(std::move(h), ec, r);
    if (ec) detail::throw_handoff(ec, "open_shared_socket", r, detail::target_text<Socket>());
    return s;
  } else {
    auto s = open_shared_socket<Socket>(data, size, ec);
    if (ec) detail::throw_error(ec, "open_shared_socket");
    return s;
  }
}

VMSOCK_END_NAMESPACE
