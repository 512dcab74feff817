// The worker of the hand-off tests: a separate program, started with fork +
// exec, that is given a socket over a Unix channel and serves it.
//
//   vmsock_handoff_worker <channel> <kind> [seconds]
//     channel  the supervisor's Unix listener: unix:///path or unix://@name
//     kind     what it is given: tcp4, tcp6, unix, vsock (a connection) or
//              tcp4-listener, vsock-listener (a listener: it accepts one)
//     seconds  how long it waits for anything (default 30)
//
// It connects to the channel, receives one socket of that kind
// (receive_socket), and on the connection it serves (the one it was given,
// or the one it accepted) writes "worker <pid>\n", then echoes every byte
// until the peer half-closes, then closes.  Exit 0 when all of that worked;
// 2 for bad arguments, 3 when the hand-off failed, 4 when serving did.
#include <vmsock/host/handoff.hpp>
#include <vmsock/socket/aliases.hpp>

#include "handoff_support.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

namespace {

template <class Socket>
int take_and_serve(vmsock::unix_stream_socket& channel, vmsock::deadline until, bool accept_one) {
  try {
    auto s = vmsock::receive_socket<Socket>(channel, until);
    if constexpr (vmsock::detail::handoff_target<Socket>::listening) {
      (void)accept_one;
      auto c = s.accept(until);
      return vmsock_handoff::serve(c, until, "vmsock_handoff_worker");
    } else {
      return vmsock_handoff::serve(s, until, "vmsock_handoff_worker");
    }
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "vmsock_handoff_worker: %s\n", e.what());
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: vmsock_handoff_worker <channel> <kind> [seconds]\n");
    return 2;
  }
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 30;
  const vmsock::deadline until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  const std::string kind = argv[2];
  vmsock::unix_stream_socket channel;
  try {
    channel = vmsock::unix_stream_socket::connect(vmsock::unix_endpoint::parse(argv[1]), until);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmsock_handoff_worker: %s\n", e.what());
    return 3;
  }
  if (kind == "tcp4") return take_and_serve<vmsock::tcp4_socket>(channel, until, false);
  if (kind == "tcp6") return take_and_serve<vmsock::tcp6_socket>(channel, until, false);
  if (kind == "unix") return take_and_serve<vmsock::unix_stream_socket>(channel, until, false);
  if (kind == "vsock") return take_and_serve<vmsock::vsock_stream_socket>(channel, until, false);
  if (kind == "tcp4-listener") return take_and_serve<vmsock::tcp4_listener>(channel, until, true);
  if (kind == "vsock-listener") return take_and_serve<vmsock::vsock_listener>(channel, until, true);
  std::fprintf(stderr, "vmsock_handoff_worker: unknown kind \"%s\"\n", kind.c_str());
  return 2;
}
