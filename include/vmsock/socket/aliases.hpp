// The socket layer: basic_socket<Endpoint, Policy> and its categories, one
// header each, and names for the common cases, one header per family.
//
//   basic_socket.hpp      one owned handle: RAII, options, waits, local endpoint
//   stream_socket.hpp     connect in one call, send/receive, send_all/receive_exact
//   listener.hpp          listen in one call, accept (with a timeout, with the peer)
//   datagram_socket.hpp   send_to/receive_from, connected datagrams
//   seqpacket_socket.hpp  message boundaries (VSOCK and Unix SOCK_SEQPACKET)
//   connector.hpp         the explicit form of connect (open, options, bind, connect)
//   inet_sockets.hpp      tcp4_socket ... udp6_socket     unix_sockets.hpp   unix_*
//   vsock_sockets.hpp     vsock_*                         hyperv_sockets.hpp hv_*
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/basic_socket.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/datagram_socket.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/seqpacket_socket.hpp>
#include <vmsock/socket/stream_socket.hpp>

// Names for the common cases, one header per family: a program of one family
// may include just that one (it parses no other family's endpoint).
#include <vmsock/socket/hyperv_sockets.hpp>
#include <vmsock/socket/inet_sockets.hpp>
#include <vmsock/socket/unix_sockets.hpp>
#include <vmsock/socket/vsock_sockets.hpp>
