// Must NOT compile: a Hyper-V option read from a Unix socket.
#include <vmsock/socket/aliases.hpp>

bool misuse(vmsock::unix_stream_socket& s) {
  return s.get_option<vmsock::hv_connected_suspend>().value;
}
