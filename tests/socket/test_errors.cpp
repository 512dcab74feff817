// Failures over real loopback sockets: each reaches the caller as an error that
// compares equal to the portable std::errc condition, with the operation and
// the endpoint in the exception's message.  The same tests run on Windows;
// where Windows answers otherwise (no SIGPIPE, WSAENOTSOCK, no AF_UNIX under
// Wine) the test says so.
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

#if VMSOCK_POSIX
#  include <csignal>
#endif

#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace vmsock;
using namespace std::chrono_literals;
using vmsock_test::message_of;

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

  // The OS's own text: strerror's on POSIX, FormatMessage's on Windows.
  const std::string what = message_of([&] { tcp4_socket::connect(where); });
  EXPECT_EQ(what, "connect to tcp://" + where.to_string() + ": " + ec.message());
  // The timed path reports the same error.
  tcp4_socket::connect(where, 2s, ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
}

#if VMSOCK_POSIX
TEST(SocketErrors, ConnectionRefusedOverUnix) {
  vmsock_test::temp_socket_path p;
  std::error_code ec;
  unix_stream_socket::connect(unix_endpoint::path(p.path), ec);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory) << ec.message();
  { auto l = unix_listener::listen(unix_endpoint::path(p.path), vmsock::unlink_on_close{false}); }
  // The file stays after its listener closed: connecting is refused.
  unix_stream_socket::connect(unix_endpoint::path(p.path), ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
}
#endif

TEST(SocketErrors, AddressInUse) {
  auto first = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const auto where = first.local_endpoint();
  std::error_code ec;
  auto second = tcp4_listener::listen(where, ec);
  EXPECT_FALSE(second.is_open()) << "nothing half-open is left behind";
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
  const std::string what = message_of([&] { tcp4_listener::listen(where); });
  EXPECT_NE(what.find("listen on tcp://" + where.to_string()), std::string::npos) << what;

  auto u = udp4_socket::open(inet4_endpoint::loopback(0));
  udp4_socket::open(u.local_endpoint(), ec);
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();

#if VMSOCK_POSIX
  vmsock_test::temp_socket_path p;
  auto ul = unix_listener::listen(unix_endpoint::path(p.path));
  unix_listener::listen(unix_endpoint::path(p.path), ec);
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
#endif
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
  char c = 0;
  const std::size_t n = client.receive(&c, 1, ec);
  EXPECT_EQ(n, 0u);
  if (vmsock_test::wine_version() != nullptr) {
    // Wine 8 reads the reset as an end of stream (Windows and Linux report
    // it); the next send says what happened.
    EXPECT_FALSE(ec) << "Wine's answer changed: " << ec.message();
    client.send(&c, 1, ec);
  }
  EXPECT_EQ(ec, std::errc::connection_reset) << ec.message();
}

// A send after the peer closed is an error, never a signal or a crash.  POSIX:
// EPIPE (the first send after the peer's RST may report the reset), and
// SIGPIPE's default disposition survives (vmsock never changes it).  Windows
// has no SIGPIPE: the reset the peer's close caused (WSAECONNRESET, or
// WSAECONNABORTED once the stack has dropped the connection).
TEST(SocketErrors, BrokenPipeWithoutSigpipe) {
#if VMSOCK_POSIX
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &before), 0);
  ASSERT_EQ(before.sa_handler, SIG_DFL) << "the test needs SIGPIPE at its default (fatal)";
#endif

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
#if VMSOCK_POSIX
  EXPECT_EQ(seen.back(), std::errc::broken_pipe) << seen.back().message();
#else
  for (const auto& e : seen)
    EXPECT_TRUE(e == std::errc::connection_reset || e == std::errc::connection_aborted)
        << e.value() << ": " << e.message();
#endif
  const std::string what = message_of([&] { client.send(chunk); });
  EXPECT_NE(what.find("send to"), std::string::npos) << what;

#if VMSOCK_POSIX
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, SIG_DFL);
#endif
}

#if VMSOCK_POSIX
TEST(SocketErrors, BrokenPipeOverUnix) {
  vmsock_test::temp_socket_path p;
  auto l = unix_listener::listen(unix_endpoint::path(p.path));
  auto client = unix_stream_socket::connect(unix_endpoint::path(p.path));
  l.accept().close();
  std::error_code ec;
  client.send(std::string("x"), ec);
  EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
}
#endif

// Counts the OS calls made, to prove a failure happened before any.
struct counting_policy : default_policy {
  using base_policy = default_policy;
  static inline int opens = 0;
  static handle open(int family, socket_type type, int protocol, std::error_code& ec) noexcept {
    ++opens;
    return default_policy::open(family, type, protocol, ec);
  }
};

// The VM family that is not native here crosses over (an hv_endpoint travels as
// AF_VSOCK on Linux, a vsock_endpoint as AF_HYPERV on Windows); an endpoint with
// no such form fails before any system call, and the message names it.
#if VMSOCK_WINDOWS
using foreign_endpoint = vsock_endpoint;
const foreign_endpoint unmapped_vm{99, 5000};  // CID 99 names no Hyper-V VM id
constexpr const char* unmapped_vm_text = "vsock://99:5000";
#else
using foreign_endpoint = hv_endpoint;
const foreign_endpoint unmapped_vm{guid::parse("6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f"),
                                   *hv::service_id_from_port(5000)};  // a VM with no CID
constexpr const char* unmapped_vm_text = "hvsock://6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f/5000";
#endif

TEST(SocketErrors, EndpointWithoutMappingFailsBeforeAnySystemCall) {
  counting_policy::opens = 0;
  std::error_code ec;
  auto s = stream_socket<foreign_endpoint, counting_policy>::connect(unmapped_vm, ec);
  EXPECT_EQ(ec, errc::no_mapping);
  EXPECT_FALSE(s.is_open());
  auto s2 = stream_socket<foreign_endpoint, counting_policy>::connect(unmapped_vm, 1s, ec);
  EXPECT_EQ(ec, errc::no_mapping);
  EXPECT_FALSE(s2.is_open());
  EXPECT_EQ(counting_policy::opens, 0);

#if VMSOCK_POSIX
  const hv_endpoint not_template{hv::vm_id::parent,
                                 guid::parse("11111111-2222-3333-4444-555555555555")};
  stream_socket<hv_endpoint, counting_policy>::connect(not_template, ec);
  EXPECT_EQ(ec, errc::not_a_template_service_id);
  EXPECT_EQ(counting_policy::opens, 0);
#else
  // Ports above hv::max_port have no service id (VMADDR_PORT_ANY among them).
  stream_socket<vsock_endpoint, counting_policy>::connect(
      vsock_endpoint{vsock::cid::host, 0x80000000u}, ec);
  EXPECT_EQ(ec, errc::no_mapping);
  EXPECT_EQ(counting_policy::opens, 0);
#endif

  const std::string what =
      message_of([&] { stream_socket<foreign_endpoint>::connect(unmapped_vm); });
  EXPECT_EQ(what, std::string("connect to ") + unmapped_vm_text + ": " +
                      make_error_code(errc::no_mapping).message());
}

TEST(SocketErrors, UnixPathTooLongIsRefusedNotTruncated) {
  const std::string longest(unix_endpoint::max_path, 'a');
  EXPECT_NO_THROW((void)unix_endpoint::path(longest));
  EXPECT_THROW((void)unix_endpoint::path(longest + "b"), parse_error);
}

// The OS's answer for an invalid handle: EBADF on POSIX, WSAENOTSOCK on Windows
// (INVALID_SOCKET is no socket).
TEST(SocketErrors, OperationsOnAClosedSocketReportBadDescriptor) {
  tcp4_socket s;
  std::error_code ec;
  char c;
  s.receive(&c, 1, ec);
  EXPECT_EQ(ec, VMSOCK_WINDOWS ? std::errc::not_a_socket : std::errc::bad_file_descriptor)
      << ec.message();
  const std::string what = message_of([&] { s.send(&c, 1); });
  EXPECT_EQ(what, "send to a closed socket: " + ec.message()) << what;
}

#if VMSOCK_WINDOWS
// Wine 8 has no AF_UNIX: each Unix socket fails at its first system call with
// WSAEAFNOSUPPORT (== address_family_not_supported), and the message names
// the endpoint; a Unix SOCK_SEQPACKET socket is WSAESOCKTNOSUPPORT (Wine checks
// the type first), which no std::errc means.  Windows 10 1803+ has AF_UNIX
// streams, so this asserts Wine's answer and runs under Wine only.
TEST(WineAnswers, UnixSocketsAreAddressFamilyNotSupported) {
  VMSOCK_TEST_REQUIRE_WINE();
  vmsock_test::temp_socket_path p;
  const auto ep = unix_endpoint::path(p.path);
  std::error_code ec;
  const auto expect_wine = [&](const char* what) {
    EXPECT_EQ(ec.value(), WSAEAFNOSUPPORT) << what << ": " << ec.message();
    EXPECT_EQ(ec, std::errc::address_family_not_supported) << what;
  };
  auto l = unix_listener::listen(ep, ec);
  expect_wine("listen");
  EXPECT_FALSE(l.is_open());
  auto c = unix_stream_socket::connect(ep, 1s, ec);
  expect_wine("connect");
  EXPECT_FALSE(c.is_open());
  auto d = unix_datagram_socket::open(ep, ec);
  expect_wine("datagram bind");
  auto q = seqpacket_listener<unix_endpoint>::listen(ep, ec);
  EXPECT_EQ(ec.value(), WSAESOCKTNOSUPPORT) << ec.message();
  EXPECT_EQ(ec.default_error_condition().category(), ec.category()) << "unmapped";
  EXPECT_FALSE(q.is_open());
  unix_listener::listen(ep, ec);
  const std::string what = message_of([&] { unix_listener::listen(ep); });
  EXPECT_EQ(what, "listen on unix://" + p.path + ": " + ec.message());
  EXPECT_EQ(message_of([&] { unix_stream_socket::connect(ep); }),
            "connect to unix://" + p.path + ": " + ec.message());
}
#endif

}  // namespace
