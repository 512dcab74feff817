// Must NOT compile: TCP_NODELAY on a VSOCK stream.
#include <vmsock/socket/aliases.hpp>

void misuse(vmsock::vsock_stream_socket& s) { s.set_option(vmsock::tcp_no_delay{true}); }
