// What a real Windows host does that Wine cannot show, driven through
// policies that record what the socket layer asks of them (here and under
// Wine):
//   - a Hyper-V connect is HVSOCKET_CONNECT_TIMEOUT plus a blocking connect
//     (what Microsoft documents for AF_HYPERV), capped at 300000 ms;
//   - an unconnected UDP socket has SIO_UDP_CONNRESET turned off; a connected
//     one keeps it.
// And what the real OS answers where it can: an unconnected UDP socket sees
// no error for an earlier send's ICMP port-unreachable (Linux, Wine, and
// Windows once SIO_UDP_CONNRESET is off).
#include <vmsock/any_socket.hpp>
#include <vmsock/socket.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace vmsock {
struct winsock_policy;
}

namespace {

using namespace std::chrono_literals;
using namespace vmsock;

struct recorded {
  std::string what;
  std::int64_t value = 0;
};
std::vector<recorded>& calls() {
  static std::vector<recorded> v;
  return v;
}

// Hyper-V as the socket layer sees it on Windows: its sockets connect inside
// the OS.  The handles are real IPv4 sockets, so that closing them is real.
struct hv_connect_policy : default_policy {
  using base_policy = winsock_policy;  // os_address: an hv_endpoint travels as itself
  static constexpr bool connect_in_os(int family) noexcept { return family == hv::address_family; }
  static handle open(int, socket_type type, int, std::error_code& ec) noexcept {
    return default_policy::open(AF_INET, type, 0, ec);
  }
  static void set_option(handle, option_id id, const option_value& v, std::error_code& ec) noexcept {
    calls().push_back({id == option_id::hv_connect_timeout ? "hv_connect_timeout" : "option", v.value});
    ec.clear();
  }
  static void set_nonblocking(handle h, bool on, std::error_code& ec) noexcept {
    calls().push_back({on ? "nonblocking" : "blocking", 0});
    default_policy::set_nonblocking(h, on, ec);
  }
  static void connect(handle, const void*, std::size_t len, std::error_code& ec) noexcept {
    calls().push_back({"connect", static_cast<std::int64_t>(len)});
    ec.clear();
  }
  static wait_result poll(handle, wait_type, wake_handle, const deadline&, std::error_code& ec) noexcept {
    calls().push_back({"poll", 0});
    ec.clear();
    return wait_result::ready;
  }
};
using hv_socket = stream_socket<hv_endpoint, hv_connect_policy>;

TEST(HyperVConnect, ATimedConnectSetsTheOsTimeoutAndBlocks) {
  calls().clear();
  std::error_code ec;
  auto s = hv_socket::connect(hv_endpoint::for_port(hv::vm_id::parent, 5000), 5s, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(s.is_open());
  ASSERT_GE(calls().size(), 3u);
  EXPECT_EQ(calls()[0].what, "hv_connect_timeout");
  EXPECT_GT(calls()[0].value, 4'900'000);  // microseconds: about the 5 s asked for
  EXPECT_LE(calls()[0].value, 5'000'000);
  // Blocking for the connect, whatever the socket's mode inside the OS, and
  // no select() waiting for it.
  std::vector<std::string> order;
  for (const auto& c : calls()) order.push_back(c.what);
  const auto at = [&](const char* w) {
    for (std::size_t i = 0; i < order.size(); ++i)
      if (order[i] == w) return static_cast<int>(i);
    return -1;
  };
  ASSERT_NE(at("connect"), -1);
  EXPECT_EQ(calls()[static_cast<std::size_t>(at("connect"))].value,
            static_cast<std::int64_t>(hv_endpoint::native_size()));
  if (at("blocking") != -1) {
    EXPECT_LT(at("blocking"), at("connect"));
  }
  EXPECT_EQ(at("poll"), -1) << "an AF_HYPERV connect does not wait in select()";
}

TEST(HyperVConnect, NoDeadlineLeavesTheSocketsTimeout) {
  calls().clear();
  std::error_code ec;
  auto s = hv_socket::connect(hv_endpoint::for_port(hv::vm_id::parent, 5000), ec);
  ASSERT_FALSE(ec) << ec.message();
  for (const auto& c : calls()) EXPECT_NE(c.what, "hv_connect_timeout");
}

TEST(HyperVConnect, BeyondThreeHundredSecondsIsAClearErrorBeforeAnyCall) {
  calls().clear();
  std::error_code ec;
  auto s = hv_socket::connect(hv_endpoint::for_port(hv::vm_id::parent, 5000), 301s, ec);
  EXPECT_EQ(ec, errc::hv_connect_timeout_too_long) << ec.message();
  EXPECT_EQ(ec, std::errc::invalid_argument);
  for (const auto& c : calls()) EXPECT_NE(c.what, "connect");
  try {
    (void)hv_socket::connect(hv_endpoint::for_port(hv::vm_id::parent, 5000), 10min);
    ADD_FAILURE() << "connect did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()), "connect to hvsock://parent/5000: " +
                                         make_error_code(errc::hv_connect_timeout_too_long).message());
  }
  // Exactly the limit is allowed.
  calls().clear();
  auto ok = hv_socket::connect(hv_endpoint::for_port(hv::vm_id::parent, 5000), 299s, ec);
  EXPECT_FALSE(ec) << ec.message();
}

// ---- SIO_UDP_CONNRESET ---------------------------------------------------------

struct udp_recording_policy : default_policy {
  static void set_udp_connreset(handle h, bool on, std::error_code& ec) noexcept {
    calls().push_back({on ? "connreset on" : "connreset off", 0});
    default_policy::set_udp_connreset(h, on, ec);
  }
};

TEST(UdpConnReset, UnconnectedUdpSocketsTurnItOffConnectedOnesKeepIt) {
  calls().clear();
  auto a = datagram_socket<inet4_endpoint, udp_recording_policy>::open();
  ASSERT_EQ(calls().size(), 1u);
  EXPECT_EQ(calls()[0].what, "connreset off");
  auto b = datagram_socket<inet6_endpoint, udp_recording_policy>::open(inet6_endpoint::loopback(0));
  EXPECT_EQ(calls().size(), 2u);
  calls().clear();
  auto c = datagram_socket<inet4_endpoint, udp_recording_policy>::connect(inet4_endpoint::loopback(9));
  EXPECT_TRUE(calls().empty()) << "a connected socket keeps the OS's default";
}

// The OS's own answer, and (on Windows) the ioctl's.
TEST(UdpConnReset, AnIcmpUnreachableIsNoErrorForAnUnconnectedSocket) {
  auto u = udp4_socket::open(inet4_endpoint::loopback(0));
  inet4_endpoint dead;
  {
    auto d = udp4_socket::open(inet4_endpoint::loopback(0));
    dead = d.local_endpoint();
  }
  u.send_to(std::string("x"), dead);
  char buf[8];
  inet4_endpoint from;
  std::error_code ec;
  u.receive_from(vmsock::buffer(buf, sizeof buf), from, 300ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message() << " (SIO_UDP_CONNRESET still on?)";
#if VMSOCK_WINDOWS
  std::error_code io;
  winsock_policy::set_udp_connreset(u.native_handle(), false, io);
  EXPECT_FALSE(io) << "WSAIoctl(SIO_UDP_CONNRESET): " << io.message();
#endif
}

// Windows cannot say how long a truncated datagram was, but its sender is
// always there.
TEST(TruncatedDatagrams, TheSenderIsAlwaysFilledIn) {
  auto r = udp4_socket::open(inet4_endpoint::loopback(0));
  auto s = udp4_socket::open(inet4_endpoint::loopback(0));
  s.send_to(std::string(100, 'z'), r.local_endpoint());
  char small[10];
  inet4_endpoint from;
  std::error_code ec;
  const std::size_t n = r.receive_from(vmsock::buffer(small, sizeof small), from, 10s, ec);
  EXPECT_EQ(ec, errc::message_truncated) << ec.message();
  EXPECT_EQ(from, s.local_endpoint());
#if VMSOCK_WINDOWS
  EXPECT_EQ(n, sizeof small) << "Windows reports the bytes stored";
#else
  EXPECT_EQ(n, 100u) << "POSIX reports the datagram's length (MSG_TRUNC)";
#endif
}

// ---- Winsock's start-up reference across several attempts -----------------------

struct startup_counting_policy : default_policy {
  static int& starts() {
    static int n = 0;
    return n;
  }
  static int& stops() {
    static int n = 0;
    return n;
  }
  static bool startup(std::error_code& ec) noexcept {
    ++starts();
    ec.clear();
    return true;
  }
  static void cleanup() noexcept { ++stops(); }
};

TEST(StartupHold, ConnectFirstAndListenAllHoldOneReferenceAcrossTheirAttempts) {
  std::vector<any_endpoint> dead;
  for (int i = 0; i < 3; ++i) {
    auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
    dead.push_back(any_endpoint(l.local_endpoint()));
  }
  std::error_code ec;
  auto s = connect_first<startup_counting_policy>(dead, 5s, ec);
  EXPECT_EQ(ec, std::errc::connection_refused);
  EXPECT_EQ(startup_counting_policy::starts(), 1);
  EXPECT_EQ(startup_counting_policy::stops(), 1);
  auto all = basic_any_listener<startup_counting_policy>::listen_all(
      {any_endpoint::parse("tcp://127.0.0.1:0"), any_endpoint::parse("tcp://[::1]:0")}, 8, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(startup_counting_policy::starts(), 2);
  EXPECT_EQ(startup_counting_policy::stops(), 2);
}

// ---- port reservations: the association comes before bind ------------------------

struct reservation_recording_policy : default_policy {
  static void associate_port_reservation(handle, std::uint64_t token, std::error_code& ec) noexcept {
    calls().push_back({"associate", static_cast<std::int64_t>(token)});
    ec.clear();
  }
  static void bind(handle h, const void* sa, std::size_t len, std::error_code& ec) noexcept {
    calls().push_back({"bind", 0});
    default_policy::bind(h, sa, len, ec);
  }
};

TEST(PortReservation, TheAssociationIsMadeBeforeBindInEveryForm) {
  using l4 = listener<inet4_endpoint, reservation_recording_policy>;
  using s4 = stream_socket<inet4_endpoint, reservation_recording_policy>;
  calls().clear();
  auto l = l4::listen(inet4_endpoint::loopback(0), vmsock::associate_port_reservation{77});
  ASSERT_EQ(calls().size(), 2u);
  EXPECT_EQ(calls()[0].what, "associate");
  EXPECT_EQ(calls()[0].value, 77);
  EXPECT_EQ(calls()[1].what, "bind");
  calls().clear();
  auto c = s4::connect(l.local_endpoint(), inet4_endpoint::loopback(0), 10s);
  calls().clear();
  std::error_code ec;
  auto k = connector<s4>::open();
  vmsock::associate_port_reservation{78}.apply(k, ec);
  k.bind(inet4_endpoint::loopback(0));
  ASSERT_EQ(calls().size(), 2u);
  EXPECT_EQ(calls()[0].what, "associate");
  EXPECT_EQ(calls()[1].what, "bind");
  // On POSIX the real call says there is no such thing, naming the step.
#if VMSOCK_POSIX
  try {
    tcp4_listener::listen(inet4_endpoint::loopback(0), vmsock::associate_port_reservation{5});
    ADD_FAILURE() << "listen did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::unsupported_on_platform);
    EXPECT_EQ(std::string(e.what()), "listen on tcp://127.0.0.1:0: associate_port_reservation=5: " +
                                         make_error_code(errc::unsupported_on_platform).message());
  }
#endif
}

// ---- IPv6 listeners are dual-stack on every platform ------------------------------

TEST(DualStack, AnIpv6ListenerTakesIpv4ClientsByDefault) {
  auto l = tcp6_listener::listen(inet6_endpoint::any(0));
  EXPECT_FALSE(l.get_option<v6_only>().value) << "vmsock's default, Linux's and Windows' alike";
  auto c = tcp4_socket::connect(inet4_endpoint::loopback(l.local_endpoint().port), 10s);
  inet6_endpoint peer;
  auto s = l.accept(10s, peer);
  EXPECT_EQ(peer.to_string(), "[::ffff:127.0.0.1]:" + std::to_string(c.local_endpoint().port));
  auto explicit_form = tcp6_listener::open();
  EXPECT_FALSE(explicit_form.get_option<v6_only>().value);
}

}  // namespace
