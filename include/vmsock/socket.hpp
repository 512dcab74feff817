// A short path: the typed sockets and their common names (socket/).
#pragma once

#include <vmsock/socket/aliases.hpp>
