// vmsock::wait_for_ready: connects that wait for a peer that comes up late.
// Late listeners on loopback (TCP, a Unix socket file, a hybrid VMM that closes
// silently before it answers), connect_first and any_connector over lists,
// cancel() during the pauses, the deadline's end, and the fault-injecting
// policy for the errors loopback cannot make (VSOCK's, EACCES), counted
// exactly.  Outcomes and attempt counts are asserted, never durations: the
// bounds below only turn a hang into a failure.
#include <vmsock/socket/wait_for_ready.hpp>

#include <vmsock/any/connector.hpp>
#include <vmsock/any/connect_first.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/aliases.hpp>

#include "descriptors.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#if VMSOCK_LINUX
#  include "fault_policy.hpp"
#  include <sys/socket.h>
#  include <sys/un.h>
#  include <unistd.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <future>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using vmsock_test::message_of;
using namespace vmsock;

// A connect that has not returned by then is a hang, not a slow machine.
constexpr auto hang_bound = std::chrono::seconds(60);
// Short pauses, so that the tests make many attempts quickly.
constexpr wait_for_ready quick{timeout(5), timeout(20), 0.2, 1};

// Runs f in a thread and waits for it at most hang_bound.
template <class F> auto bounded(F f) {
  auto fut = std::async(std::launch::async, std::move(f));
  if (fut.wait_for(hang_bound) != std::future_status::ready) {
    std::fprintf(stderr, "FAILED: a connect did not return within %lld s\n",
                 static_cast<long long>(hang_bound.count()));
    std::fflush(stderr);
    std::_Exit(3);
  }
  return fut.get();
}

// A loopback port nothing listens on (the OS gave it, then it was closed).
std::uint16_t free_port() {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  return l.local_endpoint().port;
}

// Listens on `ep` after `delay` and accepts one connection.
template <class Listener, class Endpoint>
std::thread late_listener(Endpoint ep, std::chrono::milliseconds delay, std::atomic<bool>& done) {
  return std::thread([ep, delay, &done] {
    std::this_thread::sleep_for(delay);
    auto l = Listener::listen(ep);
    std::error_code ec;
    auto c = l.accept(deadline(hang_bound), ec);
    EXPECT_FALSE(ec) << ec.message();
    done = true;
  });
}

TEST(WaitForReady, BackoffDoublesToTheLongestPauseWithinItsJitter) {
  detail::ready_backoff exact(wait_for_ready{timeout(25), timeout(1000), 0.0, 7});
  const long expected[] = {25, 50, 100, 200, 400, 800, 1000, 1000};
  for (long e : expected) EXPECT_EQ(exact.next().count(), e);
  detail::ready_backoff a(wait_for_ready{timeout(100), timeout(100), 0.2, 42});
  detail::ready_backoff b(wait_for_ready{timeout(100), timeout(100), 0.2, 42});
  bool varied = false;
  for (int i = 0; i < 50; ++i) {
    const auto p = a.next();
    EXPECT_GE(p.count(), 80);
    EXPECT_LE(p.count(), 120);
    EXPECT_EQ(p, b.next());  // the same seed, the same pauses
    varied = varied || p.count() != 100;
  }
  EXPECT_TRUE(varied);
}

TEST(WaitForReady, ATcpListenerThatStartsLate) {
  const auto ep = inet4_endpoint::loopback(free_port());
  std::atomic<bool> accepted{false};
  auto server = late_listener<tcp4_listener>(ep, 200ms, accepted);
  std::error_code ec;
  auto s = bounded([&] { return tcp4_socket::connect(ep, 30s, quick, ec); });
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(s.is_open());
  server.join();
  EXPECT_TRUE(accepted);
}

TEST(WaitForReady, TheDeadlineEndsItTimedOutNamingTheAttemptsAndTheLastError) {
  const auto ep = inet4_endpoint::loopback(free_port());
  std::error_code ec;
  auto s = bounded([&] { return tcp4_socket::connect(ep, 300ms, quick, ec); });
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(ec, errc::timed_out);
  EXPECT_FALSE(s.is_open());

  const std::string m =
      bounded([&] { return message_of([&] { (void)tcp4_socket::connect(ep, 300ms, quick); }); });
  std::error_code plain;  // the OS's own wording of the refusal
  (void)bounded([&] { return tcp4_socket::connect(ep, 30s, plain); });
  ASSERT_EQ(plain, std::errc::connection_refused);
  const std::string refused = plain.message();
  EXPECT_NE(m.find("connect to tcp://" + ep.to_string() + ": waited for it to be ready: "),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(" attempts, the last: " + refused), std::string::npos) << m;
  EXPECT_NE(m.find(make_error_code(errc::timed_out).message()), std::string::npos) << m;
}

TEST(WaitForReady, AStaticConnectNeedsADeadline) {
  const auto ep = inet4_endpoint::loopback(free_port());
  std::error_code ec;
  auto s = tcp4_socket::connect(ep, no_timeout, wait_for_ready{}, ec);
  EXPECT_EQ(ec, std::errc::invalid_argument);
  const std::string m =
      message_of([&] { (void)tcp4_socket::connect(ep, no_timeout, wait_for_ready{}); });
  EXPECT_NE(m.find("wait_for_ready needs a deadline"), std::string::npos) << m;
  const std::string list =
      message_of([&] { (void)connect_first({"tcp://127.0.0.1:1"}, no_timeout, wait_for_ready{}); });
  EXPECT_NE(list.find("wait_for_ready needs a deadline"), std::string::npos) << list;
}

TEST(WaitForReady, AnyStreamSocketsConnectWaitsToo) {
  const auto ep = inet4_endpoint::loopback(free_port());
  std::atomic<bool> accepted{false};
  auto server = late_listener<tcp4_listener>(ep, 200ms, accepted);
  std::error_code ec;
  auto s = bounded([&] { return any_stream_socket::connect(any_endpoint(ep), 30s, quick, ec); });
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.remote(), any_endpoint(ep));
  server.join();
  const std::string m = bounded([&] {
    return message_of([&] { (void)any_stream_socket::connect(any_endpoint(ep), 200ms, quick); });
  });
  EXPECT_NE(m.find("connect to tcp://" + ep.to_string() + ": waited for it to be ready: "),
            std::string::npos)
      << m;
}

TEST(WaitForReady, ConnectFirstWaitsForTheEntryThatComesUpLate) {
  const auto late = inet4_endpoint::loopback(free_port());
  const auto never = inet4_endpoint::loopback(free_port());
  std::atomic<bool> accepted{false};
  auto server = late_listener<tcp4_listener>(late, 200ms, accepted);
  std::vector<connect_attempt> failed;
  auto s = bounded([&] {
    return connect_first(std::vector<any_endpoint>{any_endpoint(never), any_endpoint(late)}, 30s,
                         quick, failed);
  });
  EXPECT_EQ(s.remote(), any_endpoint(late));
  server.join();
  EXPECT_TRUE(accepted);
  ASSERT_FALSE(failed.empty());
  EXPECT_EQ(failed[0].endpoint, any_endpoint(never));
  EXPECT_EQ(failed[0].error, std::errc::connection_refused);
}

TEST(WaitForReady, ConnectFirstsDeadlineIsOneForTheWholeList) {
  const std::vector<any_endpoint> eps{any_endpoint(inet4_endpoint::loopback(free_port())),
                                      any_endpoint(inet4_endpoint::loopback(free_port()))};
  std::vector<connect_attempt> failed;
  connect_error caught(std::error_code{}, "", {});
  bounded([&] {
    try {
      (void)connect_first(eps, 300ms, quick, failed);
    } catch (const connect_error& e) {
      caught = e;
    }
    return 0;
  });
  EXPECT_EQ(caught.code(), std::errc::timed_out);
  EXPECT_EQ(caught.attempts().size(), 2u);  // each entry's last attempt
  const std::string m = caught.what();
  EXPECT_NE(m.find("connect_first: waited for one to be ready: "), std::string::npos) << m;
  EXPECT_NE(m.find(" rounds; " + eps[0].to_string()), std::string::npos) << m;
  std::error_code ec;
  (void)bounded([&] { return connect_first(eps, 300ms, quick, ec); });
  EXPECT_EQ(ec, std::errc::timed_out);
}

TEST(WaitForReady, AnyConnectorsCancelEndsAPauseAtOnce) {
  const std::vector<any_endpoint> eps{any_endpoint(inet4_endpoint::loopback(free_port()))};
  any_connector c;
  // Pauses far longer than the hang bound: only cancel() can end this one.
  const wait_for_ready slow{std::chrono::hours(1), std::chrono::hours(1), 0.0, 1};
  std::error_code ec;
  std::thread stop([&] {
    std::this_thread::sleep_for(200ms);
    c.cancel();
  });
  auto s = bounded([&] { return c.connect_first(eps, no_timeout, slow, ec); });
  stop.join();
  EXPECT_EQ(ec, std::errc::operation_canceled);
  // Later connects fail the same way at once.
  any_connector d;
  d.cancel();
  auto t = bounded([&] { return d.connect(eps[0], no_timeout, slow, ec); });
  EXPECT_EQ(ec, std::errc::operation_canceled);
}

TEST(WaitForReady, AnyConnectorWithoutADeadlineRetriesUntilCancel) {
  const auto ep = any_endpoint(inet4_endpoint::loopback(free_port()));
  any_connector c;
  std::thread stop([&] {
    std::this_thread::sleep_for(300ms);
    c.cancel();
  });
  const std::string m =
      bounded([&] { return message_of([&] { (void)c.connect(ep, no_timeout, quick); }); });
  stop.join();
  EXPECT_NE(m.find("connect to " + ep.to_string() + ": waited for it to be ready: "),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(std::make_error_code(std::errc::operation_canceled).message()),
            std::string::npos)
      << m;
}

TEST(WaitForReady, AnyConnectorsListWaitsForTheLateEntry) {
  const auto late = inet4_endpoint::loopback(free_port());
  std::atomic<bool> accepted{false};
  auto server = late_listener<tcp4_listener>(late, 200ms, accepted);
  any_connector c;
  std::error_code ec;
  auto s = bounded([&] {
    return c.connect_first(
        {any_endpoint(inet4_endpoint::loopback(free_port())), any_endpoint(late)}, 30s, quick, ec);
  });
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.remote(), any_endpoint(late));
  server.join();
}

#if VMSOCK_LINUX

// ---- Unix socket files and a hybrid VMM -------------------------------------------

std::string scratch_path(const char* name) {
  return vmsock_test::temp_file("vmsock-wfr-" + std::to_string(vmsock_test::process_id()) + "-" +
                                name);
}

TEST(WaitForReadyUnix, ASocketFileThatAppearsLater) {
  const std::string path = scratch_path("late.sock");
  ::unlink(path.c_str());
  std::atomic<bool> accepted{false};
  auto server = late_listener<unix_listener>(unix_endpoint::path(path), 200ms, accepted);
  std::error_code ec;
  auto s = bounded(
      [&] { return unix_stream_socket::connect(unix_endpoint::path(path), 30s, quick, ec); });
  EXPECT_FALSE(ec) << ec.message();
  server.join();
  EXPECT_TRUE(accepted);
}

TEST(WaitForReadyUnix, AMissingFileUntilTheDeadlineIsTimedOutNamingNoSuchFile) {
  const std::string path = scratch_path("never.sock");
  ::unlink(path.c_str());
  const std::string m = bounded([&] {
    return message_of(
        [&] { (void)unix_stream_socket::connect(unix_endpoint::path(path), 200ms, quick); });
  });
  EXPECT_NE(
      m.find("the last: " + std::make_error_code(std::errc::no_such_file_or_directory).message()),
      std::string::npos)
      << m;
}

// A Firecracker-style VMM that is not ready: it accepts, reads the CONNECT
// line, and closes without a word `silent` times; then it answers OK.
class unready_vmm {
 public:
  unready_vmm(const std::string& path, int silent) : path_(path) {
    ::unlink(path.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    thread_ = std::thread([this, silent] {
      for (int i = 0; i <= silent; ++i) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        ++accepted_;
        char ch = 0;
        for (int n = 0; n < 32 && ::recv(c, &ch, 1, 0) == 1 && ch != '\n'; ++n) {
        }
        if (i == silent) {
          const char ok[] = "OK 1073741824\n";
          (void)!::send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
          answered_ = c;  // kept open until the test ends
          return;
        }
        ::close(c);
      }
    });
  }
  ~unready_vmm() {
    ::shutdown(fd_, SHUT_RDWR);  // ends an accept still waiting
    thread_.join();
    ::close(fd_);
    if (answered_ >= 0) ::close(answered_);
    ::unlink(path_.c_str());
  }
  int accepted() const { return accepted_; }

 private:
  std::string path_;
  int fd_ = -1;
  int answered_ = -1;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST(WaitForReadyUnix, AHybridVmmThatClosesSilentlyTwiceThenAnswers) {
  const std::string path = scratch_path("fc.vsock");
  unready_vmm vmm(path, 2);
  std::error_code ec;
  auto s = bounded([&] { return hybrid_vsock_stream_socket::connect({path, 52}, 30s, quick, ec); });
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.answer_port(), 1u << 30);
  EXPECT_EQ(vmm.accepted(), 3);
}

TEST(WaitForReadyUnix, AHybridVmmsFileThatAppearsLater) {
  const std::string path = scratch_path("late-fc.vsock");
  ::unlink(path.c_str());
  std::unique_ptr<unready_vmm> vmm;
  std::thread later([&] {
    std::this_thread::sleep_for(200ms);
    vmm = std::make_unique<unready_vmm>(path, 0);
  });
  std::error_code ec;
  auto s = bounded([&] { return hybrid_vsock_stream_socket::connect({path, 52}, 30s, quick, ec); });
  later.join();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.answer_port(), 1u << 30);
}

// ---- the fault-injecting policy: exact sequences of errors -------------------------

using vmsock_test::call;
using vmsock_test::fault_policy;
using fault_tcp = stream_socket<inet4_endpoint, fault_policy>;

struct WaitForReadyFaults : ::testing::Test {
  void SetUp() override { fault_policy::clear(); }
  void TearDown() override { fault_policy::clear(); }
};

TEST_F(WaitForReadyFaults, RefusalsAreRetriedWithAFreshSocketEachTime) {
  const auto ep = inet4_endpoint::loopback(free_port());
  fault_policy::fail(call::connect, std::errc::connection_refused, 3);
  fault_policy::fail(call::connect, std::errc::permission_denied, -1);
  std::error_code ec;
  auto s = bounded([&] { return fault_tcp::connect(ep, 30s, quick, ec); });
  EXPECT_EQ(ec, std::errc::permission_denied);
  EXPECT_EQ(fault_policy::calls(call::connect), 4u);
  EXPECT_EQ(fault_policy::calls(call::open), 4u);
  EXPECT_EQ(fault_policy::calls(call::close), 4u);
}

TEST_F(WaitForReadyFaults, ANonRetryableErrorFailsAtOnceAfterOneAttempt) {
  const auto ep = inet4_endpoint::loopback(free_port());
  fault_policy::fail(call::connect, std::errc::permission_denied, -1);
  const std::string m =
      bounded([&] { return message_of([&] { (void)fault_tcp::connect(ep, 30s, quick); }); });
  EXPECT_EQ(fault_policy::calls(call::connect), 1u);
  EXPECT_EQ(m, "connect to tcp://" + ep.to_string() + ": " +
                   std::make_error_code(std::errc::permission_denied).message());
  // TCP's own timeout and reset are not "not up yet" (they are VSOCK's).
  for (const auto e : {std::errc::timed_out, std::errc::connection_reset}) {
    fault_policy::clear();
    fault_policy::fail(call::connect, e, -1);
    std::error_code ec;
    (void)bounded([&] { return fault_tcp::connect(ep, 30s, quick, ec); });
    EXPECT_EQ(ec, e);
    EXPECT_EQ(fault_policy::calls(call::connect), 1u);
  }
}

TEST_F(WaitForReadyFaults, VsocksResetTimeoutAndNoDeviceAtConnectAreRetried) {
  // The connect never reaches the OS: every one of them is scripted.  ENODEV
  // is a host's answer while the VM with that CID is down (a restart).
  fault_policy::fail(call::connect, std::errc::no_such_device, 1);
  fault_policy::fail(call::connect, std::errc::connection_reset, 2);
  fault_policy::fail(call::connect, std::errc::timed_out, 1);
  fault_policy::fail(call::connect, std::errc::permission_denied, -1);
  std::error_code ec;
  auto s = bounded([&] {
    return stream_socket<vsock_endpoint, fault_policy>::connect({3, 5000}, 30s, quick, ec);
  });
  if (fault_policy::calls(call::connect) == 0) GTEST_SKIP() << "no AF_VSOCK here: " << ec.message();
  EXPECT_EQ(ec, std::errc::permission_denied);
  EXPECT_EQ(fault_policy::calls(call::connect), 5u);

  fault_policy::clear();
  fault_policy::fail(call::connect, std::errc::connection_reset, 1);
  fault_policy::fail(call::connect, std::errc::permission_denied, -1);
  (void)bounded([&] {
    return seqpacket_socket<vsock_endpoint, fault_policy>::connect({3, 5000}, 30s, quick, ec);
  });
  EXPECT_EQ(ec, std::errc::permission_denied);
  EXPECT_EQ(fault_policy::calls(call::connect), 2u);
}

TEST_F(WaitForReadyFaults, UntilTheDeadlineTheAttemptsAreCountedAndNothingLeaks) {
  const auto ep = inet4_endpoint::loopback(free_port());
  const std::size_t before = vmsock_test::open_descriptors();
  fault_policy::fail(call::connect, std::errc::connection_refused, -1);
  const std::string m =
      bounded([&] { return message_of([&] { (void)fault_tcp::connect(ep, 300ms, quick); }); });
  const std::size_t n = fault_policy::calls(call::connect);
  EXPECT_GE(n, 2u);
  EXPECT_NE(m.find(": waited for it to be ready: " + std::to_string(n) + " attempts, the last: "),
            std::string::npos)
      << m;
  EXPECT_EQ(fault_policy::calls(call::open), n);
  EXPECT_EQ(fault_policy::calls(call::close), n);
  EXPECT_EQ(vmsock_test::open_descriptors(), before);
}

#endif  // VMSOCK_LINUX

}  // namespace
