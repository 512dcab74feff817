// The typed stream socket behind each family of any_stream_socket, and the
// words its errors use.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/stream_socket.hpp>

#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE

namespace detail {

// The stream socket that connects to an endpoint of type E: stream_socket<E>,
// and for a hybrid vsock endpoint the socket that makes the VMM's handshake.
template <class E, class Policy> struct any_stream_of { using type = stream_socket<E, Policy>; };
template <class Policy> struct any_stream_of<hybrid_vsock_endpoint, Policy> {
  using type = basic_hybrid_vsock_stream_socket<Policy>;
};
template <class E, class Policy> using any_stream_t = typename any_stream_of<E, Policy>::type;

// "tcp sockets": how a family is named where an option does not apply to it.
template <class E> const char* family_words() noexcept {
  if constexpr (is_ip_endpoint<E>)
    return "TCP sockets";
  else if constexpr (std::is_same_v<E, unix_endpoint> || std::is_same_v<E, hybrid_vsock_endpoint>)
    return "Unix sockets";
  else if constexpr (std::is_same_v<E, vsock_endpoint>)
    return "VSOCK sockets";
  else
    return "Hyper-V sockets";
}

[[noreturn]] VMSOCK_NOINLINE inline void throw_empty(const char* op, const char* what,
                                                     const std::error_code& ec) {
  std::string msg(op);
  msg += " an empty ";
  msg += what;
  raise(std::system_error(ec, msg));
}

// A socket's own or peer name as an any_endpoint; the error_code form when
// `ec` is given.
template <class Variant>
any_endpoint name_of_any(const Variant& v, bool peer, std::error_code* ec) {
  return visit_nothrow(
      [&](const auto& s) -> any_endpoint {
        if (ec)
          return peer ? any_endpoint(s.peer_endpoint(*ec)) : any_endpoint(s.local_endpoint(*ec));
        return peer ? any_endpoint(s.peer_endpoint()) : any_endpoint(s.local_endpoint());
      },
      v);
}

}  // namespace detail

VMSOCK_END_NAMESPACE
