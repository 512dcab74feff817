// The worker of the Windows hand-off test (test_handoff.cpp): a second
// process that is given a TCP connection duplicated for it
// (WSADuplicateSocketW) and serves it.
//
//   vmsock_windows_handoff_worker <channel port> [seconds]
//
// Connects to 127.0.0.1:<channel port> (the supervisor's channel), receives
// one tcp4_socket (receive_socket: a WSAPROTOCOL_INFOW in vmsock's frame),
// writes "worker <pid>\n" on it, echoes every byte until the peer
// half-closes, closes.  Exit 0 when all of that worked; 2 for bad arguments,
// 3 when the hand-off failed, 4 when serving did.
#include <vmsock/host/handoff.hpp>
#include <vmsock/socket/aliases.hpp>

#include "handoff_support.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: vmsock_windows_handoff_worker <channel port> [seconds]\n");
    return 2;
  }
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 30;
  const vmsock::deadline until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  vmsock::tcp4_socket conn;
  try {
    auto channel = vmsock::tcp4_socket::connect(vmsock::inet4_endpoint::loopback(port), until);
    conn = vmsock::receive_socket<vmsock::tcp4_socket>(channel, until);
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "vmsock_windows_handoff_worker: %s\n", e.what());
    return 3;
  }
  return vmsock_handoff::serve(conn, until, "vmsock_windows_handoff_worker");
}
