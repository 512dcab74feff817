// The messages of the hand-off's throwing forms: how the channel and the
// socket sent are named, and what the report of a refused receive adds
// ("receive_socket (a connected IPv4 stream socket) over unix:///run/sup.sock:
// the message carried 2 descriptors, one expected (all were closed)").
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/error.hpp>
#include <vmsock/host/detail/handoff_common.hpp>
#include <vmsock/host/detail/handoff_target.hpp>
#include <vmsock/socket/stream_socket.hpp>

#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// How a throwing form names the channel: its peer, else its own address,
// else its handle.
template <class E, class P> std::string channel_text(const stream_socket<E, P>& ch) {
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
  case problem::none: break;
  case problem::no_descriptor: what += ": the message carried no descriptor"; break;
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
  case problem::ended: what += ": the channel's stream ended before a socket came"; break;
  case problem::bad_frame: what += ": not a vmsock hand-off frame (it starts with \"vmsh\")"; break;
  case problem::bad_size:
    what += ": the hand-off frame carries ";
    append_decimal(what, r.count);
    what += " bytes, a WSAPROTOCOL_INFOW has ";
    append_decimal(what, r.expected);
    break;
  }
  throw_error(ec, what);
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
template <class S, class = void> struct has_peer_endpoint : std::false_type {};
template <class S>
struct has_peer_endpoint<S, std::void_t<decltype(std::declval<const S&>().peer_endpoint(
                                std::declval<std::error_code&>()))>> : std::true_type {};

template <class S, class E, class P>
[[noreturn]] VMSOCK_NOINLINE void throw_send(const std::error_code& ec,
                                             const stream_socket<E, P>& ch, const S& s) {
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
VMSOCK_END_NAMESPACE
