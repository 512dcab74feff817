// Kept for code written before any_socket.hpp had its name: the any-transport
// sockets (any_stream_socket, connect_first, any_listener) and parse_uri.
#pragma once

#include <vmsock/any_socket.hpp>
