// The error_code forms, built twice: as every other test is, and with
// -fno-exceptions (tests/noexcept/CMakeLists.txt).  The same source, the same
// assertions: the codes and the messages do not depend on whether exceptions
// exist.
#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace vmsock;

// What the OS answers for a closed handle: EBADF on POSIX, WSAENOTSOCK on
// Windows (as tests/socket/test_errors.cpp expects).
constexpr std::errc closed_handle =
    VMSOCK_WINDOWS ? std::errc::not_a_socket : std::errc::bad_file_descriptor;

TEST(ErrorForms, ParsingWithoutExceptions) {
  EXPECT_FALSE(guid::try_parse("not a guid"));
  EXPECT_TRUE(guid::try_parse("a42e7cda-d03f-480c-9cc2-a4de20abb878"));
  EXPECT_FALSE(vsock_endpoint::try_parse("vsock://2"));
  EXPECT_STREQ(vsock_endpoint::parse_detail("vsock://2").error, "missing ':' between CID and port");
  EXPECT_EQ(vsock_endpoint::parse_detail("vsock://2").position, 9u) << "where: the end";
  EXPECT_FALSE(hv_endpoint::try_for_port(hv::vm_id::parent, 0x80000000u));
  const auto r = any_endpoint::parse_detail("nope://x");
  EXPECT_FALSE(r);
  EXPECT_STREQ(r.error, "unknown scheme, expected vsock, hvsock, hybrid-vsock, tcp, udp or unix");
  EXPECT_EQ(r.position, 0u);
  EXPECT_EQ(any_endpoint::parse_detail("tcp://127.0.0.1:8x").position, 17u);
  EXPECT_TRUE(any_endpoint::try_parse("tcp://127.0.0.1:80"));
}

TEST(ErrorForms, SocketsWithoutExceptions) {
  std::error_code ec;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0), ec);
  ASSERT_FALSE(ec) << ec.message();
  const auto where = l.local_endpoint(ec);
  auto in_use = tcp4_listener::listen(where, ec);
  EXPECT_EQ(ec, std::errc::address_in_use);
  auto c = tcp4_socket::connect(where, 10s, ec);
  ASSERT_FALSE(ec) << ec.message();
  auto s = l.accept(10s, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(c.send_all(std::string("hello"), ec), 5u);
  std::string got(5, '\0');
  EXPECT_EQ(s.receive_exact(got, ec), 5u);
  EXPECT_EQ(got, "hello");
  s.close(ec);
  EXPECT_EQ(c.receive_exact(got, ec), 0u);
  EXPECT_EQ(ec, errc::end_of_stream);
  EXPECT_EQ(ec, errc::clean_end_of_stream) << "no byte had arrived";
  EXPECT_EQ(ec.message(),
            "peer closed the stream before the first byte (a clean end between messages)");
  // Refused, timed out, cancelled, closed, a bad option value.
  l.close(ec);
  tcp4_socket::connect(where, 10s, ec);
  EXPECT_EQ(ec, std::errc::connection_refused);
  auto l2 = tcp4_listener::listen(inet4_endpoint::loopback(0), ec);
  l2.accept(-5ms, ec);  // (-1 ms is no_timeout: forever)
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(ec.message(), "operation timed out");
  l2.cancel();
  l2.accept(10s, ec);
  EXPECT_EQ(ec, std::errc::operation_canceled);
  c.close(ec);
  c.receive(got, ec);
  EXPECT_EQ(ec, closed_handle);
  auto u = udp4_socket::open(inet4_endpoint::loopback(0), ec);
  u.set_option(receive_buffer_size{-1}, ec);
  EXPECT_EQ(ec, errc::invalid_option_value);
  EXPECT_EQ(ec.message(), "socket option value out of range");
}

TEST(ErrorForms, AnyTransportWithoutExceptions) {
  std::error_code ec;
  auto none = connect_first(
      std::vector<any_endpoint>{*any_endpoint::try_parse("udp://127.0.0.1:53")}, 1s, ec);
  EXPECT_EQ(ec, std::errc::wrong_protocol_type);
  auto all = any_listener::listen_all({*any_endpoint::try_parse("tcp://127.0.0.1:0")}, 8, ec);
  ASSERT_FALSE(ec) << ec.message();
  const auto* ep = all.local_endpoints()[0].get_if<inet4_endpoint>();
  ASSERT_NE(ep, nullptr);
  auto c = connect_first(std::vector<any_endpoint>{any_endpoint(*ep)}, 10s, ec);
  ASSERT_FALSE(ec) << ec.message();
  auto s = all.accept(10s, ec);
  ASSERT_FALSE(ec) << ec.message();
  c.set_option(vsock_buffer_size{4096}, ec);
  EXPECT_EQ(ec, errc::option_not_applicable);
  any_stream_socket empty;
  char b = 0;
  empty.receive(&b, 1, ec);
  EXPECT_EQ(ec, closed_handle);
}

}  // namespace
