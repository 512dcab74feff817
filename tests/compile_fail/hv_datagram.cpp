// Must NOT compile: Hyper-V sockets are stream-only (AF_HYPERV, and the Linux
// hv_sock transport).
#include <vmsock/socket/aliases.hpp>

void misuse() { auto s = vmsock::datagram_socket<vmsock::hv_endpoint>::open(); }
