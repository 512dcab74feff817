// Which address the operating system sees for an endpoint type under a policy.
// Usually the endpoint itself; the VM families cross over: on Linux an
// hv_endpoint travels as AF_VSOCK (the hv_sock transport), on Windows a
// vsock_endpoint travels as AF_HYPERV.  Policies specialise os_address for
// those cases; a policy that names a `base_policy` (a test policy wrapping a
// real one) inherits its base's mapping.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/error.hpp>

#include <type_traits>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Policy, class Endpoint, class = void> struct os_address {
  using type = Endpoint;
  static constexpr errc to_os(const Endpoint& ep, type& out) noexcept {
    out = ep;
    return errc{};
  }
  static constexpr errc from_os(const type& os, Endpoint& out) noexcept {
    out = os;
    return errc{};
  }
};

template <class Policy, class Endpoint>
struct os_address<Policy, Endpoint, std::void_t<typename Policy::base_policy>>
    : os_address<typename Policy::base_policy, Endpoint> {};

}  // namespace detail
VMSOCK_END_NAMESPACE
