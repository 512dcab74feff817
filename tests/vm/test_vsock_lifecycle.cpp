// The lifecycle over real AF_VSOCK (vsock_loopback, CID 1) in the test guest:
// cancel() of a blocked accept (a VSOCK listener is the one socket that
// shutdown() cannot wake: only the wake-up handle ends its wait), of a
// blocked receive and send, deadlines, the kernel's connect timeout set to the
// caller's deadline, options applied before listen, non-blocking send_all.
#include "guest_support.hpp"

#include <vmsock/any/listener.hpp>
#include <vmsock/socket/options.hpp>
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace vmsock;
using vmsock_vm::any_cid;
using vmsock_vm::local;
using vmsock_vm::next_port;
using clock_type = std::chrono::steady_clock;

// Runs `f` in a thread, waits until it has had time to block, cancels `s`, and
// returns how long the call took to return after cancel() (the future's wait
// is bounded: a hang fails the test; the program's alarm ends it).
template <class Socket, class F> double cancel_blocked(Socket& s, F&& f) {
  auto done = std::async(std::launch::async, std::forward<F>(f));
  EXPECT_EQ(done.wait_for(200ms), std::future_status::timeout) << "the call did not block";
  const auto t0 = clock_type::now();
  s.cancel();
  EXPECT_EQ(done.wait_for(20s), std::future_status::ready) << "the call did not return";
  const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  done.get();
  return ms;
}

TEST(VsockLifecycle, CancelEndsABlockedAcceptOnAVsockListener) {
  for (const bool timed : {false, true}) {
    auto l = vsock_listener::listen(any_cid(next_port()));
    std::error_code ec;
    const double ms = cancel_blocked(l, [&] { timed ? l.accept(60s, ec) : l.accept(ec); });
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    std::printf("[   info   ] vsock accept (%s) returned %.2f ms after cancel()\n",
                timed ? "with a deadline" : "no deadline", ms);
    l.accept(ec);
    EXPECT_EQ(ec, std::errc::operation_canceled) << "later calls fail at once";
  }
}

TEST(VsockLifecycle, CancelEndsABlockedReceiveAndSend) {
  for (int form = 0; form < 3; ++form) {
    const std::uint32_t port = next_port();
    auto l = vsock_listener::listen(any_cid(port));
    auto c = vsock_stream_socket::connect(local(port), 10s);
    auto s = l.accept(10s);
    std::error_code ec;
    std::size_t n = 0;
    double ms = 0;
    if (form == 0) {  // waits inside recv(2): shutdown ends it
      ms = cancel_blocked(s, [&] {
        char buf[16];
        n = s.receive(buf, sizeof buf, ec);
      });
    } else if (form == 1) {  // waits in poll beside the wake-up
      ms = cancel_blocked(s, [&] {
        std::string buf(16, '\0');
        n = s.receive_exact(buf, 60s, ec);
      });
    } else {  // a send_all to a peer that does not read
      const auto data = vmsock_vm::bytes(16u << 20, 5);
      ms = cancel_blocked(c, [&] { n = c.send_all(data, ec); });
      EXPECT_LT(n, data.size());
    }
    EXPECT_EQ(ec, std::errc::operation_canceled) << form << ": " << ec.message();
    std::printf("[   info   ] vsock form %d returned %.2f ms after cancel()\n", form, ms);
  }
}

TEST(VsockLifecycle, AnyListenerOverVsockAndTcpIsCancelled) {
  auto all = listen_all({"vsock://any:" + std::to_string(next_port()), "tcp://127.0.0.1:0"});
  std::error_code ec;
  cancel_blocked(all, [&] { all.accept(no_timeout, nullptr, ec); });
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
}

TEST(VsockLifecycle, AnExpiredDeadlineIsOneTry) {
  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port));
  std::error_code ec;
  l.accept(-5ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  auto c = vsock_stream_socket::connect(local(port), 10s);
  ASSERT_TRUE(l.wait_readable(10s));
  auto s = l.accept(-5ms, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(s.is_open());
}

// The kernel's own connect timeout (SO_VM_SOCKETS_CONNECT_TIMEOUT, 2 s by
// default) would end a connect given 10 s after 2 s: vmsock sets it to the
// time the caller gave, read back here.  Without a deadline the socket's
// setting stays: the kernel's default, or the one passed as an option.
TEST(VsockLifecycle, ConnectSetsTheKernelsConnectTimeoutToTheDeadline) {
  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port));
  auto c = vsock_stream_socket::connect(local(port), 10s);
  const auto t = c.get_option<vsock_connect_timeout>().value;
  EXPECT_GT(t, 9s);
  EXPECT_LE(t, 10s);
  vmsock_vm::record("connect_timeout_after_connect_10s_ms", std::to_string(t.count()));
  auto d = vsock_stream_socket::connect(local(port));
  EXPECT_EQ(d.get_option<vsock_connect_timeout>().value, 2s) << "the kernel's default stays";
  auto e = vsock_stream_socket::connect(local(port), deadline::never(), vsock_connect_timeout{7s});
  EXPECT_EQ(e.get_option<vsock_connect_timeout>().value, 7s);
  // With both, the deadline is what the kernel is told.
  auto f = vsock_stream_socket::connect(local(port), 5s, vsock_connect_timeout{30s});
  EXPECT_LE(f.get_option<vsock_connect_timeout>().value, 5s);
  auto k = connector<vsock_stream_socket>::open();
  auto g = k.connect(local(port), 3s);
  EXPECT_LE(g.get_option<vsock_connect_timeout>().value, 3s);
  EXPECT_GT(g.get_option<vsock_connect_timeout>().value, 2s);
}

// Options before listen: an accepted VSOCK socket takes its listener's buffer
// size (af_vsock.c copies it from the parent).
TEST(VsockLifecycle, OptionsBeforeListenReachTheAcceptedSockets) {
  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port), 4, vsock_buffer_size{128 * 1024});
  EXPECT_EQ(l.get_option<vsock_buffer_size>().value, 128u * 1024);
  auto c = vsock_stream_socket::connect(local(port), 10s);
  auto s = l.accept(10s);
  EXPECT_EQ(s.get_option<vsock_buffer_size>().value, 128u * 1024);
}

TEST(VsockLifecycle, NonBlockingSendAllStopsWithTheCount) {
  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port));
  auto c = vsock_stream_socket::connect(local(port), 10s);
  auto s = l.accept(10s);
  c.set_nonblocking(true);
  const auto data = vmsock_vm::bytes(8u << 20, 9);
  std::error_code ec;
  const std::size_t n = c.send_all(data, ec);
  EXPECT_TRUE(ec == std::errc::operation_would_block ||
              ec == std::errc::resource_unavailable_try_again)
      << ec.message();
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, data.size());
  vmsock_vm::record("nonblocking_send_all_bytes_before_would_block", std::to_string(n));
}

}  // namespace
