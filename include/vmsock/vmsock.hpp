// vmsock: every layer but interop/, whose headers need asio, Boost.Asio or
// {fmt} (include those beside it: vmsock/asio.hpp, vmsock/boost_asio.hpp,
// vmsock/fmt.hpp, vmsock/asio_fmt.hpp).  A program that uses a few types
// compiles faster with their own headers: vmsock/socket.hpp for the typed
// sockets, a header of endpoint/ for one family's addresses.
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/config.hpp>
#include <vmsock/deadline.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket_types.hpp>

#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/endpoint/ip_network.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <vmsock/policy/default.hpp>
#include <vmsock/policy/types.hpp>

#include <vmsock/socket/aliases.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/options.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <vmsock/any/connect_first.hpp>
#include <vmsock/any/connector.hpp>
#include <vmsock/any/listener.hpp>
#include <vmsock/any/stream_socket.hpp>

#include <vmsock/host/connection_group.hpp>
#include <vmsock/host/handoff.hpp>
#include <vmsock/host/hv_registry.hpp>
#include <vmsock/host/local_cid.hpp>
#include <vmsock/host/peer_filter.hpp>
#include <vmsock/host/systemd.hpp>
