// VSOCK SOCK_SEQPACKET end to end, inside the test guest: message boundaries,
// truncation, the largest message the peer's buffer allows, timeouts and EOF.
// Mirrors vsock_test.c's "SOCK_SEQPACKET msg bounds", "MSG_TRUNC flag",
// "big message" and "timeout" cases through vmsock's seqpacket_socket.
#include "guest_support.hpp"

#include <vmsock/socket/options.hpp>
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/utsname.h>

namespace {

using namespace vmsock;
using namespace vmsock_vm;
using namespace std::chrono_literals;

using connected = connection<vsock_seqpacket_listener>;

// `server_buffer`: the accepted socket's SO_VM_SOCKETS_BUFFER_SIZE, set on the
// listener before the connection so that the client learns it in the
// handshake (0: the kernel's default).
connected connect_pair(std::uint64_t server_buffer = 0) {
  return vmsock_vm::connect_pair<vsock_seqpacket_listener>([&](vsock_seqpacket_listener& l) {
    if (server_buffer != 0) {
      l.set_option(vsock_buffer_max_size{server_buffer});
      l.set_option(vsock_buffer_size{server_buffer});
    }
  });
}

TEST(VsockSeqpacket, PeerIsCidOne) {
  auto c = connect_pair();
  EXPECT_EQ(c.peer.cid, vsock::cid::local);
  EXPECT_EQ(c.server.peer_endpoint(), c.peer);
  EXPECT_EQ(c.client.peer_endpoint(), local(c.port));
  EXPECT_EQ(c.server.type(), socket_type::seqpacket);
}

// Random sizes from 1 byte up to the receiver's whole buffer (256 KiB, the
// kernel's default), each one message with its own content; the receiver's
// buffer is larger than any message, so every receive must return exactly one.
TEST(VsockSeqpacket, MessageBoundariesKeptForRandomSizesUpToTheBuffer) {
  auto c = connect_pair();
  const std::uint64_t buffer = c.server.get_option<vsock_buffer_size>().value;
  ASSERT_EQ(buffer, 262144u);

  std::mt19937 rng(20240605);
  std::vector<std::size_t> sizes = {1, 2, 7, 8, 4096, 65536, 65537, buffer, buffer - 1};
  std::uniform_int_distribution<std::size_t> small(1, 4096), large(4097, buffer);
  for (int i = 0; i < 60; ++i) sizes.push_back(i % 2 ? small(rng) : large(rng));

  std::string sender_error;
  std::thread sender([&] {
    try {
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        const auto msg = vmsock_vm::bytes(sizes[i], 1000 + i);
        const std::size_t n = c.client.send(msg);
        if (n != msg.size()) {
          sender_error = "message " + std::to_string(i) + ": sent " + std::to_string(n) + " of " +
                         std::to_string(msg.size());
          return;
        }
      }
    } catch (const std::exception& e) {
      sender_error = e.what();
    }
  });

  std::vector<unsigned char> buf(static_cast<std::size_t>(buffer) + 4096);
  std::size_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    std::error_code ec;
    const std::size_t n = c.server.receive(buf, ec);
    ASSERT_FALSE(ec) << "message " << i << ": " << ec.message();
    ASSERT_EQ(n, sizes[i]) << "message " << i << " arrived as one message of its own size";
    const auto want = vmsock_vm::bytes(sizes[i], 1000 + i);
    ASSERT_TRUE(std::equal(want.begin(), want.end(), buf.begin())) << "message " << i;
    total += n;
  }
  sender.join();
  EXPECT_EQ(sender_error, "");
  vmsock_vm::record("seqpacket_messages", static_cast<int>(sizes.size()));
  vmsock_vm::record("seqpacket_bytes", static_cast<double>(total));
}

// vsock_test.c "SOCK_SEQPACKET MSG_TRUNC flag": a message longer than the
// receive buffer is cut; vmsock reports message_truncated with the full length
// as the result, and the rest of that message is gone (the next receive is the
// next message).
TEST(VsockSeqpacket, ShortReceiveReportsTruncationWithTheFullLength) {
  auto c = connect_pair();
  const auto big = vmsock_vm::bytes(1000, 7);
  EXPECT_EQ(c.client.send(big), 1000u);
  EXPECT_EQ(c.client.send("next", 4), 4u);
  EXPECT_EQ(c.client.send(big), 1000u);

  unsigned char small[10] = {};
  std::error_code ec;
  EXPECT_EQ(c.server.receive(small, sizeof small, ec), 1000u);
  EXPECT_EQ(ec, errc::message_truncated);
  EXPECT_EQ(ec, std::errc::message_size);
  EXPECT_TRUE(std::equal(small, small + 10, big.begin()));

  char next[16] = {};
  EXPECT_EQ(c.server.receive(next, sizeof next), 4u);
  EXPECT_EQ(std::string(next, 4), "next");

  std::error_code thrown;
  const std::string what =
      vmsock_vm::system_error_of([&] { (void)c.server.receive(small, sizeof small); }, thrown);
  EXPECT_EQ(thrown, errc::message_truncated);
  EXPECT_EQ(what, "receive from vsock://1:" + std::to_string(c.peer.port) +
                      " (message of 1000 bytes, buffer of 10): message larger than the receive "
                      "buffer; it was truncated");
}

// The error for a message larger than the peer's buffer.  The virtio
// transport refuses it with EMSGSIZE, which is what vsock_test.c expects on
// current kernels; but the af_vsock.c of Debian 12's 6.1 kernel replaces any
// error of the transport's enqueue with ENOMEM, so there the answer is
// "Cannot allocate memory".  vmsock passes the kernel's code through.  On 6.1
// the test insists on ENOMEM; elsewhere either is accepted (and recorded).
bool kernel_is_6_1() {
  utsname u{};
  ::uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  return major == 6 && minor == 1;
}
::testing::AssertionResult is_too_big_error(const std::error_code& ec) {
  if (ec.category() != std::system_category())
    return ::testing::AssertionFailure() << "not a system error: " << ec.message();
  if (kernel_is_6_1() ? ec == std::errc::not_enough_memory
                      : ec == std::errc::not_enough_memory || ec == std::errc::message_size)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "errno " << ec.value() << ": " << ec.message();
}

// vsock_test.c "SOCK_SEQPACKET big message": a message larger than the peer's
// buffer can never be delivered whole, and the kernel refuses it at once (see
// above for which error) instead of blocking.  A message of exactly the peer's buffer size goes
// through.  100000 bytes: not a power of two, so that it is the peer's buffer
// that counts and not the transport's 64 KiB packet size.
TEST(VsockSeqpacket, MessageLargerThanThePeersBufferIsRefused) {
  constexpr std::uint64_t server_buffer = 100000;
  auto c = connect_pair(server_buffer);
  EXPECT_EQ(c.server.get_option<vsock_buffer_size>().value, server_buffer);
  const auto too_big = vmsock_vm::bytes(server_buffer + 1, 9);
  std::error_code ec;
  EXPECT_EQ(c.client.send(too_big, ec), 0u);
  EXPECT_TRUE(is_too_big_error(ec));
  vmsock_vm::record("seqpacket_too_big_error", std::to_string(ec.value()) + " " + ec.message());

  std::error_code thrown;
  const std::string what =
      vmsock_vm::system_error_of([&] { (void)c.client.send(too_big); }, thrown);
  EXPECT_TRUE(is_too_big_error(thrown));
  EXPECT_EQ(what, "send to vsock://1:" + std::to_string(c.port) + ": " + thrown.message());

  // Exactly the peer's buffer: one message, and the connection is still fine.
  const auto fits = vmsock_vm::bytes(server_buffer, 10);
  EXPECT_EQ(c.client.send(fits), fits.size());
  std::vector<unsigned char> got(server_buffer + 100);
  EXPECT_EQ(c.server.receive(got), fits.size());
  got.resize(fits.size());
  EXPECT_EQ(got, fits);
}

// The client's own default buffer (256 KiB) is the server's too: one byte more
// is refused, as in vsock_test.c.
TEST(VsockSeqpacket, DefaultBufferPlusOneIsRefused) {
  auto c = connect_pair();
  const std::uint64_t own = c.client.get_option<vsock_buffer_size>().value;
  const std::vector<unsigned char> msg(static_cast<std::size_t>(own) + 1, 0x5a);
  std::error_code ec;
  c.client.send(msg, ec);
  EXPECT_TRUE(is_too_big_error(ec));
}

// vsock_test.c "SOCK_SEQPACKET timeout".
TEST(VsockSeqpacket, ReceiveTimeout) {
  auto c = connect_pair();
  c.client.set_option(receive_timeout{200ms});
  char buf[8];
  std::error_code ec;
  EXPECT_EQ(c.client.receive(buf, sizeof buf, ec), 0u);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(ec, errc::timed_out);
}

// Scatter/gather: one send of three buffers is one message; one receive into
// two buffers takes one message.
TEST(VsockSeqpacket, GatherSendIsOneMessage) {
  auto c = connect_pair();
  EXPECT_EQ(c.client.send({const_buffer{"ab", 2}, const_buffer{"cde", 3}, const_buffer{"f", 1}}),
            6u);
  EXPECT_EQ(c.client.send("g", 1), 1u);
  char a[4] = {}, b[8] = {};
  EXPECT_EQ(c.server.receive({mutable_buffer{a, 4}, mutable_buffer{b, 8}}), 6u);
  EXPECT_EQ(std::string(a, 4) + std::string(b, 2), "abcdef");
  EXPECT_EQ(c.server.receive(a, 4), 1u);
  EXPECT_EQ(a[0], 'g');
}

// The peer's close: the queued messages, then 0 (EOF); a send gives EPIPE.
TEST(VsockSeqpacket, PeerCloseQueuedMessagesThenEof) {
  auto c = connect_pair();
  c.client.send("one", 3);
  c.client.send("two!", 4);
  c.client.close();
  char buf[16];
  EXPECT_EQ(c.server.receive(buf, sizeof buf), 3u);
  EXPECT_EQ(c.server.receive(buf, sizeof buf), 4u);
  EXPECT_EQ(std::string(buf, 4), "two!");
  EXPECT_EQ(c.server.receive(buf, sizeof buf), 0u);
  std::error_code ec;
  c.server.send("x", 1, ec);
  EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
}

TEST(VsockSeqpacket, ConnectWithNoListenerIsConnectionRefused) {
  const std::uint32_t port = next_port();
  std::error_code ec;
  auto s = vsock_seqpacket_socket::connect(local(port), ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
  std::error_code thrown;
  const std::string what = vmsock_vm::system_error_of(
      [&] { (void)vsock_seqpacket_socket::connect(local(port)); }, thrown);
  EXPECT_EQ(what, "connect to vsock://1:" + std::to_string(port) + ": " +
                      make_error_code(errc::vsock_connection_refused).message());
}

}  // namespace
