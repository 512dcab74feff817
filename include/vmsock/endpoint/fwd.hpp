// The endpoint types, declared, with the few numbers of theirs that the
// socket core names: for the headers of the layers above that only name a
// family (a type test, an alias such as stream_socket<inet4_endpoint>) and so
// need not parse its definition.  A program that makes or reads an endpoint
// includes that family's own header (endpoint/inet.hpp, ...).
#pragma once

#include <vmsock/config.hpp>

#include <cstdint>

VMSOCK_BEGIN_NAMESPACE

struct inet4_endpoint;        // endpoint/inet.hpp
struct inet6_endpoint;        // endpoint/inet.hpp
class unix_endpoint;          // endpoint/unix.hpp
struct vsock_endpoint;        // endpoint/vsock.hpp
struct hv_endpoint;           // endpoint/hyperv.hpp
class hybrid_vsock_endpoint;  // endpoint/hybrid_vsock.hpp
class any_endpoint;           // endpoint/any_endpoint.hpp

namespace vsock {
// AF_VSOCK: 40 on Linux (vsock.hpp checks it against the system's); other
// systems have no VSOCK family, and the endpoint maps to Hyper-V there.
inline constexpr int address_family = 40;
}  // namespace vsock

namespace hv {
// HVSOCKET_CONNECT_TIMEOUT_MAX: the longest connect Windows waits for.
inline constexpr std::uint32_t connect_timeout_max_ms = 300000;
}  // namespace hv

namespace detail {
// T, spelled so that it depends on D: a template names an endpoint this way
// where the definition comes from its user's includes, not from its header.
template <class T, class D> struct dependent_type { using type = T; };
template <class T, class D> using dependent_t = typename dependent_type<T, D>::type;
}  // namespace detail

VMSOCK_END_NAMESPACE
