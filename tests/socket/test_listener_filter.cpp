// Who may connect: a listener's peer filter on real loopback sockets (here and
// under Wine).  A refused peer is closed before accept returns, accept goes on
// waiting (its deadline included), and rejected_peers() counts.
#include <vmsock/any/listener.hpp>
#include <vmsock/socket/aliases.hpp>

#include "descriptors.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using namespace vmsock;

// 127.0.0.2 is a loopback address too: a client bound to it is "someone else".
inet4_endpoint from_address(std::uint8_t last) { return inet4_endpoint{{127, 0, 0, last}, 0}; }

TEST(PeerFilter, ARefusedPeerIsClosedAndAcceptGoesOnWaiting) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  l.set_peer_filter([](const inet4_endpoint& peer) noexcept {
    return peer.address == inet4_endpoint::loopback(0).address;  // 127.0.0.1 only
  });
  const auto at = l.local_endpoint();
  // A stranger first, then a friend: accept returns the friend.
  auto stranger = tcp4_socket::connect(at, from_address(2), 10s);
  auto friendly = tcp4_socket::connect(at, from_address(1), 10s);
  inet4_endpoint peer;
  auto s = l.accept(10s, peer);
  EXPECT_EQ(peer, friendly.local_endpoint());
  EXPECT_EQ(l.rejected_peers(), 1u);
  // The stranger was closed: it sees the end of the stream.
  char c = 0;
  std::error_code ec;
  ASSERT_TRUE(stranger.wait_readable(10s));
  EXPECT_EQ(stranger.receive(&c, 1, ec), 0u);
  // Nothing but strangers: accept waits for its deadline, and says timed_out.
  auto again = tcp4_socket::connect(at, from_address(3), 10s);
  auto none = l.accept(300ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(l.rejected_peers(), 2u);
}

TEST(PeerFilter, ThePredicateMaySeeTheConnection) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  l.set_peer_filter([](const inet4_endpoint&, const tcp4_socket& s) noexcept {
    return s.is_open() && s.local_endpoint().port != 0;
  });
  auto c = tcp4_socket::connect(l.local_endpoint(), 10s);
  auto s = l.accept(10s);
  EXPECT_TRUE(s.is_open());
  EXPECT_EQ(l.rejected_peers(), 0u);
  l.clear_peer_filter();
}

TEST(PeerFilter, AnyListenerFiltersEveryTransport) {
  auto all = listen_all({"tcp://127.0.0.1:0", "tcp://[::1]:0"});
  all.set_peer_filter([](const any_endpoint& peer) noexcept {
    return peer.holds<inet6_endpoint>();  // IPv6 clients only
  });
  auto v4 = tcp4_socket::connect(*all.local_endpoints()[0].get_if<inet4_endpoint>(), 10s);
  auto v6 = tcp6_socket::connect(*all.local_endpoints()[1].get_if<inet6_endpoint>(), 10s);
  any_endpoint peer;
  auto s = all.accept(10s, &peer);
  EXPECT_TRUE(peer.holds<inet6_endpoint>()) << peer.to_string();
  EXPECT_EQ(all.rejected_peers(), 1u);
  std::error_code ec;
  all.accept(200ms, nullptr, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
}

TEST(PeerFilter, ManyRefusedPeersLeakNothing) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  l.set_peer_filter([](const inet4_endpoint&) noexcept { return false; });
  const auto at = l.local_endpoint();
#if VMSOCK_LINUX
  const std::size_t before = vmsock_test::open_descriptors();
#endif
  std::error_code ec;
  std::thread acceptor([&] { l.accept(ec); });
  // 10,000 (2,000 under Wine, which is slower), from 127.0.0.1 to
  // 127.0.0.250 in turn so that no source address runs short of ports, and a
  // port bound before the connect (the address is chosen) seldom meets one of
  // its own connections still in TIME_WAIT (under Wine, once in about 20 runs
  // with 50 addresses, a SYN answered with a reset at about the 1,500th).
  constexpr int n = VMSOCK_WINDOWS ? 2000 : 10000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    std::error_code cec;
    auto c =
        tcp4_socket::connect(at, from_address(static_cast<std::uint8_t>(1 + i % 250)), 10s, cec);
    ASSERT_FALSE(cec) << i << ": " << cec.message();
    ASSERT_TRUE(c.wait_readable(10s)) << "the listener closes a refused peer";
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[   info   ] %d refused peers in %.2f s (%.0f per second)\n", n, secs, n / secs);
  l.cancel();
  acceptor.join();
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_EQ(l.rejected_peers(), static_cast<std::uint64_t>(n));
#if VMSOCK_LINUX
  EXPECT_EQ(vmsock_test::open_descriptors(), before)
      << "a TCP listener waits without a wake-up eventfd";
#endif
}

}  // namespace
