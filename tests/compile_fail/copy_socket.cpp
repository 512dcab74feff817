// Must NOT compile: sockets own a handle and are move-only.
#include <vmsock/socket/aliases.hpp>

vmsock::tcp4_socket misuse(const vmsock::tcp4_socket& s) { return s; }
