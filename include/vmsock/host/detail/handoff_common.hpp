// What both hand-off mechanisms (SCM_RIGHTS on POSIX, WSADuplicateSocketW on
// Windows) share: the probes that tell which one a policy has, the report of
// what went wrong for the throwing forms' messages, the check and adoption of
// a received socket, and the deadline of a receive given none.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/deadline.hpp>
#include <vmsock/error.hpp>
#include <vmsock/host/detail/handoff_target.hpp>
#include <vmsock/policy/detail/unique_handle.hpp>
#include <vmsock/socket/options.hpp>
#include <vmsock/socket/stream_socket.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// SCM_RIGHTS (posix_policy) or WSADuplicateSocketW (winsock_policy).
template <class P, class = void> struct passes_descriptors : std::false_type {};
template <class P>
struct passes_descriptors<
    P, std::void_t<decltype(P::send_handle(P::invalid_handle, P::invalid_handle,
                                           message_flags::none, std::declval<std::error_code&>()))>>
    : std::true_type {};
template <class P, class = void> struct duplicates_sockets : std::false_type {};
template <class P>
struct duplicates_sockets<P, std::void_t<decltype(P::open_duplicate(
                                 nullptr, std::size_t{0}, std::declval<std::error_code&>()))>>
    : std::true_type {};
// A policy whose handles hold a start-up reference (Winsock).
template <class P, class = void> struct handoff_startup : std::false_type {};
template <class P>
struct handoff_startup<P, std::void_t<decltype(P::cleanup())>> : std::true_type {};

// What went wrong, for the throwing forms' messages.
struct handoff_report {
  enum class problem {
    none,
    no_descriptor,
    several,
    truncated,
    mismatch,
    ended,
    bad_frame,
    bad_size
  };
  problem what = problem::none;
  std::size_t count = 0;     // descriptors that came (several, truncated), or the frame's size
  std::size_t expected = 0;  // the size a frame must have (bad_size)
  int family = 0;            // what came (mismatch)
  socket_type type = socket_type::stream;
  bool listening = false;
};

// Checks what `h` is against Socket and adopts it; on a mismatch it is closed
// (with `h`, when this returns).
template <class Socket, class P>
Socket adopt_received(unique_handle<P> h, std::error_code& ec, handoff_report& r) noexcept {
  using target = handoff_target<Socket>;
  int family = 0;
  socket_type type = socket_type::stream;
  bool listening = false;
  P::socket_identity(h.get(), family, type, listening, ec);
  if (!ec &&
      (family != Socket::native_family || type != target::type || listening != target::listening)) {
    r.what = handoff_report::problem::mismatch;
    r.family = family;
    r.type = type;
    r.listening = listening;
    ec = family != Socket::native_family ? make_error_code(errc::address_family_mismatch)
                                         : std::make_error_code(std::errc::wrong_protocol_type);
  }
  if (ec) return Socket{};
  Socket s(h.release(), target::type);
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

}  // namespace detail
VMSOCK_END_NAMESPACE
