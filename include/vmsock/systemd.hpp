// A short path: sockets from systemd socket activation (host/).
#pragma once

#include <vmsock/host/systemd.hpp>
