// Connecting to an endpoint of any family: which errors mean "not up yet" for
// it (socket/wait_for_ready.hpp), and the exception a connect that failed
// throws.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <string>
#include <system_error>
#include <type_traits>
#include <variant>

VMSOCK_BEGIN_NAMESPACE

namespace detail {

inline ready_transport ready_transport_of(const any_endpoint& ep) noexcept {
  return visit_nothrow(
      [](const auto& e) { return ready_transport_of<std::decay_t<decltype(e)>>(); }, ep.value());
}

// How a failed connect names `remote` after "connect to": its URI, and for a
// hybrid vsock VMM what it answered, or that it took the connection and said
// nothing, as the hybrid socket's own connect says it (hybrid_failure).
inline std::string connect_failure(const any_endpoint& remote, const std::error_code& ec,
                                   const hybrid_answer& a) {
  if (const auto* h = std::get_if<hybrid_vsock_endpoint>(&remote.value()))
    return hybrid_failure(*h, ec, a);
  return remote.to_string();
}

// "connect to <uri>", and how the wait went (any_stream_socket, any_connector).
[[noreturn]] VMSOCK_NOINLINE inline void throw_connect_error(const std::error_code& ec,
                                                             const any_endpoint& remote,
                                                             const hybrid_answer& a) {
  throw_error(ec, "connect to", connect_failure(remote, ec, a));
}
[[noreturn]] VMSOCK_NOINLINE inline void throw_ready_error(const std::error_code& ec,
                                                           const any_endpoint& remote,
                                                           const ready_outcome& r,
                                                           const hybrid_answer& a) {
  throw_error(ec, ready_message("connect to " + connect_failure(remote, ec, a), r, ec));
}

}  // namespace detail

VMSOCK_END_NAMESPACE
