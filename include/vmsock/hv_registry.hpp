// A short path: the Hyper-V service registry on a Windows host (host/).
#pragma once

#include <vmsock/host/hv_registry.hpp>
