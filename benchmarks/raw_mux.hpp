// The raw-syscall baseline for `vmsock mux` (tests/vm/bench_mux.cpp): the
// least a Firecracker-style front can do, written by hand as a program
// without vmsock would write it.  One thread blocks in accept(2); for each
// connection it peeks at the request line, takes exactly that line, connects
// the target's port (a blocking connect), answers "OK <n>" and hands the pair
// to a new thread, which starts one more for the way back; each direction
// relays through a buffer with recv/send and passes the end of the stream on.
//
// No deadlines, no cancel, no connection cap, no splice, no log: a floor for
// what two extra hops cost, not a tool.  What `vmsock mux` adds to it (the
// deadlines, cancel, the cap, the peer filter) is what the pair of figures
// prices.
#pragma once

#include "raw_io.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace raw_mux {

// A connected descriptor to port P of the target, or -1 (errno set).
using connect_fn = std::function<int(std::uint32_t port)>;

class server {
 public:
  // Listens on the Unix socket `path` (replacing a stale file) and serves
  // from a thread of its own until stop().
  server(std::string path, connect_fn connect, std::size_t buffer = 256 * 1024)
      : path_(std::move(path)),
        connect_(std::move(connect)),
        buffer_(buffer),
        listener_(listen_on(path_)) {
    thread_ = std::thread([this] { accept_loop(); });
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server() { stop(); }

  // Wakes the blocked accept (shutdown of a listening socket does that on
  // Linux) and waits for the accepting thread; relays in flight run on.
  void stop() {
    if (!thread_.joinable()) return;
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
    ::unlink(path_.c_str());
  }

 private:
  static int listen_on(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path)
      throw std::invalid_argument("raw mux: path too long: " + path);
    std::memcpy(a.sun_path, path.data(), path.size());
    raw_io::fd_guard fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) raw_io::fail_errno("raw mux: socket");
    ::unlink(path.c_str());
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      raw_io::fail_errno("raw mux: bind");
    if (::listen(fd.get(), 128) != 0) raw_io::fail_errno("raw mux: listen");
    return fd.release();
  }

  void accept_loop() {
    std::uint32_t next_port = 1u << 30;
    for (;;) {
      const int c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // stop(), or out of descriptors: a baseline gives up
      }
      const int t = handshake(c);
      if (t < 0) {
        ::close(c);
        continue;
      }
      char ok[24];
      const int n = std::snprintf(ok, sizeof ok, "OK %u\n", next_port++);
      if (::send(c, ok, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
        ::close(c);
        ::close(t);
        continue;
      }
      std::thread([c, t, size = buffer_] {
        std::thread back(pump, t, c, size);
        pump(c, t, size);
        back.join();
        ::close(c);
        ::close(t);
      }).detach();
    }
  }

  // Reads "CONNECT <port>\n" (one peek, then exactly the line) and connects
  // the target; -1 when the line or the connect fails.
  int handshake(int c) const {
    char line[33];
    ssize_t n = ::recv(c, line, 32, MSG_PEEK);
    if (n <= 0) return -1;
    const void* nl = std::memchr(line, '\n', static_cast<std::size_t>(n));
    if (nl == nullptr) return -1;  // a line in pieces: not this baseline's case
    const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - line) + 1;
    if (::recv(c, line, len, 0) != static_cast<ssize_t>(len)) return -1;
    line[len - 1] = '\0';
    if (len < 10 || strncasecmp(line, "CONNECT ", 8) != 0) return -1;
    char* end = nullptr;
    const unsigned long port = std::strtoul(line + 8, &end, 10);
    if (end == line + 8 || *end != '\0' || port > 0xFFFFFFFFul) return -1;
    return connect_(static_cast<std::uint32_t>(port));
  }

  static void pump(int from, int to, std::size_t size) {
    std::vector<char> buf(size);
    for (;;) {
      const ssize_t n = ::recv(from, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      try {
        raw_io::send_all(to, buf.data(), static_cast<std::size_t>(n));
      } catch (const std::system_error&) {
        break;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  std::string path_;
  connect_fn connect_;
  std::size_t buffer_;
  raw_io::fd_guard listener_;
  std::thread thread_;
};

}  // namespace raw_mux
