// default_policy: the real policy of the platform being compiled for.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS
#  include <vmsock/policy/winsock.hpp>
VMSOCK_BEGIN_NAMESPACE
using default_policy = winsock_policy;
VMSOCK_END_NAMESPACE
#else
#  include <vmsock/policy/posix.hpp>
VMSOCK_BEGIN_NAMESPACE
using default_policy = posix_policy;
VMSOCK_END_NAMESPACE
#endif
