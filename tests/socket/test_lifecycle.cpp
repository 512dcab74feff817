// The lifecycle a long-running agent relies on, on real loopback sockets (and,
// built for Windows, under Wine): deadlines, closed sockets, cancel() from
// another thread, two-step setup, dual-stack listeners, Unix socket files.
// Every call that could hang runs in a bounded thread: a hang fails the test
// (the process ends with a message), it never stalls the run.
#include <vmsock/socket/aliases.hpp>
#include <vmsock/any/connector.hpp>
#include <vmsock/any/connect_first.hpp>
#include <vmsock/any/listener.hpp>

#include "descriptors.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if VMSOCK_POSIX
#  include <sys/stat.h>
#  include <sys/socket.h>
#  include <unistd.h>
#endif

namespace {

using namespace std::chrono_literals;
using vmsock_test::bounded_call;
using namespace vmsock;
using vmsock_test::random_bytes;
using clock_type = std::chrono::steady_clock;

const std::error_code closed_code = default_policy::closed_error();

// Lets the other thread get into its wait, then cancels `s` and returns how
// long the blocked call took to return after that.
template <class Socket> clock_type::duration cancel_after_block(Socket& s, bounded_call& call) {
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(call.done()) << "the call did not block";
  const auto t0 = clock_type::now();
  s.cancel();
  call.finish();
  return clock_type::now() - t0;
}

double ms(clock_type::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

template <class Family> class Lifecycle : public ::testing::Test {
 protected:
  using endpoint = typename Family::endpoint;
  using socket_t = stream_socket<endpoint>;
  using listener_t = listener<endpoint>;

  struct pair {
    listener_t l;
    socket_t client, server;
  };
  static pair connected() {
    pair p;
    p.l = listener_t::listen(Family::listen_at());
    p.client = socket_t::connect(p.l.local_endpoint(), 10s);
    p.server = p.l.accept(10s);
    return p;
  }
};
TYPED_TEST_SUITE(Lifecycle, vmsock_test::stream_families, vmsock_test::family_names);

// ---- deadlines ---------------------------------------------------------------

TYPED_TEST(Lifecycle, AnExpiredDeadlineIsOneTryThenTimedOutAtOnce) {
  auto p = TestFixture::connected();
  std::error_code ec;
  const auto t0 = clock_type::now();
  // A duration that has run out (what deadline - now() gives after the fact).
  auto none = p.l.accept(-5ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_FALSE(none.is_open());
  // A time point in the past.
  none = p.l.accept(clock_type::now() - 1s, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  char c = 0;
  EXPECT_EQ(p.server.receive(vmsock::buffer(&c, 1), -1s, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_FALSE(p.server.wait_readable(-5ms, ec));
  EXPECT_FALSE(ec) << ec.message();  // not ready is not an error
  EXPECT_LT(clock_type::now() - t0, 5s) << "nothing waited";

  // The one try happens: what is already there is taken.
  p.client.send_all(std::string("x"));
  ASSERT_TRUE(p.server.wait_readable(10s));
  EXPECT_EQ(p.server.receive(vmsock::buffer(&c, 1), -5ms, ec), 1u);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(c, 'x');
  auto queued = TestFixture::socket_t::connect(p.l.local_endpoint(), 10s);
  ASSERT_TRUE(p.l.wait_readable(10s));
  auto taken = p.l.accept(-5ms, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(taken.is_open());
}

TYPED_TEST(Lifecycle, OneDeadlineSharedByALoopOfReceives) {
  auto p = TestFixture::connected();
  const deadline until = clock_type::now() + 400ms;
  bounded_call writer([&] {
    for (int i = 0; i < 3; ++i) {
      p.client.send_all(std::string("ab"));
      std::this_thread::sleep_for(50ms);
    }
  });
  std::string got;
  std::error_code ec;
  for (;;) {
    char buf[16];
    const std::size_t n = p.server.receive(vmsock::buffer(buf, sizeof buf), until, ec);
    if (ec) break;
    got.append(buf, n);
  }
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(got, "ababab");
  EXPECT_GE(clock_type::now(), until.time_point());
  writer.finish();
  // receive_exact and send_all take the same deadlines.
  std::string four(4, '\0');
  EXPECT_EQ(p.server.receive_exact(four, 50ms, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  p.client.send_all(std::string("wxyz"), 10s);
  EXPECT_EQ(p.server.receive_exact(four, clock_type::now() + 10s, ec), 4u);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(four, "wxyz");
}

TEST(Deadline, Conversions) {
  EXPECT_TRUE(deadline().is_never());
  EXPECT_TRUE(deadline(no_timeout).is_never());
  EXPECT_TRUE(deadline(std::chrono::hours::max()).is_never());
  // Extremes of coarse and fine units, without overflow (UBSan checks it).
  EXPECT_TRUE(deadline(std::chrono::hours::min()).expired());
  EXPECT_TRUE(deadline(std::chrono::nanoseconds::max()).is_never());
  // Only no_timeout itself is never: a computed -1 ms (in any unit) has passed.
  EXPECT_TRUE(deadline(std::chrono::nanoseconds(-1'000'000)).expired());
  EXPECT_TRUE(deadline(timeout(-1)).expired());
  EXPECT_TRUE(deadline(3ms - 4ms).expired());
  EXPECT_TRUE(deadline::immediate().expired());
  EXPECT_FALSE(deadline::immediate().is_never());
  EXPECT_TRUE(deadline(std::chrono::nanoseconds(-1'000'001)).expired());
  EXPECT_TRUE(deadline(-1ms - 1ms).expired());
  EXPECT_TRUE(deadline(std::chrono::seconds(-1)).expired());
  EXPECT_FALSE(deadline(10s).expired());
  EXPECT_EQ(deadline::never().remaining(), no_timeout);
  EXPECT_EQ(deadline(-5ms).remaining(), timeout::zero());
  const auto r = deadline(10s).remaining();
  EXPECT_GT(r, 9s);
  EXPECT_LE(r, 10s);
  const auto at = clock_type::now() + 1h;
  EXPECT_EQ(deadline(at).time_point(), at);
  EXPECT_EQ(earlier(deadline(at), deadline::never()).time_point(), at);
  EXPECT_TRUE(deadline(std::chrono::duration<double>(0.5)).remaining() > 400ms);
}

// ---- closed, moved-from and released sockets ------------------------------------

TYPED_TEST(Lifecycle, EveryCallOnAClosedSocketFailsAtOnceWithTheBadHandleCode) {
  auto p = TestFixture::connected();
  typename TestFixture::listener_t moved = std::move(p.l);
  typename TestFixture::listener_t& l = p.l;  // moved from
  typename TestFixture::socket_t s = std::move(p.server);
  s.close();
  auto released_socket = std::move(p.client);
  vmsock_test::close_handle(released_socket.release());

  std::error_code ec;
  bounded_call calls([&] {
    const auto t0 = clock_type::now();
    EXPECT_FALSE(l.wait_readable(no_timeout, ec));
    EXPECT_EQ(ec, closed_code) << ec.message();
    l.accept(ec);
    EXPECT_EQ(ec, closed_code) << ec.message();
    l.accept(300ms, ec);  // the same code as the untimed form, and at once
    EXPECT_EQ(ec, closed_code) << ec.message();
    char c = 0;
    for (auto* sock : {&s, &released_socket}) {
      EXPECT_EQ(sock->receive(&c, 1, ec), 0u);
      EXPECT_EQ(ec, closed_code) << ec.message();
      EXPECT_EQ(sock->receive(vmsock::buffer(&c, 1), 300ms, ec), 0u);
      EXPECT_EQ(ec, closed_code) << ec.message();
      EXPECT_EQ(sock->send_all(std::string("x"), ec), 0u);
      EXPECT_EQ(ec, closed_code) << ec.message();
      std::string one(1, '\0');
      EXPECT_EQ(sock->receive_exact(one, ec), 0u);
      EXPECT_EQ(ec, closed_code) << ec.message();
      EXPECT_FALSE(sock->wait_writable(300ms, ec));
      EXPECT_EQ(ec, closed_code) << ec.message();
      sock->shutdown(shutdown_type::both, ec);
      EXPECT_EQ(ec, closed_code) << ec.message();
      sock->local_endpoint(ec);
      EXPECT_EQ(ec, closed_code) << ec.message();
      sock->peer_endpoint(ec);
      EXPECT_EQ(ec, closed_code) << ec.message();
      sock->set_nonblocking(true, ec);
      EXPECT_EQ(ec, closed_code) << ec.message();
      sock->set_option(keep_alive{true}, ec);
      EXPECT_EQ(ec, closed_code) << ec.message();
      sock->cancel();  // nothing to cancel: no effect, no failure
    }
    EXPECT_LT(clock_type::now() - t0, 5s) << "nothing waited";
  });
  calls.finish();
  // The messages say so.
  try {
    l.accept(300ms);
    ADD_FAILURE() << "accept did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), closed_code);
    EXPECT_EQ(std::string(e.what()).rfind("accept on a closed socket: ", 0), 0u) << e.what();
  }
  try {
    s.wait_readable();
    ADD_FAILURE() << "wait_readable did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("wait_readable on a closed socket: ", 0), 0u) << e.what();
  }
  try {
    std::string one(1, '\0');
    released_socket.receive_exact(one);
    ADD_FAILURE() << "receive_exact did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("receive_exact from a closed socket (0 of 1 bytes", 0),
              0u)
        << e.what();
  }
}

// ---- cancel() -------------------------------------------------------------------

TYPED_TEST(Lifecycle, CancelEndsABlockedAcceptAndEveryLaterOne) {
  auto l = TestFixture::listener_t::listen(TypeParam::listen_at());
  std::error_code ec;
  bounded_call blocked([&] { l.accept(ec); });
  const auto took = cancel_after_block(l, blocked);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  std::printf("[   info   ] accept returned %.2f ms after cancel()\n", ms(took));
  EXPECT_TRUE(l.is_open()) << "cancel does not close";
  EXPECT_TRUE(l.is_cancelled());
  // Later calls fail at once, with or without a deadline.  (cancel() shut the
  // listener down: a client is refused now, or queued and never taken.)
  std::error_code client_ec;
  auto c = TestFixture::socket_t::connect(l.local_endpoint(), 1s, client_ec);
  l.accept(ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  l.accept(10s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(l.wait_readable(10s, ec));
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  try {
    l.accept();
    ADD_FAILURE() << "accept did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::operation_canceled);
    EXPECT_NE(std::string(e.what()).find("accept on "), std::string::npos) << e.what();
  }
  l.close();
  EXPECT_FALSE(l.is_cancelled());
}

TYPED_TEST(Lifecycle, CancelEndsATimedAcceptAndEveryWait) {
  auto l = TestFixture::listener_t::listen(TypeParam::listen_at());
  std::error_code ec;
  bool ready = true;
  bounded_call blocked([&] { l.accept(60s, ec); });
  cancel_after_block(l, blocked);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();

  auto p = TestFixture::connected();
  bounded_call waiting([&] { ready = p.server.wait_readable(60s, ec); });
  cancel_after_block(p.server, waiting);
  EXPECT_FALSE(ready);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  auto q = TestFixture::connected();
  bounded_call forever([&] { ready = q.server.wait_readable(no_timeout, ec); });
  cancel_after_block(q.server, forever);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
}

TYPED_TEST(Lifecycle, CancelEndsABlockedReceiveInEveryForm) {
  for (int form = 0; form < 4; ++form) {
    SCOPED_TRACE("form " + std::to_string(form));
    auto p = TestFixture::connected();
    std::error_code ec;
    std::size_t n = 99;
    p.client.send_all(std::string("abc"));  // receive_exact gets these first
    bounded_call blocked([&] {
      std::string buf(8, '\0');
      switch (form) {
      case 0: n = p.server.receive_exact(buf, ec); break;       // waits in the OS
      case 1: n = p.server.receive_exact(buf, 60s, ec); break;  // waits in poll
      case 2:
        n = p.server.receive_exact({vmsock::buffer(buf.data(), 4),  // scatter
                                    vmsock::buffer(buf.data() + 4, 4)},
                                   ec);
        break;
      default: {
        char c[3];
        p.server.receive_exact(c, 3, ec);
        n = p.server.receive(buf, ec);  // a plain receive
      }
      }
    });
    const auto took = cancel_after_block(p.server, blocked);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    EXPECT_EQ(n, form == 3 ? 0u : 3u) << "the count of what did arrive";
    std::printf("[   info   ] form %d: returned %.2f ms after cancel()\n", form, ms(took));
    char c = 0;
    EXPECT_EQ(p.server.receive(&c, 1, ec), 0u);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  }
}

TYPED_TEST(Lifecycle, CancelEndsABlockedSendAll) {
  for (const bool timed : {false, true}) {
    SCOPED_TRACE(timed ? "with a deadline" : "without a deadline");
    auto p = TestFixture::connected();
    std::error_code ec;
    std::size_t n = 0;
    const auto data = random_bytes(64u << 20, 3);  // the peer never reads
    bounded_call blocked([&] {
      n = timed ? p.client.send_all(vmsock::buffer(data), 60s, ec) : p.client.send_all(data, ec);
    });
    cancel_after_block(p.client, blocked);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    EXPECT_LT(n, data.size());
    try {
      p.client.send_all(std::string("more"));
      ADD_FAILURE() << "send_all did not throw";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::operation_canceled);
      EXPECT_NE(std::string(e.what()).find("send_all to "), std::string::npos) << e.what();
    }
  }
}

// A connect that waits (to a listener that does not answer: a full backlog
// drops the SYN) is cancelled through its connector.  (A Unix connect to a full
// backlog does not wait: EAGAIN at once.)
TYPED_TEST(Lifecycle, CancelEndsAConnectorsConnect) {
  using E = typename TestFixture::endpoint;
  if constexpr (std::is_same_v<E, unix_endpoint>) {
    // A Unix connect never waits (a full backlog is EAGAIN at once), so what
    // cancel() can reach is a connect that has not started: it fails at once.
    auto l = TestFixture::listener_t::listen(TypeParam::listen_at(), 0);
    auto filler = TestFixture::socket_t::connect(l.local_endpoint(), 10s);
    std::error_code ec;
    auto full = connector<typename TestFixture::socket_t>::open();
    full.connect(l.local_endpoint(), 60s, ec);
    EXPECT_EQ(ec, std::errc::resource_unavailable_try_again) << ec.message();
    auto c = connector<typename TestFixture::socket_t>::open();
    c.cancel();
    auto s = c.connect(l.local_endpoint(), 60s, ec);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    EXPECT_FALSE(s.is_open());
    EXPECT_FALSE(c.is_open()) << "a failed connect leaves nothing open";
  } else {
    auto l = TestFixture::listener_t::listen(TypeParam::listen_at(), 0);
    std::vector<typename TestFixture::socket_t> fillers;
    std::error_code ec;
    // Fill the backlog (Linux keeps backlog + 1, Windows its own number).
    for (int i = 0; i < 64; ++i) {
      auto f = TestFixture::socket_t::connect(l.local_endpoint(), 300ms, ec);
      if (ec) break;
      fillers.push_back(std::move(f));
    }
    ASSERT_EQ(ec, std::errc::timed_out) << "the backlog never filled: " << ec.message();
    auto c = connector<typename TestFixture::socket_t>::open();
    typename TestFixture::socket_t s;
    bounded_call blocked([&] { s = c.connect(l.local_endpoint(), 60s, ec); });
    const auto took = cancel_after_block(c, blocked);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    EXPECT_FALSE(s.is_open());
    EXPECT_FALSE(c.is_open()) << "a failed connect leaves nothing open";
    std::printf("[   info   ] connect returned %.2f ms after cancel() (%zu fillers)\n", ms(took),
                fillers.size());
  }
}

TYPED_TEST(Lifecycle, CancelWakesEveryThreadBlockedOnTheSocket) {
  auto l = TestFixture::listener_t::listen(TypeParam::listen_at());
  std::error_code ec[4];
  std::vector<std::unique_ptr<bounded_call>> calls;
  for (int i = 0; i < 4; ++i)
    calls.push_back(
        std::make_unique<bounded_call>([&, i] { l.accept(i % 2 ? no_timeout : 60s, ec[i]); }));
  std::this_thread::sleep_for(150ms);
  l.cancel();
  for (int i = 0; i < 4; ++i) {
    calls[static_cast<std::size_t>(i)]->finish();
    EXPECT_EQ(ec[i], std::errc::operation_canceled) << i << ": " << ec[i].message();
  }
}

// cancel() in a race with the call it cancels: whether it comes before the
// call blocks, while it blocks, or as it returns, the call ends and nothing is
// used after it was closed (ASan and TSan watch this one).
TYPED_TEST(Lifecycle, CancelRacesWithTheCallItEnds) {
  auto l = TestFixture::listener_t::listen(TypeParam::listen_at());
  const auto where = l.local_endpoint();
  l.close();
  int canceled = 0, accepted = 0;
  for (int i = 0; i < 200; ++i) {
    auto li = TestFixture::listener_t::listen(TypeParam::listen_at());
    const auto at = li.local_endpoint();
    std::error_code ec;
    std::atomic<bool> go{false};
    bounded_call blocked([&] {
      while (!go.load()) std::this_thread::yield();
      auto s = li.accept(ec);
      li.close();  // as an accept loop that stops does, maybe during cancel()
    });
    go = true;
    if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(i * 5));
    if (i % 5 == 0) {
      std::error_code connect_ec;
      auto c = TestFixture::socket_t::connect(at, 10s, connect_ec);
    }
    li.cancel();
    blocked.finish();
    if (ec == std::errc::operation_canceled)
      ++canceled;
    else if (!ec)
      ++accepted;
    else
      ADD_FAILURE() << ec.message();
  }
  (void)where;
  std::printf("[   info   ] 200 races: %d canceled, %d accepted first\n", canceled, accepted);
  EXPECT_GT(canceled, 0);
}

TYPED_TEST(Lifecycle, CancelBeforeAnyCallMakesEveryCallFailAtOnce) {
  auto p = TestFixture::connected();
  p.server.cancel();
  p.l.cancel();
  std::error_code ec;
  char c = 0;
  bounded_call calls([&] {
    EXPECT_EQ(p.server.receive(&c, 1, ec), 0u);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    EXPECT_EQ(p.server.send(std::string("x"), ec), 0u);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    EXPECT_FALSE(p.server.wait_writable(no_timeout, ec));
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    p.l.accept(ec);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  });
  calls.finish();
  // cancel() shut the socket down: its peer sees the stream end.
  ASSERT_TRUE(p.client.wait_readable(10s));
  EXPECT_EQ(p.client.receive(&c, 1, ec), 0u);
  EXPECT_FALSE(ec) << ec.message();
}

// An accept loop serving clients, stopped from another thread: the way an
// agent shuts down.
TYPED_TEST(Lifecycle, AnAcceptLoopStopsOnCancel) {
  auto l = TestFixture::listener_t::listen(TypeParam::listen_at());
  std::atomic<int> served{0};
  std::error_code last;
  bounded_call loop([&] {
    for (;;) {
      std::error_code ec;
      auto s = l.accept(ec);
      if (ec) {
        last = ec;
        return;
      }
      char c = 0;
      if (s.receive_exact(&c, 1, ec) == 1) s.send_all(&c, 1, ec);
      ++served;
    }
  });
  for (int i = 0; i < 5; ++i) {
    auto c = TestFixture::socket_t::connect(l.local_endpoint(), 10s);
    c.send_all(std::string("!"));
    char r = 0;
    c.receive_exact(&r, 1);
    EXPECT_EQ(r, '!');
  }
  l.cancel();
  loop.finish();
  EXPECT_EQ(served.load(), 5);
  EXPECT_EQ(last, std::errc::operation_canceled) << last.message();
}

TEST(LifecycleAny, CancelEndsAnyListenerAndAnyStreamSocket) {
  std::vector<std::string> uris = {"tcp://127.0.0.1:0", "tcp://[::1]:0"};
#if VMSOCK_POSIX
  uris.push_back("unix://@" + vmsock_test::unique_name("any"));
#endif
  std::vector<any_endpoint> eps;
  for (const auto& u : uris) eps.push_back(any_endpoint::parse(u));
  auto all = listen_all(eps);
  std::error_code ec;
  bounded_call blocked([&] { all.accept(no_timeout, nullptr, ec); });
  cancel_after_block(all, blocked);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  all.accept(10s, nullptr, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();

  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto s = connect_first({"tcp://" + l.local_endpoint().to_string()}, 10s);
  auto peer = l.accept(10s);
  bounded_call reading([&] {
    char c = 0;
    s.receive(&c, 1, ec);
  });
  cancel_after_block(s, reading);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
}

TEST(LifecycleDatagram, CancelEndsABlockedReceiveFrom) {
  for (const bool timed : {false, true}) {
    auto u = udp4_socket::open(inet4_endpoint::loopback(0));
    std::error_code ec;
    bounded_call blocked([&] {
      char buf[16];
      inet4_endpoint from;
      if (timed)
        u.receive_from(vmsock::buffer(buf, sizeof buf), from, 60s, ec);
      else
        u.receive_from(vmsock::buffer(buf, sizeof buf), from, ec);
    });
    cancel_after_block(u, blocked);
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  }
#if VMSOCK_POSIX
  auto d = unix_datagram_socket::open(unix_endpoint::abstract(vmsock_test::unique_name("dg")));
  std::error_code ec;
  bounded_call blocked([&] {
    char buf[16];
    unix_endpoint from;
    d.receive_from(vmsock::buffer(buf, sizeof buf), from, ec);
  });
  cancel_after_block(d, blocked);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();

  auto sl = seqpacket_listener<unix_endpoint>::listen(
      unix_endpoint::abstract(vmsock_test::unique_name("sp")));
  auto sc = seqpacket_socket<unix_endpoint>::connect(sl.local_endpoint());
  auto ss = sl.accept(10s);
  bounded_call message([&] {
    char buf[16];
    ss.receive(buf, sizeof buf, ec);
  });
  cancel_after_block(ss, message);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
#endif
}

#if VMSOCK_LINUX
// IP and Unix sockets wait in poll() on themselves alone: cancel()'s shutdown
// ends such a wait, so no wake-up descriptor is made beside them (one
// descriptor per socket, however it waited), and cancel() still ends every
// timed wait of theirs, which only that shutdown can now end.
TEST(LifecycleDescriptors, IpAndUnixSocketsThatWaitedHoldOneDescriptorEach) {
  const std::size_t before = vmsock_test::open_descriptors();
  std::error_code ec;
  char b = 0;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto c = tcp4_socket::connect(l.local_endpoint(), 10s);  // EINPROGRESS: it waited
  auto s = l.accept(10s);
  EXPECT_EQ(c.receive(mutable_buffer{&b, 1}, 20ms, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_FALSE(s.wait_readable(20ms));
  auto ul = unix_listener::listen(unix_endpoint::abstract(vmsock_test::unique_name("fd")));
  auto uc = unix_stream_socket::connect(ul.local_endpoint(), 10s);
  auto us = ul.accept(10s);
  EXPECT_EQ(us.receive(mutable_buffer{&b, 1}, 20ms, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  auto d = unix_datagram_socket::open(unix_endpoint::abstract(vmsock_test::unique_name("fdd")));
  unix_endpoint from;
  d.receive_from(mutable_buffer{&b, 1}, from, 20ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  auto u = udp6_socket::open(inet6_endpoint::loopback(0));
  inet6_endpoint from6;
  u.receive_from(mutable_buffer{&b, 1}, from6, 20ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(vmsock_test::open_descriptors(), before + 8)
      << "l, c, s, ul, uc, us, d, u: nothing else";

  // Each timed wait ended by cancel().
  std::error_code e1, e2, e3, e4, e5;
  bounded_call w1([&] { c.receive(mutable_buffer{&b, 1}, 60s, e1); });
  cancel_after_block(c, w1);
  bounded_call w2([&] { l.accept(60s, e2); });
  cancel_after_block(l, w2);
  bounded_call w3([&] { us.wait_readable(60s, e3); });
  cancel_after_block(us, w3);
  bounded_call w4([&] { d.receive_from(mutable_buffer{&b, 1}, from, 60s, e4); });
  cancel_after_block(d, w4);
  bounded_call w5([&] { u.receive_from(mutable_buffer{&b, 1}, from6, 60s, e5); });
  cancel_after_block(u, w5);
  for (const auto& e : {e1, e2, e3, e4, e5})
    EXPECT_EQ(e, std::errc::operation_canceled) << e.message();
  EXPECT_EQ(vmsock_test::open_descriptors(), before + 8);
}
#endif

// How soon a blocked call returns after cancel(): measured, printed, not
// asserted beyond the bound that catches a hang (timing belongs to reports).
TEST(LifecycleLatency, CancelOfABlockedReceiveAndAccept) {
  std::vector<double> receive_ms, accept_ms;
  for (int i = 0; i < 30; ++i) {
    auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
    auto c = tcp4_socket::connect(l.local_endpoint(), 10s);
    auto s = l.accept(10s);
    std::error_code ec1, ec2;
    bounded_call r([&] {
      char x = 0;
      s.receive(&x, 1, ec1);
    });
    bounded_call a([&] { l.accept(ec2); });
    std::this_thread::sleep_for(20ms);
    auto t0 = clock_type::now();
    s.cancel();
    r.finish();
    receive_ms.push_back(ms(clock_type::now() - t0));
    t0 = clock_type::now();
    l.cancel();
    a.finish();
    accept_ms.push_back(ms(clock_type::now() - t0));
    EXPECT_EQ(ec1, std::errc::operation_canceled);
    EXPECT_EQ(ec2, std::errc::operation_canceled);
  }
  std::sort(receive_ms.begin(), receive_ms.end());
  std::sort(accept_ms.begin(), accept_ms.end());
  std::printf(
      "[   info   ] cancel -> return, 30 runs: receive median %.3f ms max %.3f ms; "
      "accept median %.3f ms max %.3f ms\n",
      receive_ms[15], receive_ms.back(), accept_ms[15], accept_ms.back());
}

// ---- two-step setup ---------------------------------------------------------------

TEST(Setup, DualStackListenerAcceptsAnIpv4Client) {
  auto l = tcp6_listener::listen(inet6_endpoint::any(0), v6_only{false});
  EXPECT_FALSE(l.get_option<v6_only>().value);
  const auto port = l.local_endpoint().port;
  auto c = tcp4_socket::connect(inet4_endpoint::loopback(port), 10s);
  inet6_endpoint peer;
  auto s = l.accept(10s, peer);
  EXPECT_EQ(peer.to_string(), "[::ffff:127.0.0.1]:" + std::to_string(c.local_endpoint().port));
  c.send_all(std::string("v4"));
  std::string got(2, '\0');
  s.receive_exact(got);
  EXPECT_EQ(got, "v4");
  // IPv6-only, asked for: the IPv4 client is refused.
  auto only6 = tcp6_listener::listen(inet6_endpoint::any(0), 16, v6_only{true});
  EXPECT_TRUE(only6.get_option<v6_only>().value);
  std::error_code ec;
  tcp4_socket::connect(inet4_endpoint::loopback(only6.local_endpoint().port), 10s, ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
}

TEST(Setup, TheExplicitFormOpenOptionsBindListenAndConnect) {
  auto l = tcp6_listener::open();
  l.set_option(v6_only{false});
  l.set_option(receive_buffer_size{1 << 16});
  l.bind(inet6_endpoint::any(0));
  l.listen(8);
  auto k = connector<tcp4_socket>::open();
  k.set_option(send_buffer_size{1 << 16});
  k.bind(inet4_endpoint::loopback(0));
  const auto from = k.local_endpoint();
  auto c = k.connect(inet4_endpoint::loopback(l.local_endpoint().port), 10s);
  EXPECT_FALSE(k.is_open()) << "the connection moved to the socket";
  EXPECT_EQ(c.local_endpoint(), from);
  auto s = l.accept(10s);
  c.send_all(std::string("ok"));
  std::string got(2, '\0');
  s.receive_exact(got);
  EXPECT_EQ(got, "ok");
}

TEST(Setup, OptionsRideAtTheEndOfTheOneCallForms) {
  std::error_code ec;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0), 4, receive_buffer_size{1 << 15},
                                 keep_alive{true}, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(l.get_option<keep_alive>().value);
  auto c = tcp4_socket::connect(l.local_endpoint(), 10s, tcp_no_delay{true}, keep_alive{true});
  EXPECT_TRUE(c.get_option<tcp_no_delay>().value);
  EXPECT_TRUE(c.get_option<keep_alive>().value);
  auto c2 = tcp4_socket::connect(l.local_endpoint(), 10s, tcp_no_delay{true}, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(c2.get_option<tcp_no_delay>().value);
  // A step of one's own between socket() and bind (Go's Control).
  bool ran = false;
  auto l2 = tcp4_listener::listen(inet4_endpoint::loopback(0),
                                  vmsock::control([&](auto& s, std::error_code& e) noexcept {
                                    ran = s.is_open();
                                    s.set_option(send_buffer_size{1 << 15}, e);
                                  }));
  EXPECT_TRUE(ran);
  // A failing option is named, with its value, in the message, and the
  // listener is not left half-open.
  try {
    tcp4_listener::listen(inet4_endpoint::loopback(0), receive_buffer_size{-1});
    ADD_FAILURE() << "listen did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "listen on tcp://127.0.0.1:0: set_option receive_buffer_size=-1: " +
                  make_error_code(errc::invalid_option_value).message());
  }
  try {
    tcp4_socket::connect(l.local_endpoint(), 10s, tcp_no_delay{true}, send_timeout{-3ms});
    ADD_FAILURE() << "connect did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()), "connect to tcp://" + l.local_endpoint().to_string() +
                                         ": set_option send_timeout=-3ms: " +
                                         make_error_code(errc::invalid_option_value).message());
  }
}

TEST(Setup, ReusePortBeforeBind) {
#if VMSOCK_LINUX
  auto a = tcp4_listener::listen(inet4_endpoint::loopback(0), reuse_port{true});
  auto b = tcp4_listener::listen(a.local_endpoint(), reuse_port{true});
  EXPECT_EQ(a.local_endpoint(), b.local_endpoint());
  std::error_code ec;
  tcp4_listener::listen(a.local_endpoint(), ec);  // without it: in use
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
#else
  std::error_code ec;
  auto a = tcp4_listener::listen(inet4_endpoint::loopback(0), reuse_port{true}, ec);
  EXPECT_EQ(ec, errc::unsupported_on_platform) << ec.message();
  EXPECT_FALSE(a.is_open());
#endif
}

// ---- any_* sockets: options, handles, what they hold ------------------------------

TEST(AnySockets, OptionsHandlesAndWhatTheyHold) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::string uri = "tcp://" + l.local_endpoint().to_string();
  auto s = connect_first({uri}, 10s);
  auto peer = l.accept(10s);
  s.set_option(receive_timeout{150ms});
  EXPECT_GE(s.get_option<receive_timeout>().value, 150ms);  // the kernel rounds to its tick
  EXPECT_LT(s.get_option<receive_timeout>().value, 170ms);
  char c = 0;
  std::error_code ec;
  s.receive(&c, 1, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  // An option of another family: a clear run-time error, never a no-op.
  s.set_option(vsock_buffer_size{4096}, ec);
  EXPECT_EQ(ec, errc::option_not_applicable);
  try {
    s.set_option(vsock_buffer_size{4096});
    ADD_FAILURE() << "set_option did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()), "set_option vsock_buffer_size=4096 on " + uri +
                                         " (the option does not apply to TCP sockets): " +
                                         make_error_code(errc::option_not_applicable).message());
  }
  s.get_option<vsock_connect_timeout>(ec);
  EXPECT_EQ(ec, errc::option_not_applicable);
  // Mutable access to what it holds.
  auto& tcp = std::get<tcp4_socket>(s.value());
  tcp.set_option(tcp_no_delay{true});
  EXPECT_TRUE(s.get_if<inet4_endpoint>()->get_option<tcp_no_delay>().value);
  EXPECT_EQ(s.native_handle(), tcp.native_handle());
  const auto h = s.release();
  EXPECT_FALSE(s.is_open());
  EXPECT_TRUE(vmsock_test::handle_is_open(h));
  tcp4_socket adopted(h);
  adopted.send_all(std::string("z"));
  peer.receive_exact(&c, 1);
  EXPECT_EQ(c, 'z');

  auto all = listen_all({"tcp://127.0.0.1:0", "tcp://[::1]:0"});
  all.set_option(keep_alive{true});
  auto& first = std::get<tcp4_listener>(all.listener_at(0));
  EXPECT_TRUE(first.get_option<keep_alive>().value);
  all.set_option(v6_only{true}, ec);  // IPv6 only: not for the IPv4 listener
  EXPECT_EQ(ec, errc::option_not_applicable);
}

// Pointer and size with a deadline, as on the typed sockets: a peer that
// never answers and never reads ends both calls by their deadline.
TEST(AnySockets, PointerAndSizeWithADeadline) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto c = connect_first({any_endpoint(l.local_endpoint())}, 10s);
  auto s = l.accept(10s);
  std::error_code ec;
  char b = 0;
  EXPECT_EQ(c.receive(&b, 1, 50ms, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  const std::string big(64 << 20, 'x');
  const std::size_t sent = c.send_all(big.data(), big.size(), 200ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_GT(sent, 0u);
  EXPECT_LT(sent, big.size());
}

TEST(AnySockets, EmptyOnesSayTheyAreEmpty) {
  any_listener none;
  std::error_code ec;
  none.accept(10s, nullptr, ec);
  EXPECT_EQ(ec, closed_code);
  try {
    none.accept(10s);
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("accept on an empty any_listener", 0), 0u) << e.what();
  }
  any_stream_socket nothing;
  EXPECT_TRUE(nothing.empty());
  char c = 0;
  nothing.receive(&c, 1, ec);
  EXPECT_EQ(ec, closed_code);
  try {
    nothing.send_all(std::string("x"));
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("send_all to an empty any_stream_socket: ", 0), 0u)
        << e.what();
  }
  try {
    nothing.set_option(keep_alive{true});
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    EXPECT_EQ(
        std::string(e.what()).rfind("set_option keep_alive=true on an empty any_stream_socket", 0),
        0u)
        << e.what();
  }
}

TEST(AnySockets, ListenAllBeyondItsCapSaysSo) {
  std::vector<any_endpoint> many(any_listener::max_listeners + 1,
                                 any_endpoint::parse("tcp://127.0.0.1:0"));
  try {
    listen_all(many);
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "listen_all: " + std::to_string(many.size()) +
                  " endpoints, more than one any_listener holds (max_listeners = " +
                  std::to_string(any_listener::max_listeners) +
                  "): " + std::make_error_code(std::errc::invalid_argument).message());
  }
}

TEST(AnySockets, UdpIsAnEntryErrorForConnectFirstAndListenAll) {
  try {
    connect_first({"tcp://127.0.0.1:1", "udp://127.0.0.1:53"}, 1s);
    ADD_FAILURE();
  } catch (const parse_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "connect_first: entry 2 of 2: udp://127.0.0.1:53 is a datagram endpoint; "
              "connect_first takes stream endpoints (tcp, unix, vsock, hvsock)");
  }
  std::error_code ec;
  connect_first(std::vector<any_endpoint>{any_endpoint::parse("udp://127.0.0.1:53")}, 1s, ec);
  EXPECT_EQ(ec, std::errc::wrong_protocol_type);
}

// ---- errors that say what is wrong -----------------------------------------------

TEST(Messages, AConnectedUdpSocketNamesItsPeer) {
  auto a = udp4_socket::open(inet4_endpoint::loopback(0));
  auto b = udp4_socket::connect(a.local_endpoint());
  a.close();  // the peer goes: the next receive reports it (ICMP), or times out
  b.set_option(receive_timeout{200ms});
  b.send(std::string("x"));
  try {
    char c[4];
    b.receive(c, sizeof c);
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    const auto peer = "udp://" + b.peer_endpoint().to_string();
    EXPECT_EQ(std::string(e.what()).rfind("receive from " + peer, 0), 0u) << e.what();
  }
}

TEST(Messages, ConnectionRefusedOnEveryTransportHere) {
  std::error_code ec;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const auto dead = l.local_endpoint();
  l.close();
  tcp4_socket::connect(dead, ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
  tcp4_socket::connect(dead, 10s, ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
#if VMSOCK_POSIX
  const auto name = unix_endpoint::abstract(vmsock_test::unique_name("refused"));
  unix_stream_socket::connect(name, ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
#endif
  // Linux VSOCK's answer (ECONNRESET) is mapped; the message keeps it.  The
  // real one is seen in the test guest (tests/vm).
  const std::error_code v = make_error_code(errc::vsock_connection_refused);
  EXPECT_EQ(v, std::errc::connection_refused);
  EXPECT_NE(v.message().find("ECONNRESET"), std::string::npos);
}

// ---- Unix socket files -------------------------------------------------------------

#if VMSOCK_POSIX
using vmsock_test::file_exists;

TEST(UnixFiles, AListenerRemovesItsSocketFileWhenItCloses) {
  vmsock_test::temp_socket_path p;
  const auto ep = unix_endpoint::path(p.path);
  {
    auto l = unix_listener::listen(ep);
    EXPECT_TRUE(file_exists(p.path));
  }
  EXPECT_FALSE(file_exists(p.path)) << "destroyed: removed";
  auto l = unix_listener::listen(ep);
  l.close();
  EXPECT_FALSE(file_exists(p.path)) << "closed: removed";
  { auto kept = unix_listener::listen(ep, unlink_on_close{false}); }
  EXPECT_TRUE(file_exists(p.path)) << "told not to";
  // A listener whose handle was released leaves the file to its new owner.
  auto r = unix_listener::listen(ep);  // the stale file is taken over
  ::close(r.release());
  EXPECT_TRUE(file_exists(p.path));
}

TEST(UnixFiles, AStaleFileIsTakenOverALiveOneNever) {
  vmsock_test::temp_socket_path p;
  const auto ep = unix_endpoint::path(p.path);
  { auto old = unix_listener::listen(ep, unlink_on_close{false}); }
  ASSERT_TRUE(file_exists(p.path));
  auto l = unix_listener::listen(ep);  // nothing accepts on the file: replaced
  auto c = unix_stream_socket::connect(ep);
  auto s = l.accept(10s);
  EXPECT_TRUE(s.is_open());
  try {
    unix_listener::listen(ep);
    ADD_FAILURE() << "took over a live listener's path";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use);
    EXPECT_EQ(std::string(e.what()), "listen on unix://" + p.path + ": " +
                                         std::make_error_code(std::errc::address_in_use).message());
  }
  // Still the first listener's: a client gets through.
  auto c2 = unix_stream_socket::connect(ep);
  EXPECT_TRUE(l.accept(10s).is_open());
}

TEST(UnixFiles, WhatIsNotItsOwnFileIsNeverRemoved) {
  vmsock_test::temp_socket_path p;
  const auto ep = unix_endpoint::path(p.path);
  // A regular file at the path: not a socket, so not stale; bind fails.
  {
    std::FILE* f = std::fopen(p.path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  std::error_code ec;
  unix_listener::listen(ep, ec);
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
  EXPECT_TRUE(file_exists(p.path));
  std::remove(p.path.c_str());
  // The file replaced by someone else's while the listener lives: theirs stays.
  auto l = unix_listener::listen(ep);
  ASSERT_EQ(::unlink(p.path.c_str()), 0);
  auto other = unix_listener::listen(ep);
  l.close();
  EXPECT_TRUE(file_exists(p.path)) << "the other listener's file was removed";
  auto c = unix_stream_socket::connect(ep);
  EXPECT_TRUE(other.accept(10s).is_open());
}
#endif

// ---- any_connector: connect_first that another thread can cancel ----------------

// A TCP listener whose backlog is full: a connect to it waits (SYNs dropped).
struct full_listener {
  tcp4_listener l = tcp4_listener::listen(inet4_endpoint::loopback(0), 0);
  std::vector<tcp4_socket> fillers;
  full_listener() {
    std::error_code ec;
    for (int i = 0; i < 64; ++i) {
      auto f = tcp4_socket::connect(l.local_endpoint(), 300ms, ec);
      if (ec) break;
      fillers.push_back(std::move(f));
    }
    EXPECT_EQ(ec, std::errc::timed_out) << "the backlog never filled: " << ec.message();
  }
  any_endpoint endpoint() const { return any_endpoint(l.local_endpoint()); }
};

TEST(AnyConnector, ConnectsAndFallsBackAsConnectFirstDoes) {
  auto live = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const any_endpoint dead = [] {
    auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
    return any_endpoint(l.local_endpoint());
  }();
  any_connector c;
  std::vector<connect_attempt> failed;
  auto s = c.connect_first({dead, any_endpoint(live.local_endpoint())}, 10s, failed);
  EXPECT_EQ(s.remote(), any_endpoint(live.local_endpoint()));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].endpoint, dead);
  EXPECT_EQ(failed[0].error, std::errc::connection_refused);
  auto conn = live.accept(10s);
  s.send_all(std::string("ok"));
  std::string got(2, '\0');
  conn.receive_exact(got, 10s);
  EXPECT_EQ(got, "ok");
  // One endpoint, and a connector used again: nothing is left over from before.
  auto one = c.connect(any_endpoint(live.local_endpoint()), 10s);
  EXPECT_TRUE(one.is_open());
  EXPECT_FALSE(one.is_cancelled());
  // Wrong input as connect_first takes it.
  std::error_code ec;
  c.connect(*any_endpoint::try_parse("udp://127.0.0.1:9"), 1s, ec);
  EXPECT_EQ(ec, std::errc::wrong_protocol_type);
  EXPECT_THROW(c.connect_first({*any_endpoint::try_parse("udp://127.0.0.1:9")}, 1s), parse_error);
  try {
    c.connect_first({dead}, 10s);
    ADD_FAILURE() << "connected to a closed port";
  } catch (const connect_error& e) {
    EXPECT_EQ(e.code(), std::errc::connection_refused);
    // The OS's own text for its code (MinGW's generic category has none).
    EXPECT_EQ(std::string(e.what()),
              "connect_first: " + dead.to_string() + ": " + e.code().message());
  }
  EXPECT_FALSE(c.is_cancelled());
}

TEST(AnyConnector, CancelEndsTheAttemptInProgressAndSkipsTheRest) {
  full_listener full;
  auto next = tcp4_listener::listen(inet4_endpoint::loopback(0));
  any_connector c;
  std::error_code code;
  std::size_t attempts = 0;
  std::string what;
  bounded_call blocked([&] {
    try {
      c.connect_first({full.endpoint(), any_endpoint(next.local_endpoint())}, 60s);
    } catch (const connect_error& e) {
      code = e.code();
      attempts = e.attempts().size();
      what = e.what();
    }
  });
  const auto took = cancel_after_block(c, blocked);
  EXPECT_EQ(code, std::errc::operation_canceled) << what;
  EXPECT_EQ(attempts, 1u) << "the entry after the cancelled one was tried: " << what;
  EXPECT_EQ(what, "connect_first: " + full.endpoint().to_string() + ": " +
                      std::make_error_code(std::errc::operation_canceled).message());
  std::error_code ec;
  next.accept(200ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << "the next entry got a connection";
  EXPECT_TRUE(c.is_cancelled());
  std::printf("[   info   ] connect_first returned %.2f ms after cancel()\n", ms(took));
  // Final: every later connect fails at once, and leaves nothing open.
  const auto t0 = clock_type::now();
  auto s = c.connect(any_endpoint(next.local_endpoint()), 60s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(s.is_open());
  s = c.connect_first({any_endpoint(next.local_endpoint())}, 60s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_LT(clock_type::now() - t0, 10s);
  next.accept(200ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << "a cancelled connector connected";
}

TEST(AnyConnector, CancelOfOneEndpointConnectAndTheErrorCodeForm) {
  full_listener full;
  any_connector c;
  std::error_code ec;
  any_stream_socket s;
  bounded_call blocked([&] { s = c.connect(full.endpoint(), 60s, ec); });
  cancel_after_block(c, blocked);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(s.is_open());

  any_connector d;
  bounded_call list([&] { s = d.connect_first({full.endpoint(), full.endpoint()}, 60s, ec); });
  cancel_after_block(d, list);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
}

TEST(AnyConnector, ManyCancelsRacingConnects) {
  // cancel() while the connecting thread opens, connects and closes: no crash,
  // no hang, and every outcome is a connection or operation_canceled.
  auto live = tcp4_listener::listen(inet4_endpoint::loopback(0), 512);
  const any_endpoint at(live.local_endpoint());
  for (int i = 0; i < 200; ++i) {
    any_connector c;
    std::error_code ec;
    any_stream_socket s;
    std::thread t([&] { s = c.connect_first({at, at}, 10s, ec); });
    if (i % 2 == 0) std::this_thread::yield();
    c.cancel();
    t.join();
    if (ec) {
      EXPECT_EQ(ec, std::errc::operation_canceled) << i << ": " << ec.message();
      EXPECT_FALSE(s.is_open());
    } else {
      EXPECT_TRUE(s.is_open());
    }
    std::error_code aec;
    while (live.accept(0ms, aec).is_open()) {
    }
  }
}

TEST(AnySockets, IsCancelledTellsACancelFromTheEndOfTheStream) {
  auto live = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto s = any_stream_socket::connect(any_endpoint(live.local_endpoint()), 10s);
  auto conn = live.accept(10s);
  EXPECT_FALSE(s.is_cancelled());
  s.cancel();
  EXPECT_TRUE(s.is_cancelled());
  std::error_code ec;
  std::string b(4, '\0');
  s.receive(b, 10s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(any_stream_socket().is_cancelled());

  auto all = listen_all({"tcp://127.0.0.1:0"});
  EXPECT_FALSE(all.is_cancelled());
  all.cancel();
  EXPECT_TRUE(all.is_cancelled());
}

}  // namespace
