// The TCP and UDP sockets (IPv4 and IPv6): all a program of IP sockets
// includes.  socket/aliases.hpp has every family's.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/datagram_socket.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/stream_socket.hpp>

VMSOCK_BEGIN_NAMESPACE

using tcp4_socket = stream_socket<inet4_endpoint>;
using tcp6_socket = stream_socket<inet6_endpoint>;
using tcp4_listener = listener<inet4_endpoint>;
using tcp6_listener = listener<inet6_endpoint>;
using udp4_socket = datagram_socket<inet4_endpoint>;
using udp6_socket = datagram_socket<inet6_endpoint>;

VMSOCK_END_NAMESPACE
