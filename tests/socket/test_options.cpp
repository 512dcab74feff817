// Typed options on real sockets: set, read back, validation, platform limits.
#include <vmsock/socket/options.hpp>

#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

namespace {

using namespace vmsock;
using namespace std::chrono_literals;

TEST(Options, BooleansRoundTrip) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  // IP listeners get SO_REUSEADDR on POSIX; on Windows it would let another
  // socket steal the port, so they do not.
  EXPECT_EQ(l.get_option<reuse_address>().value, default_policy::listener_reuse_address);
  auto s = tcp4_socket::connect(l.local_endpoint());
  for (bool on : {true, false}) {
    s.set_option(keep_alive{on});
    EXPECT_EQ(s.get_option<keep_alive>().value, on);
    s.set_option(tcp_no_delay{on});
    EXPECT_EQ(s.get_option<tcp_no_delay>().value, on);
    s.set_option(reuse_address{on});
    EXPECT_EQ(s.get_option<reuse_address>().value, on);
  }
  // IPV6_V6ONLY must be set before bind.
  std::error_code ec;
  auto v6 = basic_socket<inet6_endpoint>::open(socket_type::stream, ec);
  ASSERT_FALSE(ec) << ec.message();
  v6.set_option(v6_only{true});
  EXPECT_TRUE(v6.get_option<v6_only>().value);
  v6.bind(inet6_endpoint::any(0));
  v6.set_option(v6_only{false}, ec);
  EXPECT_EQ(ec, std::errc::invalid_argument) << "too late once bound";
}

TEST(Options, SizesTimeoutsAndLinger) {
  auto u = udp4_socket::open(inet4_endpoint::loopback(0));
  u.set_option(receive_buffer_size{65536});
  // Linux doubles the value for its bookkeeping; never less than asked.
  EXPECT_GE(u.get_option<receive_buffer_size>().value, 65536);
  u.set_option(send_buffer_size{32768});
  EXPECT_GE(u.get_option<send_buffer_size>().value, 32768);

  EXPECT_EQ(u.get_option<receive_timeout>().value, no_timeout) << "none by default";
  // The kernel keeps timeouts in clock ticks and may round up by one.
  u.set_option(receive_timeout{250ms});
  EXPECT_GE(u.get_option<receive_timeout>().value, 250ms);
  EXPECT_LE(u.get_option<receive_timeout>().value, 270ms);
  u.set_option(send_timeout{1500ms});
  EXPECT_GE(u.get_option<send_timeout>().value, 1500ms);
  EXPECT_LE(u.get_option<send_timeout>().value, 1520ms);
  u.set_option(receive_timeout{no_timeout});
  EXPECT_EQ(u.get_option<receive_timeout>().value, no_timeout);

  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto s = tcp4_socket::connect(l.local_endpoint());
  s.set_option(vmsock::linger{true, std::chrono::seconds{7}});
  const auto lg = s.get_option<vmsock::linger>();
  EXPECT_TRUE(lg.enabled);
  EXPECT_EQ(lg.time, std::chrono::seconds{7});
}

TEST(Options, InvalidValuesAreRefusedBeforeTheOsSeesThem) {
  auto u = udp4_socket::open(inet4_endpoint::loopback(0));
  std::error_code ec;
  u.set_option(receive_timeout{-5ms}, ec);
  EXPECT_EQ(ec, errc::invalid_option_value);
  EXPECT_EQ(ec, std::errc::invalid_argument);
  u.set_option(receive_buffer_size{-1}, ec);
  EXPECT_EQ(ec, errc::invalid_option_value);
  u.set_option(vmsock::linger{true, std::chrono::seconds{-1}}, ec);
  EXPECT_EQ(ec, errc::invalid_option_value);
  try {
    u.set_option(send_timeout{-2ms});
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("set_option send_timeout=-2ms on udp://127.0.0.1:"),
              std::string::npos)
        << e.what();
  }
}

// EBADF on POSIX, WSAENOTSOCK on Windows (INVALID_SOCKET is no socket).
TEST(Options, OptionsOnAClosedSocketFailCleanly) {
  const auto invalid = VMSOCK_WINDOWS ? std::errc::not_a_socket : std::errc::bad_file_descriptor;
  tcp4_socket s;
  std::error_code ec;
  s.set_option(keep_alive{true}, ec);
  EXPECT_EQ(ec, invalid) << ec.message();
  const auto v = s.get_option<keep_alive>(ec);
  EXPECT_EQ(ec, invalid) << ec.message();
  EXPECT_FALSE(v.value);
}

// Which options apply to which endpoint types is decided at compile time.
static_assert(tcp_no_delay::applies_to<inet4_endpoint>);
static_assert(tcp_no_delay::applies_to<inet6_endpoint>);
static_assert(!tcp_no_delay::applies_to<unix_endpoint>);
static_assert(!tcp_no_delay::applies_to<vsock_endpoint>);
static_assert(vsock_buffer_size::applies_to<vsock_endpoint>);
static_assert(!vsock_buffer_size::applies_to<inet4_endpoint>);
static_assert(!vsock_buffer_size::applies_to<hv_endpoint>);
static_assert(hv_connect_timeout::applies_to<hv_endpoint>);
static_assert(!hv_connect_timeout::applies_to<vsock_endpoint>);
static_assert(!hv_high_vtl::applies_to<inet6_endpoint>);
// A vsock_endpoint socket is AF_HYPERV on Windows: the Hyper-V socket options
// apply to it (its connect timeout is vsock_connect_timeout).
static_assert(hv_connected_suspend::applies_to<vsock_endpoint>);
static_assert(hv_high_vtl::applies_to<vsock_endpoint> &&
              hv_container_passthru::applies_to<vsock_endpoint>);
static_assert(!hv_connected_suspend::applies_to<unix_endpoint>);
static_assert(keep_alive::applies_to<unix_endpoint> && keep_alive::applies_to<hv_endpoint>);
static_assert(v6_only::applies_to<inet6_endpoint> && !v6_only::applies_to<inet4_endpoint>);

}  // namespace
