// What a socket handed to this process must be to become a given vmsock type
// (its type, and whether it listens), and the words that name such a socket
// in messages ("a listening IPv4 stream socket").  Apart from handoff.hpp
// because socket activation (systemd.hpp) checks the sockets it is passed
// against the same target and names them the same way.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket_types.hpp>

#include <cstdint>
#include <string>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// What a received socket must be to become a Socket.
template <class S> struct handoff_target {
  static constexpr socket_type type = S::kind;
  static constexpr bool listening = false;
};
template <class E, class P, class S> struct handoff_target<listener<E, P, S>> {
  static constexpr socket_type type = S::kind;
  static constexpr bool listening = true;
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
    if (s.empty())
      s += family == inet4_endpoint::family || family == inet6_endpoint::family ? "an " : "a ";
    s += f;
    s += ' ';
  }
  s += type == socket_type::stream     ? "stream"
       : type == socket_type::datagram ? "datagram"
                                       : "seqpacket";
  s += " socket";
  return s;
}

template <class Socket> std::string target_text() {
  return socket_text(Socket::native_family, handoff_target<Socket>::type,
                     handoff_target<Socket>::listening);
}

}  // namespace detail
VMSOCK_END_NAMESPACE
