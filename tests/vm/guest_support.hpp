// Helpers for the test programs that run inside vmsock's test guest (tests/vm):
// the guard that keeps them from ever opening AF_VSOCK sockets elsewhere, a
// GoogleTest main that applies it, per-test VSOCK ports, test data and
// checksums.
//
// Every program that includes this header and links vmsock_guest_main (or
// calls vmsock_vm::run_guarded_gtest from its own main) refuses to run unless
// the kernel command line carries vmsock_test_guest=1, which only the test
// guest's does: on any other machine a VSOCK connect, even to CID 1, may leave
// the machine for its hypervisor.
#pragma once

#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace vmsock_vm {

// true only inside the test guest (its kernel command line has vmsock_test_guest=1).
inline bool in_test_guest() {
  std::ifstream in("/proc/cmdline");
  std::string word;
  while (in >> word) {
    if (word == "vmsock_test_guest=1") return true;
  }
  return false;
}

// A VSOCK port for one test: each boot is a fresh guest, so a counter is
// enough; the range stays below hv::max_port (0x7fffffff) so that every port
// can also be written as a Hyper-V service id.
inline std::uint32_t next_port() {
  static std::atomic<std::uint32_t> port{20000};
  return port.fetch_add(1);
}

inline vmsock::vsock_endpoint local(std::uint32_t port) {
  return vmsock::vsock_endpoint{vmsock::vsock::cid::local, port};
}
inline vmsock::vsock_endpoint any_cid(std::uint32_t port) {
  return vmsock::vsock_endpoint{vmsock::vsock::cid::any, port};
}

// A listener on any:P (P fresh), a client connected to 1:P and the accepted
// socket; `configure(listener)` runs before the client connects (options an
// accepted socket inherits).  Listener: vsock_listener or
// vsock_seqpacket_listener.
template <class Listener> struct connection {
  using socket = typename Listener::socket_type_t;
  Listener listener;
  socket client;
  socket server;
  vmsock::vsock_endpoint peer;  // as accept() reported it
  std::uint32_t port = 0;
};

template <class Listener, class Configure>
connection<Listener> connect_pair(Configure&& configure) {
  connection<Listener> c;
  c.port = next_port();
  c.listener = Listener::listen(any_cid(c.port));
  configure(c.listener);
  c.client = connection<Listener>::socket::connect(local(c.port));
  c.server = c.listener.accept(c.peer);
  return c;
}
template <class Listener> connection<Listener> connect_pair() {
  return connect_pair<Listener>([](Listener&) {});
}

// Deterministic test data: xorshift64, eight bytes per step.
class pattern {
 public:
  explicit pattern(std::uint64_t seed) noexcept : x_(seed | 1) {}
  std::uint64_t next() noexcept {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return x_;
  }
  // Fills `n` bytes (any n).
  void fill(unsigned char* p, std::size_t n) noexcept {
    while (n >= 8) {
      std::uint64_t v = next();
      for (int i = 0; i < 8; ++i, v >>= 8) *p++ = static_cast<unsigned char>(v);
      n -= 8;
    }
    std::uint64_t v = next();
    for (; n > 0; --n, v >>= 8) *p++ = static_cast<unsigned char>(v);
  }

 private:
  std::uint64_t x_;
};

inline std::vector<unsigned char> bytes(std::size_t n, std::uint64_t seed) {
  std::vector<unsigned char> v(n);
  pattern(seed).fill(v.data(), n);
  return v;
}

// A position-sensitive checksum (FNV-1a over 64-bit words, the tail bytewise),
// chainable over blocks whose sizes are multiples of 8.
inline std::uint64_t checksum(const unsigned char* p, std::size_t n,
                              std::uint64_t h = 1469598103934665603ull) noexcept {
  constexpr std::uint64_t prime = 1099511628211ull;
  while (n >= 8) {
    std::uint64_t w = 0;
    for (int i = 7; i >= 0; --i) w = (w << 8) | p[i];
    h = (h ^ w) * prime;
    p += 8;
    n -= 8;
  }
  for (; n > 0; --n) h = (h ^ *p++) * prime;
  return h;
}

// Seconds since `t0`, for the figures the tests print (never asserted).
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// "<what>: <value>" on stdout and as a test property in the XML/JSON output.
inline void record(const std::string& key, const std::string& value) {
  ::testing::Test::RecordProperty(key, value);
  std::printf("[   info   ] %s = %s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}
inline void record(const std::string& key, const char* value) { record(key, std::string(value)); }
template <class T> void record(const std::string& key, const T& value) {
  record(key, std::to_string(value));
}

// The message of a std::system_error thrown by `f` (empty when nothing is
// thrown), and its code in `code`.
template <class F> std::string system_error_of(F&& f, std::error_code& code) {
  try {
    f();
  } catch (const std::system_error& e) {
    code = e.code();
    return e.what();
  }
  code.clear();
  return {};
}

// main() for the guest test programs: refuses to run outside the test guest,
// bounds the whole run with alarm() so that a hang fails this program rather
// than the whole boot, then runs the tests.
int run_guarded_gtest(int argc, char** argv, const char* program, unsigned alarm_seconds);

}  // namespace vmsock_vm
