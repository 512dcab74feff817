// default_policy: the real policy of the platform being compiled for.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/policy/interface.hpp>

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

VMSOCK_BEGIN_NAMESPACE
static_assert(is_socket_policy_v<default_policy>, "the platform's policy keeps the contract");
VMSOCK_END_NAMESPACE
