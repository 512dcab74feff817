// A short path: who may connect: the peer filters (host/).
#pragma once

#include <vmsock/host/peer_filter.hpp>
