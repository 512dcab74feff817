// Datagram sockets (UDP on 127.0.0.1 and ::1, Unix datagram on a path and an
// abstract name) and seqpacket sockets (Unix SOCK_SEQPACKET), for real.  On
// Windows UDP only (test_support.hpp's datagram_families; Windows has no Unix
// datagram or seqpacket sockets).
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

#include <array>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace vmsock;
using namespace std::chrono_literals;

template <class Family> class DatagramTest : public ::testing::Test {
 protected:
  using E = typename Family::endpoint;
  using socket_t = datagram_socket<E>;
};

using Families = vmsock_test::datagram_families;
TYPED_TEST_SUITE(DatagramTest, Families, vmsock_test::family_names);

// How much of a truncated datagram receive_from reports: its full length where
// the OS says it (MSG_TRUNC), the bytes stored where it cannot (Windows).
constexpr std::size_t truncated_result(std::size_t full, std::size_t stored) {
#if VMSOCK_WINDOWS
  return (void)full, stored;
#else
  return (void)stored, full;
#endif
}

TYPED_TEST(DatagramTest, SendToReceiveFromKnowsTheSender) {
  auto server = TestFixture::socket_t::open(TypeParam::listen_at());
  const auto server_ep = server.local_endpoint();
  auto client = TestFixture::socket_t::open(TypeParam::listen_at());
  const auto client_ep = client.local_endpoint();

  EXPECT_EQ(client.send_to(std::string("datagram one"), server_ep), 12u);
  std::array<char, 64> buf{};
  typename TestFixture::E from{};
  const std::size_t n = server.receive_from(buf, from);
  EXPECT_EQ(std::string(buf.data(), n), "datagram one");
  EXPECT_EQ(from, client_ep);

  // Reply to whoever sent it.
  server.send_to(std::string("reply"), from);
  EXPECT_EQ(client.receive_from(buf, from), 5u);
  EXPECT_EQ(from, server_ep);
}

TYPED_TEST(DatagramTest, ConnectedSocketSendsAndReceivesWithoutAddresses) {
  auto server = TestFixture::socket_t::open(TypeParam::listen_at());
  const auto server_ep = server.local_endpoint();
  auto connected = TestFixture::socket_t::connect(server_ep);
  EXPECT_EQ(connected.peer_endpoint(), server_ep);
  EXPECT_EQ(connected.send(std::string("to the connected peer")), 21u);
  std::array<char, 64> buf{};
  typename TestFixture::E from{};
  EXPECT_EQ(server.receive_from(buf, from), 21u);
  EXPECT_EQ(std::string(buf.data(), 21), "to the connected peer");
}

// socat's UDP-LISTEN: a bound socket takes the first datagram, then is
// connected to its sender and talks to it alone.
TYPED_TEST(DatagramTest, SetPeerConnectsAnOpenSocketToItsFirstSender) {
  auto server = TestFixture::socket_t::open(TypeParam::listen_at());
  const auto server_ep = server.local_endpoint();
  auto a = TestFixture::socket_t::open(TypeParam::listen_at());
  auto b = TestFixture::socket_t::open(TypeParam::listen_at());
  a.send_to(std::string("first"), server_ep);
  std::array<char, 64> buf{};
  typename TestFixture::E from{};
  ASSERT_EQ(server.receive_from(buf, from), 5u);
  EXPECT_EQ(from, a.local_endpoint());

  server.set_peer(from);
  EXPECT_EQ(server.peer_endpoint(), a.local_endpoint());
  EXPECT_EQ(server.local_endpoint(), server_ep) << "still bound where it was";
  EXPECT_EQ(server.send(std::string("answer")), 6u);
  ASSERT_EQ(a.receive_from(buf, from, 10s), 6u);
  EXPECT_EQ(std::string(buf.data(), 6), "answer");
  EXPECT_EQ(from, server_ep);

  // Another sender: UDP drops its datagram, a Unix socket refuses the send.
  std::error_code ec;
  b.send_to(std::string("other"), server_ep, ec);
  if (ec) {
    EXPECT_EQ(ec, std::errc::operation_not_permitted) << ec.message();
  }
  a.send_to(std::string("second"), server_ep);
  ASSERT_EQ(server.receive(buf, 10s), 6u);
  EXPECT_EQ(std::string(buf.data(), 6), "second");
  server.receive(buf, 200ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << "a datagram from another sender got through";

  // A closed socket: the bad-handle code, nothing else touched.
  typename TestFixture::socket_t closed;
  closed.set_peer(server_ep, ec);
  EXPECT_EQ(ec, default_policy::closed_error()) << ec.message();
}

TYPED_TEST(DatagramTest, BoundariesAreKeptAndTruncationIsReportedWithTheFullSize) {
  auto server = TestFixture::socket_t::open(TypeParam::listen_at());
  auto client = TestFixture::socket_t::connect(server.local_endpoint());
  client.send(std::string(10, 'a'));
  client.send(std::string(3000, 'b'));
  client.send(std::string(1, 'c'));

  std::array<char, 100> buf{};
  typename TestFixture::E from{};
  EXPECT_EQ(server.receive_from(buf, from), 10u);

  std::error_code ec;
  const std::size_t n = server.receive_from(buf, from, ec);
  EXPECT_EQ(ec, errc::message_truncated);
  EXPECT_EQ(ec, std::errc::message_size);
  EXPECT_EQ(n, truncated_result(3000, buf.size())) << "the full length of the truncated datagram";
  EXPECT_EQ(buf[99], 'b');

  // The rest of the truncated datagram is gone: the next one is intact.
  EXPECT_EQ(server.receive_from(buf, from, ec), 1u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(buf[0], 'c');

  client.send(std::string(500, 'd'));
  try {
    server.receive_from(buf, from);
    FAIL() << "truncation throws in the throwing overload";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::message_truncated);
    const char* expected = VMSOCK_WINDOWS ? "message larger than the buffer of 100"
                                          : "message of 500 bytes, buffer of 100";
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TYPED_TEST(DatagramTest, ReceiveTimeout) {
  auto s = TestFixture::socket_t::open(TypeParam::listen_at());
  s.set_option(receive_timeout{50ms});
  std::array<char, 8> buf{};
  typename TestFixture::E from{};
  std::error_code ec;
  s.receive_from(buf, from, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
}

TYPED_TEST(DatagramTest, ManyDatagramsNothingLostOnLoopback) {
  auto server = TestFixture::socket_t::open(TypeParam::listen_at());
  server.set_option(receive_buffer_size{1 << 20});
  auto client = TestFixture::socket_t::connect(server.local_endpoint());
  constexpr int count = 200;
  std::thread reader([&] {
    std::array<char, 64> buf{};
    typename TestFixture::E from{};
    for (int i = 0; i < count; ++i) {
      const std::size_t n = server.receive_from(buf, from);
      EXPECT_EQ(std::string(buf.data(), n), "dgram " + std::to_string(i));
    }
  });
  for (int i = 0; i < count; ++i) {
    client.send(std::string("dgram ") + std::to_string(i));
    if (i % 32 == 31) std::this_thread::sleep_for(1ms);  // let the reader keep up
  }
  reader.join();
}

// s.bind(ep) binds s itself (the bound factory is open(local), so that no
// static bind() can hide the member).
TEST(Datagram, MemberBindBindsTheSocketItself) {
  auto s = udp4_socket::open();
  std::error_code ec;
  const auto before = s.local_endpoint(ec);
#if VMSOCK_WINDOWS
  EXPECT_EQ(ec, std::errc::invalid_argument) << "Windows has no name for an unbound socket";
  (void)before;
#else
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(before.port, 0) << "not bound yet";
#endif
  s.bind(inet4_endpoint::loopback(0));
  EXPECT_NE(s.local_endpoint().port, 0);
  EXPECT_EQ(s.local_endpoint().address, inet4_endpoint::loopback(0).address);
}

TEST(Datagram, UnboundSocketSendsAndIsBoundByTheOs) {
  auto server = udp4_socket::open(inet4_endpoint::loopback(0));
  auto client = udp4_socket::open();
  client.send_to(std::string("hi"), server.local_endpoint());
  std::array<char, 8> buf{};
  inet4_endpoint from{};
  EXPECT_EQ(server.receive_from(buf, from), 2u);
  EXPECT_NE(from.port, 0);
  EXPECT_EQ(client.local_endpoint().port, from.port);
}

#if VMSOCK_POSIX
// Unix SOCK_SEQPACKET: the seqpacket category over a family this machine has.
TEST(Seqpacket, UnixMessageBoundariesAndTruncation) {
  vmsock_test::temp_socket_path p;
  const auto ep = unix_endpoint::path(p.path);
  auto l = seqpacket_listener<unix_endpoint>::listen(ep);
  auto client = seqpacket_socket<unix_endpoint>::connect(ep);
  auto conn = l.accept(5s);
  ASSERT_TRUE(conn.is_open());

  const auto sizes = {1u, 2u, 100u, 4096u, 17u, 60000u};
  for (auto n : sizes) client.send(std::string(n, static_cast<char>('a' + n % 26)));
  std::vector<char> buf(65536);
  for (auto n : sizes) {
    const std::size_t got = conn.receive(buf.data(), buf.size());
    EXPECT_EQ(got, n);
    EXPECT_EQ(buf[got - 1], static_cast<char>('a' + n % 26));
  }
  client.send(std::string(1000, 'x'));
  std::error_code ec;
  std::array<char, 10> small{};
  EXPECT_EQ(conn.receive(small, ec), 1000u);
  EXPECT_EQ(ec, errc::message_truncated);
  client.send(std::string("next"));
  EXPECT_EQ(conn.receive(small, ec), 4u);
  EXPECT_FALSE(ec);
  client.close();
  EXPECT_EQ(conn.receive(small, ec), 0u);
  EXPECT_FALSE(ec) << "EOF is a zero-length receive";
}
#endif

}  // namespace
