// Connecting to an endpoint of any family (any_stream_socket::connect): one
// attempt, attempts until the peer is up (socket/wait_for_ready.hpp) and which
// errors mean "not up yet" for it, and the exception a connect that failed
// throws.
#pragma once

#include <vmsock/any/detail/stream_of.hpp>
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
[[noreturn]] VMSOCK_NOINLINE inline void throw_any_connect_error(const std::error_code& ec,
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

// One connect of an any-transport stream socket S to `remote`, by `when`; `a`
// gets a hybrid VMM's answer, for the message of a failure.
template <class S>
S connect_any_once(const any_endpoint& remote, const deadline& when, std::error_code& ec,
                   hybrid_answer& a) noexcept {
  using Policy = typename S::policy_type;
  if (remote.type() != socket_type::stream) {
    ec = std::make_error_code(std::errc::wrong_protocol_type);
    return {};
  }
  return visit_nothrow(
      [&](const auto& ep) -> S {
        using T = any_stream_t<std::decay_t<decltype(ep)>, Policy>;
        if constexpr (std::is_same_v<T, basic_hybrid_vsock_stream_socket<Policy>>) {
          auto c = connector<T>::open(ec);  // the connector keeps the answer
          if (ec) return {};
          auto s = c.connect(ep, when, ec);
          a = c.last_answer();
          if (ec) return {};
          return S(std::move(s), remote);
        } else {
          (void)a;
          auto s = T::connect(ep, when, ec);
          if (ec) return {};
          return S(std::move(s), remote);
        }
      },
      remote.value());
}

// connect_any_once again while the peer is not up yet (wait_for_ready), each
// attempt with a fresh socket.
template <class S>
S connect_any_when_ready(const any_endpoint& remote, const deadline& when, const wait_for_ready& w,
                         ready_outcome& r, std::error_code& ec, hybrid_answer& a) noexcept {
  S out;
  connect_when_ready<typename S::policy_type>(
      ready_transport_of(remote), when, r, ec,
      [&](std::error_code& e) { out = connect_any_once<S>(remote, when, e, a); }, w);
  return out;
}

}  // namespace detail

VMSOCK_END_NAMESPACE
