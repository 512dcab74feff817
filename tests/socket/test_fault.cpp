// The socket layer under faults, over real loopback sockets (TCP 127.0.0.1 and
// Unix, abstract names): sockets use fault_policy, which forwards to
// posix_policy except where a test schedules a fault.
//
// EINTR is made for real: fault_policy::interrupt() sends SIGUSR1 (no
// SA_RESTART) to a thread while it is inside a call, so the system call that
// posix_policy makes really returns EINTR and its own retry loop is what runs.
// A tap on the C library (below) counts those EINTRs, so that no EINTR test can
// pass without EINTR having happened.  Only calls that can sleep can be
// interrupted (accept, connect, send/sendmsg, recv/recvmsg, poll); bind, listen,
// setsockopt and the like never return EINTR on Linux (nor in POSIX's lists),
// and close's EINTR (which Linux reports after freeing the descriptor) is
// injected by the tap.
//
// Random sizes are seeded: the seed is printed and recorded as the test
// property "seed"; VMSOCK_TEST_SEED=<n> repeats a run.
#include "fault_policy.hpp"

#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

// ---- the tap: counts what the C library's socket calls return ---------------
// These definitions in the executable take the place of the C library's; each
// calls the next definition (the C library's, or a sanitizer's) and notes EINTR
// and EAGAIN results.  Two injections happen here, at the system-call boundary
// that posix_policy sees: an EINTR from close (after really closing, as Linux
// does) and ECONNABORTED from accept4 (a client that gave up in the queue).
namespace tap {

enum fn : unsigned {
  f_recv,
  f_recvmsg,
  f_send,
  f_sendmsg,
  f_accept4,
  f_connect,
  f_poll,
  f_close,
  fn_count
};

struct counters {
  std::atomic<long> eintr{0};
  std::atomic<long> eagain{0};
  std::atomic<long> partial{0};  // sends that moved fewer bytes than asked
};
counters seen[fn_count];
std::atomic<int> close_eintr_fd{-1};
std::atomic<int> accept_aborts{0};

void reset() {
  for (auto& c : seen) {
    c.eintr = 0;
    c.eagain = 0;
    c.partial = 0;
  }
  close_eintr_fd = -1;
  accept_aborts = 0;
}
long eintr(fn f) { return seen[f].eintr.load(); }
long eagain(fn f) { return seen[f].eagain.load(); }
long partial(fn f) { return seen[f].partial.load(); }

template <class F> F next(const char* name) {
  void* p = ::dlsym(RTLD_NEXT, name);
  if (p == nullptr) std::abort();
  F f;
  static_assert(sizeof f == sizeof p);
  std::memcpy(&f, &p, sizeof f);
  return f;
}

template <class R> R note(fn f, R r) {
  if (r < 0) {
    const int e = errno;
    if (e == EINTR) ++seen[f].eintr;
    if (e == EAGAIN || e == EWOULDBLOCK) ++seen[f].eagain;
    errno = e;
  }
  return r;
}

}  // namespace tap

extern "C" {

ssize_t recv(int fd, void* buf, size_t n, int flags) {
  static const auto real = tap::next<ssize_t (*)(int, void*, size_t, int)>("recv");
  return tap::note(tap::f_recv, real(fd, buf, n, flags));
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  static const auto real = tap::next<ssize_t (*)(int, struct msghdr*, int)>("recvmsg");
  return tap::note(tap::f_recvmsg, real(fd, msg, flags));
}

ssize_t send(int fd, const void* buf, size_t n, int flags) {
  static const auto real = tap::next<ssize_t (*)(int, const void*, size_t, int)>("send");
  const ssize_t r = real(fd, buf, n, flags);
  if (r >= 0 && static_cast<size_t>(r) < n) ++tap::seen[tap::f_send].partial;
  return tap::note(tap::f_send, r);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  static const auto real = tap::next<ssize_t (*)(int, const struct msghdr*, int)>("sendmsg");
  const ssize_t r = real(fd, msg, flags);
  if (r >= 0) {
    size_t want = 0;
    for (size_t i = 0; i < msg->msg_iovlen; ++i) want += msg->msg_iov[i].iov_len;
    if (static_cast<size_t>(r) < want) ++tap::seen[tap::f_sendmsg].partial;
  }
  return tap::note(tap::f_sendmsg, r);
}

int accept4(int fd, struct sockaddr* sa, socklen_t* len, int flags) {
  static const auto real = tap::next<int (*)(int, struct sockaddr*, socklen_t*, int)>("accept4");
  for (int n = tap::accept_aborts.load(); n > 0; n = tap::accept_aborts.load()) {
    if (tap::accept_aborts.compare_exchange_weak(n, n - 1)) {
      errno = ECONNABORTED;
      return -1;
    }
  }
  return tap::note(tap::f_accept4, real(fd, sa, len, flags));
}

int connect(int fd, const struct sockaddr* sa, socklen_t len) {
  static const auto real = tap::next<int (*)(int, const struct sockaddr*, socklen_t)>("connect");
  return tap::note(tap::f_connect, real(fd, sa, len));
}

int poll(struct pollfd* fds, nfds_t n, int ms) {
  static const auto real = tap::next<int (*)(struct pollfd*, nfds_t, int)>("poll");
  return tap::note(tap::f_poll, real(fds, n, ms));
}

int close(int fd) {
  static const auto real = tap::next<int (*)(int)>("close");
  int armed = fd;
  if (fd >= 0 && tap::close_eintr_fd.compare_exchange_strong(armed, -1)) {
    real(fd);
    errno = EINTR;
    return tap::note(tap::f_close, -1);
  }
  return tap::note(tap::f_close, real(fd));
}

}  // extern "C"

namespace {

using namespace vmsock;
using namespace std::chrono_literals;
using vmsock_test::call;
using vmsock_test::fault_policy;
using vmsock_test::fnv1a;
using vmsock_test::random_bytes;

template <class E> using fsocket = stream_socket<E, fault_policy>;
template <class E> using flistener = listener<E, fault_policy>;

using bytes = std::vector<unsigned char>;

// The seed for this test: VMSOCK_TEST_SEED, else a random one; printed and
// recorded so that a failure can be repeated.
std::uint64_t test_seed() {
  std::uint64_t seed = 0;
  if (const char* s = std::getenv("VMSOCK_TEST_SEED"); s != nullptr && *s != '\0') {
    seed = std::strtoull(s, nullptr, 0);
  } else {
    std::random_device rd;
    seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
  std::printf("[   seed   ] VMSOCK_TEST_SEED=%" PRIu64 "\n", seed);
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

// Waits until `done()` (polling; gives up after 20 s so that a broken test
// fails instead of hanging).  Returns done().
template <class F> bool eventually(F&& done) {
  for (int i = 0; i < 20000 && !done(); ++i) std::this_thread::sleep_for(1ms);
  return done();
}

// A thread that is joined when it goes out of scope, so that a failed
// assertion (or an exception) in the test body cannot end in std::terminate;
// an exception in the thread is a test failure.
class joining_thread {
 public:
  template <class F>
  explicit joining_thread(F&& f)
      : t_([body = std::forward<F>(f)]() mutable {
          try {
            body();
          } catch (const std::exception& e) {
            ADD_FAILURE() << "exception in a test thread: " << e.what();
          }
        }) {}
  ~joining_thread() {
    if (t_.joinable()) t_.join();
  }
  void join() { t_.join(); }
  joining_thread(const joining_thread&) = delete;
  joining_thread& operator=(const joining_thread&) = delete;

 private:
  std::thread t_;
};

// `c` sends `data` with send_all while `s` takes it with receive_exact in a
// thread: both complete, and every byte arrives, in order.
template <class Client, class Server>
void expect_transfer(Client& c, Server& s, const bytes& data) {
  bytes got(data.size());
  std::error_code server_ec;
  joining_thread server([&] { s.receive_exact(got, server_ec); });
  std::error_code ec;
  const std::size_t n = c.send_all(data, ec);
  server.join();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(server_ec) << server_ec.message();
  EXPECT_EQ(n, data.size());
  EXPECT_EQ(fnv1a(got.data(), got.size()), fnv1a(data.data(), data.size()));
}

// The client sends "ping", the server sends it back.
template <class Client, class Server> void expect_echo(Client& c, Server& s) {
  c.send_all(std::string("ping"));
  std::string ping(4, '\0');
  s.receive_exact(ping);
  s.send_all(ping);
  std::string echo(4, '\0');
  c.receive_exact(echo);
  EXPECT_EQ(echo, "ping");
}

bool fd_closed(int fd) {
  errno = 0;
  return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

bool is_would_block(const std::error_code& ec) {
  return ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again;
}

// How the socket layer names a connected socket in messages.
std::string where(const inet4_endpoint& ep) { return "tcp://" + ep.to_string(); }
std::string where(const unix_endpoint& ep) { return ep.to_string(); }

using tcp = vmsock_test::tcp4;
using local = vmsock_test::unix_abstract;

using Families = ::testing::Types<tcp, local>;

// Every test starts and ends with an empty script and zeroed counters.
template <class Family> class Fault : public ::testing::Test {
 protected:
  using endpoint = typename Family::endpoint;

  void SetUp() override {
    fault_policy::clear();
    tap::reset();
  }
  void TearDown() override {
    fault_policy::clear();
    tap::reset();
  }

  // A connected pair: the client uses fault_policy, the server ServerPolicy.
  template <class ServerPolicy> struct pair {
    listener<endpoint, ServerPolicy> server_listener;
    fsocket<endpoint> client;
    stream_socket<endpoint, ServerPolicy> server;
  };
  // Both ends time out after 30 s: a broken test fails, it does not hang.
  template <class ServerPolicy = posix_policy> static pair<ServerPolicy> connected() {
    pair<ServerPolicy> p;
    p.server_listener = listener<endpoint, ServerPolicy>::listen(Family::listen_at());
    p.client = fsocket<endpoint>::connect(p.server_listener.local_endpoint());
    p.server = p.server_listener.accept();
    p.client.set_option(receive_timeout{30s});
    p.client.set_option(send_timeout{30s});
    p.server.set_option(receive_timeout{30s});
    p.server.set_option(send_timeout{30s});
    return p;
  }
};

template <class Family> class Interrupt : public Fault<Family> {};
template <class Family> class Eagain : public Fault<Family> {};
template <class Family> class ShortIo : public Fault<Family> {};
template <class Family> class Reset : public Fault<Family> {};
template <class Family> class Emfile : public Fault<Family> {};
template <class Family> class FailedClose : public Fault<Family> {};
TYPED_TEST_SUITE(Interrupt, Families, vmsock_test::family_names);
TYPED_TEST_SUITE(Eagain, Families, vmsock_test::family_names);
TYPED_TEST_SUITE(ShortIo, Families, vmsock_test::family_names);
TYPED_TEST_SUITE(Reset, Families, vmsock_test::family_names);
TYPED_TEST_SUITE(Emfile, Families, vmsock_test::family_names);
TYPED_TEST_SUITE(FailedClose, Families, vmsock_test::family_names);

// ============================================================================
// EINTR: real signals, real interrupted system calls, nothing surfaces.
// ============================================================================

TYPED_TEST(Interrupt, ReceiveAndScatterReceiveAreRetried) {
  auto p = TestFixture::connected();
  const auto seed = test_seed();
  const bytes first = random_bytes(1024, seed);
  const bytes second = random_bytes(256 * 1024, seed + 1);
  fault_policy::interrupt(call::receive, p.client.native_handle());

  joining_thread server([&] {
    // Data only once the client's recv (then recvmsg) has been interrupted.
    eventually([] { return tap::eintr(tap::f_recv) >= 3; });
    p.server.send_all(first);
    eventually([] { return tap::eintr(tap::f_recvmsg) >= 3; });
    p.server.send_all(second);
  });

  bytes got(first.size());
  std::error_code ec;
  const std::size_t n = p.client.receive(got.data(), got.size(), ec);  // one recv
  EXPECT_FALSE(ec) << ec.message();
  ASSERT_GE(n, 1u);
  const std::size_t rest = p.client.receive_exact(got.data() + n, got.size() - n, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(n + rest, first.size());
  EXPECT_EQ(got, first);

  // Three buffers: recvmsg.
  bytes a(1000), b(0), c(second.size() - 1000);
  const std::size_t m = p.client.receive_exact({buffer(a), buffer(b), buffer(c)}, ec);
  server.join();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(m, second.size());
  bytes joined(a);
  joined.insert(joined.end(), c.begin(), c.end());
  EXPECT_EQ(fnv1a(joined.data(), joined.size()), fnv1a(second.data(), second.size()));

  EXPECT_GE(tap::eintr(tap::f_recv), 3);
  EXPECT_GE(tap::eintr(tap::f_recvmsg), 3);
  EXPECT_GE(fault_policy::signals_handled(), 6u);
  std::printf("[   info   ] recv EINTR %ld, recvmsg EINTR %ld, signals %zu\n",
              tap::eintr(tap::f_recv), tap::eintr(tap::f_recvmsg), fault_policy::signals_sent());
}

TYPED_TEST(Interrupt, SendAllIsRetriedWithoutLosingOrRepeatingBytes) {
  auto p = TestFixture::connected();
  const auto seed = test_seed();
  const bytes data = random_bytes(8u << 20, seed);
  fault_policy::interrupt(call::send, p.client.native_handle());

  bytes got(data.size());
  bytes got2(data.size());
  std::error_code server_ec;
  joining_thread server([&] {
    // Read nothing until the client's blocked send has been interrupted: its
    // buffers are full, so it sleeps in send (later in sendmsg) and the
    // signals break in.
    eventually([] { return tap::eintr(tap::f_send) >= 3; });
    p.server.receive_exact(got.data(), got.size(), server_ec);
    if (server_ec) return;
    eventually([] { return tap::eintr(tap::f_sendmsg) >= 3; });
    p.server.receive_exact(got2.data(), got2.size(), server_ec);
  });

  // One buffer: send(2).  The throwing overload: nothing may surface.
  std::size_t n = 0;
  EXPECT_NO_THROW(n = p.client.send_all(data));
  EXPECT_EQ(n, data.size());
  // 64 KiB buffers (and empty ones): every window holds several, so sendmsg(2).
  std::vector<const_buffer> pieces;
  for (std::size_t at = 0; at < data.size(); at += 65536) {
    pieces.push_back(
        const_buffer{data.data() + at, std::min<std::size_t>(65536, data.size() - at)});
    pieces.push_back(const_buffer{nullptr, 0});
  }
  std::error_code ec;
  const std::size_t m = p.client.send_all(pieces.data(), pieces.size(), ec);
  server.join();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(m, data.size());
  EXPECT_FALSE(server_ec) << server_ec.message();
  EXPECT_EQ(fnv1a(got.data(), got.size()), fnv1a(data.data(), data.size()));
  EXPECT_EQ(fnv1a(got2.data(), got2.size()), fnv1a(data.data(), data.size()));

  EXPECT_GE(tap::eintr(tap::f_send), 3);
  EXPECT_GE(tap::eintr(tap::f_sendmsg), 3);
  std::printf("[   info   ] send EINTR %ld (partial %ld), sendmsg EINTR %ld (partial %ld)\n",
              tap::eintr(tap::f_send), tap::partial(tap::f_send), tap::eintr(tap::f_sendmsg),
              tap::partial(tap::f_sendmsg));
}

// accept waits in poll() (listeners are non-blocking inside the OS); signals
// interrupt that wait, and it goes on for the time left.
TYPED_TEST(Interrupt, AcceptWaitIsRetried) {
  using E = typename TestFixture::endpoint;
  auto l = flistener<E>::listen(TypeParam::listen_at());
  const E ep = l.local_endpoint();
  fault_policy::interrupt(call::poll, l.native_handle());

  joining_thread client([&] {
    eventually([] { return tap::eintr(tap::f_poll) >= 3; });
    auto c = stream_socket<E>::connect(ep);
    c.send_all(std::string("hello"));
    char reply[2] = {};
    c.receive_exact(reply, sizeof reply);
    EXPECT_EQ(std::string(reply, 2), "ok");
  });
  std::error_code ec;
  auto s = l.accept(ec);
  EXPECT_FALSE(ec) << ec.message();
  ASSERT_TRUE(s.is_open());
  std::string hello(5, '\0');
  s.receive_exact(hello);
  EXPECT_EQ(hello, "hello");
  s.send_all(std::string("ok"));
  client.join();
  EXPECT_GE(tap::eintr(tap::f_poll), 3);
}

// accept4 failing with ECONNABORTED (a client that reset while queued) is not a
// failure of the listener: posix_policy waits for the next connection.
TYPED_TEST(Interrupt, AbortedConnectionInTheQueueIsSkipped) {
  using E = typename TestFixture::endpoint;
  auto l = flistener<E>::listen(TypeParam::listen_at());
  auto c = stream_socket<E>::connect(l.local_endpoint());
  tap::accept_aborts = 2;
  std::error_code ec;
  auto s = l.accept(ec);
  EXPECT_FALSE(ec) << ec.message();
  ASSERT_TRUE(s.is_open());
  EXPECT_EQ(tap::accept_aborts.load(), 0);
  c.send_all(std::string("x"));
  char x = 0;
  s.receive_exact(&x, 1);
  EXPECT_EQ(x, 'x');
}

// A connect to a listener whose backlog is full.  vmsock's connects are
// non-blocking inside the OS and wait in poll(): TCP goes on connecting (the
// SYN is sent again) while signals interrupt the wait, and completes once there
// is room; the proof is that the connected socket really talks to the
// listener.  Linux's AF_UNIX answers a non-blocking connect to a full backlog
// with EAGAIN at once, which is what the caller gets.
TYPED_TEST(Interrupt, ConnectToAFullBacklog) {
  using E = typename TestFixture::endpoint;
  auto l = listener<E>::listen(TypeParam::listen_at(), 0);
  const E ep = l.local_endpoint();
  auto filler = stream_socket<E>::connect(ep);  // fills the backlog of 0 (Linux keeps 1)

  if constexpr (std::is_same_v<E, unix_endpoint>) {
    std::error_code ec;
    const auto start = std::chrono::steady_clock::now();
    auto c = fsocket<E>::connect(ep, ec);
    EXPECT_EQ(ec, std::errc::resource_unavailable_try_again) << ec.message();
    EXPECT_FALSE(c.is_open());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "it did not wait";
  } else {
    std::atomic<bool> returned{false};
    std::error_code ec;
    std::error_code talk_ec;
    std::string reply(4, '\0');
    joining_thread client([&] {
      fault_policy::interrupt(call::poll);
      auto c = fsocket<E>::connect(ep, ec);
      returned = true;
      if (ec) return;
      c.send_all(std::string("ping"), talk_ec);
      if (!talk_ec) c.receive_exact(reply, talk_ec);
    });
    // The client waits in poll until there is room; make room once it has
    // been interrupted a few times (or has returned, which would be too early).
    eventually([&] { return tap::eintr(tap::f_poll) >= 3 || returned.load(); });
    EXPECT_FALSE(returned.load()) << ec.message();
    std::error_code server_ec;
    auto first = l.accept(server_ec);
    // Once the client's SYN is retransmitted (after a second).
    auto conn = l.accept(20s, server_ec);
    EXPECT_FALSE(server_ec) << server_ec.message();
    std::string ping(4, '\0');
    if (conn.is_open()) {
      conn.receive_exact(ping, server_ec);
      conn.send_all(std::string("pong"), server_ec);
    }
    client.join();
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_FALSE(talk_ec) << talk_ec.message();
    EXPECT_EQ(ping, "ping");
    EXPECT_EQ(reply, "pong");
    EXPECT_GE(tap::eintr(tap::f_poll), 3);
    std::printf("[   info   ] poll EINTR %ld\n", tap::eintr(tap::f_poll));
  }
}

TYPED_TEST(Interrupt, PollIsRetried) {
  using E = typename TestFixture::endpoint;
  auto p = TestFixture::connected();
  fault_policy::interrupt(call::poll);

  joining_thread server([&] {
    eventually([] { return tap::eintr(tap::f_poll) >= 3; });
    p.server.send_all(std::string("a"));
  });
  std::error_code ec;
  EXPECT_TRUE(p.client.wait_readable(no_timeout, ec));
  EXPECT_FALSE(ec) << ec.message();
  server.join();
  char a = 0;
  p.client.receive_exact(&a, 1);
  EXPECT_EQ(a, 'a');

  // With a timeout: the deadline survives the restarts.
  const long before = tap::eintr(tap::f_poll);
  joining_thread server2([&] {
    eventually([&] { return tap::eintr(tap::f_poll) >= before + 3; });
    p.server.send_all(std::string("b"));
  });
  EXPECT_TRUE(p.client.wait_readable(60s, ec));
  EXPECT_FALSE(ec) << ec.message();
  server2.join();
  p.client.receive_exact(&a, 1);
  EXPECT_EQ(a, 'b');

  // accept(timeout) waits in poll.
  auto l = flistener<E>::listen(TypeParam::listen_at());
  const E ep = l.local_endpoint();
  const long before_accept = tap::eintr(tap::f_poll);
  joining_thread client([&] {
    eventually([&] { return tap::eintr(tap::f_poll) >= before_accept + 3; });
    auto c = stream_socket<E>::connect(ep);
    c.send_all(std::string("c"));
  });
  auto s = l.accept(60s, ec);
  EXPECT_FALSE(ec) << ec.message();
  client.join();
  ASSERT_TRUE(s.is_open());
  s.receive_exact(&a, 1);
  EXPECT_EQ(a, 'c');

  // An expiry under signals is still an expiry, not an error.
  EXPECT_FALSE(p.client.wait_readable(100ms, ec));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_GE(tap::eintr(tap::f_poll), before_accept + 3);
}

// A timed connect (non-blocking connect, then poll) to a TCP listener whose
// backlog is full: the poll is interrupted and retried until the SYN is
// retransmitted and accepted.
TEST(InterruptTcp, TimedConnectPollIsRetried) {
  fault_policy::clear();
  tap::reset();
  auto l = listener<inet4_endpoint>::listen(inet4_endpoint::loopback(0), 0);
  const auto ep = l.local_endpoint();
  auto filler = stream_socket<inet4_endpoint>::connect(ep);
  std::error_code ec;
  joining_thread client([&] {
    fault_policy::interrupt(call::poll);
    auto c = fsocket<inet4_endpoint>::connect(ep, 60s, ec);
    if (!ec) c.send_all(std::string("late"), ec);
  });
  eventually([] { return tap::eintr(tap::f_poll) >= 3; });
  auto first = l.accept();
  auto conn = l.accept(20s);
  std::string late(4, '\0');
  conn.receive_exact(late);
  client.join();
  fault_policy::clear();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(late, "late");
  EXPECT_GE(tap::eintr(tap::f_poll), 3);
}

// Linux frees the descriptor before close reports EINTR: the policy must not
// report it (nor close again: the number may already be someone else's).
TYPED_TEST(Interrupt, CloseInterruptedReportsNothingAndReleases) {
  auto p = TestFixture::connected();
  const int fd = p.client.native_handle();
  tap::close_eintr_fd = fd;
  std::error_code ec;
  p.client.close(ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(p.client.is_open());
  EXPECT_TRUE(fd_closed(fd));
  EXPECT_EQ(tap::eintr(tap::f_close), 1);
  // The peer sees the close.
  char x = 0;
  EXPECT_EQ(p.server.receive(&x, 1, ec), 0u);
  EXPECT_FALSE(ec) << ec.message();
}

// ============================================================================
// EAGAIN: waited for on non-blocking sockets, a timeout on blocking ones.
// ============================================================================

// On a non-blocking socket EAGAIN ends send_all and receive_exact with the
// count done so far; nothing waits.  Called again, they go on where they were.
TYPED_TEST(Eagain, NonBlockingSendAllStopsWithTheCountSent) {
  auto p = TestFixture::connected();
  const auto seed = test_seed();
  const bytes data = random_bytes(64 * 1024, seed);
  p.client.set_nonblocking(true);
  // Each send passes at most 1000 bytes; the third is refused with EAGAIN.
  fault_policy::short_io(call::send, 1000, seed, p.client.native_handle());
  fault_policy::fail(call::send, std::errc::resource_unavailable_try_again, 1,
                     p.client.native_handle(), 2);
  std::error_code ec;
  const std::size_t polls = fault_policy::calls(call::poll);  // the connect's
  const std::size_t first = p.client.send_all(data, ec);
  EXPECT_TRUE(is_would_block(ec)) << ec.message();
  EXPECT_GT(first, 0u);
  EXPECT_LE(first, 2000u);
  EXPECT_EQ(fault_policy::calls(call::poll), polls) << "a non-blocking send_all never waits";
  // The rest, and the peer gets every byte once, in order.
  bytes got(data.size());
  std::error_code server_ec;
  joining_thread server([&] { p.server.receive_exact(got, server_ec); });
  std::size_t done = first;
  while (done < data.size()) {
    done += p.client.send_all(vmsock::buffer(data.data() + done, data.size() - done), ec);
    if (ec && is_would_block(ec)) {
      ASSERT_TRUE(p.client.wait_writable(30s));
    } else {
      ASSERT_FALSE(ec) << ec.message();
    }
  }
  server.join();
  EXPECT_FALSE(server_ec) << server_ec.message();
  EXPECT_EQ(got, data);
}

TYPED_TEST(Eagain, NonBlockingReceiveExactStopsWithTheCountReceived) {
  auto p = TestFixture::connected();
  const auto seed = test_seed();
  const bytes data = random_bytes(4 * 4096, seed);
  p.client.set_nonblocking(true);
  p.server.send_all(data.data(), 4096);
  ASSERT_TRUE(p.client.wait_readable(30s));
  // A real EAGAIN once the first chunk is taken.
  bytes got(data.size());
  std::error_code ec;
  std::size_t done = p.client.receive_exact(got, ec);
  EXPECT_TRUE(is_would_block(ec)) << ec.message();
  EXPECT_EQ(done, 4096u);
  EXPECT_GE(tap::eagain(tap::f_recv), 1);
  // An injected one with data waiting: stops too, and loses nothing.
  p.server.send_all(data.data() + 4096, 4096);
  ASSERT_TRUE(p.client.wait_readable(30s));
  fault_policy::fail(call::receive, std::errc::operation_would_block, 1, p.client.native_handle());
  EXPECT_EQ(p.client.receive_exact(vmsock::buffer(got.data() + done, got.size() - done), ec), 0u);
  EXPECT_TRUE(is_would_block(ec)) << ec.message();
  EXPECT_EQ(fault_policy::injected(call::receive), 1u);
  p.server.send_all(data.data() + 8192, data.size() - 8192);
  while (done < got.size()) {
    ASSERT_TRUE(p.client.wait_readable(30s));
    done += p.client.receive_exact(vmsock::buffer(got.data() + done, got.size() - done), ec);
    if (ec) {
      ASSERT_TRUE(is_would_block(ec)) << ec.message();
    }
  }
  EXPECT_EQ(got, data);
}

TYPED_TEST(Eagain, NonBlockingPlainCallsSurfaceWouldBlock) {
  using E = typename TestFixture::endpoint;
  auto p = TestFixture::connected();
  p.client.set_nonblocking(true);
  char buf[16];
  std::error_code ec;

  // Real: nothing to read.
  EXPECT_EQ(p.client.receive(buf, sizeof buf, ec), 0u);
  EXPECT_TRUE(is_would_block(ec)) << ec.message();
  EXPECT_NE(ec, std::errc::timed_out);
  try {
    p.client.receive(buf, sizeof buf);
    ADD_FAILURE() << "receive did not throw";
  } catch (const std::system_error& e) {
    EXPECT_TRUE(is_would_block(e.code())) << e.what();
    EXPECT_NE(std::string(e.what()).find("receive from " + where(p.client.peer_endpoint())),
              std::string::npos)
        << e.what();
  }

  // Injected, with data waiting: still surfaced, and the data is still there.
  p.server.send_all(std::string("data"));
  ASSERT_TRUE(p.client.wait_readable(30s));
  fault_policy::fail(call::receive, std::errc::resource_unavailable_try_again);
  EXPECT_EQ(p.client.receive(buf, sizeof buf, ec), 0u);
  EXPECT_TRUE(is_would_block(ec)) << ec.message();
  std::string d(4, '\0');
  EXPECT_EQ(p.client.receive_exact(d, ec), 4u);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(d, "data");

  // A plain send too.
  fault_policy::fail(call::send, std::errc::resource_unavailable_try_again);
  EXPECT_EQ(p.client.send(std::string("x"), ec), 0u);
  EXPECT_TRUE(is_would_block(ec)) << ec.message();

  // A non-blocking listener with nothing queued.
  auto l = flistener<E>::listen(TypeParam::listen_at());
  l.set_nonblocking(true);
  auto none = l.accept(ec);
  EXPECT_TRUE(is_would_block(ec)) << ec.message();
  EXPECT_FALSE(none.is_open());
}

TYPED_TEST(Eagain, OnABlockingSocketIsATimeout) {
  using E = typename TestFixture::endpoint;
  auto p = TestFixture::connected();
  const int fd = p.client.native_handle();
  std::error_code ec;

  fault_policy::fail(call::send, std::errc::resource_unavailable_try_again, 1, fd);
  EXPECT_EQ(p.client.send(std::string("x"), ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(ec, vmsock::errc::timed_out) << ec.message();

  fault_policy::fail(call::receive, std::errc::resource_unavailable_try_again, 1, fd);
  char c = 0;
  EXPECT_EQ(p.client.receive(&c, 1, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();

  fault_policy::fail(call::receive, std::errc::resource_unavailable_try_again, 1, fd);
  try {
    p.client.receive(&c, 1);
    ADD_FAILURE() << "receive did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::timed_out) << e.what();
    EXPECT_NE(std::string(e.what()).find("receive from " + where(p.client.peer_endpoint())),
              std::string::npos)
        << e.what();
  }

  // send_all: two short sends go through, the third times out; exactly the
  // bytes reported as sent reach the peer.
  const bytes data = random_bytes(100000, 7);
  fault_policy::short_io(call::send, 1000, 11, fd);
  fault_policy::fail(call::send, std::errc::resource_unavailable_try_again, 1, fd, 2);
  const std::size_t sent = p.client.send_all(data, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(sent, fault_policy::bytes(call::send));
  EXPECT_GT(sent, 0u);
  EXPECT_LE(sent, 2000u);
  p.client.shutdown(shutdown_type::send);
  bytes arrived(sent);
  p.server.receive_exact(arrived);
  EXPECT_EQ(p.server.receive(&c, 1), 0u) << "nothing after the reported count";
  EXPECT_TRUE(std::equal(arrived.begin(), arrived.end(), data.begin()));

  // receive_exact: what arrived is counted, then the timeout.
  p.server.send_all(std::string("0123456789"));
  fault_policy::fail(call::receive, std::errc::resource_unavailable_try_again, 1, fd, 1);
  std::string twenty(20, '\0');
  const std::size_t got = p.client.receive_exact(twenty, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(got, fault_policy::bytes(call::receive));
  EXPECT_GE(got, 1u);
  EXPECT_LE(got, 10u);
  EXPECT_EQ(twenty.substr(0, got), std::string("0123456789").substr(0, got));

  // accept on a blocking listener: listeners are non-blocking inside the OS,
  // so an EAGAIN from accept4 means "no connection yet" and accept waits; the
  // listener's SO_RCVTIMEO is what bounds that wait, as it would bound a
  // blocking accept.
  auto l = flistener<E>::listen(TypeParam::listen_at());
  fault_policy::fail(call::accept, std::errc::resource_unavailable_try_again, 1, l.native_handle());
  l.set_option(receive_timeout{100ms});
  auto none = l.accept(ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_FALSE(none.is_open());
  EXPECT_GE(fault_policy::injected(call::accept), 1u);
}

// A timed connect is a non-blocking connect and a wait.  To a listener whose
// backlog is full, TCP's attempt goes on (its SYN waits to be retransmitted)
// and the wait expires; Linux's AF_UNIX answers EAGAIN and makes no attempt,
// which must fail rather than wait for a connection that is not coming (or
// report an unconnected socket as connected).
TYPED_TEST(Eagain, TimedConnectToAFullBacklog) {
  using E = typename TestFixture::endpoint;
  auto l = listener<E>::listen(TypeParam::listen_at(), 0);
  const E ep = l.local_endpoint();
  auto filler = stream_socket<E>::connect(ep);
  std::error_code ec;
  auto c = fsocket<E>::connect(ep, 200ms, ec);
  EXPECT_FALSE(c.is_open());
  if constexpr (std::is_same_v<TypeParam, tcp>) {
    EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
    EXPECT_EQ(fault_policy::calls(call::poll), 1u);
  } else {
    EXPECT_TRUE(is_would_block(ec)) << ec.message();
    EXPECT_EQ(fault_policy::calls(call::poll), 0u) << "no wait for an attempt never made";
  }
  // The listener and the queued connection are unharmed.
  auto s = l.accept(30s);
  expect_echo(filler, s);
}

// The real thing: SO_RCVTIMEO / SO_SNDTIMEO expire as EAGAIN, surfaced as
// timed_out, with the partial counts exact.
TYPED_TEST(Eagain, SocketTimeoutsBecomeTimedOut) {
  auto p = TestFixture::connected();
  std::error_code ec;
  p.client.set_option(receive_timeout{50ms});
  char c = 0;
  EXPECT_EQ(p.client.receive(&c, 1, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_GE(tap::eagain(tap::f_recv), 1);

  p.server.send_all(std::string("abc"));
  std::string ten(10, '\0');
  EXPECT_EQ(p.client.receive_exact(ten, ec), 3u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(ten.substr(0, 3), "abc");

  // Nobody reads: send_all fills the buffers, then times out.
  p.client.set_option(send_timeout{50ms});
  const auto seed = test_seed();
  const bytes data = random_bytes(64u << 20, seed);
  const std::size_t sent = p.client.send_all(data, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_GT(sent, 0u);
  EXPECT_LT(sent, data.size());
  p.client.shutdown(shutdown_type::send);
  bytes arrived(sent);
  EXPECT_EQ(p.server.receive_exact(arrived, ec), sent);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.server.receive(&c, 1), 0u) << "nothing after the reported count";
  EXPECT_EQ(fnv1a(arrived.data(), arrived.size()), fnv1a(data.data(), sent));
}

// ============================================================================
// Short writes and reads at random sizes.
// ============================================================================

TYPED_TEST(ShortIo, SendAllDeliversEveryByteOverShortWrites) {
  auto p = TestFixture::connected();
  const auto seed = test_seed();
  const bytes data = random_bytes(8u << 20, seed);
  for (const std::size_t max_chunk : {std::size_t{1500}, std::size_t{65536}}) {
    fault_policy::clear();
    fault_policy::short_io(call::send, max_chunk, seed ^ max_chunk, p.client.native_handle());
    SCOPED_TRACE("max_chunk " + std::to_string(max_chunk));
    expect_transfer(p.client, p.server, data);
    EXPECT_EQ(fault_policy::bytes(call::send), data.size());
    EXPECT_GE(fault_policy::calls(call::send), data.size() / max_chunk)
        << "every send moved at most " << max_chunk << " bytes";
  }
}

TYPED_TEST(ShortIo, ReceiveExactFillsEveryByteOverShortReads) {
  auto p = TestFixture::template connected<fault_policy>();
  const auto seed = test_seed();
  const bytes data = random_bytes(8u << 20, seed);
  fault_policy::short_io(call::receive, 3000, seed, p.server.native_handle());
  fault_policy::short_io(call::send, 70000, seed + 1, p.client.native_handle());
  expect_transfer(p.client, p.server, data);
  EXPECT_GE(fault_policy::calls(call::receive), data.size() / 3000);
}

// Many buffers (more than max_buffers, some empty, the first empty) on both
// sides, with short writes and short reads at random sizes.
TYPED_TEST(ShortIo, ScatterGatherOverShortWritesAndReads) {
  auto p = TestFixture::template connected<fault_policy>();
  const auto seed = test_seed();
  std::mt19937_64 rng(seed);
  constexpr std::size_t send_count = 300;
  static_assert(send_count > fault_policy::max_buffers);

  std::vector<const_buffer> out(send_count);
  std::size_t total = 0;
  for (std::size_t i = 0; i < send_count; ++i) total += (i % 4 == 0) ? 0 : rng() % 20000;
  const bytes data = random_bytes(total, seed + 1);
  rng.seed(seed);
  std::size_t at = 0;
  for (std::size_t i = 0; i < send_count; ++i) {
    const std::size_t size = (i % 4 == 0) ? 0 : rng() % 20000;
    out[i] = const_buffer{data.data() + at, size};
    at += size;
  }

  // The receiving side: a different split, also with empty buffers.
  bytes got(total);
  std::vector<mutable_buffer> in;
  for (std::size_t off = 0; off < total;) {
    const std::size_t size = std::min<std::size_t>(total - off, rng() % 9000);
    in.push_back(mutable_buffer{got.data() + off, size});
    off += size;
  }
  in.push_back(mutable_buffer{nullptr, 0});
  ASSERT_GT(in.size(), fault_policy::max_buffers);

  fault_policy::short_io(call::send, 5000, seed + 2, p.client.native_handle());
  fault_policy::short_io(call::receive, 7000, seed + 3, p.server.native_handle());
  std::error_code send_ec;
  std::size_t sent = 0;
  joining_thread client([&] { sent = p.client.send_all(out.data(), out.size(), send_ec); });
  std::error_code ec;
  const std::size_t n = p.server.receive_exact(in.data(), in.size(), ec);
  client.join();
  EXPECT_FALSE(send_ec) << send_ec.message();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(sent, total);
  EXPECT_EQ(n, total);
  EXPECT_EQ(fnv1a(got.data(), got.size()), fnv1a(data.data(), data.size()))
      << "total " << total << " bytes in " << send_count << " and " << in.size() << " buffers";
}

// ============================================================================
// ECONNRESET mid-stream.
// ============================================================================

TYPED_TEST(Reset, InjectedResetReportsTheCountSoFar) {
  auto p = TestFixture::connected();
  const bytes data = random_bytes(1000, 3);
  p.server.send_all(data);
  fault_policy::reset_after(p.client.native_handle(), 600);
  bytes got(1000);
  std::error_code ec;
  const std::size_t n = p.client.receive_exact(got, ec);
  EXPECT_EQ(n, 600u);
  EXPECT_EQ(ec, std::errc::connection_reset) << ec.message();
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 600, data.begin()));
}

TYPED_TEST(Reset, ThrownResetNamesOperationEndpointAndCount) {
  auto p = TestFixture::connected();
  const bytes data = random_bytes(1000, 5);
  p.server.send_all(data);
  fault_policy::reset_after(p.client.native_handle(), 250);
  bytes got(1000);
  try {
    p.client.receive_exact(got);
    ADD_FAILURE() << "receive_exact did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::connection_reset);
    const std::string what = e.what();
    const std::string expected =
        "receive_exact from " + where(p.client.peer_endpoint()) + " (250 of 1000 bytes received)";
    EXPECT_NE(what.find(expected), std::string::npos) << what << "\nexpected: " << expected;
    EXPECT_NE(what.find(std::generic_category().message(ECONNRESET)), std::string::npos) << what;
  }
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 250, data.begin()));
}

// A real reset: TCP's abortive close (linger 0) sends RST; a Unix socket closed
// with unread data leaves its peer ECONNRESET.  What was queued before the
// reset is delivered, then the reset.
TYPED_TEST(Reset, RealResetAfterData) {
  auto p = TestFixture::connected();
  const bytes data = random_bytes(5000, 9);
  p.client.send_all(std::string("unread"));  // the server never reads it
  p.server.send_all(data);
  if constexpr (std::is_same_v<TypeParam, tcp>)
    p.server.set_option(vmsock::linger{true, std::chrono::seconds{0}});
  p.server.close();
  bytes got(2 * data.size());
  std::error_code ec;
  const std::size_t n = p.client.receive_exact(got, ec);
  EXPECT_EQ(ec, std::errc::connection_reset) << ec.message() << " after " << n << " bytes";
  EXPECT_LE(n, data.size());
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(n), data.begin()));
}

// ============================================================================
// EMFILE: the error surfaces, the listener keeps working.
// ============================================================================

TYPED_TEST(Emfile, InjectedOnAcceptThenTheListenerWorks) {
  using E = typename TestFixture::endpoint;
  auto l = flistener<E>::listen(TypeParam::listen_at());
  const E ep = l.local_endpoint();
  fault_policy::fail(call::accept, std::errc::too_many_files_open, 2, l.native_handle());
  auto c = stream_socket<E>::connect(ep);

  std::error_code ec;
  auto none = l.accept(ec);
  EXPECT_EQ(ec, std::errc::too_many_files_open) << ec.message();
  EXPECT_FALSE(none.is_open());
  try {
    l.accept();
    ADD_FAILURE() << "accept did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::too_many_files_open);
    const std::string expected = "accept on " + where(ep);
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
  auto s = l.accept(ec);
  EXPECT_FALSE(ec) << ec.message();
  ASSERT_TRUE(s.is_open());
  expect_echo(c, s);
  EXPECT_EQ(fault_policy::injected(call::accept), 2u);
}

// Another thread takes the connection between accept(timeout)'s wait and its
// accept.  On a non-blocking listener accept(timeout) then waits again for the
// time left and reports timed_out, instead of blocking in accept.
TYPED_TEST(Emfile, StolenConnectionOnANonBlockingListenerTimesOut) {
  using E = typename TestFixture::endpoint;
  auto l = flistener<E>::listen(TypeParam::listen_at());
  l.set_nonblocking(true);
  const E ep = l.local_endpoint();
  auto c = stream_socket<E>::connect(ep);
  const auto h = l.native_handle();
  bool stolen = false;
  fault_policy::before(call::accept, [&] {
    if (stolen) return;
    stolen = true;
    const int thief = ::accept(h, nullptr, nullptr);  // the "other thread"
    if (thief >= 0) ::close(thief);
  });
  std::error_code ec;
  auto s = l.accept(std::chrono::milliseconds(200), ec);
  fault_policy::clear();
  EXPECT_TRUE(stolen);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_FALSE(s.is_open());
}

TYPED_TEST(Emfile, InjectedOnOpenLeavesNothingBehind) {
  using E = typename TestFixture::endpoint;
  auto l = listener<E>::listen(TypeParam::listen_at());
  fault_policy::fail(call::open, std::errc::too_many_files_open, 2);
  std::error_code ec;
  auto c = fsocket<E>::connect(l.local_endpoint(), ec);
  EXPECT_EQ(ec, std::errc::too_many_files_open) << ec.message();
  EXPECT_FALSE(c.is_open());
  auto l2 = flistener<E>::listen(TypeParam::listen_at(), ec);
  EXPECT_EQ(ec, std::errc::too_many_files_open) << ec.message();
  EXPECT_FALSE(l2.is_open());
  auto ok = fsocket<E>::connect(l.local_endpoint(), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(ok.is_open());
}

// The real thing: RLIMIT_NOFILE lowered until no descriptor can be made, so the
// kernel's accept4 fails with EMFILE and leaves the connection queued.
class lowered_fd_limit {
 public:
  lowered_fd_limit() {
    // UBSan's vptr check opens a pipe the first time it meets a virtual call on
    // an object: make the calls the library's error comparisons make (system
    // and generic category) while descriptors can still be had.
    const std::error_code warm(EMFILE, std::system_category());
    if (warm == std::errc::operation_would_block) std::abort();
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the lowest free number
    if (probe >= 0) ::close(probe);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(probe);  // every number below is taken
    ok_ = probe >= 0 && ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }
  ~lowered_fd_limit() { restore(); }
  void restore() {
    if (ok_) ::setrlimit(RLIMIT_NOFILE, &saved_);
    ok_ = false;
  }
  bool ok() const { return ok_; }
  lowered_fd_limit(const lowered_fd_limit&) = delete;
  lowered_fd_limit& operator=(const lowered_fd_limit&) = delete;

 private:
  rlimit saved_{};
  bool ok_ = false;
};

TYPED_TEST(Emfile, RealOnAcceptThenTheListenerWorks) {
  using E = typename TestFixture::endpoint;
  auto l = listener<E>::listen(TypeParam::listen_at());
  const E ep = l.local_endpoint();
  auto c = stream_socket<E>::connect(ep);

  std::error_code ec;
  std::error_code connect_ec;
  stream_socket<E> none;
  {
    lowered_fd_limit limit;
    ASSERT_TRUE(limit.ok());
    none = l.accept(ec);
    auto c2 = stream_socket<E>::connect(ep, connect_ec);  // socket() itself fails
    limit.restore();
  }
  EXPECT_EQ(ec, std::errc::too_many_files_open) << ec.message();
  EXPECT_FALSE(none.is_open());
  EXPECT_EQ(connect_ec, std::errc::too_many_files_open) << connect_ec.message();

  auto s = l.accept(30s, ec);
  EXPECT_FALSE(ec) << ec.message();
  ASSERT_TRUE(s.is_open());
  expect_echo(c, s);
}

// ============================================================================
// A close that fails: reported, the handle released, the descriptor closed.
// ============================================================================

TYPED_TEST(FailedClose, CloseWithErrorCodeReportsAndReleases) {
  auto p = TestFixture::connected();
  const int fd = p.client.native_handle();
  fault_policy::fail(call::close, std::errc::io_error, 1, fd);
  std::error_code ec;
  p.client.close(ec);
  EXPECT_EQ(ec, std::errc::io_error) << ec.message();
  EXPECT_FALSE(p.client.is_open());
  EXPECT_TRUE(fd_closed(fd));
  p.client.close(ec);  // closing a closed socket is nothing
  EXPECT_FALSE(ec) << ec.message();
  char x = 0;
  EXPECT_EQ(p.server.receive(&x, 1, ec), 0u) << "the peer sees the close";
}

TYPED_TEST(FailedClose, ThrowingCloseReportsAndReleases) {
  auto p = TestFixture::connected();
  const int fd = p.client.native_handle();
  const std::string name = where(p.client.peer_endpoint());
  fault_policy::fail(call::close, std::errc::io_error, 1, fd);
  try {
    p.client.close();
    ADD_FAILURE() << "close did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::io_error);
    EXPECT_NE(std::string(e.what()).find("close of " + name), std::string::npos) << e.what();
  }
  EXPECT_FALSE(p.client.is_open());
  EXPECT_TRUE(fd_closed(fd));
}

TYPED_TEST(FailedClose, DestructorAndMoveAssignmentNeverThrow) {
  using E = typename TestFixture::endpoint;
  static_assert(std::is_nothrow_destructible_v<fsocket<E>>);
  static_assert(std::is_nothrow_destructible_v<flistener<E>>);
  static_assert(std::is_nothrow_move_assignable_v<fsocket<E>>);
  int fd = -1;
  int lfd = -1;
  {
    auto p = TestFixture::connected();
    fd = p.client.native_handle();
    fault_policy::fail(call::close, std::errc::io_error, -1);  // every close fails
    auto l = flistener<E>::listen(TypeParam::listen_at());
    lfd = l.native_handle();
  }  // destructors: the client and the fault listener
  EXPECT_TRUE(fd_closed(fd));
  EXPECT_TRUE(fd_closed(lfd));
  EXPECT_EQ(fault_policy::injected(call::close), 2u);

  auto p = TestFixture::connected();
  auto q = TestFixture::connected();
  const int overwritten = p.client.native_handle();
  const int moved = q.client.native_handle();
  p.client = std::move(q.client);  // closes the old handle, which fails
  EXPECT_TRUE(fd_closed(overwritten));
  EXPECT_EQ(p.client.native_handle(), moved);
  EXPECT_EQ(fault_policy::injected(call::close), 3u);
  fault_policy::clear();
}

}  // namespace
