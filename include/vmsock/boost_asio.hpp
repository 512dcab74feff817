// A short path: vmsock's endpoints and sockets in Boost.Asio (interop/).
#pragma once

#include <vmsock/interop/boost_asio.hpp>
