// What vmsock asks of a socket policy beyond the calls every policy has,
// probed at compile time (SFINAE): adopt() for a handle the user hands over,
// shutdown_wakes_poll() for waits without a wake-up handle, startup() and
// cleanup() for a start-up reference count (Winsock).  A policy without one
// of them gets the plain behaviour.  startup_hold is here because it is that
// probe's one user: connect_first, listen_all, the connectors and
// wait_for_ready hold Winsock up across their attempts with it.
#pragma once

#include <vmsock/config.hpp>

#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// Policies that must account for a handle the user hands over (Winsock's
// start-up reference) provide adopt(); for the others it is nothing.
template <class Policy, class = void> struct has_adopt : std::false_type {};
template <class Policy>
struct has_adopt<Policy, std::void_t<decltype(Policy::adopt(Policy::invalid_handle))>>
    : std::true_type {};

// Whether cancel()'s shutdown ends a poll() on a socket of `family` (see
// policy/posix.hpp); policies that do not say keep a wake-up handle.
template <class Policy, class = void> struct has_shutdown_wakes : std::false_type {};
template <class Policy>
struct has_shutdown_wakes<Policy, std::void_t<decltype(Policy::shutdown_wakes_poll(0))>>
    : std::true_type {};
template <class Policy> constexpr bool shutdown_wakes_poll(int family) noexcept {
  if constexpr (has_shutdown_wakes<Policy>::value) {
    return Policy::shutdown_wakes_poll(family);
  } else {
    return (void)family, false;
  }
}

// Adopts `h`: true when the policy took what it needs for it (Winsock's
// start-up reference), so that closing it may give that back.
template <class Policy> bool adopt_handle(typename Policy::handle h) noexcept {
  if constexpr (has_adopt<Policy>::value) {
    return Policy::adopt(h);
  } else {
    (void)h;
    return true;
  }
}

// Policies whose UDP sockets report what an earlier send drew (an ICMP
// port-unreachable, a time-exceeded) to a later receive unless told not to
// (Winsock) say udp_icmp_errors = true and provide set_udp_icmp_errors; for
// the others nothing is asked.
template <class Policy, class = void> struct reports_udp_icmp_errors : std::false_type {};
template <class Policy>
struct reports_udp_icmp_errors<Policy, std::void_t<decltype(Policy::udp_icmp_errors)>>
    : std::bool_constant<Policy::udp_icmp_errors> {};

// Policies with a start-up reference count (Winsock) provide startup/cleanup.
template <class Policy, class = void> struct has_startup : std::false_type {};
template <class Policy>
struct has_startup<Policy, std::void_t<decltype(Policy::startup(std::declval<std::error_code&>())),
                                       decltype(Policy::cleanup())>> : std::true_type {};

// Holds one start-up reference for as long as it lives, so that an operation
// of several attempts (connect_first, listen_all) does not start and stop
// Winsock between them.  Nothing where there is no such thing.
template <class Policy> class startup_hold {
 public:
  startup_hold() noexcept {
    if constexpr (has_startup<Policy>::value) {
      std::error_code ec;
      held_ = Policy::startup(ec);
    }
  }
  ~startup_hold() {
    if constexpr (has_startup<Policy>::value) {
      if (held_) Policy::cleanup();
    }
  }
  startup_hold(const startup_hold&) = delete;
  startup_hold& operator=(const startup_hold&) = delete;

 private:
  bool held_ = false;
};

}  // namespace detail
VMSOCK_END_NAMESPACE
