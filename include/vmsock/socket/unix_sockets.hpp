// The Unix-domain sockets (stream and datagram): all a program of Unix sockets
// includes.  socket/aliases.hpp has every family's.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/datagram_socket.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/stream_socket.hpp>

VMSOCK_BEGIN_NAMESPACE

using unix_stream_socket = stream_socket<unix_endpoint>;
using unix_listener = listener<unix_endpoint>;
using unix_datagram_socket = datagram_socket<unix_endpoint>;

VMSOCK_END_NAMESPACE
