// vmsock: everything but fmt.hpp (needs {fmt}).
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/guid.hpp>
#include <vmsock/hyperv.hpp>
#include <vmsock/vsock.hpp>
#include <vmsock/inet.hpp>
#include <vmsock/unix.hpp>
#include <vmsock/hybrid_vsock.hpp>
#include <vmsock/any_endpoint.hpp>
#include <vmsock/buffer.hpp>
#include <vmsock/socket_base.hpp>
#include <vmsock/options.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/socket.hpp>
#include <vmsock/wait_for_ready.hpp>
#include <vmsock/hybrid_vsock_socket.hpp>
#include <vmsock/any_socket.hpp>
#include <vmsock/any_connector.hpp>
#include <vmsock/connection_group.hpp>
#include <vmsock/local_cid.hpp>
