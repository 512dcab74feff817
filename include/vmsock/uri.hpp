// A short path kept for code written before the any layer had its folder:
// the any-transport sockets (any_stream_socket, connect_first, any_listener)
// and parse_uri.
#pragma once

#include <vmsock/any/connect_first.hpp>
#include <vmsock/any/listener.hpp>
#include <vmsock/any/stream_socket.hpp>
