// Resources, with the real posix_policy over loopback:
// - no heap allocation on the send/receive path (this executable replaces the
//   global operator new with a counting one; connect, accept and the rest are
//   measured and reported),
// - no descriptor leaks over 10,000 TCP and 1,000 Unix connect/accept/close
//   cycles, failures included,
// - no descriptor inherited by a child started with fork + exec,
// - no SIGPIPE: a write to a closed peer is an error, and the process lives.
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "counting_new.hpp"

namespace {

using namespace vmsock;
using namespace std::chrono_literals;
using vmsock_test::fnv1a;
using vmsock_test::random_bytes;

// Allocations made by the calling thread while f() runs.
template <class F> std::size_t allocations_in(F&& f) {
  const std::size_t before = vmsock_test::allocations();
  f();
  return vmsock_test::allocations() - before;
}

// Globals, so that no optimiser can drop the allocations the instrument's own
// test makes.
std::string g_string;
std::vector<int> g_vector;

TEST(CountingAllocator, CountsWhatItShould) {
  // The instrument itself: a string beyond the small-string buffer and a vector
  // allocate once each; nothing else here does.
  EXPECT_EQ(allocations_in([] { g_string.assign(100, 'x'); }), 1u);
  EXPECT_EQ(allocations_in([] { g_vector.resize(10); }), 1u);
  EXPECT_EQ(allocations_in([] { g_string.assign(10, 'y'); }), 0u);
}

using tcp = vmsock_test::tcp4;
using local = vmsock_test::unix_abstract;
using Families = ::testing::Types<tcp, local>;

template <class Family> class Alloc : public ::testing::Test {
 protected:
  using endpoint = typename Family::endpoint;
  listener<endpoint> server_listener = listener<endpoint>::listen(Family::listen_at());
  stream_socket<endpoint> client =
      stream_socket<endpoint>::connect(server_listener.local_endpoint());
  stream_socket<endpoint> server = server_listener.accept();
};
TYPED_TEST_SUITE(Alloc, Families, vmsock_test::family_names);

TYPED_TEST(Alloc, SendAndReceiveDoNotAllocate) {
  auto& c = this->client;
  auto& s = this->server;
  const std::string text(200, 't');
  const std::vector<std::byte> bytes_out(300, std::byte{7});
  const std::array<char, 50> arr{};
  std::array<char, 1024> in{};
  std::vector<char> in_vec(400);
  char a[10] = {}, b[20] = {}, d[30] = {};
  std::error_code ec;
  int failures = 0;

  // Warm-up: anything initialised once (error categories, ...) is not per call.
  c.send(text);
  s.receive_exact(in.data(), text.size());

  const std::size_t n = allocations_in([&] {
    for (int i = 0; i < 1000; ++i) {
      // send: pointer + size, buffer, ranges, initializer_list; both forms.
      std::size_t sent = c.send(text.data(), text.size());
      sent += c.send(buffer(text), ec);
      sent += c.send(text);
      sent += c.send(bytes_out, ec);
      sent += c.send(arr);
      sent += c.send({buffer(a), const_buffer{nullptr, 0}, buffer(b), buffer(d)});
      // receive: peek, then one buffer, a range, scatter; exactly what was sent.
      if (!s.wait_readable(10s, ec) || ec) ++failures;
      s.receive(buffer(in.data(), 1), message_flags::peek, ec);
      std::size_t got = s.receive(in.data(), 1);
      got += s.receive_exact(in.data(), 99, ec);
      got += s.receive_exact(in_vec.data(), 300);
      got += s.receive_exact(in_vec);  // 400
      got += s.receive({buffer(a), mutable_buffer{nullptr, 0}, buffer(b)}, ec);
      std::size_t rest = sent - got;
      while (rest > 0) {
        const std::size_t k = s.receive(in.data(), rest < in.size() ? rest : in.size(), ec);
        if (ec || k == 0) {
          ++failures;
          break;
        }
        rest -= k;
      }
      if (!c.wait_writable(10s, ec) || ec) ++failures;
    }
  });
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(n, 0u) << "allocations in 1000 rounds of send/receive";
}

TYPED_TEST(Alloc, SendAllReceiveExactAndScatterGatherDoNotAllocate) {
  auto& c = this->client;
  auto& s = this->server;
  const auto data = random_bytes(8u << 20, 42);
  std::vector<unsigned char> got(data.size());

  // 8 MiB each way through send_all/receive_exact, the receiver in a thread
  // (which counts its own allocations).
  std::size_t receiver_allocations = 0;
  std::error_code rec;
  std::thread receiver([&] {
    receiver_allocations = allocations_in([&] {
      s.receive_exact(got.data(), got.size(), rec);
      s.receive_exact(got.data(), got.size(), rec);
    });
  });
  std::error_code ec;
  const std::size_t blocking = allocations_in([&] { c.send_all(data, ec); });
  c.set_nonblocking(true);  // stops at would_block; waiting for room is the caller's
  const std::size_t nonblocking = allocations_in([&] {
    std::size_t done = 0;
    while (done < data.size()) {
      done += c.send_all(data.data() + done, data.size() - done, ec);
      if (ec &&
          (ec == std::errc::operation_would_block ||
           ec == std::errc::resource_unavailable_try_again) &&
          c.wait_writable(std::chrono::seconds(30), ec))
        continue;
      if (ec) break;
    }
  });
  c.set_nonblocking(false);
  receiver.join();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(rec) << rec.message();
  EXPECT_EQ(fnv1a(got.data(), got.size()), fnv1a(data.data(), data.size()));
  EXPECT_EQ(blocking, 0u);
  EXPECT_EQ(nonblocking, 0u);
  EXPECT_EQ(receiver_allocations, 0u);

  // Scatter/gather with more buffers than one system call takes, some empty.
  constexpr std::size_t count = 150;
  static_assert(count > posix_policy::max_buffers);
  std::array<const_buffer, count> out{};
  std::array<mutable_buffer, count> inb{};
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t size = i % 5 == 0 ? 0 : 1000 + i;
    out[i] = const_buffer{data.data() + at, size};
    inb[i] = mutable_buffer{got.data() + at, size};
    at += size;
  }
  std::fill(got.begin(), got.end(), 0);
  std::thread scatter_receiver([&] {
    receiver_allocations = allocations_in([&] { s.receive_exact(inb.data(), inb.size(), rec); });
  });
  const std::size_t gather = allocations_in([&] { c.send_all(out.data(), out.size(), ec); });
  scatter_receiver.join();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(rec) << rec.message();
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(at), data.begin()));
  EXPECT_EQ(gather, 0u);
  EXPECT_EQ(receiver_allocations, 0u);
}

TYPED_TEST(Alloc, ErrorCodePathsDoNotAllocate) {
  auto& c = this->client;
  char buf[8];
  std::error_code ec;
  c.set_nonblocking(true);
  c.receive(buf, sizeof buf, ec);  // warm-up
  bool would_block = false;
  bool timed_out = false;
  const std::size_t n = allocations_in([&] {
    for (int i = 0; i < 100; ++i) {
      c.receive(buf, sizeof buf, ec);  // nothing there: would block
      would_block = ec == std::errc::operation_would_block;
      c.wait_readable(0ms, ec);
    }
    c.set_nonblocking(false, ec);
    c.set_option(receive_timeout{1ms}, ec);
    c.receive(buf, sizeof buf, ec);
    timed_out = ec == std::errc::timed_out;
  });
  EXPECT_TRUE(would_block);
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(n, 0u);
}

template <class Family> class AllocDatagram : public ::testing::Test {};
TYPED_TEST_SUITE(AllocDatagram, Families, vmsock_test::family_names);

TYPED_TEST(AllocDatagram, SendToAndReceiveFromDoNotAllocate) {
  using E = typename TypeParam::endpoint;
  auto a = datagram_socket<E>::open(TypeParam::listen_at());
  auto b = datagram_socket<E>::open(TypeParam::listen_at());
  const E to_b = b.local_endpoint();
  const E a_ep = a.local_endpoint();
  auto connected = datagram_socket<E>::connect(to_b);
  const std::string msg(500, 'm');
  std::array<char, 2048> in{};
  E from{};
  std::error_code ec;
  int wrong = 0;
  a.send_to(msg, to_b);  // warm-up
  b.receive_from(in, from);
  const std::size_t n = allocations_in([&] {
    for (int i = 0; i < 500; ++i) {
      a.send_to(msg, to_b, ec);
      if (!b.wait_readable(10s, ec)) ++wrong;
      if (b.receive_from(in, from, ec) != msg.size() || ec || !(from == a_ep)) ++wrong;
      a.send_to(buffer(msg.data(), 10), to_b);
      if (b.receive_from(in, from) != 10) ++wrong;
      connected.send(msg, ec);
      if (b.receive(in, ec) != msg.size() || ec) ++wrong;
    }
  });
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(n, 0u);
}

// Not on the data path: measured and reported, not required to be zero.
TYPED_TEST(Alloc, SetUpCallsAreMeasured) {
  using E = typename TestFixture::endpoint;
  const E ep = this->server_listener.local_endpoint();
  stream_socket<E> c;
  stream_socket<E> s;
  std::error_code ec;
  E peer{};
  const E other = TypeParam::listen_at();  // (making a unique name allocates)
  const std::size_t listen_n = allocations_in([&] { auto l = listener<E>::listen(other, ec); });
  const std::size_t connect_n = allocations_in([&] { c = stream_socket<E>::connect(ep, ec); });
  const std::size_t accept_n = allocations_in([&] { s = this->server_listener.accept(peer, ec); });
  stream_socket<E> c2;
  const std::size_t timed_connect_n =
      allocations_in([&] { c2 = stream_socket<E>::connect(ep, 10s, ec); });
  const std::size_t timed_accept_n =
      allocations_in([&] { auto s2 = this->server_listener.accept(10s, ec); });
  const std::size_t endpoints_n = allocations_in([&] {
    (void)c.local_endpoint(ec);
    (void)c.peer_endpoint(ec);
  });
  const std::size_t options_n = allocations_in([&] {
    c.set_option(keep_alive{true}, ec);
    (void)c.template get_option<receive_buffer_size>(ec);
  });
  const std::size_t shutdown_close_n = allocations_in([&] {
    c.shutdown(shutdown_type::both, ec);
    c.close(ec);
  });
  // The throwing close() names the socket before closing it, in case it fails.
  const std::size_t throwing_close_n = allocations_in([&] { c2.close(); });
  EXPECT_FALSE(ec) << ec.message();
  std::printf(
      "[   info   ] allocations: listen %zu, connect %zu, accept %zu, timed connect %zu, "
      "timed accept %zu, local+peer endpoint %zu, set+get option %zu, shutdown+close(ec) %zu, "
      "close() %zu\n",
      listen_n, connect_n, accept_n, timed_connect_n, timed_accept_n, endpoints_n, options_n,
      shutdown_close_n, throwing_close_n);
  ::testing::Test::RecordProperty("allocations_connect", static_cast<int>(connect_n));
  ::testing::Test::RecordProperty("allocations_accept", static_cast<int>(accept_n));
  ::testing::Test::RecordProperty("allocations_listen", static_cast<int>(listen_n));
  ::testing::Test::RecordProperty("allocations_close_throwing", static_cast<int>(throwing_close_n));
}

// ---- descriptor leaks -------------------------------------------------------

std::size_t open_descriptors() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

template <class Family> class Leak : public ::testing::Test {};
TYPED_TEST_SUITE(Leak, Families, vmsock_test::family_names);

TYPED_TEST(Leak, ConnectAcceptCloseCyclesLeaveNoDescriptor) {
  using E = typename TypeParam::endpoint;
  const int cycles = std::is_same_v<TypeParam, tcp> ? 10000 : 1000;
  // A port / name with no listener, for refused connects.
  E nobody = [] {
    auto l = listener<E>::listen(TypeParam::listen_at());
    return l.local_endpoint();
  }();

  const std::size_t before = open_descriptors();
  ASSERT_GT(before, 0u);
  {
    auto l = listener<E>::listen(TypeParam::listen_at());
    const E ep = l.local_endpoint();
    int echoed = 0;
    for (int i = 0; i < cycles; ++i) {
      E peer{};
      stream_socket<E> c =
          (i % 2 == 0) ? stream_socket<E>::connect(ep) : stream_socket<E>::connect(ep, 10s);
      stream_socket<E> s = (i % 3 == 0) ? l.accept(peer) : l.accept(10s);
      const char x = static_cast<char>(i);
      c.send(&x, 1);
      char y = 0;
      s.receive_exact(&y, 1);
      echoed += (y == x);
      switch (i % 4) {
      case 0:
        c.close();
        s.close();
        break;  // client first
      case 1:
        s.close();
        c.close();
        break;  // server first
      case 2: {
        auto moved = std::move(c);
      } break;  // by destructor, after a move
      default: {
        const int h = s.release();  // released, closed by hand
        ::close(h);
      } break;
      }
    }
    EXPECT_EQ(echoed, cycles);

    // Failures must not leak either.
    std::error_code ec;
    int refused = 0, in_use = 0, expired = 0;
    for (int i = 0; i < cycles / 10; ++i) {
      auto c = stream_socket<E>::connect(nobody, ec);
      refused += ec == std::errc::connection_refused;
      auto c2 = stream_socket<E>::connect(nobody, 10s, ec);
      refused += ec == std::errc::connection_refused;
      auto dup = listener<E>::listen(ep, ec);
      in_use += ec == std::errc::address_in_use;
      auto none = l.accept(0ms, ec);
      expired += ec == std::errc::timed_out;
    }
    EXPECT_EQ(refused, 2 * (cycles / 10));
    EXPECT_EQ(in_use, cycles / 10);
    EXPECT_EQ(expired, cycles / 10);
  }
  EXPECT_EQ(open_descriptors(), before);
}

// ---- inheritance across exec -----------------------------------------------

// Whether a child started with fork + exec has descriptor `fd` open.
bool child_has(int fd) {
  const std::string script = "test -e /proc/self/fd/" + std::to_string(fd);
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execv("/bin/sh", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
    ADD_FAILURE() << "could not run the child";
    return true;
  }
  if (WEXITSTATUS(status) > 1) ADD_FAILURE() << "the child's shell failed: " << WEXITSTATUS(status);
  return WEXITSTATUS(status) == 0;
}

TYPED_TEST(Leak, ChildDoesNotInheritListenerAcceptedOrConnectedSockets) {
  using E = typename TypeParam::endpoint;
  auto l = listener<E>::listen(TypeParam::listen_at());
  auto c = stream_socket<E>::connect(l.local_endpoint());
  auto s = l.accept();
  auto c2 = stream_socket<E>::connect(l.local_endpoint(), 10s);  // the timed path
  auto s2 = l.accept(10s);
  auto d = datagram_socket<E>::open(TypeParam::listen_at());

  // The method works: a descriptor without FD_CLOEXEC is seen by the child.
  const int inheritable = ::dup(c.native_handle());
  ASSERT_GE(inheritable, 0);
  EXPECT_TRUE(child_has(inheritable));
  ::close(inheritable);

  for (const int fd : {l.native_handle(), c.native_handle(), s.native_handle(), c2.native_handle(),
                       s2.native_handle(), d.native_handle()}) {
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << "fd " << fd;
    EXPECT_FALSE(child_has(fd)) << "fd " << fd << " leaked into the child";
  }
}

// ---- SIGPIPE ----------------------------------------------------------------

template <class Family> class NoSigpipe : public ::testing::Test {};
TYPED_TEST_SUITE(NoSigpipe, Families, vmsock_test::family_names);

// Writes to a socket whose peer has closed until the write fails; the error.
template <class Family> std::error_code write_until_error() {
  using E = typename Family::endpoint;
  auto l = listener<E>::listen(Family::listen_at());
  auto c = stream_socket<E>::connect(l.local_endpoint());
  l.accept().close();  // the peer is gone (TCP: FIN, then RST on our first write)
  std::error_code ec;
  const std::string chunk(4096, 'p');
  for (int i = 0; i < 1000 && !ec; ++i) {
    c.send(chunk, ec);
    if (!ec) std::this_thread::sleep_for(1ms);  // let the RST come back
  }
  return ec;
}

TYPED_TEST(NoSigpipe, WriteToClosedPeerIsAnErrorAndTheProcessLives) {
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &before), 0);
  const std::error_code ec = write_until_error<TypeParam>();
  EXPECT_TRUE(ec == std::errc::broken_pipe || ec == std::errc::connection_reset) << ec.message();
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler) << "the library changed SIGPIPE's disposition";
  EXPECT_EQ(after.sa_flags, before.sa_flags);
}

// Whether this program can exec itself, as gtest's "threadsafe" death tests
// do.  Under qemu-user without binfmt_misc (the arm64 and s390x suites) it
// cannot: execve reaches the host kernel, which answers ENOEXEC for the
// target's binary.
bool can_exec_self() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return false;
  self[n] = '\0';
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, STDOUT_FILENO);
    char filter[] = "--gtest_filter=-*";  // runs no test
    char* const argv[] = {self, filter, nullptr};
    ::execv(self, argv);
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// In a child with SIGPIPE certainly at its default and unblocked (whatever the
// test runner left us), the same write must not kill; a raw send without
// MSG_NOSIGNAL must (which shows that the check can fail).  The child is a
// fresh exec of this program where it can be, else a fork of this process
// (as good here: ctest runs each case in a process of its own, with no other
// thread, and the child sets SIGPIPE's disposition and mask itself).
TYPED_TEST(NoSigpipe, DefaultDispositionDoesNotKill) {
  GTEST_FLAG_SET(death_test_style, can_exec_self() ? "threadsafe" : "fast");
  const auto default_sigpipe = [] {
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  };
  EXPECT_EXIT(
      {
        default_sigpipe();
        const std::error_code ec = write_until_error<TypeParam>();
        std::_Exit(ec == std::errc::broken_pipe || ec == std::errc::connection_reset ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        default_sigpipe();
        using E = typename TypeParam::endpoint;
        auto l = listener<E>::listen(TypeParam::listen_at());
        auto c = stream_socket<E>::connect(l.local_endpoint());
        l.accept().close();
        for (int i = 0; i < 1000; ++i) {
          ::send(c.native_handle(), "x", 1, 0);  // no MSG_NOSIGNAL
          std::this_thread::sleep_for(1ms);
        }
        std::_Exit(0);
      },
      ::testing::KilledBySignal(SIGPIPE), "");
}

}  // namespace
