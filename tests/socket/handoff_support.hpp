// What the hand-off tests and their workers share (POSIX and Windows): a
// loopback TCP pair, reading a line, and the worker's service (a greeting
// naming its process, then an echo until the peer half-closes).
#pragma once

#include <vmsock/socket.hpp>

#if !VMSOCK_WINDOWS
#  include <unistd.h>
#endif

#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>

namespace vmsock_handoff {

inline unsigned long this_process() {
#if VMSOCK_WINDOWS
  return ::GetCurrentProcessId();
#else
  return static_cast<unsigned long>(::getpid());
#endif
}

struct tcp_pair {
  vmsock::tcp4_socket client, server;
};
inline tcp_pair make_tcp() {
  using namespace std::chrono_literals;
  auto l = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
  tcp_pair p;
  p.client = vmsock::tcp4_socket::connect(l.local_endpoint(), 10s);
  p.server = l.accept(10s);
  return p;
}

// One line (without its '\n'), at most 200 bytes.
template <class Socket>
std::string read_line(Socket& s, vmsock::deadline until) {
  std::string line;
  char c = 0;
  while (line.size() < 200) {
    if (s.receive(vmsock::mutable_buffer{&c, 1}, until) == 0) break;
    if (c == '\n') break;
    line += c;
  }
  return line;
}

// The worker's service on `s`: "worker <pid>\n", then an echo until the peer
// half-closes.  0, or 4 when serving failed (the reason on stderr).
template <class Socket>
int serve(Socket& s, vmsock::deadline until, const char* who) {
  std::error_code ec;
  const std::string hello = "worker " + std::to_string(this_process()) + "\n";
  s.send_all(vmsock::const_buffer{hello.data(), hello.size()}, until, ec);
  char buf[4096];
  std::size_t echoed = 0;
  while (!ec) {
    const std::size_t n = s.receive(vmsock::mutable_buffer{buf, sizeof buf}, until, ec);
    if (ec || n == 0) break;
    s.send_all(vmsock::const_buffer{buf, n}, until, ec);
    echoed += n;
  }
  if (ec) {
    std::fprintf(stderr, "%s: serving: %s\n", who, ec.message().c_str());
    return 4;
  }
  std::printf("%s %lu: echoed %zu bytes\n", who, this_process(), echoed);
  return 0;
}

}  // namespace vmsock_handoff
