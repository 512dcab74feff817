// One socket over any transport, inside the test guest where VSOCK is real
// (the any-transport layer's guest cases): connect_first falls back from a dead VSOCK port to
// TCP on the guest's loopback, VSOCK wins when both listen, and listen_all
// accepts alternating connections from both transports without losing one.
//
// TCP needs the guest's `lo` up; guest-init.sh leaves it down, so the ctest
// case runs `ip link set lo up` first (tests/vm/vsock_tests.cmake).
#include "guest_support.hpp"

#include <vmsock/uri.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace vmsock;
using namespace vmsock_vm;
using namespace std::chrono_literals;

std::string vsock_uri(std::uint32_t port) { return "vsock://1:" + std::to_string(port); }
std::string tcp_uri(std::uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }

// TCP on 127.0.0.1 works in the guest (lo is up); every test here needs it.
TEST(GuestLoopback, TcpOnLoopbackWorks) {
  std::error_code ec;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0), ec);
  ASSERT_FALSE(ec) << "listen on 127.0.0.1: " << ec.message()
                   << " (is the guest's lo up? `ip link set lo up`)";
  auto c = tcp4_socket::connect(l.local_endpoint(), ec);
  ASSERT_FALSE(ec) << "connect to 127.0.0.1: " << ec.message()
                   << " (is the guest's lo up? `ip link set lo up`)";
}

// vsock://1:<nothing listens> then tcp://127.0.0.1:<listening>: the VSOCK
// attempt fails (connection reset) and TCP wins.
TEST(ConnectFirstInGuest, FallsBackFromDeadVsockToTcp) {
  const std::uint32_t dead = next_port();
  auto tcp = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::uint16_t tcp_port = tcp.local_endpoint().port;

  for (const timeout per_attempt : {no_timeout, timeout{5000}}) {
    auto s = connect_first({vsock_uri(dead), tcp_uri(tcp_port)}, per_attempt);
    EXPECT_EQ(s.scheme(), uri_scheme::tcp);
    EXPECT_EQ(s.remote().to_string(), tcp_uri(tcp_port));
    ASSERT_NE(s.get_if<inet4_endpoint>(), nullptr);
    auto server = tcp.accept();
    s.send_all("via tcp", 7);
    char buf[8] = {};
    EXPECT_EQ(server.receive_exact(buf, 7), 7u);
    EXPECT_EQ(std::string(buf, 7), "via tcp");
  }
}

// When every attempt fails, the report names each one and why: the VSOCK one
// refused (with the kernel's answer, ECONNRESET, in its message), the TCP one
// refused.
TEST(ConnectFirstInGuest, ReportForTheVsockAttempt) {
  const std::uint32_t dead = next_port();
  std::uint16_t closed = 0;
  {
    auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
    closed = l.local_endpoint().port;
  }
  try {
    (void)connect_first({vsock_uri(dead), tcp_uri(closed)});
    FAIL() << "connect_first succeeded with nothing listening";
  } catch (const connect_error& e) {
    ASSERT_EQ(e.attempts().size(), 2u);
    EXPECT_EQ(e.attempts()[0].endpoint.to_string(), vsock_uri(dead));
    EXPECT_EQ(e.attempts()[0].error, std::errc::connection_refused)
        << e.attempts()[0].error.message();
    EXPECT_FALSE(e.attempts()[0].skipped) << "VSOCK exists in the guest: tried, not skipped";
    EXPECT_EQ(e.attempts()[1].error, std::errc::connection_refused);
    EXPECT_EQ(e.code(), std::errc::connection_refused) << "the last attempt's error";
    EXPECT_EQ(std::string(e.what()), "connect_first: " + vsock_uri(dead) + ": " +
                                         make_error_code(errc::vsock_connection_refused).message() +
                                         "; " + tcp_uri(closed) + ": Connection refused");
  }
}

// An hvsock endpoint maps to VSOCK in a Linux guest: hvsock://loopback/<dead>
// is tried (and refused), not skipped; an unmappable one is skipped with its reason.
TEST(ConnectFirstInGuest, HvsockEntriesAreTriedThroughVsock) {
  const std::uint32_t dead = next_port();
  const std::uint32_t live = next_port();
  auto vl = vsock_listener::listen(any_cid(live));
  std::vector<any_endpoint> eps = {
      any_endpoint::parse("hvsock://children/" + std::to_string(dead)),
      any_endpoint::parse("hvsock://loopback/" + std::to_string(dead)),
      any_endpoint::parse("hvsock://loopback/" + std::to_string(live)),
  };
  auto s = connect_first(eps);
  EXPECT_EQ(s.scheme(), uri_scheme::hvsock);
  EXPECT_EQ(s.remote().to_string(), "hvsock://loopback/" + std::to_string(live));
  auto server = vl.accept();
  s.send_all("hv", 2);
  char buf[2];
  EXPECT_EQ(server.receive_exact(buf, 2), 2u);

  eps.pop_back();
  try {
    (void)connect_first(eps);
    FAIL();
  } catch (const connect_error& e) {
    ASSERT_EQ(e.attempts().size(), 2u);
    EXPECT_TRUE(e.attempts()[0].skipped);
    EXPECT_EQ(e.attempts()[0].error, errc::no_mapping);
    EXPECT_FALSE(e.attempts()[1].skipped);
    EXPECT_EQ(e.attempts()[1].error, std::errc::connection_refused);
  }
}

// Both listen: VSOCK comes first in the list and wins; TCP sees nothing.
TEST(ConnectFirstInGuest, VsockWinsWhenBothListen) {
  const std::uint32_t vport = next_port();
  auto vl = vsock_listener::listen(any_cid(vport));
  auto tl = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::uint16_t tport = tl.local_endpoint().port;

  auto s = connect_first({vsock_uri(vport), tcp_uri(tport)}, 5s);
  EXPECT_EQ(s.scheme(), uri_scheme::vsock);
  EXPECT_EQ(s.remote().to_string(), vsock_uri(vport));
  ASSERT_NE(s.get_if<vsock_endpoint>(), nullptr);
  EXPECT_EQ(s.peer_endpoint().to_string(), vsock_uri(vport));

  vsock_endpoint peer;
  auto server = vl.accept(peer);
  EXPECT_EQ(peer.cid, vsock::cid::local);
  s.send_all("via vsock", 9);
  char buf[9];
  EXPECT_EQ(server.receive_exact(buf, 9), 9u);
  EXPECT_EQ(std::string(buf, 9), "via vsock");
  // The TCP listener was never connected to (a finished connect would already
  // be in its queue: a zero wait is enough).
  EXPECT_FALSE(tl.wait_readable(timeout::zero()));
}

// listen_all on vsock://any:P and tcp://127.0.0.1:0; 100 clients alternate
// between the two.  All 100 connect before the first accept, so both queues
// hold 50 and accept() must take turns; every id arrives once, on the
// transport it was sent over.  Then 100 more while the server accepts.
TEST(ListenAllInGuest, HundredAlternatingConnectionsNothingLost) {
  constexpr std::uint32_t count = 100;
  const std::uint32_t vport = next_port();
  const std::string vsock_any = "vsock://any:" + std::to_string(vport);
  auto all = listen_all({vsock_any, "tcp://127.0.0.1:0"});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.local_endpoints()[0].to_string(), vsock_any);
  const auto tcp_local = all.local_endpoints()[1];
  ASSERT_TRUE(tcp_local.holds<inet4_endpoint>());
  const std::string targets[2] = {vsock_uri(vport), tcp_local.to_string()};

  for (int round = 0; round < 2; ++round) {
    const bool queued_first = round == 0;
    std::vector<any_stream_socket> clients(count);
    std::string client_error;
    auto connect_all = [&] {
      try {
        for (std::uint32_t i = 0; i < count; ++i) {
          clients[i] = any_stream_socket::connect(any_endpoint::parse(targets[i % 2]), 10s);
          const std::uint32_t id = i + 1000 * static_cast<std::uint32_t>(round);
          clients[i].send_all(&id, sizeof id);
        }
      } catch (const std::exception& e) {
        client_error = e.what();
      }
    };
    std::thread connector;
    if (queued_first)
      connect_all();
    else
      connector = std::thread(connect_all);

    std::set<std::uint32_t> ids;
    std::vector<uri_scheme> order;
    std::vector<any_stream_socket> accepted;
    for (std::uint32_t n = 0; n < count; ++n) {
      any_endpoint peer;
      std::error_code ec;
      auto s = all.accept(30s, &peer, ec);
      ASSERT_FALSE(ec) << "accept " << n << " (round " << round << "): " << ec.message();
      std::uint32_t id = 0;
      s.receive_exact(&id, sizeof id);
      const std::uint32_t i = id - 1000 * static_cast<std::uint32_t>(round);
      ASSERT_LT(i, count);
      EXPECT_EQ(s.scheme(), i % 2 == 0 ? uri_scheme::vsock : uri_scheme::tcp) << "id " << id;
      if (s.scheme() == uri_scheme::vsock)
        EXPECT_EQ(std::get<vsock_endpoint>(peer.value()).cid, vsock::cid::local);
      else
        EXPECT_EQ(peer.to_string().rfind("tcp://127.0.0.1:", 0), 0u) << peer.to_string();
      EXPECT_TRUE(ids.insert(id).second) << "id " << id << " twice";
      order.push_back(s.scheme());
      s.send_all(&id, sizeof id);
      accepted.push_back(std::move(s));
    }
    if (connector.joinable()) connector.join();
    EXPECT_EQ(client_error, "");
    EXPECT_EQ(ids.size(), count) << "round " << round;
    if (queued_first) {
      for (std::size_t k = 1; k < order.size(); ++k)
        EXPECT_NE(order[k], order[k - 1])
            << "with both queues full, accept takes turns (at " << k << ")";
    }
    // Every client gets its own id back.
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t back = 0;
      clients[i].receive_exact(&back, sizeof back);
      EXPECT_EQ(back, i + 1000 * static_cast<std::uint32_t>(round));
    }
  }
}

}  // namespace
