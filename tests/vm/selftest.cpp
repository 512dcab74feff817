// selftest.cpp — proves the test-guest harness (tests/vm) on its own, with
// raw system calls and no vmsock code: inside the guest, AF_VSOCK stream and
// SOCK_SEQPACKET traffic over vsock_loopback (CID 1) and the local CID ioctl.
//
// Usage (in the guest): vm_selftest [--port P] [--fail]
//   --port P  first of the three ports used (default 41000)
//   --fail    add one check that fails on purpose, to prove that a failure
//             reaches ctest as a nonzero status
//
// It refuses to run outside the test guest: on any other machine an AF_VSOCK
// connect, even to CID 1, may leave the machine for its hypervisor.
#include <linux/vm_sockets.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what, int err = 0) {
  if (ok) {
    std::printf("ok      - %s\n", what.c_str());
  } else {
    ++failures;
    if (err != 0) {
      std::printf("not ok  - %s (errno %d: %s)\n", what.c_str(), err, std::strerror(err));
    } else {
      std::printf("not ok  - %s\n", what.c_str());
    }
  }
  std::fflush(stdout);
}

class fd {
 public:
  explicit fd(int v = -1) noexcept : v_(v) {}
  fd(const fd&) = delete;
  fd& operator=(const fd&) = delete;
  ~fd() {
    if (v_ >= 0) ::close(v_);
  }
  void reset(int v) noexcept {
    if (v_ >= 0) ::close(v_);
    v_ = v;
  }
  int get() const noexcept { return v_; }
  explicit operator bool() const noexcept { return v_ >= 0; }

 private:
  int v_;
};

bool in_test_guest() {
  std::ifstream in("/proc/cmdline");
  std::string word;
  while (in >> word) {
    if (word == "vmsock_test_guest=1") return true;
  }
  return false;
}

sockaddr_vm vsock_addr(unsigned cid, unsigned port) {
  sockaddr_vm a{};
  a.svm_family = AF_VSOCK;
  a.svm_cid = cid;
  a.svm_port = port;
  return a;
}

sockaddr* as_sockaddr(sockaddr_vm& a) { return reinterpret_cast<sockaddr*>(&a); }

bool send_all(int s, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t r = ::send(s, p, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool receive_exact(int s, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::recv(s, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// A listener on CID 1, a client connected to it, and the accepted socket.
struct pair {
  fd listener, client, server;
  sockaddr_vm peer{};
};

bool make_pair(int type, unsigned port, pair& p, const char* kind) {
  std::string k = kind;
  p.listener.reset(::socket(AF_VSOCK, type | SOCK_CLOEXEC, 0));
  if (!p.listener) {
    check(false, k + ": socket(AF_VSOCK)", errno);
    return false;
  }
  sockaddr_vm local = vsock_addr(VMADDR_CID_LOCAL, port);
  if (::bind(p.listener.get(), as_sockaddr(local), sizeof local) != 0) {
    check(false, k + ": bind to 1:" + std::to_string(port), errno);
    return false;
  }
  if (::listen(p.listener.get(), 4) != 0) {
    check(false, k + ": listen", errno);
    return false;
  }
  p.client.reset(::socket(AF_VSOCK, type | SOCK_CLOEXEC, 0));
  sockaddr_vm remote = vsock_addr(VMADDR_CID_LOCAL, port);
  bool connected = p.client && ::connect(p.client.get(), as_sockaddr(remote), sizeof remote) == 0;
  check(connected, k + ": connect to 1:" + std::to_string(port), connected ? 0 : errno);
  if (!connected) return false;
  socklen_t len = sizeof p.peer;
  p.server.reset(::accept4(p.listener.get(), as_sockaddr(p.peer), &len, SOCK_CLOEXEC));
  check(static_cast<bool>(p.server), k + ": accept", p.server ? 0 : errno);
  if (!p.server) return false;
  check(p.peer.svm_cid == VMADDR_CID_LOCAL,
        k + ": accepted peer is CID 1 (got " + std::to_string(p.peer.svm_cid) + ")");
  return true;
}

void test_local_cid() {
  fd dev(::open("/dev/vsock", O_RDONLY | O_CLOEXEC));
  if (!dev) {
    check(false, "open /dev/vsock", errno);
    return;
  }
  unsigned cid = 0;
  int r = ::ioctl(dev.get(), IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid);
  check(r == 0, "ioctl(IOCTL_VM_SOCKETS_GET_LOCAL_CID)", r == 0 ? 0 : errno);
  if (r == 0) {
    check(cid == VMADDR_CID_LOCAL, "local CID is 1 (got " + std::to_string(cid) + ")");
  }
}

void test_stream(unsigned port) {
  pair p;
  if (!make_pair(SOCK_STREAM, port, p, "stream")) return;

  const std::string hello = "hello over vsock_loopback";
  std::string got(hello.size(), '\0');
  check(send_all(p.client.get(), hello.data(), hello.size()) &&
            receive_exact(p.server.get(), &got[0], got.size()) && got == hello,
        "stream: client -> server bytes arrive intact");
  const std::string reply = "and back again";
  got.assign(reply.size(), '\0');
  check(send_all(p.server.get(), reply.data(), reply.size()) &&
            receive_exact(p.client.get(), &got[0], got.size()) && got == reply,
        "stream: server -> client bytes arrive intact");

  // A bulk transfer with a checksum, and its rate (under emulation).
  constexpr std::size_t total = 16u << 20;
  std::uint64_t sent_sum = 0;
  std::thread sender([&] {
    std::vector<unsigned char> buf(64 * 1024);
    std::uint32_t x = 12345;
    for (std::size_t done = 0; done < total; done += buf.size()) {
      for (auto& b : buf) {
        x = x * 1103515245u + 12345u;
        b = static_cast<unsigned char>(x >> 24);
        sent_sum = sent_sum * 31 + b;
      }
      if (!send_all(p.client.get(), buf.data(), buf.size())) return;
    }
    ::shutdown(p.client.get(), SHUT_WR);
  });
  auto t0 = std::chrono::steady_clock::now();
  std::vector<unsigned char> buf(64 * 1024);
  std::uint64_t received = 0, sum = 0;
  for (;;) {
    ssize_t r = ::recv(p.server.get(), buf.data(), buf.size(), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; ++i) sum = sum * 31 + buf[static_cast<std::size_t>(i)];
    received += static_cast<std::uint64_t>(r);
  }
  sender.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  check(received == total && sum == sent_sum,
        "stream: 16 MiB checksummed, then EOF after shutdown(SHUT_WR) (" +
            std::to_string(received) + " bytes)");
  std::printf("info    - stream: %.1f MB/s (checksumming included)\n",
              static_cast<double>(total) / secs / 1e6);
}

void test_seqpacket(unsigned port) {
  pair p;
  if (!make_pair(SOCK_SEQPACKET, port, p, "seqpacket")) return;
  const std::size_t sizes[] = {1, 100, 4096, 30000, 7};
  bool sent = true;
  for (std::size_t n : sizes) {
    std::string msg(n, static_cast<char>('a' + n % 26));
    sent = sent &&
           ::send(p.client.get(), msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(n);
  }
  check(sent, "seqpacket: 5 messages sent");
  bool kept = true;
  std::vector<char> buf(65536);
  for (std::size_t n : sizes) {
    ssize_t r = ::recv(p.server.get(), buf.data(), buf.size(), 0);
    kept = kept && r == static_cast<ssize_t>(n) &&
           std::string(buf.data(), n) == std::string(n, static_cast<char>('a' + n % 26));
  }
  check(kept, "seqpacket: message boundaries kept (1, 100, 4096, 30000, 7 bytes)");

  // A short receive: MSG_TRUNC in msg_flags, and the full length when asked.
  std::string big(1000, 'z');
  ::send(p.client.get(), big.data(), big.size(), MSG_NOSIGNAL);
  char small[10];
  iovec iov{small, sizeof small};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  ssize_t r = ::recvmsg(p.server.get(), &mh, MSG_TRUNC);
  check(r == 1000 && (mh.msg_flags & MSG_TRUNC) != 0,
        "seqpacket: short receive reports MSG_TRUNC and the full length (got " + std::to_string(r) +
            ")");
}

void test_no_listener(unsigned port) {
  fd s(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_vm remote = vsock_addr(VMADDR_CID_LOCAL, port);
  int r = ::connect(s.get(), as_sockaddr(remote), sizeof remote);
  int err = r == 0 ? 0 : errno;
  check(r != 0, "stream: connect to a port nobody listens on fails");
  if (r != 0) std::printf("info    - that connect gave errno %d (%s)\n", err, std::strerror(err));
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port = 41000;
  bool fail = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      port = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--fail") {
      fail = true;
    } else {
      std::fprintf(stderr, "usage: %s [--port P] [--fail]\n", argv[0]);
      return 2;
    }
  }
  if (!in_test_guest()) {
    std::fprintf(stderr,
                 "vm_selftest: refusing to run: not inside vmsock's test guest "
                 "(no vmsock_test_guest=1 on the kernel command line); run it with "
                 "tests/vm/run-in-vm.sh\n");
    return 2;
  }
  ::alarm(120);  // a hang ends this program (and fails it) instead of the whole boot

  test_local_cid();
  test_stream(port);
  test_seqpacket(port + 1);
  test_no_listener(port + 2);
  if (fail) check(false, "deliberate failure (--fail)");

  std::printf("%s: %d failed\n", failures == 0 ? "PASS" : "FAIL", failures);
  return failures == 0 ? 0 : 1;
}
