// A short path: sockets handed from one process to another (host/).
#pragma once

#include <vmsock/host/handoff.hpp>
