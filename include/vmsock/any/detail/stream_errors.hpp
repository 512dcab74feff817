// The messages of any_stream_socket's throwing forms: an option that failed
// or does not apply to the family that won ("set_option ... on tcp://...
// (the option does not apply to TCP sockets)"), and a transfer that failed,
// named after the concrete socket it holds ("send_all to tcp://... (3 of 8
// bytes sent): ...").  Out of line and apart from the class: the messages are
// built only when a call fails.
#pragma once

#include <vmsock/any/detail/stream_of.hpp>
#include <vmsock/config.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/stream_socket.hpp>

#include <cstddef>
#include <string>
#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// any_stream_socket's transfers, in the order of their names below.
enum class any_transfer { send, send_all, receive, receive_exact };

// `socket`: the any_stream_socket whose call failed.
template <class Socket>
[[noreturn]] VMSOCK_NOINLINE void throw_any_option(const std::error_code& ec, std::string op,
                                                   const Socket& socket) {
  if (socket.empty()) detail::throw_empty((op + " on").c_str(), "any_stream_socket", ec);
  std::string where = socket.remote().to_string();
  if (ec == errc::option_not_applicable) {
    where += " (the option does not apply to ";
    where += detail::visit_nothrow(
        [](const auto& s) {
          return detail::family_words<typename std::decay_t<decltype(s)>::endpoint_type>();
        },
        socket.value());
    where += ')';
  }
  detail::throw_error(ec, op + " on", where);
}

// The concrete socket's messages: "send_all to tcp://... (3 of 8 bytes
// sent): ...", "receive from unix:///run/agent.sock: ...".  `describe` names
// the socket (only any_stream_socket knows how: a hybrid vsock connection by
// its hybrid endpoint); `empty`: it never held one.
template <class Describe>
[[noreturn]] VMSOCK_NOINLINE void throw_any_transfer(any_transfer k, const std::error_code& ec,
                                                     std::size_t n, std::size_t total, bool empty,
                                                     const Describe& describe) {
  static constexpr const char* ops_text[] = {"send to", "send_all to", "receive from",
                                             "receive_exact from"};
  const char* what = ops_text[static_cast<int>(k)];
  if (empty) detail::throw_empty(what, "any_stream_socket", ec);
  const std::string name = describe();
  if (k == any_transfer::send_all) detail::throw_partial(ec, what, name, n, total, "sent");
  if (k == any_transfer::receive_exact) detail::throw_partial(ec, what, name, n, total, "received");
  detail::throw_error(ec, what, name);
}

}  // namespace detail
VMSOCK_END_NAMESPACE
