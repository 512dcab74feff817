// default_policy: the real policy of the platform being compiled for.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS
#  include <vmsock/policy/winsock.hpp>
namespace vmsock {
using default_policy = winsock_policy;
}
#else
#  include <vmsock/policy/posix.hpp>
namespace vmsock {
using default_policy = posix_policy;
}
#endif
