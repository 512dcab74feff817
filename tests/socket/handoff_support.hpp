// What the hand-off tests and their workers share (POSIX and Windows): a
// loopback TCP pair, reading a line, and the worker's service (a greeting
// naming its process, then an echo until the peer half-closes).
#pragma once

#include <vmsock/socket/aliases.hpp>

#if !VMSOCK_WINDOWS
#  include <signal.h>
#  include <sys/wait.h>
#  include <unistd.h>
#endif

#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>
#include <thread>

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
template <class Socket> std::string read_line(Socket& s, vmsock::deadline until) {
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
template <class Socket> int serve(Socket& s, vmsock::deadline until, const char* who) {
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

#if !VMSOCK_WINDOWS
// The worker `path` started with fork + exec: `path channel kind 30`.
inline pid_t start_worker(const char* path, const std::string& channel, const char* kind) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const char* argv[] = {path, channel.c_str(), kind, "30", nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  return pid;
}
// Its exit status; bounded: a worker that is still running after 30 s is
// killed (200: it died of a signal, 201: it was killed here).
inline int wait_exit(pid_t pid) {
  for (int i = 0; i < 3000; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return 201;
}
#endif

}  // namespace vmsock_handoff
