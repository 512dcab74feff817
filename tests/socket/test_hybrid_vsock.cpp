// Hybrid vsock against fake VMMs: the host side of Firecracker, Cloud
// Hypervisor, vhost-device-vsock and OpenVMM, each fake written from what that
// VMM documents or does (its source where the two differ), with plain POSIX
// Unix sockets in a thread of the test, in a directory made for the test.
// Every wait is bounded: a fake gives up after a few seconds, and a client
// call that could hang runs in a bounded thread that ends the program if it
// does not return (ctest reports that, it never waits for its timeout).
//
// Linux only: the fakes use SOCK_SEQPACKET, SO_PEERCRED and accept4; under
// Wine 8 there is no AF_UNIX at all (test_errors.cpp's WineAnswers asserts
// that), so none of this can run there.
#include <vmsock/socket/hybrid_vsock_socket.hpp>

#include <vmsock/any/connector.hpp>
#include <vmsock/any/connect_first.hpp>
#include <vmsock/any/listener.hpp>
#include <vmsock/host/peer_filter.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using vmsock_test::bounded_call;
using vmsock_test::file_exists;
using vmsock_test::message_of;
using namespace vmsock;
using clock_type = std::chrono::steady_clock;

// How long a fake VMM waits for its client at most (a client call that takes
// longer than bounded_call's 30 s is a hang).  Generous: the machine is
// shared, and nothing here measures speed.
constexpr auto fake_patience = 10s;

// ---- plain POSIX sockets, for the fakes ------------------------------------------

class fd_t {
 public:
  fd_t() = default;
  explicit fd_t(int fd) : fd_(fd) {}
  fd_t(fd_t&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  fd_t& operator=(fd_t&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~fd_t() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

sockaddr_un address_of(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  EXPECT_LT(path.size(), sizeof sa.sun_path) << path;
  std::memcpy(sa.sun_path, path.data(), std::min(path.size(), sizeof sa.sun_path - 1));
  return sa;
}

fd_t listen_unix(const std::string& path, int type) {
  fd_t fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd) << std::strerror(errno);
  const sockaddr_un sa = address_of(path);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0)
      << path << ": " << std::strerror(errno);
  EXPECT_EQ(::listen(fd.get(), 4096), 0) << std::strerror(errno);
  return fd;
}

// A connected socket, or an empty one with errno set.
fd_t connect_unix(const std::string& path, int type) {
  fd_t fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  const sockaddr_un sa = address_of(path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) return fd_t{};
  return fd;
}

// Waits until `fd` has `events`, `bound` passes (false) or `stop` is set
// (false), in short slices so that a stopping fake notices.
bool wait_for(int fd, short events, std::chrono::milliseconds bound,
              const std::atomic<bool>* stop = nullptr) {
  const auto end = clock_type::now() + bound;
  while (clock_type::now() < end) {
    if (stop != nullptr && stop->load()) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, 20);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
  return false;
}

// One recv, once `fd` is readable: the count (0 at the end of the stream), or
// -1 when nothing came in time or the call failed.  With MSG_TRUNC on a
// SOCK_SEQPACKET socket the count is the message's full length.
ssize_t recv_once(int fd, void* buf, std::size_t n, int flags, std::chrono::milliseconds bound,
                  const std::atomic<bool>* stop) {
  if (!wait_for(fd, POLLIN, bound, stop)) return -1;
  return ::recv(fd, buf, n, flags | MSG_DONTWAIT);
}

bool send_all_raw(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// One message on a SOCK_SEQPACKET socket.
bool send_message(int fd, std::string_view bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_EOR) ==
         static_cast<ssize_t>(bytes.size());
}

// Bytes up to and including '\n' (at most `max`), one at a time: never more.
std::string read_line(int fd, const std::atomic<bool>* stop, std::size_t max = 64) {
  std::string line;
  char c = 0;
  while (line.size() < max && (line.empty() || line.back() != '\n')) {
    if (recv_once(fd, &c, 1, 0, fake_patience, stop) != 1) break;
    line += c;
  }
  return line;
}

// Until the client closes its end (or the fake stops, or patience runs out).
void hold_until_closed(int fd, const std::atomic<bool>* stop) {
  char buf[256];
  const auto end = clock_type::now() + 2 * fake_patience;
  while (clock_type::now() < end && !stop->load()) {
    if (!wait_for(fd, POLLIN, 100ms, stop)) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return;                                            // closed
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return;  // reset
  }
}

bool is_socket_file(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// A directory of the test's own, removed with what is in it.
struct scratch_dir {
  std::string path;
  scratch_dir() {
    std::string t = vmsock_test::temp_dir() + "/vmsock-hybrid-XXXXXX";
    if (::mkdtemp(t.data()) == nullptr) ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    path = t;
  }
  ~scratch_dir() {
    if (DIR* d = ::opendir(path.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") ::unlink((path + "/" + name).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  std::string file(const char* name) const { return path + "/" + name; }
};

// Runs a client call bounded, and says how long it took.
clock_type::duration bounded(const std::function<void()>& f) {
  const auto t0 = clock_type::now();
  bounded_call call(f);
  call.finish();
  return clock_type::now() - t0;
}

// ---- the fake VMM --------------------------------------------------------------

// A VMM's vsock device as the host sees it: a Unix socket of `type` at
// `path`, accepted on in a thread; each connection goes to the handler in
// that thread, one after the other.
class fake_vmm {
 public:
  using handler = std::function<void(fd_t&, fake_vmm&)>;

  fake_vmm(std::string path, int type, handler serve)
      : path_(std::move(path)), listener_(listen_unix(path_, type)), serve_(std::move(serve)) {
    thread_ = std::thread([this] { run(); });
  }
  ~fake_vmm() { stop(); }
  fake_vmm(const fake_vmm&) = delete;
  fake_vmm& operator=(const fake_vmm&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    kept_.clear();
    if (listener_) {
      listener_.reset();
      ::unlink(path_.c_str());
    }
  }

  const std::string& path() const { return path_; }
  const std::atomic<bool>* stopping() const { return &stop_; }
  int accepted() const { return accepted_.load(); }

  // What the handlers saw, for the test to check.
  void record(std::string s) {
    std::lock_guard<std::mutex> g(m_);
    records_.push_back(std::move(s));
  }
  std::vector<std::string> records() {
    std::lock_guard<std::mutex> g(m_);
    return records_;
  }
  // A connection the VMM keeps open until it stops (the guest keeps it).
  void keep(fd_t& fd) { kept_.push_back(std::move(fd)); }
  std::size_t kept() const { return kept_.size(); }

 private:
  void run() {
    while (!stop_) {
      if (!wait_for(listener_.get(), POLLIN, 50ms, &stop_)) continue;
      fd_t c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      ++accepted_;
      serve_(c, *this);
    }
  }

  std::string path_;
  fd_t listener_;
  handler serve_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::mutex m_;
  std::vector<std::string> records_;
  std::vector<fd_t> kept_;  // the VMM thread's only, until it has stopped
  std::thread thread_;
};

// ---- Firecracker ---------------------------------------------------------------
//
// Its muxer (src/vmm/src/devices/virtio/vsock/unix/muxer.rs, and the seqpacket
// backend beside it), as it behaves:
//   - the command is read with one read of exactly 10 bytes ("connect 0\n"
//     is the shortest), then one byte per read until '\n', 32 bytes at most;
//     on a SOCK_SEQPACKET socket each of those reads takes one message, and
//     what of the message does not fit is gone;
//   - split at whitespace, the first word is "connect" in any case and the
//     second a decimal u32, else the socket is closed without a word;
//   - a guest port nothing listens on: the guest answers RST and the socket is
//     closed without a word;
//   - otherwise "OK <host-side port>\n" (one message in seqpacket mode), the
//     host-side ports counting up from 1 << 30;
//   - at most 1023 connections: one more is accepted and dropped at once;
//   - no half-close: an end of stream from the host ends both directions.
struct firecracker {
  int type = SOCK_STREAM;
  std::set<std::uint32_t> listening{52, 5000};  // guest ports with a listener
  // What the guest does with an established connection, in the VMM thread:
  // by default it keeps it open until the VMM stops.
  std::function<void(fd_t&, fake_vmm&)> guest;
  std::uint32_t next_port = 1u << 30;
  std::size_t max_connections = 1023;
  // On a seqpacket socket, every read's message must have been taken whole
  // (Firecracker would have lost the rest without noticing).
  bool truncated = false;

  // Firecracker's reads of the command: the bytes it gets, or nullopt when a
  // read fails (its reads do not wait: a byte not there yet is a failure).
  std::string read_command(int fd, fake_vmm& vmm) {
    std::string got;
    char buf[32];
    const auto take = [&](std::size_t want) {
      const ssize_t n = recv_once(fd, buf, want, type == SOCK_SEQPACKET ? MSG_TRUNC : 0,
                                  fake_patience, vmm.stopping());
      if (n <= 0) return false;
      if (static_cast<std::size_t>(n) > want) truncated = true;  // the rest of the message is lost
      got.append(buf, std::min(static_cast<std::size_t>(n), want));
      return true;
    };
    while (got.size() < 10)
      if (!take(10 - got.size())) return std::string("\xff") + got;  // read_exact failed
    while (got.back() != '\n' && got.size() < 32)
      if (!take(1)) return std::string("\xff") + got;
    return got;
  }

  // The muxer's parse: "connect <u32>" (the keyword in any case), else none.
  static bool parse(const std::string& cmd, std::uint32_t& port) {
    std::vector<std::string> words;
    std::string w;
    for (char c : cmd) {
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
        if (!w.empty()) words.push_back(w);
        w.clear();
      } else {
        w += c;
      }
    }
    if (!w.empty()) words.push_back(w);
    if (words.size() < 2) return false;
    std::string kw = words[0];
    for (auto& c : kw) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (kw != "connect") return false;
    std::string digits = words[1];
    if (!digits.empty() && digits[0] == '+') digits.erase(0, 1);  // Rust's u32 parse takes one '+'
    if (digits.empty() || digits.size() > 10) return false;
    std::uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > 0xFFFFFFFFu) return false;
    port = static_cast<std::uint32_t>(v);
    return true;
  }

  void serve(fd_t& fd, fake_vmm& vmm) {
    if (vmm.kept() >= max_connections) {
      vmm.record("dropped");
      return;  // accepted, and closed at once without reading
    }
    const std::string cmd = read_command(fd.get(), vmm);
    vmm.record(cmd);
    std::uint32_t port = 0;
    if (!parse(cmd, port) || listening.count(port) == 0) return;  // closed without a word
    const std::string ok = "OK " + std::to_string(next_port++) + "\n";
    const bool sent =
        type == SOCK_SEQPACKET ? send_message(fd.get(), ok) : send_all_raw(fd.get(), ok);
    if (!sent) return;
    if (guest)
      guest(fd, vmm);
    else
      vmm.keep(fd);
  }
};

fake_vmm firecracker_vmm(const std::string& path, firecracker& fc) {
  return fake_vmm(path, fc.type, [&fc](fd_t& fd, fake_vmm& vmm) { fc.serve(fd, vmm); });
}

// A guest that echoes until the host's end of stream, then closes: both
// directions end together, as Firecracker's connections do.
void echo_guest(fd_t& fd, fake_vmm& vmm) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv_once(fd.get(), buf, sizeof buf, 0, fake_patience, vmm.stopping());
    if (n <= 0) break;
    if (!send_all_raw(fd.get(), std::string_view(buf, static_cast<std::size_t>(n)))) break;
  }
  vmm.record("guest closed");
}

// A VMM that reads the request line (recording it), then does `then`.
fake_vmm scripted_vmm(const std::string& path, std::function<void(fd_t&, fake_vmm&)> then) {
  return fake_vmm(path, SOCK_STREAM, [then = std::move(then)](fd_t& fd, fake_vmm& vmm) {
    vmm.record(read_line(fd.get(), vmm.stopping()));
    then(fd, vmm);
  });
}

std::string receive_some(hybrid_vsock_stream_socket& s, std::size_t n) {
  std::string buf(n, '\0');
  std::error_code ec;
  const std::size_t got = s.receive_exact(buffer(buf), 10s, ec);
  EXPECT_FALSE(ec) << ec.message();
  buf.resize(got);
  return buf;
}

// ---- Firecracker: the handshake -----------------------------------------------------

TEST(HybridFirecracker, ConnectGetsTheHostSidePortCountingUpFromOneLeftShiftThirty) {
  scratch_dir dir;
  firecracker fc;
  auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
  const hybrid_vsock_endpoint ep{vmm.path(), 5000};
  hybrid_vsock_stream_socket a, b;
  bounded([&] {
    a = hybrid_vsock_stream_socket::connect(ep, 10s);
    b = hybrid_vsock_stream_socket::connect({vmm.path(), 52}, 10s);
  });
  ASSERT_TRUE(a.is_open());
  ASSERT_TRUE(b.is_open());
  EXPECT_EQ(a.answer(), "1073741824");
  EXPECT_EQ(a.answer_port(), std::optional<std::uint32_t>(1u << 30));
  EXPECT_EQ(b.answer_port(), std::optional<std::uint32_t>((1u << 30) + 1));
  EXPECT_EQ(a.hybrid_endpoint(), ep);
  EXPECT_EQ(b.hybrid_endpoint(), (hybrid_vsock_endpoint{vmm.path(), 52}));
  // An ordinary Unix stream from here: the VMM's socket is its peer.
  EXPECT_EQ(a.peer_endpoint(), unix_endpoint::path(vmm.path()));
  const auto records = vmm.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0], "CONNECT 5000\n");
  EXPECT_EQ(records[1], "CONNECT 52\n");
}

// What the VMM receives is exactly "CONNECT <port>\n", all of it in its
// first read: Firecracker's read of 10 bytes does not wait for a second write.
TEST(HybridFirecracker, TheRequestComesInOneWrite) {
  scratch_dir dir;
  fake_vmm vmm(dir.file("fc.vsock"), SOCK_STREAM, [](fd_t& fd, fake_vmm& v) {
    char buf[64];
    const ssize_t n = recv_once(fd.get(), buf, sizeof buf, 0, fake_patience, v.stopping());
    v.record(n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "(nothing)");
    send_all_raw(fd.get(), "OK 1073741824\n");
    v.keep(fd);
  });
  for (std::uint32_t port : {0u, 9u, 10u, 5000u, 4294967295u}) {
    hybrid_vsock_stream_socket s;
    std::error_code ec;
    bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), port}, 10s, ec); });
    EXPECT_FALSE(ec) << port << ": " << ec.message();
  }
  const auto records = vmm.records();
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0], "CONNECT 0\n");
  EXPECT_EQ(records[1], "CONNECT 9\n");
  EXPECT_EQ(records[2], "CONNECT 10\n");
  EXPECT_EQ(records[3], "CONNECT 5000\n");
  EXPECT_EQ(records[4], "CONNECT 4294967295\n");
}

TEST(HybridFirecracker, AnUnknownGuestPortIsASilentCloseThatIsRefused) {
  scratch_dir dir;
  firecracker fc;
  auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
  std::error_code ec;
  hybrid_vsock_stream_socket s;
  bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), 7777}, 10s, ec); });
  EXPECT_EQ(ec, errc::hybrid_vsock_refused) << ec.message();
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
  EXPECT_FALSE(s.is_open());
  const std::string what = message_of([&] {
    (void)hybrid_vsock_stream_socket::connect({vmm.path(), 7777}, 10s);
  });
  EXPECT_EQ(what, "connect to hybrid-vsock://" + vmm.path() + ":7777: " + ec.message());
  EXPECT_EQ(vmm.records().size(), 2u);
  EXPECT_EQ(vmm.records()[0], "CONNECT 7777\n");
}

// The fake is Firecracker's parser: what it refuses, Firecracker refuses (a
// silent close), and what it takes (the keyword in any case) it takes.
TEST(HybridFirecracker, TheFakeReadsAsFirecrackerDoes) {
  scratch_dir dir;
  firecracker fc;
  auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
  const auto ask = [&](std::string_view line) {
    fd_t c = connect_unix(vmm.path(), SOCK_STREAM);
    EXPECT_TRUE(c) << std::strerror(errno);
    EXPECT_TRUE(send_all_raw(c.get(), line));
    std::atomic<bool> never{false};
    return read_line(c.get(), &never);
  };
  EXPECT_EQ(ask("connect 52\n"), "OK 1073741824\n");
  EXPECT_EQ(ask("CoNnEcT 5000\n"), "OK 1073741825\n");
  EXPECT_EQ(ask("CONNECT 052\n"), "OK 1073741826\n")
      << "Firecracker parses a u32: leading zeros pass";
  EXPECT_EQ(ask("CONNECT x52\n"), "") << "malformed: closed without a word";
  EXPECT_EQ(ask("CONNEC 52 \n"), "");
  EXPECT_EQ(ask("CONNECT 4294967296\n"), "");
  EXPECT_EQ(ask("CONNECT 99\n"), "") << "nothing listens on guest port 99";
}

TEST(HybridFirecracker, NoHalfCloseShutdownOfSendEndsBothDirections) {
  scratch_dir dir;
  firecracker fc;
  fc.guest = echo_guest;
  auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
  hybrid_vsock_stream_socket s;
  bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 10s); });
  ASSERT_TRUE(s.is_open());
  s.send_all(std::string_view("ping"), 10s);
  EXPECT_EQ(receive_some(s, 4), "ping");
  s.shutdown(shutdown_type::send);
  // The guest's side ends too: the host reads the end of the stream, not an error.
  char c = 0;
  std::error_code ec;
  std::size_t n = 1;
  bounded([&] { n = s.receive(mutable_buffer{&c, 1}, 10s, ec); });
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, 0u);
}

// The muxer holds 1023 connections; the next one is accepted and dropped
// before a byte is read: for the client, a refusal like any other.
TEST(HybridFirecracker, The1024thConnectionIsAcceptedAndDroppedRefused) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlim_t need = 2 * 1024 + 64;  // each connection's two ends, and the rest
  if (lim.rlim_cur < need) {
    if (lim.rlim_max < need)
      GTEST_SKIP() << "needs " << need << " descriptors, the hard limit is " << lim.rlim_max;
    rlimit raised = lim;
    raised.rlim_cur = need;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0) << std::strerror(errno);
  }
  scratch_dir dir;
  firecracker fc;
  auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
  std::vector<hybrid_vsock_stream_socket> held;
  std::error_code ec;
  bounded([&] {
    for (std::uint32_t i = 0; i < 1023; ++i) {
      auto s = hybrid_vsock_stream_socket::connect({vmm.path(), 52}, 10s, ec);
      if (ec) break;
      if (s.answer_port() != std::optional<std::uint32_t>((1u << 30) + i)) {
        ADD_FAILURE() << i << ": " << s.answer();
        break;
      }
      held.push_back(std::move(s));
    }
  });
  ASSERT_FALSE(ec) << held.size() << ": " << ec.message();
  ASSERT_EQ(held.size(), 1023u);
  hybrid_vsock_stream_socket last;
  bounded([&] { last = hybrid_vsock_stream_socket::connect({vmm.path(), 52}, 10s, ec); });
  EXPECT_EQ(ec, errc::hybrid_vsock_refused) << ec.message();
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
  EXPECT_FALSE(last.is_open());
  EXPECT_EQ(vmm.records().back(), "dropped");
}

// ---- other VMMs ------------------------------------------------------------------

// vhost-device-vsock answers with the guest port.
TEST(HybridOtherVmms, VhostDeviceVsockAnswersTheGuestPort) {
  scratch_dir dir;
  auto vmm = scripted_vmm(dir.file("vhost.vsock"), [](fd_t& fd, fake_vmm& v) {
    send_all_raw(fd.get(), "OK 5000\n");
    v.keep(fd);
  });
  hybrid_vsock_stream_socket s;
  bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 10s); });
  EXPECT_EQ(s.answer(), "5000");
  EXPECT_EQ(s.answer_port(), std::optional<std::uint32_t>(5000));
  EXPECT_EQ(vmm.records().at(0), "CONNECT 5000\n");
}

// OpenVMM answers with a GUID: answer() gives it, answer_port() none.
TEST(HybridOtherVmms, OpenVmmAnswersAGuid) {
  scratch_dir dir;
  for (const std::string guid :
       {"3fa85f64-5717-4562-b3fc-2c963f66afa6", "{3FA85F64-5717-4562-B3FC-2C963F66AFA6}"}) {
    auto vmm = scripted_vmm(dir.file("openvmm.sock"), [guid](fd_t& fd, fake_vmm& v) {
      send_all_raw(fd.get(), "OK " + guid + "\n");
      v.keep(fd);
    });
    hybrid_vsock_stream_socket s;
    bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), 1234}, 10s); });
    EXPECT_EQ(s.answer(), guid);
    EXPECT_EQ(s.answer_port(), std::nullopt);
    vmm.stop();
  }
}

// ---- answers early, late, never, wrong ------------------------------------------------

TEST(HybridAnswers, ALateAnswerWithinTheDeadlineSucceeds) {
  scratch_dir dir;
  auto vmm = scripted_vmm(dir.file("late.vsock"), [](fd_t& fd, fake_vmm& v) {
    std::this_thread::sleep_for(300ms);
    send_all_raw(fd.get(), "OK 1073741824\n");
    v.keep(fd);
  });
  std::error_code ec;
  hybrid_vsock_stream_socket s;
  bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 20s, ec); });
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.answer_port(), std::optional<std::uint32_t>(1u << 30));
}

TEST(HybridAnswers, NoAnswerIsTimedOutAtTheDeadline) {
  scratch_dir dir;
  auto vmm = scripted_vmm(dir.file("mute.vsock"), [](fd_t& fd, fake_vmm& v) {
    hold_until_closed(fd.get(), v.stopping());
    v.record("client closed");
  });
  std::error_code ec;
  hybrid_vsock_stream_socket s;
  const auto took = bounded([&] {
    s = hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 300ms, ec);
  });
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_FALSE(s.is_open());
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 10s);
  const std::string what = message_of([&] {
    (void)hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 300ms);
  });
  // The VMM's silence, not a socket file that is missing or a refusal.
  EXPECT_EQ(what, "connect to hybrid-vsock://" + vmm.path() +
                      ":5000 (the VMM took the connection and sent no answer): " + ec.message());
  // The failed attempts closed their sockets: the VMM sees both go.
  for (int i = 0; i < 200 && vmm.records().size() < 4; ++i) std::this_thread::sleep_for(50ms);
  const auto r = vmm.records();
  EXPECT_EQ(std::count(r.begin(), r.end(), "client closed"), 2) << r.size();
}

// Guest bytes in the same write as the answer are the stream's first bytes:
// the answer is read to its '\n' and never past it.
TEST(HybridAnswers, GuestBytesAfterTheAnswerAreNotReadAway) {
  scratch_dir dir;
  for (const std::string answer : {"OK 0\n", "OK 12\n", "OK 1073741824\n",
                                   "OK 3fa85f64-5717-4562-b3fc-2c963f66afa6\n", "OK\n"}) {
    SCOPED_TRACE(answer);
    auto vmm = scripted_vmm(dir.file("eager.vsock"), [answer](fd_t& fd, fake_vmm& v) {
      send_all_raw(fd.get(), answer + "guest says hi");
      v.keep(fd);
    });
    hybrid_vsock_stream_socket s;
    bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 10s); });
    ASSERT_TRUE(s.is_open());
    const std::string argument = answer.size() > 3 ? answer.substr(3, answer.size() - 4) : "";
    EXPECT_EQ(s.answer(), argument);
    EXPECT_EQ(receive_some(s, 13), "guest says hi");
    vmm.stop();
  }
}

// The answer split over several writes, the guest's bytes right after its
// '\n' in the last: the answer, and the guest's bytes whole, for the socket.
TEST(HybridAnswers, AnAnswerInSeveralSegmentsStopsAtItsNewline) {
  scratch_dir dir;
  for (const auto& parts : std::vector<std::vector<std::string>>{
           {"O", "K 10", "73741824", "\nguest says hi"}, {"OK 1073741824", "\nguest says hi"}}) {
    SCOPED_TRACE(parts[0]);
    auto vmm = scripted_vmm(dir.file("split.vsock"), [parts](fd_t& fd, fake_vmm& v) {
      for (const auto& p : parts) {
        send_all_raw(fd.get(), p);
        std::this_thread::sleep_for(20ms);  // separate segments, most likely
      }
      v.keep(fd);
    });
    hybrid_vsock_stream_socket s;
    bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 10s); });
    ASSERT_TRUE(s.is_open());
    EXPECT_EQ(s.answer(), "1073741824");
    EXPECT_EQ(receive_some(s, 13), "guest says hi");
    vmm.stop();
  }
}

TEST(HybridAnswers, JunkIsABadAnswerAndTheMessageQuotesIt) {
  scratch_dir dir;
  auto vmm = scripted_vmm(dir.file("junk.vsock"), [](fd_t& fd, fake_vmm& v) {
    send_all_raw(fd.get(), "ERR nope\n");
    hold_until_closed(fd.get(), v.stopping());
  });
  std::error_code ec;
  hybrid_vsock_stream_socket s;
  bounded([&] { s = hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 10s, ec); });
  EXPECT_EQ(ec, errc::hybrid_vsock_bad_answer) << ec.message();
  EXPECT_EQ(ec, std::errc::protocol_error);
  EXPECT_FALSE(s.is_open());
  std::string what;
  bounded([&] {
    what = message_of([&] { (void)hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 10s); });
  });
  EXPECT_EQ(what, "connect to hybrid-vsock://" + vmm.path() +
                      ":5000 (answered \"ERR nope\\x0a\"): " + ec.message());
  // Through the connector, the same words.
  bounded([&] {
    what = message_of([&] {
      auto c = connector<hybrid_vsock_stream_socket>::open();
      (void)c.connect({vmm.path(), 5000}, 10s);
    });
  });
  EXPECT_NE(what.find("(answered \"ERR nope\\x0a\")"), std::string::npos) << what;
}

TEST(HybridAnswers, ACloseInTheMiddleOfTheLineIsABadAnswer) {
  scratch_dir dir;
  auto vmm = scripted_vmm(dir.file("cut.vsock"), [](fd_t& fd, fake_vmm&) {
    send_all_raw(fd.get(), "OK 12");
    fd.reset();
  });
  std::error_code ec;
  bounded([&] { (void)hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 10s, ec); });
  EXPECT_EQ(ec, errc::hybrid_vsock_bad_answer) << ec.message();
  std::string what;
  bounded([&] {
    what = message_of([&] { (void)hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 10s); });
  });
  EXPECT_NE(what.find("(answered \"OK 12\", then closed)"), std::string::npos) << what;
}

// An answer that never ends is cut at the bound (64 bytes): no unbounded
// read, no wait for a '\n' that will not come.
TEST(HybridAnswers, AnAnswerLongerThanTheBoundIsCut) {
  scratch_dir dir;
  auto vmm = scripted_vmm(dir.file("long.vsock"), [](fd_t& fd, fake_vmm& v) {
    send_all_raw(fd.get(), "OK " + std::string(200, '7'));
    hold_until_closed(fd.get(), v.stopping());
  });
  std::error_code ec;
  bounded([&] { (void)hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 20s, ec); });
  EXPECT_EQ(ec, errc::hybrid_vsock_bad_answer) << ec.message();
  std::string what;
  bounded([&] {
    what = message_of([&] { (void)hybrid_vsock_stream_socket::connect({vmm.path(), 5000}, 20s); });
  });
  EXPECT_NE(what.find("\"OK " + std::string(61, '7') + "\", cut at 64 bytes)"), std::string::npos)
      << what;
}

TEST(HybridAnswers, AMissingSocketFileIsNoSuchFileNamingThePath) {
  scratch_dir dir;
  const std::string missing = dir.file("missing.vsock");
  std::error_code ec;
  auto s = hybrid_vsock_stream_socket::connect({missing, 5000}, 10s, ec);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory) << ec.message();
  EXPECT_FALSE(s.is_open());
  const std::string what = message_of([&] {
    (void)hybrid_vsock_stream_socket::connect({missing, 5000}, 10s);
  });
  EXPECT_EQ(what, "connect to hybrid-vsock://" + missing + ":5000: " + ec.message());
  // An empty endpoint names nothing to connect to.
  (void)hybrid_vsock_stream_socket::connect(hybrid_vsock_endpoint{}, 10s, ec);
  EXPECT_EQ(ec, std::errc::invalid_argument) << ec.message();
}

// ---- cancel() ------------------------------------------------------------------------
//
// A Unix connect never waits (a full backlog is EAGAIN at once), so what
// cancel() can end in the connect step is one that has not started: it fails
// at once and nothing reaches the VMM.  The handshake is where a connect
// waits, for a VMM that does not answer.

fake_vmm mute_vmm(const std::string& path) {
  return scripted_vmm(path, [](fd_t& fd, fake_vmm& v) {
    hold_until_closed(fd.get(), v.stopping());
    v.record("client closed");
  });
}

TEST(HybridCancel, BeforeTheUnixConnectFailsAtOnceAndReachesNothing) {
  scratch_dir dir;
  auto vmm = mute_vmm(dir.file("fc.vsock"));
  auto c = connector<hybrid_vsock_stream_socket>::open();
  c.cancel();
  std::error_code ec;
  auto s = c.connect({vmm.path(), 5000}, 60s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(s.is_open());
  EXPECT_FALSE(c.is_open()) << "a failed connect leaves nothing open";
  any_connector any;
  any.cancel();
  auto a = any.connect(any_endpoint(hybrid_vsock_endpoint{vmm.path(), 5000}), 60s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(a.is_open());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(vmm.accepted(), 0);
}

TEST(HybridCancel, DuringTheHandshakeThroughTheConnector) {
  scratch_dir dir;
  auto vmm = mute_vmm(dir.file("fc.vsock"));
  auto c = connector<hybrid_vsock_stream_socket>::open();
  std::error_code ec;
  hybrid_vsock_stream_socket s;
  bounded_call blocked([&] { s = c.connect({vmm.path(), 5000}, 60s, ec); });
  // Cancelled once the VMM has the request: the connect is in the handshake.
  for (int i = 0; i < 400 && vmm.records().empty(); ++i) std::this_thread::sleep_for(25ms);
  ASSERT_EQ(vmm.records().size(), 1u);
  EXPECT_FALSE(blocked.done()) << "the connect did not wait for the answer";
  const auto t0 = clock_type::now();
  c.cancel();
  blocked.finish();
  EXPECT_LT(clock_type::now() - t0, 10s);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(s.is_open());
  EXPECT_FALSE(c.is_open());
  for (int i = 0; i < 200 && vmm.records().size() < 2; ++i) std::this_thread::sleep_for(25ms);
  EXPECT_EQ(vmm.records().back(), "client closed");
}

TEST(HybridCancel, DuringTheHandshakeThroughAnyConnector) {
  scratch_dir dir;
  auto vmm = mute_vmm(dir.file("fc.vsock"));
  any_connector c;
  std::error_code ec;
  any_stream_socket s;
  bounded_call blocked([&] {
    s = c.connect(any_endpoint::parse("hybrid-vsock://" + vmm.path() + ":5000"), 60s, ec);
  });
  for (int i = 0; i < 400 && vmm.records().empty(); ++i) std::this_thread::sleep_for(25ms);
  ASSERT_EQ(vmm.records().size(), 1u);
  EXPECT_FALSE(blocked.done());
  const auto t0 = clock_type::now();
  c.cancel();
  blocked.finish();
  EXPECT_LT(clock_type::now() - t0, 10s);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(s.is_open());
  // Final, as a socket's cancel is: the next connect fails at once.
  (void)c.connect(any_endpoint::parse("hybrid-vsock://" + vmm.path() + ":5000"), 60s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
}

// ---- the listener: connections the guest makes -----------------------------------

TEST(HybridListener, ListensOnPathUnderscorePortWhereTheVmmConnects) {
  scratch_dir dir;
  const hybrid_vsock_endpoint ep{dir.file("fc.vsock"), 6000};
  const std::string where = dir.file("fc.vsock_6000");
  auto l = hybrid_vsock_listener::listen(ep);
  EXPECT_EQ(l.hybrid_endpoint(), ep);
  EXPECT_EQ(l.local_endpoint(), unix_endpoint::path(where));
  ASSERT_TRUE(is_socket_file(where));
  EXPECT_FALSE(file_exists(std::string(ep.path()))) << "the VMM's own socket is not the listener's";
  // The VMM, for a guest that connected to CID 2 port 6000.
  fd_t vmm = connect_unix(where, SOCK_STREAM);
  ASSERT_TRUE(vmm) << std::strerror(errno);
  ASSERT_TRUE(send_all_raw(vmm.get(), "from the guest"));
  hybrid_vsock_stream_socket s;
  bounded([&] { s = l.accept(10s); });
  ASSERT_TRUE(s.is_open());
  EXPECT_EQ(s.hybrid_endpoint(), ep);
  EXPECT_EQ(s.answer(), "");
  EXPECT_EQ(receive_some(s, 14), "from the guest")
      << "no handshake on this side: the first bytes are the guest's";
  s.send_all(std::string_view("to the guest"), 10s);
  std::atomic<bool> never{false};
  char buf[32] = {};
  EXPECT_EQ(recv_once(vmm.get(), buf, sizeof buf, 0, fake_patience, &never), 12);
  EXPECT_EQ(std::string(buf, 12), "to the guest");
  // The peer's credentials are the VMM's process (here, this one).
  EXPECT_EQ(s.peer_credentials().pid, static_cast<std::int64_t>(::getpid()));
  l.close();
  EXPECT_FALSE(file_exists(where)) << "the socket file goes with the listener";
}

TEST(HybridListener, AStaleFileIsReplacedALiveOneRefusedNamingThePath) {
  scratch_dir dir;
  const hybrid_vsock_endpoint ep{dir.file("fc.vsock"), 6001};
  const std::string where = dir.file("fc.vsock_6001");
  {
    fd_t gone = listen_unix(where, SOCK_STREAM);  // closed without removing its file
  }
  ASSERT_TRUE(is_socket_file(where));
  {
    auto l = hybrid_vsock_listener::listen(ep);
    fd_t vmm = connect_unix(where, SOCK_STREAM);
    ASSERT_TRUE(vmm);
    hybrid_vsock_stream_socket s;
    bounded([&] { s = l.accept(10s); });
    EXPECT_TRUE(s.is_open()) << "the stale file was taken over";
  }
  EXPECT_FALSE(file_exists(where));
  fd_t live = listen_unix(where, SOCK_STREAM);
  std::error_code ec;
  auto refused = hybrid_vsock_listener::listen(ep, ec);
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
  EXPECT_FALSE(refused.is_open());
  const std::string what = message_of([&] { (void)hybrid_vsock_listener::listen(ep); });
  EXPECT_NE(what.find(where), std::string::npos) << what;
  EXPECT_TRUE(is_socket_file(where)) << "a live socket's file is left alone";
  // An empty endpoint: nothing to listen on.
  (void)hybrid_vsock_listener::listen(hybrid_vsock_endpoint{}, ec);
  EXPECT_EQ(ec, std::errc::invalid_argument);
}

TEST(HybridListener, APeerFilterOnCredentialsSeesTheVmm) {
  scratch_dir dir;
  const hybrid_vsock_endpoint ep{dir.file("fc.vsock"), 6002};
  auto l = hybrid_vsock_listener::listen(ep);
  l.set_peer_filter(peer::uids{static_cast<std::uint32_t>(::getuid())});
  fd_t vmm = connect_unix(std::string(ep.listen_uds().name()), SOCK_STREAM);
  ASSERT_TRUE(vmm);
  hybrid_vsock_stream_socket s;
  bounded([&] { s = l.accept(10s); });
  EXPECT_TRUE(s.is_open());
  EXPECT_EQ(s.hybrid_endpoint(), ep);
  EXPECT_EQ(l.rejected_peers(), 0u);
  // Another user only: the VMM's connection is closed, accept goes on waiting.
  l.set_peer_filter(peer::uids{static_cast<std::uint32_t>(::getuid()) + 1});
  fd_t refused = connect_unix(std::string(ep.listen_uds().name()), SOCK_STREAM);
  ASSERT_TRUE(refused);
  std::error_code ec;
  hybrid_vsock_stream_socket t;
  bounded([&] { t = l.accept(500ms, ec); });
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_FALSE(t.is_open());
  EXPECT_EQ(l.rejected_peers(), 1u);
  std::atomic<bool> never{false};
  char c = 0;
  EXPECT_LE(recv_once(refused.get(), &c, 1, 0, fake_patience, &never), 0) << "closed by the filter";
}

// ---- seqpacket -----------------------------------------------------------------------

TEST(HybridSeqpacket, FirecrackersReadsGetTheWholeRequest) {
  scratch_dir dir;
  for (std::uint32_t port : {5u, 52u, 5000u, 4294967295u}) {
    SCOPED_TRACE(port);
    firecracker fc;
    fc.type = SOCK_SEQPACKET;
    fc.listening = {port};
    auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
    std::error_code ec;
    hybrid_vsock_seqpacket_socket s;
    bounded([&] { s = hybrid_vsock_seqpacket_socket::connect({vmm.path(), port}, 20s, ec); });
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(s.answer_port(), std::optional<std::uint32_t>(1u << 30));
    ASSERT_EQ(vmm.records().size(), 1u);
    EXPECT_EQ(vmm.records()[0], "CONNECT " + std::to_string(port) + "\n");
    vmm.stop();
    EXPECT_FALSE(fc.truncated) << "a read took part of a message: Firecracker lost the rest";
  }
}

// After the handshake every message is one of the guest's, boundaries kept
// both ways.
TEST(HybridSeqpacket, MessageBoundariesAreKeptAfterTheHandshake) {
  scratch_dir dir;
  firecracker fc;
  fc.type = SOCK_SEQPACKET;
  fc.guest = [](fd_t& fd, fake_vmm& v) {
    // The guest's first message right behind the answer.
    send_message(fd.get(), "first");
    send_message(fd.get(), "second message");
    char buf[256];
    for (int i = 0; i < 2; ++i) {
      const ssize_t n =
          recv_once(fd.get(), buf, sizeof buf, MSG_TRUNC, fake_patience, v.stopping());
      v.record(n >= 0 ? std::string(buf, static_cast<std::size_t>(std::min<ssize_t>(n, 256)))
                      : std::string("(none)"));
    }
    hold_until_closed(fd.get(), v.stopping());
  };
  auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
  hybrid_vsock_seqpacket_socket s;
  bounded([&] { s = hybrid_vsock_seqpacket_socket::connect({vmm.path(), 5000}, 20s); });
  ASSERT_TRUE(s.is_open());
  EXPECT_EQ(s.answer_port(), std::optional<std::uint32_t>(1u << 30));
  char buf[64];
  std::size_t n = 0;
  bounded([&] { n = s.receive(mutable_buffer{buf, sizeof buf}, 10s); });
  EXPECT_EQ(std::string(buf, n), "first");
  bounded([&] { n = s.receive(mutable_buffer{buf, sizeof buf}, 10s); });
  EXPECT_EQ(std::string(buf, n), "second message");
  s.send(std::string_view("a"));
  s.send(std::string_view("bc"));
  for (int i = 0; i < 400 && vmm.records().size() < 3; ++i) std::this_thread::sleep_for(25ms);
  const auto r = vmm.records();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1], "a");
  EXPECT_EQ(r[2], "bc");
}

TEST(HybridSeqpacket, RefusedAndBadAnswers) {
  scratch_dir dir;
  {
    firecracker fc;
    fc.type = SOCK_SEQPACKET;
    auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
    std::error_code ec;
    bounded([&] { (void)hybrid_vsock_seqpacket_socket::connect({vmm.path(), 7777}, 20s, ec); });
    EXPECT_EQ(ec, errc::hybrid_vsock_refused) << ec.message();
  }
  for (const std::string& answer :
       {std::string("ERR nope\n"), "OK " + std::string(100, '1') + "\n", std::string("NO")}) {
    fake_vmm vmm(dir.file("junk.vsock"), SOCK_SEQPACKET, [answer](fd_t& fd, fake_vmm& v) {
      char buf[64];
      while (recv_once(fd.get(), buf, sizeof buf, 0, 300ms, v.stopping()) > 0) {
      }
      send_message(fd.get(), answer);
      hold_until_closed(fd.get(), v.stopping());
    });
    std::error_code ec;
    bounded([&] { (void)hybrid_vsock_seqpacket_socket::connect({vmm.path(), 5000}, 20s, ec); });
    EXPECT_EQ(ec, errc::hybrid_vsock_bad_answer) << ec.message();
    std::string what;
    bounded([&] {
      what = message_of([&] {
        (void)hybrid_vsock_seqpacket_socket::connect({vmm.path(), 5000}, 20s);
      });
    });
    // The message as it came, whole or cut; one without a '\n' was not cut
    // by a close (a message is whole or nothing).
    if (answer.size() > 64)
      EXPECT_NE(what.find(", cut at 64 bytes)"), std::string::npos) << what;
    else
      EXPECT_NE(what.find("(answered " + detail::quote(answer) + ")"), std::string::npos) << what;
    EXPECT_EQ(what.find("then closed"), std::string::npos) << what;
  }
}

TEST(HybridSeqpacket, TheListenerTakesTheVmmsSeqpacketConnections) {
  scratch_dir dir;
  const hybrid_vsock_endpoint ep{dir.file("fc.vsock"), 6003};
  auto l = hybrid_vsock_seqpacket_listener::listen(ep);
  EXPECT_EQ(l.hybrid_endpoint(), ep);
  const std::string where = dir.file("fc.vsock_6003");
  ASSERT_TRUE(is_socket_file(where));
  EXPECT_FALSE(connect_unix(where, SOCK_STREAM)) << "a stream cannot connect to it";
  fd_t vmm = connect_unix(where, SOCK_SEQPACKET);
  ASSERT_TRUE(vmm) << std::strerror(errno);
  ASSERT_TRUE(send_message(vmm.get(), "one"));
  ASSERT_TRUE(send_message(vmm.get(), "two two"));
  hybrid_vsock_seqpacket_socket s;
  bounded([&] { s = l.accept(10s); });
  ASSERT_TRUE(s.is_open());
  EXPECT_EQ(s.hybrid_endpoint(), ep);
  char buf[64];
  std::size_t n = 0;
  bounded([&] { n = s.receive(mutable_buffer{buf, sizeof buf}, 10s); });
  EXPECT_EQ(std::string(buf, n), "one");
  bounded([&] { n = s.receive(mutable_buffer{buf, sizeof buf}, 10s); });
  EXPECT_EQ(std::string(buf, n), "two two");
  s.send(std::string_view("x"));
  s.send(std::string_view("yz"));
  std::atomic<bool> never{false};
  EXPECT_EQ(recv_once(vmm.get(), buf, sizeof buf, 0, fake_patience, &never), 1);
  EXPECT_EQ(recv_once(vmm.get(), buf, sizeof buf, 0, fake_patience, &never), 2);
  l.close();
  EXPECT_FALSE(file_exists(where));
}

// ---- the URI-level API ---------------------------------------------------------------

TEST(HybridUris, AnyStreamSocketConnectsAndKeepsTheHybridEndpoint) {
  scratch_dir dir;
  firecracker fc;
  fc.guest = echo_guest;
  auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
  const std::string uri = "hybrid-vsock://" + vmm.path() + ":5000";
  any_stream_socket s;
  bounded([&] { s = any_stream_socket::connect(any_endpoint::parse(uri), 10s); });
  ASSERT_TRUE(s.is_open());
  EXPECT_EQ(s.scheme(), uri_scheme::hybrid_vsock);
  EXPECT_EQ(s.remote().to_string(), uri);
  ASSERT_NE(s.get_if<unix_endpoint>(), nullptr) << "a Unix stream after the handshake";
  // The VMM's answer is kept: Firecracker's host-side port.
  const auto port = s.hybrid_answer_port();
  ASSERT_TRUE(port.has_value()) << s.hybrid_answer();
  EXPECT_GE(*port, 1u << 30);
  EXPECT_EQ(s.hybrid_answer(), std::to_string(*port));
  EXPECT_TRUE(any_stream_socket().hybrid_answer().empty());
  s.send_all(std::string_view("echo"), 10s);
  char buf[4];
  mutable_buffer b{buf, 4};
  std::error_code ec;
  bounded([&] { s.receive_exact(b, 10s, ec); });
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(std::string(buf, 4), "echo");
  // Errors after the connect name the hybrid endpoint, with the guest's port,
  // not the VMM's Unix socket alone.
  const std::string late = message_of([&] { s.receive_exact(b, 50ms); });
  EXPECT_NE(late.find("receive_exact from " + uri + " (0 of 4 bytes received): "),
            std::string::npos)
      << late;
  // Closed, it is a closed socket, as any other is.
  s.close();
  const std::string closed = message_of([&] { s.send(std::string_view("x")); });
  EXPECT_EQ(closed.rfind("send to a closed socket: ", 0), 0u) << closed;
  // A failure names the path and the port.
  const std::string missing = "hybrid-vsock://" + dir.file("none.vsock") + ":5000";
  const std::string what =
      message_of([&] { (void)any_stream_socket::connect(any_endpoint::parse(missing), 10s); });
  EXPECT_NE(what.find("connect to " + missing + ": "), std::string::npos) << what;
}

// A VMM that answers "ERR nope\n" and holds the connection, and one that
// takes the connection and never answers.
struct junk_and_mute {
  fake_vmm junk;
  fake_vmm mute;
};
junk_and_mute junk_and_mute_vmms(scratch_dir& dir) {
  return {scripted_vmm(dir.file("junk.vsock"),
                       [](fd_t& fd, fake_vmm& v) {
                         send_all_raw(fd.get(), "ERR nope\n");
                         hold_until_closed(fd.get(), v.stopping());
                       }),
          mute_vmm(dir.file("mute.vsock"))};
}

// Through any_stream_socket and any_connector, a VMM's junk or silence is
// worded as the hybrid socket's own connect words it.
TEST(HybridUris, AnyTransportConnectsQuoteTheVmmAsTheHybridSocketDoes) {
  scratch_dir dir;
  auto vmms = junk_and_mute_vmms(dir);
  fake_vmm& junk = vmms.junk;
  fake_vmm& mute = vmms.mute;
  for (const std::string& path : {junk.path(), mute.path()}) {
    SCOPED_TRACE(path);
    const hybrid_vsock_endpoint ep{path, 5000};
    // A fresh deadline for each connect (a shared one would expire first).
    const std::chrono::milliseconds t = path == junk.path() ? 10000ms : 300ms;
    std::string typed, any, via_connector, ready, ready_typed;
    bounded([&] {
      typed = message_of([&] { (void)hybrid_vsock_stream_socket::connect(ep, t); });
      any = message_of([&] { (void)any_stream_socket::connect(any_endpoint(ep), t); });
      via_connector = message_of([&] {
        any_connector c;
        (void)c.connect(any_endpoint(ep), t);
      });
    });
    ASSERT_FALSE(typed.empty());
    EXPECT_NE(typed.find(path == junk.path() ? "(answered \"ERR nope\\x0a\")"
                                             : "(the VMM took the connection and sent no answer)"),
              std::string::npos)
        << typed;
    EXPECT_EQ(any, typed);
    EXPECT_EQ(via_connector, typed);
    // With wait_for_ready: junk is not "not up yet" (one attempt, the same
    // words); silence lasts to the deadline.  Both as the typed connect says.
    bounded([&] {
      ready_typed = message_of(
          [&] { (void)hybrid_vsock_stream_socket::connect(ep, 300ms, wait_for_ready{}); });
      ready = message_of(
          [&] { (void)any_stream_socket::connect(any_endpoint(ep), 300ms, wait_for_ready{}); });
    });
    EXPECT_EQ(ready, ready_typed);
    EXPECT_NE(ready.find(path == junk.path() ? "(answered" : "sent no answer"), std::string::npos)
        << ready;
  }
}

// connect_first's listing quotes a VMM's junk answer, or says it was silent,
// as the entry's own connect would; each attempt keeps the answer.  The free
// function, any_connector's, and the wait_for_ready forms.
TEST(HybridUris, ConnectFirstQuotesWhatEachVmmAnswered) {
  scratch_dir dir;
  auto vmms = junk_and_mute_vmms(dir);
  fake_vmm& junk = vmms.junk;
  fake_vmm& mute = vmms.mute;
  const std::vector<any_endpoint> eps{any_endpoint(hybrid_vsock_endpoint{junk.path(), 5000}),
                                      any_endpoint(hybrid_vsock_endpoint{mute.path(), 5000})};
  const std::string quoted = "hybrid-vsock://" + junk.path() + ":5000 (answered \"ERR nope\\x0a\")";
  const std::string silent =
      "hybrid-vsock://" + mute.path() + ":5000 (the VMM took the connection and sent no answer)";
  auto check = [&](const std::string& what, const std::vector<connect_attempt>& attempts) {
    EXPECT_NE(what.find(quoted + ": "), std::string::npos) << what;
    EXPECT_NE(what.find(silent), std::string::npos) << what;
    ASSERT_EQ(attempts.size(), 2u);
    EXPECT_EQ(attempts[0].answer.raw(), "ERR nope\n");
    EXPECT_EQ(attempts[0].error, errc::hybrid_vsock_bad_answer) << attempts[0].error.message();
    EXPECT_TRUE(attempts[1].answer.awaited);
    EXPECT_EQ(attempts[1].error, std::errc::timed_out) << attempts[1].error.message();
  };
  bounded([&] {
    try {
      (void)connect_first(eps, 300ms);
      ADD_FAILURE() << "connected";
    } catch (const connect_error& e) {
      check(e.what(), e.attempts());
    }
    try {
      any_connector c;
      (void)c.connect_first(eps, 300ms);
      ADD_FAILURE() << "connected";
    } catch (const connect_error& e) {
      check(e.what(), e.attempts());
    }
    // One deadline for the list: junk is given up at once, silence lasts to it.
    try {
      (void)connect_first(eps, 600ms, wait_for_ready{});
      ADD_FAILURE() << "connected";
    } catch (const connect_error& e) {
      EXPECT_NE(std::string(e.what()).find(quoted), std::string::npos) << e.what();
      ASSERT_EQ(e.attempts().size(), 2u);
      EXPECT_EQ(e.attempts()[0].answer.raw(), "ERR nope\n");
      EXPECT_TRUE(e.attempts()[1].answer.awaited);
    }
    // any_connector's wait_for_ready form, the same.
    try {
      any_connector c;
      (void)c.connect_first(eps, 600ms, wait_for_ready{});
      ADD_FAILURE() << "connected";
    } catch (const connect_error& e) {
      EXPECT_NE(std::string(e.what()).find(quoted), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(silent), std::string::npos) << e.what();
      ASSERT_EQ(e.attempts().size(), 2u);
      EXPECT_EQ(e.attempts()[0].answer.raw(), "ERR nope\n");
      EXPECT_TRUE(e.attempts()[1].answer.awaited);
    }
  });
  // The error_code form lists nothing, and make_connect_error words a list the
  // caller kept as the throwing form does.
  std::error_code ec;
  bounded([&] { (void)connect_first(eps, 300ms, ec); });
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  std::vector<connect_attempt> kept{
      {eps[0], std::make_error_code(std::errc::connection_refused), false, {}}};
  EXPECT_NE(std::string(make_connect_error(ec, kept).what()).find(junk.path() + ":5000: "),
            std::string::npos)
      << "no answer kept: the URI alone";
}

TEST(HybridUris, ConnectFirstFallsBackAndNamesEachAttempt) {
  scratch_dir dir;
  firecracker fc;
  auto vmm = firecracker_vmm(dir.file("fc.vsock"), fc);
  const std::string missing = "hybrid-vsock://" + dir.file("none.vsock") + ":5000";
  const std::string unknown = "hybrid-vsock://" + vmm.path() + ":7777";
  const std::string good = "hybrid-vsock://" + vmm.path() + ":52";
  any_stream_socket s;
  std::vector<connect_attempt> failed;
  bounded([&] {
    s = connect_first(
        {any_endpoint::parse(missing), any_endpoint::parse(unknown), any_endpoint::parse(good)},
        10s, failed);
  });
  ASSERT_TRUE(s.is_open());
  EXPECT_EQ(s.remote().to_string(), good);
  EXPECT_GE(s.hybrid_answer_port().value_or(0), 1u << 30) << s.hybrid_answer();
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].error, std::errc::no_such_file_or_directory) << failed[0].error.message();
  EXPECT_EQ(failed[1].error, errc::hybrid_vsock_refused) << failed[1].error.message();
  std::string what;
  bounded([&] { what = message_of([&] { (void)connect_first({missing, unknown}, 10s); }); });
  EXPECT_NE(what.find(missing + ": "), std::string::npos) << what;
  EXPECT_NE(what.find(unknown + ": "), std::string::npos) << what;
  // Through an any_connector too.
  any_connector c;
  bounded([&] {
    s = c.connect_first({any_endpoint::parse(missing), any_endpoint::parse(good)}, 10s);
  });
  EXPECT_EQ(s.remote().to_string(), good);
  EXPECT_GE(s.hybrid_answer_port().value_or(0), 1u << 30) << s.hybrid_answer();
  // And its one-endpoint connect.
  bounded([&] { s = c.connect(any_endpoint::parse(good), 10s); });
  EXPECT_GE(s.hybrid_answer_port().value_or(0), 1u << 30) << s.hybrid_answer();
}

TEST(HybridUris, ListenAllTakesAHybridEndpoint) {
  scratch_dir dir;
  const std::string uri = "hybrid-vsock://" + dir.file("fc.vsock") + ":6004";
  const std::string where = dir.file("fc.vsock_6004");
  {
    auto all = any_listener::listen_all({uri, "tcp://127.0.0.1:0"});
    ASSERT_EQ(all.local_endpoints().size(), 2u);
    EXPECT_EQ(all.local_endpoints()[0].to_string(), uri);
    EXPECT_EQ(all.local_endpoints()[0].scheme(), uri_scheme::hybrid_vsock);
    ASSERT_TRUE(is_socket_file(where));
    fd_t vmm = connect_unix(where, SOCK_STREAM);
    ASSERT_TRUE(vmm);
    ASSERT_TRUE(send_all_raw(vmm.get(), "hi"));
    any_stream_socket s;
    bounded([&] { s = all.accept(10s); });
    ASSERT_TRUE(s.is_open());
    char buf[2];
    mutable_buffer b{buf, 2};
    std::error_code ec;
    bounded([&] { s.receive_exact(b, 10s, ec); });
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(std::string(buf, 2), "hi");
  }
  EXPECT_FALSE(file_exists(where)) << "closing the any_listener removes the socket file";
  // A live socket there: the error names the hybrid endpoint.
  fd_t live = listen_unix(where, SOCK_STREAM);
  const std::string what = message_of([&] { (void)any_listener::listen_all({uri}); });
  EXPECT_NE(what.find("listen_all: listen on " + uri + ": "), std::string::npos) << what;
}

}  // namespace
