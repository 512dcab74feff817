// The raw-syscall baseline every vmsock benchmark is measured against (TCP and
// Unix in benchmarks/, VSOCK in tests/vm/bench_vsock.cpp): whole transfers with
// send/recv, EINTR retried, no SIGPIPE, and a descriptor that closes itself.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <stdexcept>
#include <system_error>

namespace raw_io {

[[noreturn]] inline void fail_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

// Every byte, looping over short writes; EINTR retried, no SIGPIPE.
inline void send_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("send");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Exactly `size` bytes; EOF first is an error.
inline void receive_exact(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::recv(fd, p, size, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) throw std::runtime_error("recv: end of stream");
      fail_errno("recv");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

class fd_guard {
 public:
  explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace raw_io
