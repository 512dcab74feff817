// The VSOCK sockets (stream and seqpacket): all a program of VSOCK sockets
// includes (on Windows they travel as Hyper-V sockets).  socket/aliases.hpp
// has every family's.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/vsock.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/seqpacket_socket.hpp>
#include <vmsock/socket/stream_socket.hpp>

VMSOCK_BEGIN_NAMESPACE

using vsock_stream_socket = stream_socket<vsock_endpoint>;
using vsock_listener = listener<vsock_endpoint>;
using vsock_seqpacket_socket = seqpacket_socket<vsock_endpoint>;
using vsock_seqpacket_listener = seqpacket_listener<vsock_endpoint>;

VMSOCK_END_NAMESPACE
