// Helpers shared by the socket tests: per-family endpoint factories, unique
// names, checksums, descriptor checks.
#pragma once

#include <vmsock/socket.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace vmsock_test {

// A fresh name per call, unique across processes and test runs.
inline std::string unique_name(const char* tag) {
  static std::atomic<unsigned> counter{0};
  return std::string("vmsock-") + tag + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

// A path for a Unix socket in the temp directory; removed on destruction.
struct temp_socket_path {
  std::string path;
  temp_socket_path() {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir && *dir ? dir : "/tmp") + "/" + unique_name("sock");
  }
  ~temp_socket_path() { ::unlink(path.c_str()); }
  temp_socket_path(const temp_socket_path&) = delete;
  temp_socket_path& operator=(const temp_socket_path&) = delete;
};

// Endpoint factories for typed tests: where to listen for each family.
struct tcp4 {
  using endpoint = vmsock::inet4_endpoint;
  static endpoint listen_at() { return endpoint::loopback(0); }
  static constexpr const char* scheme = "tcp://";
};
struct tcp6 {
  using endpoint = vmsock::inet6_endpoint;
  static endpoint listen_at() { return endpoint::loopback(0); }
  static constexpr const char* scheme = "tcp://";
};
struct unix_path {
  using endpoint = vmsock::unix_endpoint;
  // Every path handed out is unlinked when the test program exits.
  struct registry {
    std::vector<std::string> paths;
    ~registry() {
      for (const auto& p : paths) ::unlink(p.c_str());
    }
  };
  static endpoint listen_at() {
    static registry made;
    const char* dir = std::getenv("TMPDIR");
    made.paths.push_back(std::string(dir && *dir ? dir : "/tmp") + "/" + unique_name("u"));
    return endpoint::path(made.paths.back());
  }
  static constexpr const char* scheme = "unix://";
};
struct unix_abstract {
  using endpoint = vmsock::unix_endpoint;
  static endpoint listen_at() { return endpoint::abstract(unique_name("a")); }
  static constexpr const char* scheme = "unix://@";
};

// FNV-1a over a byte range, chainable.
inline std::uint64_t fnv1a(const void* data, std::size_t n,
                           std::uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

// Deterministic pseudo-random bytes (xorshift), seeded.
inline std::vector<unsigned char> random_bytes(std::size_t n, std::uint64_t seed) {
  std::vector<unsigned char> v(n);
  std::uint64_t x = seed | 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[i] = static_cast<unsigned char>(x >> 24);
  }
  return v;
}

inline bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

}  // namespace vmsock_test
