// The cases of the kernel's tools/testing/vsock/vsock_test.c that a library
// user meets, across a real virtio-vsock boundary (tests/vm/nested): host =
// the outer test guest (CID 2, vhost_vsock), guest = the inner one (CID 3).
// Every case runs in both directions; the test name says which side is the
// client (the side that connects) or which side acts.
#include "nested/nested_support.hpp"

#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <linux/vm_sockets.h>

namespace {

using namespace vmsock;
using namespace vmsock_nested;

class KernelCases : public paired_test {};

// No receive waits forever: a stuck peer fails the test instead.
template <class Socket> Socket bounded(Socket s) {
  s.set_option(receive_timeout{60s});
  s.set_option(send_timeout{60s});
  return s;
}

vsock_stream_socket stream_across(side server, std::uint32_t p, vsock_endpoint* peer = nullptr) {
  return bounded(connect_across<vsock_listener>(server, p, peer));
}

// ---- client close, server close -------------------------------------------------

// vsock_test.c "SOCK_STREAM client close" / "server close": the closing side
// sends 100000 bytes and closes; the other reads them all, then EOF, and its
// send fails with EPIPE (broken_pipe), with no SIGPIPE.
void close_one_side(side client, bool client_closes) {
  auto s = stream_across(other(client), port());
  const side closer = client_closes ? client : other(client);
  const auto data = vmsock_vm::bytes(100000, 77);
  if (this_side() == closer) {
    EXPECT_EQ(s.send_all(data), data.size());
    s.close();
    sync("closed");
    return;
  }
  sync("closed");
  std::vector<unsigned char> got(data.size());
  EXPECT_EQ(s.receive_exact(got), got.size());
  EXPECT_TRUE(got == data);
  unsigned char one = 0;
  EXPECT_EQ(s.receive(&one, 1), 0u) << "EOF after the queued bytes";
  std::error_code ec;
  EXPECT_EQ(s.receive_exact(&one, 1, ec), 0u);
  EXPECT_EQ(ec, errc::end_of_stream);
  EXPECT_EQ(s.send("x", 1, ec), 0u);
  EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
}
TEST_F(KernelCases, ClientCloseHostClient) { close_one_side(side::host, true); }
TEST_F(KernelCases, ClientCloseGuestClient) { close_one_side(side::guest, true); }
TEST_F(KernelCases, ServerCloseHostClient) { close_one_side(side::host, false); }
TEST_F(KernelCases, ServerCloseGuestClient) { close_one_side(side::guest, false); }

// ---- half-close ---------------------------------------------------------------------

// vsock_test.c "SOCK_STREAM SHUT_WR": the side that shuts down sending is seen
// as EOF by the other, which can still send back; its own send fails.
void shutdown_send(side shutter) {
  auto s = stream_across(side::guest, port());
  char buf[8] = {};
  if (this_side() == shutter) {
    EXPECT_EQ(s.send_all("last", 4), 4u);
    s.shutdown(shutdown_type::send);
    sync("shut down");
    EXPECT_EQ(s.receive_exact(buf, 5), 5u);
    EXPECT_EQ(std::string(buf, 5), "reply");
    std::error_code ec;
    EXPECT_EQ(s.send("x", 1, ec), 0u);
    EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
  } else {
    sync("shut down");
    EXPECT_EQ(s.receive_exact(buf, 4), 4u);
    EXPECT_EQ(std::string(buf, 4), "last");
    EXPECT_EQ(s.receive(buf, sizeof buf), 0u) << "EOF after the peer's shutdown(send)";
    EXPECT_EQ(s.send_all("reply", 5), 5u);
  }
  sync("done");
}
TEST_F(KernelCases, ShutdownSendOnTheHost) { shutdown_send(side::host); }
TEST_F(KernelCases, ShutdownSendInTheGuest) { shutdown_send(side::guest); }

// vsock_test.c "SOCK_STREAM SHUT_RD": after shutdown(receive) a receive is EOF
// at once, queued bytes or not (Linux VSOCK; TCP would hand them out), the
// shutter can still send, and the other side's sends fail with EPIPE once the
// shutdown has reached it (it travels ahead of the shutter's later bytes).
void shutdown_receive(side shutter) {
  auto s = stream_across(side::host, port());
  char buf[8] = {};
  if (this_side() == shutter) {
    sync("queued sent");
    ASSERT_TRUE(s.wait_readable(60s));
    s.shutdown(shutdown_type::receive);
    EXPECT_EQ(s.receive(buf, sizeof buf), 0u)
        << "Linux vsock: receive after shutdown(receive) is EOF, queued bytes or not";
    EXPECT_EQ(s.send_all("s", 1), 1u);
  } else {
    EXPECT_EQ(s.send_all("queued", 6), 6u);
    sync("queued sent");
    EXPECT_EQ(s.receive_exact(buf, 1), 1u);
    EXPECT_EQ(buf[0], 's');
    std::error_code ec;
    EXPECT_EQ(s.send("x", 1, ec), 0u);
    EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
  }
  sync("done");
}
TEST_F(KernelCases, ShutdownReceiveOnTheHost) { shutdown_receive(side::host); }
TEST_F(KernelCases, ShutdownReceiveInTheGuest) { shutdown_receive(side::guest); }

// ---- 100 concurrent connections -------------------------------------------------------

// vsock_test.c "SOCK_STREAM multiple connections": 100 at once, each from a
// thread of its own, all accepted by one listener, each carrying its own bytes;
// every connection stays open until all are accepted.
void hundred_connections(side client) {
  constexpr int count = 100;
  const std::uint32_t p = port();
  if (this_side() == client) {
    sync("listening");
    std::vector<std::thread> threads;
    std::vector<std::string> failures(count);
    for (int i = 0; i < count; ++i) {
      threads.emplace_back([&, i] {
        auto& failure = failures[static_cast<std::size_t>(i)];
        try {
          auto s = bounded(vsock_stream_socket::connect(to_peer(p), 60s));
          const auto id = static_cast<std::uint32_t>(i);
          s.send_all(&id, sizeof id);
          std::uint32_t reply = 0;
          s.receive_exact(&reply, sizeof reply);
          if (reply != id * 3 + 1) failure = "wrong reply";
          char c;
          if (s.receive(&c, 1) != 0) failure = "bytes after the reply";  // waits for the close
        } catch (const std::exception& e) {
          failure = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < count; ++i)
      EXPECT_EQ(failures[static_cast<std::size_t>(i)], "") << "client " << i;
    return;
  }
  auto l = vsock_listener::listen(any_port(p), count);
  sync("listening");
  std::vector<vsock_stream_socket> accepted;
  std::set<std::uint32_t> ids, ports;
  for (int i = 0; i < count; ++i) {
    vsock_endpoint peer;
    auto s = bounded(l.accept(60s, peer));
    EXPECT_EQ(peer.cid, cid_of(client));
    ports.insert(peer.port);
    std::uint32_t id = 0;
    s.receive_exact(&id, sizeof id);
    ids.insert(id);
    const std::uint32_t reply = id * 3 + 1;
    s.send_all(&reply, sizeof reply);
    accepted.push_back(std::move(s));
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(count));
  EXPECT_EQ(ports.size(), static_cast<std::size_t>(count)) << "one port per client";
  EXPECT_EQ(*ids.rbegin(), static_cast<std::uint32_t>(count - 1));
  accepted.clear();  // every client sees EOF
}
TEST_F(KernelCases, HundredConcurrentConnectionsFromTheHost) { hundred_connections(side::host); }
TEST_F(KernelCases, HundredConcurrentConnectionsFromTheGuest) { hundred_connections(side::guest); }

// ---- SOCK_SEQPACKET ---------------------------------------------------------------------

// vsock_test.c "SOCK_SEQPACKET msg bounds" and "MSG_TRUNC flag": each send is
// one message, whatever its size up to the receiver's buffer (256 KiB); a short
// receive reports message_truncated with the full length, and the rest of that
// message is gone.
void seqpacket_bounds(side sender) {
  auto s = bounded(connect_across<vsock_seqpacket_listener>(side::guest, port()));
  const std::vector<std::size_t> sizes = {1,     2,      7,      8,      4095, 4096, 65536,
                                          65537, 100000, 262143, 262144, 3,    1000};
  if (this_side() == sender) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const auto msg = vmsock_vm::bytes(sizes[i], 500 + i);
      EXPECT_EQ(s.send(msg), msg.size()) << "message " << i;
    }
    const auto big = vmsock_vm::bytes(1000, 7);
    EXPECT_EQ(s.send(big), 1000u);
    EXPECT_EQ(s.send("next", 4), 4u);
    sync("sent");
    return;
  }
  std::vector<unsigned char> buf(262144 + 4096);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::size_t n = s.receive(buf);
    ASSERT_EQ(n, sizes[i]) << "message " << i << " arrives as one message of its own size";
    const auto want = vmsock_vm::bytes(sizes[i], 500 + i);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), buf.begin())) << "message " << i;
  }
  unsigned char small[10] = {};
  std::error_code ec;
  EXPECT_EQ(s.receive(small, sizeof small, ec), 1000u);
  EXPECT_EQ(ec, errc::message_truncated);
  const auto big = vmsock_vm::bytes(1000, 7);
  EXPECT_TRUE(std::equal(small, small + 10, big.begin()));
  char next[16] = {};
  EXPECT_EQ(s.receive(next, sizeof next), 4u);
  EXPECT_EQ(std::string(next, 4), "next");
  sync("sent");
}
TEST_F(KernelCases, SeqpacketBoundsAndTruncationHostSends) { seqpacket_bounds(side::host); }
TEST_F(KernelCases, SeqpacketBoundsAndTruncationGuestSends) { seqpacket_bounds(side::guest); }

// ---- receive timeout ------------------------------------------------------------------

// vsock_test.c "SOCK_SEQPACKET timeout", for streams and seqpacket: SO_RCVTIMEO
// expiry is timed_out; the connection still works afterwards.
void receive_timeout_on(side waiter) {
  auto s = stream_across(side::guest, port(0));
  auto q = bounded(connect_across<vsock_seqpacket_listener>(side::host, port(1)));
  if (this_side() == waiter) {
    s.set_option(receive_timeout{200ms});
    q.set_option(receive_timeout{200ms});
    char buf[8];
    for (int i = 0; i < 2; ++i) {
      std::error_code ec;
      const auto t0 = std::chrono::steady_clock::now();
      const std::size_t n =
          i == 0 ? s.receive(buf, sizeof buf, ec) : q.receive(buf, sizeof buf, ec);
      const double secs = vmsock_vm::seconds_since(t0);
      EXPECT_EQ(n, 0u);
      EXPECT_EQ(ec, std::errc::timed_out) << (i == 0 ? "stream: " : "seqpacket: ") << ec.message();
      EXPECT_GE(secs, 0.19);
      vmsock_vm::record(i == 0 ? "stream_timeout_s" : "seqpacket_timeout_s", secs);
    }
    sync("timed out");
    s.set_option(receive_timeout{60s});
    EXPECT_EQ(s.receive_exact(buf, 2), 2u);
    EXPECT_EQ(std::string(buf, 2), "ok");
  } else {
    sync("timed out");
    EXPECT_EQ(s.send_all("ok", 2), 2u);
  }
  sync("done");
}
TEST_F(KernelCases, ReceiveTimeoutOnTheHost) { receive_timeout_on(side::host); }
TEST_F(KernelCases, ReceiveTimeoutInTheGuest) { receive_timeout_on(side::guest); }

// ---- SO_LINGER ------------------------------------------------------------------------

// Close with SO_LINGER on, with unread data (vsock_test.c "SO_LINGER
// null-ptr-deref" closes a lingering socket too).  The virtio transport's
// close sends a shutdown and, lingering, waits until the peer answers it with
// a reset, which the peer's kernel does once the peer has nothing left unread.
//  1. The closer's own queue holds bytes it never read; the peer has read
//     everything: the close returns at once, the peer sees EOF and EPIPE.
//  2. The peer has not read what the closer sent: the close waits out the
//     linger time (2 s) and returns; the peer then still reads every byte,
//     then EOF.
void linger_close(side closer) {
  const auto data = vmsock_vm::bytes(64 * 1024, 11);
  {
    auto s = stream_across(side::host, port(0));
    if (this_side() == closer) {
      sync("sent");
      ASSERT_TRUE(s.wait_readable(60s));
      s.set_option(vmsock::linger{true, 2s});
      EXPECT_TRUE(s.get_option<vmsock::linger>().enabled);
      const auto t0 = std::chrono::steady_clock::now();
      s.close();
      const double secs = vmsock_vm::seconds_since(t0);
      vmsock_vm::record("close_with_own_unread_s", secs);
      EXPECT_LT(secs, 1.5) << "the peer had nothing unread: it answers the shutdown at once";
      sync("closed");
    } else {
      EXPECT_EQ(s.send_all(data), data.size());
      sync("sent");
      sync("closed");
      unsigned char one;
      EXPECT_EQ(s.receive(&one, 1), 0u);
      std::error_code ec;
      s.send("x", 1, ec);
      EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
    }
  }
  auto s = stream_across(side::guest, port(1));
  if (this_side() == closer) {
    EXPECT_EQ(s.send_all(data), data.size());
    s.set_option(vmsock::linger{true, 2s});
    const auto t0 = std::chrono::steady_clock::now();
    s.close();
    const double secs = vmsock_vm::seconds_since(t0);
    vmsock_vm::record("close_with_peer_unread_s", secs);
    EXPECT_GE(secs, 1.8) << "lingers while the peer has not read";
    EXPECT_LT(secs, 6.0) << "but no longer than the linger time (+ slack)";
    sync("closed");
  } else {
    sync("closed");
    std::vector<unsigned char> got(data.size());
    EXPECT_EQ(s.receive_exact(got), got.size());
    EXPECT_TRUE(got == data);
    unsigned char one;
    EXPECT_EQ(s.receive(&one, 1), 0u);
  }
}
TEST_F(KernelCases, LingerCloseOnTheHost) { linger_close(side::host); }
TEST_F(KernelCases, LingerCloseInTheGuest) { linger_close(side::guest); }

// ---- a retried failed connect ---------------------------------------------------------------

// vsock_test.c "SOCK_STREAM retry failed connect()": a connect before the
// server listens fails; once it listens, a second try succeeds.  Both as a
// vmsock user writes it (a second connect call) and as the kernel test does it
// (connect() again on the same descriptor).
void retry_failed_connect(side client) {
  const std::uint32_t p = port(0), q = port(1);
  if (this_side() == client) {
    std::error_code ec;
    auto first = vsock_stream_socket::connect(to_peer(p), 10s, ec);
    EXPECT_TRUE(ec == std::errc::connection_refused || ec == std::errc::connection_reset)
        << ec.message();
    EXPECT_FALSE(first.is_open());

    auto raw = basic_socket<vsock_endpoint>::open(socket_type::stream);
    sockaddr_vm a{};
    a.svm_family = AF_VSOCK;
    a.svm_cid = cid_of(other(client));
    a.svm_port = q;
    const auto sa = reinterpret_cast<const sockaddr*>(&a);
    EXPECT_EQ(::connect(raw.native_handle(), sa, sizeof a), -1);
    EXPECT_EQ(errno, ECONNRESET) << std::strerror(errno);

    sync("refused");
    sync("listening");
    auto second = vsock_stream_socket::connect(to_peer(p), 60s);
    EXPECT_EQ(second.send_all("a", 1), 1u);
    const int r = ::connect(raw.native_handle(), sa, sizeof a);
    const int err = errno;
    EXPECT_EQ(r, 0) << "connect() again on the same descriptor: " << std::strerror(err);
    vmsock_vm::record("same_fd_retry", r == 0 ? std::string("connected") : std::strerror(err));
    if (r == 0) {
      EXPECT_EQ(::send(raw.native_handle(), "b", 1, MSG_NOSIGNAL), 1);
    }
    sync("sent");
    return;
  }
  sync("refused");
  auto l1 = vsock_listener::listen(any_port(p));
  auto l2 = vsock_listener::listen(any_port(q));
  sync("listening");
  auto a = bounded(l1.accept(60s));
  char c = 0;
  EXPECT_EQ(a.receive_exact(&c, 1), 1u);
  EXPECT_EQ(c, 'a');
  sync("sent");
  std::error_code ec;
  auto b = l2.accept(5s, ec);
  if (!ec) {
    b = bounded(std::move(b));
    EXPECT_EQ(b.receive_exact(&c, 1), 1u);
    EXPECT_EQ(c, 'b');
  }
}
TEST_F(KernelCases, RetryFailedConnectFromTheHost) { retry_failed_connect(side::host); }
TEST_F(KernelCases, RetryFailedConnectFromTheGuest) { retry_failed_connect(side::guest); }

// ---- 64 MiB checksummed -----------------------------------------------------------------

// 64 MiB in 64 KiB blocks of test data, with a position-sensitive checksum on
// both ends, then EOF after shutdown(send); the sums are compared over the
// control connection.
void sixty_four_mib(side sender) {
  constexpr std::size_t block = 64 * 1024;
  constexpr std::size_t total = std::size_t{64} << 20;
  auto s = stream_across(side::host, port());
  std::vector<unsigned char> buf(block);
  std::uint64_t h = vmsock_vm::checksum(nullptr, 0);
  const auto t0 = std::chrono::steady_clock::now();
  if (this_side() == sender) {
    vmsock_vm::pattern gen(0x6464 + static_cast<unsigned>(sender));
    for (std::size_t done = 0; done < total; done += block) {
      gen.fill(buf.data(), block);
      h = vmsock_vm::checksum(buf.data(), block, h);
      s.send_all(buf);
    }
    s.shutdown(shutdown_type::send);
  } else {
    std::size_t received = 0;
    for (; received < total; received += block) {
      std::error_code ec;
      const std::size_t n = s.receive_exact(buf, ec);
      if (ec) {
        ADD_FAILURE() << "receive_exact at byte " << received << ": " << ec.message();
        received += n;
        break;
      }
      h = vmsock_vm::checksum(buf.data(), block, h);
    }
    EXPECT_EQ(received, total);
    unsigned char one;
    EXPECT_EQ(s.receive(&one, 1), 0u) << "EOF after the sender's shutdown(send)";
  }
  const double secs = vmsock_vm::seconds_since(t0);
  vmsock_vm::record("MBps", static_cast<double>(total) / secs / 1e6);
  EXPECT_EQ(meet_number("checksum", h), h) << "the two ends' checksums differ";
}
TEST_F(KernelCases, SixtyFourMiBChecksummedHostToGuest) { sixty_four_mib(side::host); }
TEST_F(KernelCases, SixtyFourMiBChecksummedGuestToHost) { sixty_four_mib(side::guest); }

}  // namespace
