// A short path: any_stream_socket, connect_first and any_listener (any/).
#pragma once

#include <vmsock/any/connect_first.hpp>
#include <vmsock/any/listener.hpp>
#include <vmsock/any/stream_socket.hpp>
