// Failures over real loopback sockets: each reaches the caller as an error that
// compares equal to the portable std::errc condition, with the operation and
// the endpoint in the exception's message.
#include <vmsock/socket.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

#include <csignal>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace vmsock;
using namespace std::chrono_literals;

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.what();
  }
  return "(no exception)";
}

// A port with nothing listening on it: bound once, then released.
inet4_endpoint closed_port() {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  return l.local_endpoint();
}

TEST(SocketErrors, ConnectionRefused) {
  const auto where = closed_port();
  std::error_code ec;
  auto s = tcp4_socket::connect(where, ec);
  EXPECT_FALSE(s.is_open());
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();

  const std::string what = message_of([&] { tcp4_socket::connect(where); });
  EXPECT_EQ(what, "connect to tcp://" + where.to_string() + ": " +
                      std::make_error_code(std::errc::connection_refused).message());
  // The timed path reports the same error.
  tcp4_socket::connect(where, 2s, ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
}

TEST(SocketErrors, ConnectionRefusedOverUnix) {
  vmsock_test::temp_socket_path p;
  std::error_code ec;
  unix_stream_socket::connect(unix_endpoint::path(p.path), ec);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory) << ec.message();
  {
    auto l = unix_listener::listen(unix_endpoint::path(p.path));
  }
  // The file stays after its listener closed: connecting is refused.
  unix_stream_socket::connect(unix_endpoint::path(p.path), ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
}

TEST(SocketErrors, AddressInUse) {
  auto first = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const auto where = first.local_endpoint();
  std::error_code ec;
  auto second = tcp4_listener::listen(where, ec);
  EXPECT_FALSE(second.is_open()) << "nothing half-open is left behind";
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
  const std::string what = message_of([&] { tcp4_listener::listen(where); });
  EXPECT_NE(what.find("listen on tcp://" + where.to_string()), std::string::npos) << what;

  auto u = udp4_socket::bind(inet4_endpoint::loopback(0));
  udp4_socket::bind(u.local_endpoint(), ec);
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();

  vmsock_test::temp_socket_path p;
  auto ul = unix_listener::listen(unix_endpoint::path(p.path));
  unix_listener::listen(unix_endpoint::path(p.path), ec);
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
}

// A listener whose accept queue is full drops new SYNs, so a connect to it
// never completes: the timed connect must give up with timed_out.
TEST(SocketErrors, ConnectTimeoutOnAFullBacklog) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0), 0);
  const auto where = l.local_endpoint();
  std::vector<tcp4_socket> queued;
  std::error_code ec;
  for (int i = 0; i < 16 && !ec; ++i) {
    auto s = tcp4_socket::connect(where, 300ms, ec);
    if (!ec) queued.push_back(std::move(s));
  }
  ASSERT_TRUE(ec) << "the backlog never filled";
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(ec, errc::timed_out);
  const std::string what = message_of([&] { tcp4_socket::connect(where, 100ms); });
  EXPECT_EQ(what, "connect to tcp://" + where.to_string() + ": operation timed out");
}

TEST(SocketErrors, ResetByPeer) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto client = tcp4_socket::connect(l.local_endpoint());
  {
    auto conn = l.accept();
    conn.set_option(vmsock::linger{true, std::chrono::seconds{0}});  // close() sends RST
  }
  std::error_code ec;
  char c;
  EXPECT_EQ(client.receive(&c, 1, ec), 0u);
  EXPECT_EQ(ec, std::errc::connection_reset) << ec.message();
}

TEST(SocketErrors, BrokenPipeWithoutSigpipe) {
  // The default disposition must survive: vmsock never changes it.
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &before), 0);
  ASSERT_EQ(before.sa_handler, SIG_DFL) << "the test needs SIGPIPE at its default (fatal)";

  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto client = tcp4_socket::connect(l.local_endpoint());
  l.accept().close();
  std::error_code ec;
  const std::string chunk(65536, 'p');
  std::vector<std::error_code> seen;
  for (int i = 0; i < 100 && seen.size() < 2; ++i) {
    client.send(chunk, ec);
    if (ec) seen.push_back(ec);
  }
  ASSERT_FALSE(seen.empty());
  // The first send after the peer's RST may report the reset; then EPIPE.
  EXPECT_EQ(seen.back(), std::errc::broken_pipe) << seen.back().message();
  const std::string what = message_of([&] { client.send(chunk); });
  EXPECT_NE(what.find("send to"), std::string::npos) << what;

  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, SIG_DFL);
}

TEST(SocketErrors, BrokenPipeOverUnix) {
  vmsock_test::temp_socket_path p;
  auto l = unix_listener::listen(unix_endpoint::path(p.path));
  auto client = unix_stream_socket::connect(unix_endpoint::path(p.path));
  l.accept().close();
  std::error_code ec;
  client.send(std::string("x"), ec);
  EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
}

// Counts the OS calls made, to prove a failure happened before any.
struct counting_policy : posix_policy {
  using base_policy = posix_policy;
  static inline int opens = 0;
  static handle open(int family, socket_type type, int protocol, std::error_code& ec) noexcept {
    ++opens;
    return posix_policy::open(family, type, protocol, ec);
  }
};

TEST(SocketErrors, HvEndpointWithoutMappingFailsBeforeAnySystemCall) {
  counting_policy::opens = 0;
  std::error_code ec;
  const hv_endpoint named_vm{guid::parse("6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f"),
                             *hv::service_id_from_port(5000)};
  auto s = stream_socket<hv_endpoint, counting_policy>::connect(named_vm, ec);
  EXPECT_EQ(ec, errc::no_mapping);
  EXPECT_EQ(counting_policy::opens, 0);
  EXPECT_FALSE(s.is_open());

  const hv_endpoint not_template{hv::vm_id::parent,
                                 guid::parse("11111111-2222-3333-4444-555555555555")};
  stream_socket<hv_endpoint, counting_policy>::connect(not_template, ec);
  EXPECT_EQ(ec, errc::not_a_template_service_id);
  EXPECT_EQ(counting_policy::opens, 0);

  const std::string what = message_of([&] { hv_stream_socket::connect(named_vm); });
  EXPECT_EQ(what, "connect to hvsock://6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f/5000: " +
                      make_error_code(errc::no_mapping).message());
}

TEST(SocketErrors, UnixPathTooLongIsRefusedNotTruncated) {
  const std::string longest(unix_endpoint::max_path, 'a');
  EXPECT_NO_THROW((void)unix_endpoint::path(longest));
  EXPECT_THROW((void)unix_endpoint::path(longest + "b"), parse_error);
}

TEST(SocketErrors, OperationsOnAClosedSocketReportBadDescriptor) {
  tcp4_socket s;
  std::error_code ec;
  char c;
  s.receive(&c, 1, ec);
  EXPECT_EQ(ec, std::errc::bad_file_descriptor) << ec.message();
  const std::string what = message_of([&] { s.send(&c, 1); });
  EXPECT_EQ(what, "send to a closed socket: " + ec.message()) << what;
}

}  // namespace
