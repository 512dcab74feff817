// Must NOT compile: a VSOCK option on a TCP socket.
#include <vmsock/socket/aliases.hpp>

void misuse(vmsock::tcp4_socket& s) { s.set_option(vmsock::vsock_buffer_size{65536}); }
