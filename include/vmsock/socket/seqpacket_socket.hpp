// seqpacket_socket<Endpoint, Policy>: a connection that keeps message boundaries.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/connected_ops.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

template <class Endpoint, class Policy, class Socket> class listener;

// A connected socket that keeps message boundaries: VSOCK SOCK_SEQPACKET (Linux
// 5.16+), Unix SOCK_SEQPACKET.  Each send is one message; each receive takes one
// message, reporting errc::message_truncated (with the full length as result)
// when the message did not fit.
template <class Endpoint, class Policy = default_policy>
class seqpacket_socket : public detail::connected_ops<seqpacket_socket<Endpoint, Policy>, Endpoint,
                                                      Policy, socket_type::seqpacket> {
  using base = detail::connected_ops<seqpacket_socket<Endpoint, Policy>, Endpoint, Policy,
                                     socket_type::seqpacket>;
  friend base;
  static_assert(!std::is_same_v<Endpoint, hv_endpoint>,
                "vmsock: Hyper-V sockets have no SOCK_SEQPACKET (AF_HYPERV is stream-only, and so "
                "is the Linux hv_sock transport)");

 public:
  seqpacket_socket() noexcept = default;
  explicit seqpacket_socket(typename Policy::handle h,
                            socket_type type = socket_type::seqpacket) noexcept
      : base(h, type) {}

 private:
  template <class, class, class> friend class listener;
  seqpacket_socket(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:
  // connect(ep[, deadline][, setup items...][, ec]): see connected_ops.
  using base::connect;
};

VMSOCK_END_NAMESPACE
