// Stream sockets over real loopback: TCP on 127.0.0.1 and ::1, Unix stream
// sockets on a path and on an abstract name (not on Windows: see
// test_support.hpp's stream_families).
#include <vmsock/any/stream_socket.hpp>
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

#include <array>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace vmsock;
using namespace std::chrono_literals;
using vmsock_test::fnv1a;
using vmsock_test::random_bytes;

template <class Family> class StreamTest : public ::testing::Test {
 protected:
  using E = typename Family::endpoint;
  using socket_t = stream_socket<E>;
  using listener_t = listener<E>;

  // A listener and the endpoint to connect to.
  listener_t server = listener_t::listen(Family::listen_at());
  E where = server.local_endpoint();
};

using Families = vmsock_test::stream_families;
TYPED_TEST_SUITE(StreamTest, Families, vmsock_test::family_names);

TYPED_TEST(StreamTest, ConnectAcceptEchoAndEndpoints) {
  auto client = TestFixture::socket_t::connect(this->where);
  typename TestFixture::E peer{};
  auto conn = this->server.accept(peer);
  ASSERT_TRUE(client.is_open());
  ASSERT_TRUE(conn.is_open());

  EXPECT_EQ(conn.local_endpoint(), this->where);
  EXPECT_EQ(client.peer_endpoint(), this->where);
  EXPECT_EQ(conn.peer_endpoint(), peer);
  EXPECT_EQ(client.local_endpoint(), peer);  // unnamed for Unix, the ephemeral port for IP

  const std::string msg = "hello, vmsock";
  EXPECT_EQ(client.send(msg), msg.size());
  std::string got(msg.size(), '\0');
  EXPECT_EQ(conn.receive_exact(got), msg.size());
  EXPECT_EQ(got, msg);
  EXPECT_EQ(conn.send_all(got), got.size());
  std::string back(msg.size(), '\0');
  EXPECT_EQ(client.receive_exact(back), msg.size());
  EXPECT_EQ(back, msg);
}

TYPED_TEST(StreamTest, HalfCloseDeliversEofAndLeavesTheOtherDirectionOpen) {
  auto client = TestFixture::socket_t::connect(this->where);
  auto conn = this->server.accept();
  client.send_all(std::string("request"));
  client.shutdown(shutdown_type::send);

  std::string got(7, '\0');
  conn.receive_exact(got);
  EXPECT_EQ(got, "request");
  char c;
  EXPECT_EQ(conn.receive(&c, 1), 0u) << "EOF after the peer's shutdown(send)";
  // The other direction still works.
  conn.send_all(std::string("reply"));
  conn.shutdown(shutdown_type::both);
  std::string reply(5, '\0');
  client.receive_exact(reply);
  EXPECT_EQ(reply, "reply");
  EXPECT_EQ(client.receive(&c, 1), 0u);
}

TYPED_TEST(StreamTest, SixtyFourMiBTransferWithChecksum) {
  constexpr std::size_t total = 64u << 20;
  const auto data = random_bytes(total, 0x5eed);
  const std::uint64_t sent_sum = fnv1a(data.data(), data.size());
  auto client = TestFixture::socket_t::connect(this->where);
  auto conn = this->server.accept();

  std::thread sender([&] {
    // Odd chunk sizes, so that send boundaries never line up with receive's.
    std::size_t off = 0;
    std::size_t chunk = 1;
    while (off < total) {
      const std::size_t n = std::min(chunk, total - off);
      client.send_all(data.data() + off, n);
      off += n;
      chunk = chunk * 3 + 7;
      if (chunk > (3u << 20)) chunk = 4093;
    }
    client.shutdown(shutdown_type::send);
  });
  std::vector<unsigned char> buf(1 << 20);
  std::uint64_t sum = 1469598103934665603ull;
  std::size_t got = 0;
  for (;;) {
    const std::size_t n = conn.receive(buf.data(), buf.size());
    if (n == 0) break;
    sum = fnv1a(buf.data(), n, sum);
    got += n;
  }
  sender.join();
  EXPECT_EQ(got, total);
  EXPECT_EQ(sum, sent_sum);
}

TYPED_TEST(StreamTest, TwoHundredConcurrentConnectionsLoseNothing) {
  constexpr int clients = 200;
  std::atomic<int> served{0};
  std::thread acceptor([&] {
    std::vector<std::thread> handlers;
    for (int i = 0; i < clients; ++i) {
      auto conn = this->server.accept(10s);
      handlers.emplace_back([c = std::move(conn), &served]() mutable {
        std::array<char, 256> buf;
        for (;;) {
          const std::size_t n = c.receive(buf);
          if (n == 0) break;
          c.send_all(buf.data(), n);
        }
        ++served;
      });
    }
    for (auto& t : handlers) t.join();
  });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      auto c = TestFixture::socket_t::connect(this->where, 10s);
      const std::string msg = "client " + std::to_string(i) + " says " +
                              std::string(static_cast<std::size_t>(i % 97), 'x');
      for (int round = 0; round < 3; ++round) {
        c.send_all(msg);
        std::string back(msg.size(), '\0');
        c.receive_exact(back);
        if (back != msg) return;
      }
      c.shutdown(shutdown_type::send);
      char ch;
      if (c.receive(&ch, 1) == 0) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  acceptor.join();
  EXPECT_EQ(ok.load(), clients);
  EXPECT_EQ(served.load(), clients);
}

TYPED_TEST(StreamTest, ScatterGatherSendAndReceive) {
  auto client = TestFixture::socket_t::connect(this->where);
  auto conn = this->server.accept();
  const std::string a = "scatter", b = "", c = "/gather", d(5000, 'z');
  const std::size_t total = a.size() + b.size() + c.size() + d.size();
  EXPECT_EQ(client.send_all({buffer(a), buffer(b), buffer(c), buffer(d)}), total);

  std::string x(3, '\0'), y(4, '\0'), z(total - 7, '\0');
  EXPECT_EQ(conn.receive_exact({buffer(x), buffer(y), buffer(z)}), total);
  EXPECT_EQ(x + y + z, a + b + c + d);

  // A single gather send of several buffers goes out as one sendmsg.
  const std::array<char, 3> p{{'1', '2', '3'}};
  const std::vector<std::byte> q(2, std::byte{'4'});
  EXPECT_EQ(client.send({buffer(p), buffer(q)}), 5u);
  std::array<char, 5> r{};
  EXPECT_EQ(conn.receive_exact(r), 5u);
  EXPECT_EQ(std::string(r.data(), 5), "12344");
}

TYPED_TEST(StreamTest, ErrorCodeOverloadsDoNotThrowAndReportEof) {
  std::error_code ec;
  auto client = TestFixture::socket_t::connect(this->where, ec);
  ASSERT_FALSE(ec) << ec.message();
  auto conn = this->server.accept(ec);
  ASSERT_FALSE(ec) << ec.message();
  client.send_all(std::string("abc"), ec);
  ASSERT_FALSE(ec);
  client.close();
  std::array<char, 10> buf{};
  const std::size_t n = conn.receive_exact(buf, ec);
  EXPECT_EQ(n, 3u) << "the bytes that did arrive are counted";
  EXPECT_EQ(ec, errc::end_of_stream);
  EXPECT_EQ(std::string(buf.data(), 3), "abc");
}

// Every buffer form has its deadline twin, throwing and with error_code:
// scatter/gather lists, pointer and size, pointers to buffers.  A deadline
// that passes ends each of them with timed_out.
template <class S, class C> void exchange_with_deadlines(S& sender, C& receiver) {
  std::error_code ec;
  const std::string hdr = "head";
  const std::vector<char> body = {'b', 'o', 'd', 'y', '!'};
  const auto until = std::chrono::steady_clock::now() + 10s;
  EXPECT_EQ(sender.send_all({buffer(hdr), buffer(body)}, 5s, ec), 9u);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(sender.send_all({buffer(hdr), buffer(body)}, until), 9u);
  const const_buffer out[2] = {buffer(hdr), buffer(body)};
  EXPECT_EQ(sender.send_all(out, 2, 5s, ec), 9u);
  EXPECT_EQ(sender.send_all(out, 2, until), 9u);
  EXPECT_EQ(sender.send_all(hdr.data(), hdr.size(), 5s, ec), 4u);
  EXPECT_EQ(sender.send_all(hdr.data(), hdr.size(), until), 4u);
  EXPECT_FALSE(ec) << ec.message();

  std::array<char, 4> h{};
  std::array<char, 5> b{};
  EXPECT_EQ(receiver.receive_exact({buffer(h), buffer(b)}, 5s, ec), 9u);
  EXPECT_EQ(std::string(h.data(), 4) + std::string(b.data(), 5), "headbody!");
  EXPECT_EQ(receiver.receive_exact({buffer(h), buffer(b)}, until), 9u);
  const mutable_buffer in[2] = {buffer(h), buffer(b)};
  EXPECT_EQ(receiver.receive_exact(in, 2, 5s, ec), 9u);
  EXPECT_EQ(receiver.receive_exact(in, 2, until), 9u);
  EXPECT_EQ(std::string(h.data(), 4) + std::string(b.data(), 5), "headbody!");
  EXPECT_EQ(receiver.receive_exact(h.data(), h.size(), 5s, ec), 4u);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(std::string(h.data(), 4), "head");
  EXPECT_EQ(receiver.receive_exact(h.data(), h.size(), until), 4u);
  EXPECT_EQ(std::string(h.data(), 4), "head");

  // send and receive: as much as there is room or data for, by the deadline.
  EXPECT_EQ(sender.send({buffer(hdr)}, 5s, ec), 4u);
  EXPECT_EQ(sender.send(hdr.data(), hdr.size(), until), 4u);
  EXPECT_EQ(sender.send(out, 1, 5s, ec), 4u);
  EXPECT_EQ(sender.send({buffer(hdr)}, until), 4u);
  std::size_t got = 0;
  std::array<char, 16> all{};
  for (int i = 0; i < 64 && got < 16 && !ec; ++i) {
    got += got % 2 == 0
               ? receiver.receive(all.data() + got, all.size() - got, 5s, ec)
               : receiver.receive({mutable_buffer{all.data() + got, all.size() - got}}, 5s, ec);
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(std::string(all.data(), 16), "headheadheadhead");

  // Nothing sent: each timed form ends by its deadline.
  EXPECT_EQ(receiver.receive_exact({buffer(h), buffer(b)}, 30ms, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(receiver.receive_exact(in, 2, 30ms, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(receiver.receive_exact(h.data(), h.size(), 30ms, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(receiver.receive(h.data(), h.size(), 30ms, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(receiver.receive({buffer(h)}, std::chrono::steady_clock::now() - 1s, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out);
  try {
    receiver.receive_exact(in, 2, 30ms);
    ADD_FAILURE() << "nothing was sent";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::timed_out);
    EXPECT_NE(std::string(e.what()).find("0 of 9 bytes received"), std::string::npos) << e.what();
  }
  try {
    receiver.receive(h.data(), h.size(), 30ms);
    ADD_FAILURE() << "nothing was sent";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::timed_out);
  }
}

TYPED_TEST(StreamTest, EveryBufferFormHasADeadline) {
  auto client = TestFixture::socket_t::connect(this->where, 5s);
  auto conn = this->server.accept(5s);
  exchange_with_deadlines(client, conn);
}

TYPED_TEST(StreamTest, EveryBufferFormHasADeadlineOnAnySocket) {
  auto client = TestFixture::socket_t::connect(this->where, 5s);
  typename TestFixture::E from{};
  any_stream_socket conn(this->server.accept(5s, from), any_endpoint(from));
  any_stream_socket any_client(std::move(client), any_endpoint(this->where));
  exchange_with_deadlines(any_client, conn);
  exchange_with_deadlines(conn, any_client);
}

// A reader of framed messages tells the peer's clean end between messages (no
// byte of the next one) from a message cut short; both are end_of_stream.
TYPED_TEST(StreamTest, ReceiveExactTellsACleanEndFromACutMessage) {
  std::error_code ec;
  auto client = TestFixture::socket_t::connect(this->where, 5s);
  auto conn = this->server.accept(5s);
  client.send_all(std::string("1234"), 5s);
  client.shutdown(shutdown_type::send);
  std::array<char, 4> frame{};
  EXPECT_EQ(conn.receive_exact(frame, 5s, ec), 4u);
  EXPECT_FALSE(ec) << ec.message();
  // The next frame: nothing came, the stream ended.
  EXPECT_EQ(conn.receive_exact(frame, 5s, ec), 0u);
  EXPECT_EQ(ec, errc::clean_end_of_stream) << ec.message();
  EXPECT_EQ(ec, errc::end_of_stream) << "a clean end is an end of stream too";
  EXPECT_EQ(errc::end_of_stream, ec);
  EXPECT_EQ(ec, vmsock::make_error_condition(errc::end_of_stream));
  EXPECT_NE(ec.message().find("before the first byte"), std::string::npos) << ec.message();
  // Every form: without a deadline, a list of buffers, the throwing one.
  EXPECT_EQ(conn.receive_exact(frame, ec), 0u);
  EXPECT_EQ(ec, errc::clean_end_of_stream);
  std::array<char, 2> head{};
  EXPECT_EQ(conn.receive_exact({buffer(head), buffer(frame)}, ec), 0u);
  EXPECT_EQ(ec, errc::clean_end_of_stream);
  try {
    conn.receive_exact(frame, 5s);
    ADD_FAILURE() << "receive_exact must throw at the end of the stream";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::clean_end_of_stream);
    EXPECT_NE(std::string(e.what()).find("0 of 4 bytes received"), std::string::npos) << e.what();
  }

  // A message cut short: end_of_stream, and not a clean end.
  auto client2 = TestFixture::socket_t::connect(this->where, 5s);
  auto conn2 = this->server.accept(5s);
  client2.send_all(std::string("12"), 5s);
  client2.close();
  EXPECT_EQ(conn2.receive_exact(frame, 5s, ec), 2u);
  EXPECT_EQ(ec, errc::end_of_stream);
  EXPECT_NE(ec, errc::clean_end_of_stream);
  EXPECT_NE(errc::clean_end_of_stream, ec);
}

// The same through any_stream_socket.
TYPED_TEST(StreamTest, AnySocketReceiveExactTellsACleanEndFromACutMessage) {
  std::error_code ec;
  auto client = TestFixture::socket_t::connect(this->where, 5s);
  typename TestFixture::E from{};
  any_stream_socket conn(this->server.accept(5s, from), any_endpoint(from));
  client.send_all(std::string("ab"), 5s);
  client.shutdown(shutdown_type::send);
  std::array<char, 2> frame{};
  EXPECT_EQ(conn.receive_exact(frame, 5s, ec), 2u);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(conn.receive_exact(frame, 5s, ec), 0u);
  EXPECT_EQ(ec, errc::clean_end_of_stream) << ec.message();
  EXPECT_EQ(ec, errc::end_of_stream);
  EXPECT_EQ(conn.receive_exact(frame.data(), frame.size(), ec), 0u);
  EXPECT_EQ(ec, errc::clean_end_of_stream);
  std::array<char, 1> head{};
  EXPECT_EQ(conn.receive_exact({buffer(head), buffer(frame)}, ec), 0u);
  EXPECT_EQ(ec, errc::clean_end_of_stream);
  try {
    conn.receive_exact(frame, 5s);
    ADD_FAILURE() << "receive_exact must throw at the end of the stream";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::clean_end_of_stream);
    EXPECT_EQ(e.code(), errc::end_of_stream);
  }

  auto client2 = TestFixture::socket_t::connect(this->where, 5s);
  any_stream_socket conn2(this->server.accept(5s, from), any_endpoint(from));
  client2.send_all(std::string("x"), 5s);
  client2.close();
  EXPECT_EQ(conn2.receive_exact(frame, 5s, ec), 1u);
  EXPECT_EQ(ec, errc::end_of_stream);
  EXPECT_NE(ec, errc::clean_end_of_stream);
}

TYPED_TEST(StreamTest, ReceiveExactThrowsWithCountsAndEndpoint) {
  auto client = TestFixture::socket_t::connect(this->where);
  auto conn = this->server.accept();
  client.send_all(std::string("12345"));
  client.close();
  std::array<char, 8> buf{};
  try {
    conn.receive_exact(buf);
    FAIL() << "receive_exact must throw at EOF";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::end_of_stream);
    const std::string what = e.what();
    EXPECT_NE(what.find("receive_exact from"), std::string::npos) << what;
    EXPECT_NE(what.find("5 of 8 bytes received"), std::string::npos) << what;
    EXPECT_NE(what.find(TypeParam::scheme), std::string::npos) << what;
  }
}

TYPED_TEST(StreamTest, TimedConnectAndTimedAcceptSucceed) {
  auto client = TestFixture::socket_t::connect(this->where, 5s);
  EXPECT_FALSE(client.is_nonblocking()) << "a timed connect leaves the socket blocking";
  auto conn = this->server.accept(5s);
  EXPECT_TRUE(conn.is_open());
  client.send_all(std::string("x"));
  char c = 0;
  conn.receive_exact(&c, 1);
  EXPECT_EQ(c, 'x');
}

TYPED_TEST(StreamTest, AcceptTimesOutWhenNobodyConnects) {
  std::error_code ec;
  auto s = this->server.accept(50ms, ec);
  EXPECT_FALSE(s.is_open());
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(ec, errc::timed_out);
  EXPECT_THROW(this->server.accept(10ms), std::system_error);
}

TYPED_TEST(StreamTest, ReceiveTimeoutIsTimedOut) {
  auto client = TestFixture::socket_t::connect(this->where);
  auto conn = this->server.accept();
  client.set_option(receive_timeout{100ms});
  EXPECT_GE(client.template get_option<receive_timeout>().value, 100ms);
  std::error_code ec;
  char c;
  EXPECT_EQ(client.receive(&c, 1, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out);
  try {
    client.receive(&c, 1);
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::timed_out);
    EXPECT_NE(std::string(e.what()).find("receive from"), std::string::npos) << e.what();
  }
}

TYPED_TEST(StreamTest, WaitReadableAndWritable) {
  auto client = TestFixture::socket_t::connect(this->where);
  auto conn = this->server.accept();
  EXPECT_TRUE(client.wait_writable(1s));
  EXPECT_FALSE(conn.wait_readable(20ms)) << "nothing sent yet";
  client.send_all(std::string("ping"));
  EXPECT_TRUE(conn.wait_readable(5s));
  EXPECT_TRUE(conn.wait_readable(timeout::zero()));
}

TYPED_TEST(StreamTest, NonBlockingCallsNeverWaitAndReportTheCountDone) {
  auto client = TestFixture::socket_t::connect(this->where);
  auto conn = this->server.accept();
  conn.set_nonblocking(true);
  EXPECT_TRUE(conn.is_nonblocking());
  std::error_code ec;
  char c;
  EXPECT_EQ(conn.receive(&c, 1, ec), 0u);
  EXPECT_TRUE(ec == std::errc::operation_would_block ||
              ec == std::errc::resource_unavailable_try_again)
      << ec.message();
  // receive_exact stops at would_block with what it has.
  client.send_all(std::string("abc"));
  ASSERT_TRUE(conn.wait_readable(std::chrono::seconds(30)));
  std::string five(5, '\0');
  EXPECT_EQ(conn.receive_exact(five, ec), 3u);
  EXPECT_TRUE(ec == std::errc::operation_would_block ||
              ec == std::errc::resource_unavailable_try_again)
      << ec.message();
  EXPECT_EQ(five.substr(0, 3), "abc");

  // send_all to a peer that does not read stops at would_block with the count
  // sent: it never blocks.  (64 MiB is far more than any socket buffer.)
  client.set_nonblocking(true);
  const auto data = random_bytes(64u << 20, 7);
  const std::size_t sent = client.send_all(data, ec);
  EXPECT_TRUE(ec == std::errc::operation_would_block ||
              ec == std::errc::resource_unavailable_try_again)
      << ec.message();
  EXPECT_GT(sent, 0u);
  EXPECT_LT(sent, data.size());
  // The way to go on: wait, and send the rest; everything arrives, in order.
  conn.set_nonblocking(false);
  std::thread reader([&] {
    std::vector<unsigned char> got(data.size());
    conn.receive_exact(got);
    EXPECT_EQ(fnv1a(got.data(), got.size()), fnv1a(data.data(), data.size()));
  });
  std::size_t done = sent;
  while (done < data.size()) {
    ASSERT_TRUE(client.wait_writable(std::chrono::seconds(30)));
    done += client.send_all(vmsock::buffer(data.data() + done, data.size() - done), ec);
    if (ec) {
      ASSERT_TRUE(ec == std::errc::operation_would_block ||
                  ec == std::errc::resource_unavailable_try_again)
          << ec.message();
    }
  }
  reader.join();
  EXPECT_EQ(done, data.size());
}

TYPED_TEST(StreamTest, MovedFromSocketsAreEmptyAndCloseOnce) {
  auto client = TestFixture::socket_t::connect(this->where);
  const auto fd = client.native_handle();
  auto moved = std::move(client);
  EXPECT_FALSE(client.is_open());  // NOLINT(bugprone-use-after-move): the contract
  EXPECT_EQ(moved.native_handle(), fd);
  typename TestFixture::socket_t other;
  other = std::move(moved);
  EXPECT_TRUE(vmsock_test::handle_is_open(fd));
  other.close();
  EXPECT_FALSE(other.is_open());
  EXPECT_FALSE(vmsock_test::handle_is_open(fd));
  other.close();  // closing a closed socket is a no-op
  std::error_code ec;
  other.close(ec);
  EXPECT_FALSE(ec);

  auto again = TestFixture::socket_t::connect(this->where);
  const auto fd2 = again.release();
  EXPECT_FALSE(again.is_open());
  EXPECT_TRUE(vmsock_test::handle_is_open(fd2)) << "release gives up ownership without closing";
  vmsock_test::close_handle(fd2);
  vmsock_test::handle fd3 = vmsock_test::invalid_handle;
  {
    auto scoped = TestFixture::socket_t::connect(this->where);
    fd3 = scoped.native_handle();
    EXPECT_TRUE(vmsock_test::handle_is_open(fd3));
  }
  EXPECT_FALSE(vmsock_test::handle_is_open(fd3)) << "the destructor closes";
}

}  // namespace
