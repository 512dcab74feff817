// vmsock: everything but fmt.hpp (needs {fmt}) and asio.hpp.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/guid.hpp>
#include <vmsock/hyperv.hpp>
#include <vmsock/inet.hpp>
#include <vmsock/unix.hpp>
#include <vmsock/vsock.hpp>
