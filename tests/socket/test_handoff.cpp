// Socket hand-off over SCM_RIGHTS (handoff.hpp), on real loopback sockets:
// a TCP connection (and a listener) accepted here and served by a worker
// started with fork + exec that received it over a Unix channel; the checks
// of what arrives (family, type, listening; no descriptor, several, more than
// fit; the stream's end), none of which leaks a descriptor; cancel() and
// deadlines on the channel; the messages.  Linux.
#include <vmsock/host/handoff.hpp>

#include <vmsock/socket/options.hpp>
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include "descriptors.hpp"
#include "handoff_support.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#ifndef VMSOCK_HANDOFF_WORKER
#  error "VMSOCK_HANDOFF_WORKER: the path of vmsock_handoff_worker"
#endif

namespace {

using namespace std::chrono_literals;
using namespace vmsock;
using clock_type = std::chrono::steady_clock;
using vmsock_test::open_descriptors;

std::string unique_name(const char* what) {
  static std::atomic<int> n{0};
  return std::string("vmsock-handoff-") + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(n++);
}

// Both ends of a Unix stream channel in this process.
struct channel_pair {
  unix_stream_socket a, b;
};
channel_pair make_channel() {
  const auto at = unix_endpoint::abstract(unique_name("channel"));
  auto l = unix_listener::listen(at);
  channel_pair p;
  p.a = unix_stream_socket::connect(at, 10s);
  p.b = l.accept(10s);
  return p;
}

using vmsock_handoff::make_tcp;

// The worker, started with fork + exec.
pid_t start_worker(const std::string& channel, const char* kind) {
  return vmsock_handoff::start_worker(VMSOCK_HANDOFF_WORKER, channel, kind);
}
using vmsock_handoff::wait_exit;

std::string read_line(tcp4_socket& s) { return vmsock_handoff::read_line(s, 10s); }

TEST(Handoff, TcpConnectionServedByAnExecdWorker) {
  const auto name = unique_name("worker");
  auto supervisor = unix_listener::listen(unix_endpoint::abstract(name));
  const pid_t worker = start_worker("unix://@" + name, "tcp4");
  ASSERT_GT(worker, 0);
  auto channel = supervisor.accept(10s);
  EXPECT_EQ(channel.peer_credentials().pid, worker) << "the worker itself is on the channel";

  // A client connects; the supervisor accepts and hands the connection over.
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto client = tcp4_socket::connect(l.local_endpoint(), 10s);
  auto conn = l.accept(10s);
  send_socket(channel, conn, worker);
  conn.close();  // the worker's copy lives on

  EXPECT_EQ(read_line(client), "worker " + std::to_string(worker));
  const std::string data(100000, 'x');
  client.send_all(data, 10s);
  client.shutdown(shutdown_type::send);
  std::string back(data.size(), '\0');
  client.receive_exact(back, 10s);
  EXPECT_EQ(back, data);
  char c = 0;
  EXPECT_EQ(client.receive(mutable_buffer{&c, 1}, 10s), 0u) << "the worker closed it";
  EXPECT_EQ(wait_exit(worker), 0);
}

TEST(Handoff, ListenerHandedToAWorker) {
  const auto name = unique_name("listener");
  auto supervisor = unix_listener::listen(unix_endpoint::abstract(name));
  const pid_t worker = start_worker("unix://@" + name, "tcp4-listener");
  auto channel = supervisor.accept(10s);
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const auto at = l.local_endpoint();
  send_socket(channel, l);  // the POSIX form: no process id
  l.close();
  auto client = tcp4_socket::connect(at, 10s);
  EXPECT_EQ(read_line(client), "worker " + std::to_string(worker));
  client.send_all(std::string_view("ping"), 10s);
  client.shutdown(shutdown_type::send);
  std::string back(4, '\0');
  client.receive_exact(back, 10s);
  EXPECT_EQ(back, "ping");
  EXPECT_EQ(wait_exit(worker), 0);
}

TEST(Handoff, WithinOneProcessTheReceivedSocketIsBlockingAndNotInherited) {
  auto ch = make_channel();
  auto t = make_tcp();
  t.server.set_nonblocking(true);  // the sender's mode is not the receiver's
  send_socket(ch.a, t.server, 5s);
  auto got = receive_socket<tcp4_socket>(ch.b, 5s);
  ASSERT_TRUE(got.is_open());
  EXPECT_NE(got.native_handle(), t.server.native_handle());
  EXPECT_FALSE(got.is_nonblocking());
  EXPECT_EQ(::fcntl(got.native_handle(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(got.native_handle(), F_GETFD) & FD_CLOEXEC, 0) << "MSG_CMSG_CLOEXEC";
  EXPECT_EQ(got.peer_endpoint(), t.client.local_endpoint());
  t.server.close();
  got.send_all(std::string_view("hi"), 5s);
  std::string two(2, '\0');
  t.client.receive_exact(two, 5s);
  EXPECT_EQ(two, "hi");
  // Other kinds: a Unix connection, a UDP socket, a Unix listener.
  auto inner = make_channel();
  send_socket(ch.a, inner.a);
  auto u = receive_socket<unix_stream_socket>(ch.b, 5s);
  u.send_all(std::string_view("u"), 5s);
  char c = 0;
  inner.b.receive_exact(mutable_buffer{&c, 1}, 5s);
  EXPECT_EQ(c, 'u');
  auto udp = udp4_socket::open(inet4_endpoint::loopback(0));
  send_socket(ch.a, udp);
  auto udp_got = receive_socket<udp4_socket>(ch.b, 5s);
  EXPECT_EQ(udp_got.local_endpoint(), udp.local_endpoint());
}

// Receives a Socket that must be refused: the message, and the code.
template <class Socket> std::string refused(unix_stream_socket& ch, std::error_code& code) {
  try {
    receive_socket<Socket>(ch, 5s);
  } catch (const std::system_error& e) {
    code = e.code();
    return e.what();
  }
  code.clear();
  return "(nothing thrown)";
}

TEST(Handoff, MismatchedTypesAreRefusedAndClosed) {
  auto ch = make_channel();
  auto t = make_tcp();
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto udp = udp4_socket::open(inet4_endpoint::loopback(0));
  const std::size_t before = open_descriptors();
  std::error_code code;
  const auto check = [&](const std::string& what, std::error_code expected_code,
                         const char* expected) {
    EXPECT_EQ(code, expected_code) << what;
    EXPECT_NE(what.find(expected), std::string::npos) << what;
    EXPECT_NE(what.find("receive_socket ("), std::string::npos) << what;
    EXPECT_NE(what.find(" over unix://@vmsock-handoff-channel-"), std::string::npos) << what;
  };
  const auto wrong_type = std::make_error_code(std::errc::wrong_protocol_type);

  send_socket(ch.a, t.server);
  check(refused<unix_stream_socket>(ch.b, code), make_error_code(errc::address_family_mismatch),
        "received a connected IPv4 stream socket, expected a connected Unix stream socket (it was "
        "closed)");
  send_socket(ch.a, l);
  check(refused<tcp4_socket>(ch.b, code), wrong_type,
        "received a listening IPv4 stream socket, expected a connected IPv4 stream socket (it was "
        "closed)");
  send_socket(ch.a, t.server);
  check(refused<tcp4_listener>(ch.b, code), wrong_type,
        "received a connected IPv4 stream socket, expected a listening IPv4 stream socket (it was "
        "closed)");
  send_socket(ch.a, udp);
  check(
      refused<tcp4_socket>(ch.b, code), wrong_type,
      "received an IPv4 datagram socket, expected a connected IPv4 stream socket (it was closed)");
  send_socket(ch.a, t.server);
  check(refused<tcp6_socket>(ch.b, code), make_error_code(errc::address_family_mismatch),
        "expected a connected IPv6 stream socket");
  EXPECT_EQ(open_descriptors(), before) << "every refused socket was closed";
  // The error_code form says the same by its code.
  send_socket(ch.a, t.server);
  std::error_code ec;
  auto none = receive_socket<unix_stream_socket>(ch.b, 5s, ec);
  EXPECT_EQ(ec, errc::address_family_mismatch);
  EXPECT_FALSE(none.is_open());
  EXPECT_EQ(open_descriptors(), before);
}

// Raw messages, as a peer that is not vmsock could send them.
void send_raw(int channel, const int* fds, std::size_t nfds, std::size_t data_bytes = 1) {
  char data[8] = {'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
  iovec iov{data, data_bytes};
  std::vector<unsigned char> control(CMSG_SPACE(sizeof(int) * (nfds == 0 ? 1 : nfds)), 0);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ASSERT_EQ(::sendmsg(channel, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(data_bytes))
      << std::strerror(errno);
}

TEST(Handoff, BadControlMessagesAreRefusedAndNothingLeaks) {
  auto ch = make_channel();
  auto t = make_tcp();
  std::vector<tcp4_socket> extra;
  for (int i = 0; i < 20; ++i) extra.push_back(make_tcp().server);
  std::vector<int> fds;
  for (const auto& s : extra) fds.push_back(s.native_handle());
  const std::size_t before = open_descriptors();
  std::error_code code;

  send_raw(ch.a.native_handle(), nullptr, 0);
  std::string what = refused<tcp4_socket>(ch.b, code);
  EXPECT_EQ(code, std::errc::bad_message);
  EXPECT_NE(what.find(": the message carried no descriptor"), std::string::npos) << what;

  send_raw(ch.a.native_handle(), fds.data(), 2);
  what = refused<tcp4_socket>(ch.b, code);
  EXPECT_EQ(code, std::errc::bad_message);
  EXPECT_NE(what.find("the message carried 2 descriptors, one expected (all were closed)"),
            std::string::npos)
      << what;
  EXPECT_EQ(open_descriptors(), before);

  // More than a message is read with: MSG_CTRUNC.  (The kernel passes at most
  // 253 per message; 20 is more than the 16 vmsock makes room for.)
  send_raw(ch.a.native_handle(), fds.data(), 20);
  what = refused<tcp4_socket>(ch.b, code);
  EXPECT_EQ(code, errc::message_truncated);
  EXPECT_EQ(code, std::errc::message_size);
  EXPECT_NE(what.find("MSG_CTRUNC"), std::string::npos) << what;
  EXPECT_EQ(open_descriptors(), before);

  // A descriptor that is not a socket.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  send_raw(ch.a.native_handle(), pipe_fds, 1);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  const std::size_t with_pipe_closed = open_descriptors();
  what = refused<tcp4_socket>(ch.b, code);
  EXPECT_EQ(code, std::errc::not_a_socket) << what;
  EXPECT_EQ(open_descriptors(), with_pipe_closed);

  // Several data bytes with one descriptor: one byte per socket, the rest stay.
  const int one = t.server.native_handle();
  send_raw(ch.a.native_handle(), &one, 1, 3);
  auto ok = receive_socket<tcp4_socket>(ch.b, 5s);
  EXPECT_TRUE(ok.is_open());
  char rest[2];
  EXPECT_EQ(ch.b.receive_exact(mutable_buffer{rest, 2}, 5s), 2u);

  // The end of the channel's stream before a socket came.
  ch.a.shutdown(shutdown_type::send);
  what = refused<tcp4_socket>(ch.b, code);
  EXPECT_EQ(code, errc::end_of_stream);
  EXPECT_NE(what.find("the channel's stream ended before a socket came"), std::string::npos)
      << what;
}

TEST(Handoff, CancelEndsABlockedReceiveAndDeadlinesHold) {
  auto ch = make_channel();
  std::error_code ec;
  auto done = std::async(std::launch::async, [&] { return receive_socket<tcp4_socket>(ch.b, ec); });
  EXPECT_EQ(done.wait_for(200ms), std::future_status::timeout) << "it waits";
  const auto t0 = clock_type::now();
  ch.b.cancel();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready) << "cancel() ended it";
  const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  EXPECT_FALSE(done.get().is_open());
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  std::printf("[   info   ] receive_socket returned %.2f ms after cancel()\n", ms);
  receive_socket<tcp4_socket>(ch.b, 5s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled) << "and every later call";

  // Deadlines: given, and the channel's receive_timeout when none is.
  auto other = make_channel();
  auto t1 = clock_type::now();
  receive_socket<tcp4_socket>(other.b, 150ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_GE(clock_type::now() - t1, 140ms);
  other.b.set_option(receive_timeout{150ms});
  t1 = clock_type::now();
  receive_socket<tcp4_socket>(other.b, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_GE(clock_type::now() - t1, 140ms);
  EXPECT_LT(clock_type::now() - t1, 5s);
  // Already expired: one try.
  receive_socket<tcp4_socket>(other.b, -1ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
  // A non-blocking channel without a deadline does not wait.
  other.b.set_nonblocking(true);
  receive_socket<tcp4_socket>(other.b, ec);
  EXPECT_TRUE(ec == std::errc::operation_would_block ||
              ec == std::errc::resource_unavailable_try_again)
      << ec.message();
  // A cancelled sender.
  auto t = make_tcp();
  other.a.cancel();
  send_socket(other.a, t.server, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled);
}

TEST(Handoff, ClosedSocketsAndChannelsSaySo) {
  auto ch = make_channel();
  tcp4_socket closed;
  std::error_code ec;
  send_socket(ch.a, closed, ec);
  EXPECT_EQ(ec, std::errc::bad_file_descriptor);
  try {
    send_socket(ch.a, closed);
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("send_socket of a closed socket over unix://@"),
              std::string::npos)
        << e.what();
  }
  unix_stream_socket none;
  auto t = make_tcp();
  send_socket(none, t.server, ec);
  EXPECT_EQ(ec, std::errc::bad_file_descriptor);
  receive_socket<tcp4_socket>(none, 1s, ec);
  EXPECT_EQ(ec, std::errc::bad_file_descriptor);
  try {
    send_socket(ch.a, t.server, 1234);
  } catch (...) {
    FAIL() << "the process id form is accepted on POSIX";
  }
  auto got = receive_socket<tcp4_socket>(ch.b, 5s);
  EXPECT_TRUE(got.is_open());
  // The Windows-only forms say so.
  const auto bytes = share_socket(t.server, 1234, ec);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
  EXPECT_TRUE(bytes.empty());
  open_shared_socket<tcp4_socket>(nullptr, 0, ec);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
}

}  // namespace
