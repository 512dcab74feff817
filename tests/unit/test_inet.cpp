// inet.hpp and detail/ip_text.hpp: IPv4/IPv6 endpoints, their address text
// (RFC 5952 output, RFC 4291 input) and sockaddr_in/sockaddr_in6.  The C
// library's inet_pton/inet_ntop (Winsock's on Windows) serve as an independent
// oracle.
#include <vmsock/endpoint/inet.hpp>

#include "unit_support.hpp"

#if VMSOCK_WINDOWS
#  include <ws2tcpip.h>  // Winsock's inet_pton/inet_ntop (Windows Vista and later)
#else
#  include <arpa/inet.h>
#endif

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace {

using vmsock::inet4_endpoint;
using vmsock::inet6_endpoint;
using vmsock_test::expect_parse_error;
using vmsock_test::random_int;

using v6bytes = std::array<std::uint8_t, 16>;

static_assert(inet4_endpoint::parse("127.0.0.1:80") == inet4_endpoint::loopback(80));
static_assert(inet4_endpoint::parse("tcp://0.0.0.0:0") == inet4_endpoint::any(0));
static_assert(inet6_endpoint::parse("udp://[::1]:80") == inet6_endpoint::loopback(80));
static_assert(inet6_endpoint::parse("[::]:65535") == inet6_endpoint::any(65535));
static_assert(inet6_endpoint::parse("[fe80::1%7]:1").scope_id == 7);
static_assert(!inet6_endpoint::try_parse("::1:80").has_value());
static_assert(inet4_endpoint::protocol == 0 && inet6_endpoint::protocol == 0);

std::string ntop6(const v6bytes& a) {
  char buf[INET6_ADDRSTRLEN];
  EXPECT_NE(::inet_ntop(AF_INET6, a.data(), buf, sizeof buf), nullptr);
  return buf;
}

std::string print6(const v6bytes& a) {
  std::string s;
  vmsock::detail::append_ipv6(s, a);
  return s;
}

v6bytes random6() {
  // Each group zero half of the time, so that runs of zeros of every length
  // and position (and ties between runs) come up.
  v6bytes a{};
  for (std::size_t g = 0; g < 8; ++g) {
    if (random_int(0, 1) == 0) continue;
    const auto v = random_int<std::uint16_t>(1, 0xffff);
    a[2 * g] = static_cast<std::uint8_t>(v >> 8);
    a[2 * g + 1] = static_cast<std::uint8_t>(v & 0xff);
  }
  return a;
}

// ---- IPv4 -----------------------------------------------------------------------------
TEST(Inet4, NativeStruct) {
  EXPECT_EQ(inet4_endpoint::family, AF_INET);
  EXPECT_EQ(inet4_endpoint::native_size(), sizeof(sockaddr_in));
  const auto sa = inet4_endpoint::parse("192.0.2.33:8080").to_native();
  EXPECT_EQ(sa.sin_family, AF_INET);
  EXPECT_EQ(ntohs(sa.sin_port), 8080);
  EXPECT_EQ(ntohl(sa.sin_addr.s_addr), 0xc0000221u);
  for (auto z : sa.sin_zero) EXPECT_EQ(z, 0);
  vmsock_test::expect_from_native_rejects(inet4_endpoint::loopback(1), sizeof(sockaddr_in));
}

TEST(Inet4, TextForms) {
  EXPECT_EQ(inet4_endpoint::loopback(80).to_string(), "127.0.0.1:80");
  EXPECT_EQ(inet4_endpoint::any(0).to_string(), "0.0.0.0:0");
  EXPECT_EQ((inet4_endpoint{{255, 255, 255, 255}, 65535}).to_string(), "255.255.255.255:65535");
  vmsock_test::expect_parses_to("tcp://10.1.2.3:4", inet4_endpoint{{10, 1, 2, 3}, 4});
  vmsock_test::expect_parses_to("udp://10.1.2.3:4", inet4_endpoint{{10, 1, 2, 3}, 4});
  vmsock_test::expect_parses_to("TCP://10.1.2.3:4", inet4_endpoint{{10, 1, 2, 3}, 4});
  vmsock_test::expect_parses_to("10.1.2.3:4", inet4_endpoint{{10, 1, 2, 3}, 4});
  for (int i = 0; i < 1000; ++i) {
    const inet4_endpoint ep{{random_int<std::uint8_t>(0, 255), random_int<std::uint8_t>(0, 255),
                             random_int<std::uint8_t>(0, 255), random_int<std::uint8_t>(0, 255)},
                            random_int<std::uint16_t>(0, 65535)};
    const std::string text = ep.to_string();
    vmsock_test::expect_text_round_trip<inet4_endpoint>(text);
    // The address part agrees with the C library both ways.
    const auto host = text.substr(0, text.rfind(':'));
    in_addr oracle{};
    ASSERT_EQ(::inet_pton(AF_INET, host.c_str(), &oracle), 1) << host;
    EXPECT_EQ(0, std::memcmp(&oracle, ep.address.data(), 4));
    char buf[INET_ADDRSTRLEN];
    ASSERT_NE(::inet_ntop(AF_INET, ep.address.data(), buf, sizeof buf), nullptr);
    EXPECT_EQ(host, buf);
  }
}

// Every error says where it is, as an offset into the text given (scheme
// included).
TEST(Inet4, ParseErrorPositions) {
  vmsock_test::expect_errors_at<inet4_endpoint>({
      {"ftp://1.2.3.4:5", "unknown scheme", 0},
      {"tcp://[::1]:80", "an IPv6 address", 6},
      {"tcp://127.0.0.1", "missing ':PORT'", 15},
      {"tcp://1::2:80", "an IPv6 address", 7},
      {"tcp://127.0.0.256:80", "above 255", 14},
      {"tcp://127.0.x.1:80", "not a decimal number", 12},
      {"tcp://1.2.3.4.5:6", "more than four parts", 13},
      {"127.0.0:80", "needs four parts", 7},
      {"tcp://1..2.3:4", "empty part", 8},
      {"tcp://127.0.0.1:", "empty port", 16},
      {"tcp://127.0.0.1:8x", "not a decimal number", 17},
      {"tcp://127.0.0.1:65536", "port out of range", 16},
      {"udp://127.0.0.1:080", "leading zeros", 16},
  });
}

TEST(Inet4, ParseErrors) {
  const std::string kind = "IPv4 endpoint";
  vmsock_test::expect_parse_errors<inet4_endpoint>(
      kind, {
                {"", "missing ':PORT'"},
                {"1.2.3.4", "missing ':PORT'"},
                {"1.2.3.4:", "empty port"},
                {":80", "empty IPv4 address"},
                {"1.2.3:80", "four parts"},
                {"1.2.3.4.5:80", "more than four parts"},
                {"1..3.4:80", "empty part"},
                {"1.2.3.:80", "empty part"},
                {"256.1.1.1:80", "above 255"},
                {"1.1.1.99999999999999999999:80", "above 255"},
                {"01.1.1.1:80", "leading zeros"},
                {"1.1.1.00:80", "leading zeros"},
                {"1.1.1.a:80", "not a decimal number"},
                {" 1.1.1.1:80", "not a decimal number"},
                {"1.1.1.1:65536", "port out of range"},
                {"1.1.1.1:99999999999999999999999", "port out of range"},
                {"1.1.1.1:080", "leading zeros"},
                {"1.1.1.1:-1", "port is not a decimal number"},
                {"1.1.1.1:80 ", "port is not a decimal number"},
                {"1.1.1.1:http", "port is not a decimal number"},
                {"localhost:80", "four parts"},
                {"http://1.1.1.1:80", "unknown scheme"},
                {"vsock://1.1.1.1:80", "unknown scheme"},
                {"[::1]:80", "an IPv6 address"},
                {"::1:80", "an IPv6 address"},
                {"tcp://::ffff:1.2.3.4:80", "an IPv6 address"},
                {vmsock_test::bytes("1.1.1.1:80\0"), "port is not a decimal"},
                {vmsock_test::bytes("1.1.1\0.1:80"), "not a decimal number"},
            });
}

// ---- IPv6 address text -------------------------------------------------------------------
TEST(Inet6, Rfc5952Output) {
  struct output_case {
    const char* in;
    const char* out;
  };
  const output_case cases[] = {
      {"0:0:0:0:0:0:0:0", "::"},
      {"0:0:0:0:0:0:0:1", "::1"},
      {"1:0:0:0:0:0:0:0", "1::"},
      {"2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"},  // 4.1 leading zeros
      {"2001:DB8::ABCD", "2001:db8::abcd"},                          // 4.3 lower case
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},              // 4.2.2 one zero group stays
      {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},                       // 4.2.3 longest run
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},                 // 4.2.3 tie: first run
      {"0:0:1:0:0:1:0:0", "::1:0:0:1:0:0"},                          // tie at both ends
      {"1:0:0:2:0:0:0:0", "1:0:0:2::"},                              // longest at the end
      {"0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1"},                        // no run of two
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
      {"fe80::", "fe80::"},
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},  // 5: IPv4-mapped in dotted form
      {"::ffff:c000:201", "::ffff:192.0.2.1"},
      {"0:0:0:0:0:ffff:0:0", "::ffff:0.0.0.0"},
      {"::1:ffff:c000:201", "::1:ffff:c000:201"},  // not mapped: a group before ffff
      {"::ffff:0:c000:201", "::ffff:0:c000:201"},  // not mapped: ffff one group early
      {"::c000:201", "::c000:201"},                // IPv4-compatible (deprecated): hex
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
  };
  for (const auto& c : cases) {
    const auto parsed = vmsock::detail::parse_ipv6(c.in);
    ASSERT_TRUE(parsed) << c.in << ": " << parsed.error;
    EXPECT_EQ(print6(parsed.value), c.out) << c.in;
    in6_addr oracle{};
    ASSERT_EQ(::inet_pton(AF_INET6, c.in, &oracle), 1) << c.in;
    EXPECT_EQ(0, std::memcmp(&oracle, parsed.value.data(), 16)) << c.in;
  }
}

// Random addresses: the printed form is what the C library prints (it also
// follows RFC 5952), except for IPv4-compatible addresses ::a.b.c.d, which
// glibc prints dotted and RFC 5952 leaves in hex.  Each printed form parses
// back to the same bytes, by vmsock and by inet_pton.
TEST(Inet6, RandomAddressesAgreeWithTheCLibrary) {
  for (int i = 0; i < 3000; ++i) {
    const v6bytes a = random6();
    const std::string text = print6(a);
    bool compat = true;
    for (std::size_t k = 0; k < 12; ++k) compat = compat && a[k] == 0;
    if (!compat) {
      EXPECT_EQ(text, ntop6(a));
    }
    const auto back = vmsock::detail::parse_ipv6(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(back.value, a) << text;
    in6_addr oracle{};
    ASSERT_EQ(::inet_pton(AF_INET6, text.c_str(), &oracle), 1) << text;
    EXPECT_EQ(0, std::memcmp(&oracle, a.data(), 16)) << text;
  }
}

// Every legal spelling of one address: full, leading zeros, upper case, each
// place "::" can stand, dotted tail.  Each parses to the same bytes as
// inet_pton gives.
TEST(Inet6, ParsesEveryLegalForm) {
  const char* forms[] = {
      "2001:db8:0:0:0:0:0:1",
      "2001:0db8:0000:0000:0000:0000:0000:0001",
      "2001:DB8::1",
      "2001:db8::0:1",
      "2001:db8:0::1",
      "2001:db8:0:0::0:0:1",
      "2001:db8::0.0.0.1",
      "2001:db8:0:0:0:0:0.0.0.1",
      "::",
      "::0",
      "0::",
      "0::0",
      "::0:0:0:0:0:0:0",
      "0:0:0:0:0:0:0::",
      "::1",
      "0:0:0:0:0:0:0:1",
      "::0.0.0.1",
      "::ffff:1.2.3.4",
      "::FFFF:1.2.3.4",
      "0:0:0:0:0:ffff:1.2.3.4",
      "1:2:3:4:5:6:7::",
      "::2:3:4:5:6:7:8",
      "1::3:4:5:6:7:8",
      "1:2:3:4:5:6::8",
      "1:2:3:4:5::7:8",
      "1:2:3:4::6:7:8",
      "1:2:3::5:6:7:8",
      "1:2::4:5:6:7:8",
      "1:2:3:4:5:6:1.2.3.4",
      "1::1.2.3.4",
      "fFfF::",
  };
  for (const char* text : forms) {
    const auto parsed = vmsock::detail::parse_ipv6(text);
    ASSERT_TRUE(parsed) << text << ": " << parsed.error;
    in6_addr oracle{};
    ASSERT_EQ(::inet_pton(AF_INET6, text, &oracle), 1) << text;
    EXPECT_EQ(0, std::memcmp(&oracle, parsed.value.data(), 16)) << text;
  }
}

// Illegal address texts: refused by vmsock with a reason, and by inet_pton.
TEST(Inet6, RejectsIllegalForms) {
  const vmsock_test::bad_input cases[] = {
      {"", "empty IPv6 address"},
      {":", "starts with a single ':'"},
      {":1::", "starts with a single ':'"},
      {":::", "bad character"},
      {"1:::2", "bad character"},
      {"1::2::3", "'::' appears more than once"},
      {"::1::", "'::' appears more than once"},
      {"1:2:3:4:5:6:7", "fewer than eight groups"},
      {"1:2:3:4:5:6:7:8:9", "more than eight groups"},
      {"1:2:3:4::5:6:7:8", "at least one zero group"},
      {"::1:2:3:4:5:6:7:8", "at least one zero group"},
      {"1:2:3:4:5:6:7:8::", "at least one zero group"},
      {"12345::", "longer than four hex digits"},
      {"00001::", "longer than four hex digits"},
      {"1:2:3:4:5:6:7:", "ends with a single ':'"},
      {"1:", "ends with a single ':'"},
      {"g::", "bad character"},
      {"1:2:3:4:5:6:7:8 ", "bad character"},
      {" ::1", "bad character"},
      {"::1%1", "bad character"},
      {"[::1]", "bad character"},
      {"1.2.3.4", "fewer than eight groups"},
      {"::1.2.3", "four parts"},
      {"::1.2.3.4.5", "more than four parts"},
      {"::1.2.3.256", "above 255"},
      {"::1.2.3.04", "leading zeros"},
      {"::1.2.3.4:1", "not a decimal number"},
      {"1.2.3.4::", "not a decimal number"},
      {"::a.2.3.4", "not a decimal number"},
      {"1:2:3:4:5:6:7:1.2.3.4", "IPv4 tail after too many IPv6 groups"},
      {"::1:2:3:4:5:6:1.2.3.4", "at least one zero group"},
  };
  for (const auto& c : cases) {
    const auto parsed = vmsock::detail::parse_ipv6(c.text);
    EXPECT_FALSE(parsed) << c.text;
    if (!parsed) {
      EXPECT_NE(std::string_view(parsed.error).find(c.reason), std::string::npos)
          << c.text << ": " << parsed.error;
    }
    // Winsock's inet_pton (Wine 8's, at least) takes a leading zero in the
    // IPv4 tail, which RFC 4291's grammar and glibc refuse: there the oracle
    // has no say.
    if (VMSOCK_WINDOWS && c.reason == "leading zeros") continue;
    in6_addr oracle{};
    EXPECT_NE(::inet_pton(AF_INET6, std::string(c.text).c_str(), &oracle), 1) << c.text;
  }
  const std::string with_nul("::1\0", 4);
  EXPECT_FALSE(vmsock::detail::parse_ipv6(with_nul));
}

// ---- IPv6 endpoints ----------------------------------------------------------------------
TEST(Inet6, NativeStruct) {
  EXPECT_EQ(inet6_endpoint::family, AF_INET6);
  EXPECT_EQ(inet6_endpoint::native_size(), sizeof(sockaddr_in6));
  const auto ep = inet6_endpoint::parse("[fe80::1234%3]:443");
  const auto sa = ep.to_native();
  EXPECT_EQ(sa.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sa.sin6_port), 443);
  EXPECT_EQ(sa.sin6_scope_id, 3u);
  EXPECT_EQ(sa.sin6_flowinfo, 0u);
  in6_addr oracle{};
  ASSERT_EQ(::inet_pton(AF_INET6, "fe80::1234", &oracle), 1);
  EXPECT_EQ(0, std::memcmp(&oracle, &sa.sin6_addr, 16));
  vmsock_test::expect_from_native_rejects(ep, sizeof(sockaddr_in6));
}

TEST(Inet6, TextForms) {
  EXPECT_EQ(inet6_endpoint::loopback(80).to_string(), "[::1]:80");
  EXPECT_EQ(inet6_endpoint::any(0).to_string(), "[::]:0");
  vmsock_test::expect_parses_to("tcp://[::1]:80", inet6_endpoint::loopback(80));
  vmsock_test::expect_parses_to("UDP://[0:0:0:0:0:0:0:1]:80", inet6_endpoint::loopback(80));
  // Scope 0 means none, so "%0" is accepted and printed without the suffix.
  vmsock_test::expect_parses_to("[::1%0]:80", inet6_endpoint::loopback(80));
  inet6_endpoint scoped = inet6_endpoint::parse("[fe80::1]:9");
  scoped.scope_id = 4294967295u;
  EXPECT_EQ(scoped.to_string(), "[fe80::1%4294967295]:9");
  for (const char* canonical : {"[::1]:80", "[fe80::1%2]:65535", "[::ffff:127.0.0.1]:1",
                                "[2001:db8::1:0:0:1]:0", "[1:2:3:4:5:6:7:8%99]:12345"})
    vmsock_test::expect_text_round_trip<inet6_endpoint>(canonical);
  for (int i = 0; i < 1000; ++i) {
    inet6_endpoint ep{random6(), random_int<std::uint16_t>(0, 65535), 0};
    if (i % 3 == 0) ep.scope_id = random_int<std::uint32_t>(1, 0xffffffffu);
    vmsock_test::expect_text_round_trip<inet6_endpoint>(ep.to_string());
  }
}

TEST(Inet6, ParseErrorPositions) {
  vmsock_test::expect_errors_at<inet6_endpoint>({
      {"ftp://[::1]:80", "unknown scheme", 0},
      {"tcp://", "empty endpoint", 6},
      {"tcp://::1:80", "in brackets", 6},
      {"tcp://[::1:80", "missing ']'", 13},
      {"tcp://[::g]:80", "bad character", 9},
      {"tcp://[fe80::1%]:80", "empty scope id", 15},
      {"tcp://[fe80::1%eth0]:80", "scope id must be", 15},
      {"tcp://[fe80::1%99999999999]:80", "scope id out of range", 15},
      {"tcp://[1:2:3:4:5:6:7:8:9]:80", "more than eight groups", 23},
      {"tcp://[1::2::3]:80", "more than once", 11},
      {"tcp://[12345::]:80", "longer than four", 7},
      {"tcp://[1:2:3:4:5:6:7]:80", "fewer than eight groups", 20},
      {"tcp://[::1.2.3.400]:80", "above 255", 15},
      {"tcp://[::1]:99999", "port out of range", 12},
      {"tcp://[::1]80", "expected ':PORT'", 11},
  });
}

TEST(Inet6, ParseErrors) {
  const std::string kind = "IPv6 endpoint";
  vmsock_test::expect_parse_errors<inet6_endpoint>(
      kind, {
                {"", "empty endpoint"},
                {"tcp://", "empty endpoint"},
                {"::1:80", "must be in brackets"},
                {"tcp://::1:80", "must be in brackets"},
                {"fe80::1%2:80", "must be in brackets"},
                {"127.0.0.1:80", "must be in brackets"},
                {"[::1:80", "missing ']'"},
                {"[::1]", "missing ':PORT'"},
                {"[::1]:", "empty port"},
                {"[::1]80", "expected ':PORT'"},
                {"[::1]]:80", "expected ':PORT'"},
                {"[::1]:65536", "port out of range"},
                {"[::1]:080", "leading zeros"},
                {"[::1]:8O", "port is not a decimal number"},
                {"[]:80", "empty IPv6 address"},
                {"[::1%]:80", "empty scope id"},
                {"[::1%eth0]:80", "numeric interface index"},
                {"[::1%4294967296]:80", "scope id out of range"},
                {"[::1%01]:80", "leading zeros"},
                {"[%1]:80", "empty IPv6 address"},
                {"[1::2::3]:80", "'::' appears more than once"},
                {"[12345::]:80", "longer than four hex digits"},
                {"[[::1]]:80", "bad character"},
                {"https://[::1]:80", "unknown scheme"},
                {vmsock_test::bytes("[::1\0]:80"), "bad character"},
                {vmsock_test::bytes("[::1]:80\0"), "port is not a decimal"},
            });
}

}  // namespace
