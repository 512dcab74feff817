// A short path: vmsock's endpoints and sockets in standalone asio (interop/).
#pragma once

#include <vmsock/interop/asio.hpp>
