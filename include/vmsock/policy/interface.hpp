// The policy contract: what a socket policy (posix_policy, winsock_policy, a
// test's fault-injecting or scripted policy) gives the layers above it.  A
// policy is a struct of types, constants and static functions, all noexcept,
// each failure reported through a std::error_code& as the OS's code
// (Policy::os_error) or a vmsock::errc.  A test policy derives from
// default_policy and replaces what it scripts.
//
// Required (every layer uses them; is_socket_policy_v checks the names):
//   handle, invalid_handle          the OS's socket handle and its empty value
//   wake_handle, invalid_wake       what cancel() signals (an eventfd, an event)
//   max_buffers, max_backlog        the most buffers of one call, the backlog cap
//   closed_error()                  the code of a call on a closed socket
//   open, close, bind, listen, accept, connect, shutdown
//   send, receive, send_to, receive_from            with message_flags
//   set_option, get_option          by option_id (policy/types.hpp), or
//                                   errc::unsupported_on_platform
//   set_nonblocking, is_nonblocking
//   local_name, peer_name           sockaddr of the handle
//   poll, poll_any                  waits (wait_type, a deadline, a wake-up)
//   open_wake, signal_wake, close_wake, yield, interrupt
//   prepare_connect, start_connect, wait_connect, finish_connect,
//   abort_connect, pending_connect  the steps of a connect (and the type of one
//                                   under way) that a deadline and cancel() end (an overlapped
//                                   ConnectEx on Windows, a non-blocking connect elsewhere)
//
// Optional, probed at compile time; without one the layer above does the
// plain thing:
//   adopt(h)                 a handle the user hands over takes a start-up
//                            reference (socket/detail/policy_traits.hpp)
//   startup(ec), cleanup()   a start-up reference count, Winsock's (the same)
//   shutdown_wakes_poll(f)   cancel()'s shutdown ends a poll on family f, so
//                            such sockets need no wake-up handle (the same)
//   send_handle, receive_handle               handing a descriptor to another
//                            process over SCM_RIGHTS (host/detail/handoff_common.hpp)
//   duplicate_handle, open_duplicate, protocol_info_size
//                            the same by WSADuplicateSocketW (the same)
//   environment, unset_environment, current_process_id, socket_file
//                            socket activation (host/systemd.hpp)
//   acquire/associate/release_port_reservation
//                            Windows' port reservations
//   udp_icmp_errors, set_udp_icmp_errors      UDP receives that report an
//                            earlier send's ICMP errors (Winsock; the same)
//   peer_credentials, local_vsock_cid         SO_PEERCRED, the local CID
//
// The policies themselves are built from parts in policy/detail (the calls
// every part shares, wake-ups, waits, option tables, hand-off calls).
#pragma once

#include <vmsock/config.hpp>

#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE

namespace detail {
template <class P, class = void> struct has_policy_names : std::false_type {};
template <class P>
struct has_policy_names<
    P, std::void_t<typename P::handle, typename P::wake_handle, decltype(P::invalid_handle),
                   decltype(P::invalid_wake), decltype(P::max_buffers), decltype(P::max_backlog),
                   decltype(std::declval<std::error_code&>() = P::closed_error())>>
    : std::true_type {};
}  // namespace detail

// Whether P has the names every layer uses of a policy (its types, constants
// and closed_error()); the calls are checked where they are made.
template <class P> inline constexpr bool is_socket_policy_v = detail::has_policy_names<P>::value;

VMSOCK_END_NAMESPACE
