// The Hyper-V sockets: all a program of Hyper-V sockets includes (on Linux
// they travel as VSOCK, the hv_sock transport).  socket/aliases.hpp has every
// family's.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/stream_socket.hpp>

VMSOCK_BEGIN_NAMESPACE

using hv_stream_socket = stream_socket<hv_endpoint>;
using hv_listener = listener<hv_endpoint>;

VMSOCK_END_NAMESPACE
