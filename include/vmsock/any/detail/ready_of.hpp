// Waiting for ready (socket/wait_for_ready.hpp) with an endpoint of any
// family: which errors mean "not up yet" for it, and the exception a wait
// that failed throws.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

namespace detail {

inline ready_transport ready_transport_of(const any_endpoint& ep) noexcept {
  return visit_nothrow(
      [](const auto& e) { return ready_transport_of<std::decay_t<decltype(e)>>(); }, ep.value());
}

// "connect to <uri>" with how the wait went (any_stream_socket, any_connector).
[[noreturn]] VMSOCK_NOINLINE inline void throw_ready_error(const std::error_code& ec,
                                                           const any_endpoint& remote,
                                                           const ready_outcome& r) {
  throw_error(ec, ready_message("connect to " + remote.to_string(), r, ec));
}

}  // namespace detail

VMSOCK_END_NAMESPACE
