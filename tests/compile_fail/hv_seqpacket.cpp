// Must NOT compile: Hyper-V sockets are stream-only.
#include <vmsock/socket/aliases.hpp>

void misuse(const vmsock::hv_endpoint& ep) {
  auto s = vmsock::seqpacket_socket<vmsock::hv_endpoint>::connect(ep);
}
