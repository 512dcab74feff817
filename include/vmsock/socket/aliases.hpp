// The socket layer: basic_socket<Endpoint, Policy> and its categories, one
// header each, and names for the common cases.
//
//   basic_socket.hpp      one owned handle: RAII, options, waits, local endpoint
//   stream_socket.hpp     connect in one call, send/receive, send_all/receive_exact
//   listener.hpp          listen in one call, accept (with a timeout, with the peer)
//   datagram_socket.hpp   send_to/receive_from, connected datagrams
//   seqpacket_socket.hpp  message boundaries (VSOCK and Unix SOCK_SEQPACKET)
//   connector.hpp         the explicit form of connect (open, options, bind, connect)
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/basic_socket.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/datagram_socket.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/seqpacket_socket.hpp>
#include <vmsock/socket/stream_socket.hpp>

VMSOCK_BEGIN_NAMESPACE

// Names for the common cases.
using tcp4_socket = stream_socket<inet4_endpoint>;
using tcp6_socket = stream_socket<inet6_endpoint>;
using tcp4_listener = listener<inet4_endpoint>;
using tcp6_listener = listener<inet6_endpoint>;
using udp4_socket = datagram_socket<inet4_endpoint>;
using udp6_socket = datagram_socket<inet6_endpoint>;
using unix_stream_socket = stream_socket<unix_endpoint>;
using unix_listener = listener<unix_endpoint>;
using unix_datagram_socket = datagram_socket<unix_endpoint>;
using vsock_stream_socket = stream_socket<vsock_endpoint>;
using vsock_listener = listener<vsock_endpoint>;
using vsock_seqpacket_socket = seqpacket_socket<vsock_endpoint>;
using vsock_seqpacket_listener = seqpacket_listener<vsock_endpoint>;
using hv_stream_socket = stream_socket<hv_endpoint>;
using hv_listener = listener<hv_endpoint>;

VMSOCK_END_NAMESPACE
