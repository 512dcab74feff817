// A short path: {fmt} formatters of the asio endpoints (interop/).
#pragma once

#include <vmsock/interop/asio_fmt.hpp>
