// The ready-made peer filters (peer_filter.hpp) and the CIDR parser behind
// them (ip_network.hpp): parsing and its messages, matching, and the filters
// on real loopback listeners (TCP over IPv4 and IPv6, a dual-stack listener's
// IPv4-mapped peers, Unix peers by uid and gid with a child that changed its
// uid, any_listener across transports), the counts, no allocation per
// accepted peer.  Here and under Wine.  (10,000 refused peers without a
// descriptor leak: test_listener_filter.cpp.)
#include <vmsock/host/peer_filter.hpp>

#include <vmsock/any/listener.hpp>
#include <vmsock/endpoint/ip_network.hpp>
#include <vmsock/socket/aliases.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#if VMSOCK_LINUX
#  include <sys/wait.h>
#  include <unistd.h>
#endif

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// ---- allocation counting (this executable's global operator new) ----------
// Per thread; not inlined (GCC would see free() meet operator new and warn).
// Off under ThreadSanitizer (its runtime has its own) and on Windows.
#if VMSOCK_WINDOWS && !defined(VMSOCK_TEST_NO_ALLOCATION_COUNT)
#  define VMSOCK_TEST_NO_ALLOCATION_COUNT 1
#endif
#if !defined(VMSOCK_TEST_NO_ALLOCATION_COUNT)
#  include "counting_new.hpp"
#endif

namespace {

using namespace std::chrono_literals;
using namespace vmsock;
namespace peer = vmsock::peer;

// ---- ip_network: parsing, printing, matching ------------------------------------

constexpr std::array<std::uint8_t, 4> v4(int a, int b, int c, int d) {
  return {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b), static_cast<std::uint8_t>(c),
          static_cast<std::uint8_t>(d)};
}

// Parsed and matched at compile time.
static_assert(ip_network::parse("127.0.0.0/8").contains(v4(127, 1, 2, 3)));
static_assert(!ip_network::parse("127.0.0.0/8").contains(v4(128, 0, 0, 1)));
static_assert(ip_network::parse("10.1.0.0/16").prefix_length() == 16);
static_assert(ip_network::parse("::1/128").is_v6());
static_assert(ip_network::parse("::1").prefix_length() == 128);
static_assert(ip_network::parse("192.168.1.7").prefix_length() == 32);
static_assert(ip_network::parse("0.0.0.0/0").contains(v4(8, 8, 8, 8)));
static_assert(!ip_network::try_parse("127.0.0.1/8"));
static_assert(!ip_network::try_parse("::/129"));
static_assert(ip_network::parse_detail("10.0.0.0/33").error != nullptr);
static_assert(ip_network::v4(v4(10, 9, 8, 7), 8) == ip_network::parse("10.0.0.0/8"));

TEST(IpNetwork, ParsesAndPrintsCanonically) {
  const struct {
    const char* text;
    const char* printed;
    bool six;
    unsigned prefix;
  } cases[] = {
      {"127.0.0.0/8", "127.0.0.0/8", false, 8},
      {"10.1.0.0/16", "10.1.0.0/16", false, 16},
      {"192.168.1.7", "192.168.1.7/32", false, 32},
      {"0.0.0.0/0", "0.0.0.0/0", false, 0},
      {"255.255.255.255/32", "255.255.255.255/32", false, 32},
      {"172.16.0.0/12", "172.16.0.0/12", false, 12},
      {"::1/128", "::1/128", true, 128},
      {"::1", "::1/128", true, 128},
      {"::/0", "::/0", true, 0},
      {"FD00::/8", "fd00::/8", true, 8},
      {"fe80:0:0:0::/64", "fe80::/64", true, 64},
      {"2001:db8::/32", "2001:db8::/32", true, 32},
      {"::ffff:0.0.0.0/96", "::ffff:0.0.0.0/96", true, 96},
      {"2001:db8:0:0:0:0:0:2/127", "2001:db8::2/127", true, 127},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto n = ip_network::try_parse(c.text);
    ASSERT_TRUE(n.has_value()) << ip_network::parse_detail(c.text).error;
    EXPECT_EQ(n->is_v6(), c.six);
    EXPECT_EQ(n->prefix_length(), c.prefix);
    EXPECT_EQ(n->to_string(), c.printed);
    EXPECT_EQ(ip_network::parse(n->to_string()), *n) << "the printed form parses back";
  }
}

TEST(IpNetwork, HostBitsAreRefusedNamingTheNetwork) {
  EXPECT_FALSE(ip_network::try_parse("2001:db8::1/127"));
  try {
    (void)ip_network::parse("127.0.0.1/8");
    FAIL() << "parsed";
  } catch (const parse_error& e) {
    EXPECT_STREQ(e.what(),
                 "IP network \"127.0.0.1/8\": bits are set after the prefix length (the network is "
                 "127.0.0.0/8)");
  }
  try {
    (void)ip_network::parse("fd00::1/8");
    FAIL() << "parsed";
  } catch (const parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("(the network is fd00::/8)"), std::string::npos)
        << e.what();
  }
}

// Each error names the input, what is wrong and where (an offset into it).
TEST(IpNetwork, ErrorsNameTheInputAndWhatIsWrong) {
  const struct {
    const char* text;
    const char* why;
    std::size_t at;
  } cases[] = {
      {"", "empty network (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8)", 0},
      {"/8", "missing address before '/'", 0},
      {"10.0.0.0/", "empty prefix length after '/'", 9},
      {"10.0.0.0/33", "prefix length above 32 for an IPv4 network", 9},
      {"::/129", "prefix length above 128 for an IPv6 network", 3},
      {"10.0.0.0/08", "leading zeros are not allowed", 9},
      {"10.0.0.0/8/9", "more than one '/'", 10},
      {"10.0.0.0/ 8", "prefix length is not a decimal number", 9},
      {"10.0.0.0/-8", "prefix length is not a decimal number", 9},
      {"10.0.0.0/8x", "prefix length is not a decimal number", 10},
      {"[::1]/128", "no brackets around an IPv6 network (write fd00::/8)", 0},
      {"fe80::1%2/64", "a network has no scope id ('%')", 7},
      {"10.0.0/8", "IPv4 address needs four parts a.b.c.d", 6},
      {"10.0.0.256/32", "IPv4 address part above 255", 7},
      {"010.0.0.0/8", "leading zeros are not allowed", 0},
      {"localhost/8", "host names are not resolved: give an IPv4 or IPv6 address", 0},
      {"1.2.3.x/32", "host names are not resolved: give an IPv4 or IPv6 address", 6},
      {"fd00::g/8", "bad character in IPv6 address", 6},
      {"::1::/64", "'::' appears more than once in IPv6 address", 3},
      {" 10.0.0.0/8", "IPv4 address part is not a decimal number", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_FALSE(ip_network::try_parse(c.text));
    const auto d = ip_network::parse_detail(c.text);
    ASSERT_FALSE(d);
    EXPECT_STREQ(d.error, c.why);
    EXPECT_EQ(d.position, c.at);
    try {
      (void)ip_network::parse(c.text);
      ADD_FAILURE() << "parsed";
    } catch (const parse_error& e) {
      EXPECT_EQ(std::string(e.what()), "IP network " + detail::quote(c.text) + ": " + c.why +
                                           " (at offset " + std::to_string(c.at) + ")");
    }
  }
  // Bits after the prefix: the address and the length disagree, and the
  // message names the network meant instead of a place.
  EXPECT_EQ(ip_network::parse_detail("127.0.0.1/8").position, std::string_view::npos);
}

TEST(IpNetwork, MatchesAddressesAndMappedPeers) {
  const auto lo = ip_network::parse("127.0.0.0/8");
  EXPECT_TRUE(lo.contains(inet4_endpoint{{127, 0, 0, 1}, 80}));
  EXPECT_TRUE(lo.contains(inet4_endpoint{{127, 255, 255, 255}, 80}));
  EXPECT_FALSE(lo.contains(inet4_endpoint{{126, 255, 255, 255}, 80}));
  // An IPv4 network matches the IPv4-mapped IPv6 form; an IPv6 one does not
  // match IPv4 addresses.
  const inet6_endpoint mapped{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2}, 80, 0};
  EXPECT_TRUE(lo.contains(mapped));
  EXPECT_FALSE(ip_network::parse("::1/128").contains(inet4_endpoint{{0, 0, 0, 1}, 80}));
  EXPECT_TRUE(ip_network::parse("::ffff:0.0.0.0/96").contains(mapped));
  EXPECT_FALSE(lo.contains(inet6_endpoint::loopback(80)));
  EXPECT_TRUE(ip_network::parse("::1/128").contains(inet6_endpoint::loopback(80)));
  EXPECT_TRUE(ip_network::parse("::/0").contains(mapped));
  // Odd prefix lengths cut inside a byte.
  const auto n = ip_network::parse("10.128.0.0/9");
  EXPECT_TRUE(n.contains(v4(10, 255, 0, 1)));
  EXPECT_FALSE(n.contains(v4(10, 127, 0, 1)));
  EXPECT_EQ(ip_network::v6(inet6_endpoint::loopback(0).address, 127).to_string(), "::/127");
}

// ---- the filters as function objects ----------------------------------------------

TEST(PeerFilters, CidsVmIdsNetworksAsPredicates) {
  const peer::cids host{vsock::cid::host};
  EXPECT_TRUE(host(vsock_endpoint{2, 5000}));
  EXPECT_FALSE(host(vsock_endpoint{3, 5000}));
  EXPECT_FALSE(host(vsock_endpoint{vsock::cid::any, 5000})) << "a Windows host's VM has no CID";
  EXPECT_TRUE(host(any_endpoint(vsock_endpoint{2, 1})));
  EXPECT_FALSE(host(any_endpoint(inet4_endpoint::loopback(1)))) << "others are refused by default";
  EXPECT_TRUE((peer::cids{{2}, peer::others::allow}(any_endpoint(inet4_endpoint::loopback(1)))));

  const guid vm = guid::parse("6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11");
  const peer::vm_ids one{vm};
  EXPECT_TRUE(one(hv_endpoint::for_port(vm, 5000)));
  EXPECT_FALSE(one(hv_endpoint::for_port(hv::vm_id::parent, 5000)));
  EXPECT_TRUE(one(any_endpoint(hv_endpoint::for_port(vm, 1))));
  EXPECT_FALSE(one(any_endpoint(vsock_endpoint{2, 1})))
      << "a VSOCK peer's VM id is not in its endpoint";

  const peer::networks local{"127.0.0.0/8", "::1/128"};
  EXPECT_TRUE(local(inet4_endpoint{{127, 0, 0, 9}, 1}));
  EXPECT_FALSE(local(inet4_endpoint{{10, 0, 0, 9}, 1}));
  EXPECT_TRUE(local(inet6_endpoint::loopback(1)));
  EXPECT_TRUE(local(any_endpoint(inet6_endpoint::loopback(1), uri_scheme::udp)));
  EXPECT_FALSE(local(any_endpoint(unix_endpoint::path("/tmp/x"))));
  EXPECT_EQ(local.values().size(), 2u);

  // Combinations: each filter speaks for its own family.
  const auto guest_agent =
      peer::any_of(peer::cids{vsock::cid::host}, peer::networks{"127.0.0.0/8"});
  EXPECT_TRUE(guest_agent(any_endpoint(vsock_endpoint{2, 1})));
  EXPECT_FALSE(guest_agent(any_endpoint(vsock_endpoint{3, 1})));
  EXPECT_TRUE(guest_agent(any_endpoint(inet4_endpoint::loopback(1))));
  EXPECT_FALSE(guest_agent(any_endpoint(inet6_endpoint::loopback(1))));
  const auto both = peer::all_of(peer::networks{{"10.0.0.0/8"}, peer::others::allow},
                                 peer::networks{{"10.1.0.0/16"}, peer::others::allow});
  EXPECT_TRUE(both(inet4_endpoint{{10, 1, 2, 3}, 1}));
  EXPECT_FALSE(both(inet4_endpoint{{10, 2, 2, 3}, 1}));
  EXPECT_TRUE(both(any_endpoint(vsock_endpoint{3, 1})));
}

// What compiles where: a filter of one family on a listener of another does not.
static_assert(detail::is_peer_predicate<peer::cids, vsock_endpoint, vsock_stream_socket>);
static_assert(!detail::is_peer_predicate<peer::cids, inet4_endpoint, tcp4_socket>);
static_assert(!detail::is_peer_predicate<peer::networks, vsock_endpoint, vsock_stream_socket>);
static_assert(detail::is_peer_predicate<peer::networks, inet6_endpoint, tcp6_socket>);
static_assert(detail::is_peer_predicate<peer::vm_ids, hv_endpoint, hv_stream_socket>);
static_assert(detail::is_peer_predicate<peer::vm_ids, vsock_endpoint, vsock_stream_socket>);
static_assert(detail::is_peer_predicate<peer::uids, unix_endpoint, unix_stream_socket>);
static_assert(!detail::is_peer_predicate<peer::uids, inet4_endpoint, tcp4_socket>);
static_assert(std::is_nothrow_invocable_r_v<bool, const peer::cids&, const any_endpoint&>);
static_assert(std::is_nothrow_invocable_r_v<bool, const peer::networks&, const any_endpoint&>);
// Credentials need the connection: uids has no endpoint-only form, and an
// any_listener takes it in its (any_endpoint, any_stream_socket) form.
static_assert(!std::is_invocable_v<const peer::uids&, const any_endpoint&>);
static_assert(detail::is_peer_predicate<peer::uids, any_endpoint, any_stream_socket>);
static_assert(detail::is_peer_predicate<peer::gids, any_endpoint, any_stream_socket>);
static_assert(detail::is_peer_predicate<peer::cids, any_endpoint, any_stream_socket>);
static_assert(std::is_nothrow_invocable_r_v<bool, const peer::uids&, const any_endpoint&,
                                            const any_stream_socket&>);
static_assert(detail::is_peer_predicate<decltype(peer::any_of(peer::uids{0}, peer::gids{0})),
                                        unix_endpoint, unix_stream_socket>);

// Filters as users write them: lambdas that are not noexcept, results that
// convert to bool; not a result that does not, nor a peer of another family.
namespace user {
inline auto refuse_all = [](const inet4_endpoint&) { return false; };
inline auto by_port = [](const inet4_endpoint& p) { return static_cast<int>(p.port % 2); };
inline auto with_connection = [](const unix_endpoint&, const unix_stream_socket& s) {
  return s.is_open();
};
inline auto any_peer = [](const any_endpoint& p) { return p.holds<inet4_endpoint>(); };
inline auto no_result = [](const inet4_endpoint&) {};
}  // namespace user
static_assert(!std::is_nothrow_invocable_v<decltype(user::refuse_all), const inet4_endpoint&>);
static_assert(detail::is_peer_predicate<decltype(user::refuse_all), inet4_endpoint, tcp4_socket>);
static_assert(detail::is_peer_predicate<decltype(user::by_port), inet4_endpoint, tcp4_socket>);
static_assert(
    detail::is_peer_predicate<decltype(user::with_connection), unix_endpoint, unix_stream_socket>);
static_assert(detail::is_peer_predicate<decltype(user::any_peer), any_endpoint, any_stream_socket>);
static_assert(!detail::is_peer_predicate<decltype(user::no_result), inet4_endpoint, tcp4_socket>);
static_assert(!detail::is_peer_predicate<decltype(user::refuse_all), inet6_endpoint, tcp6_socket>);
// Combined with the ready-made ones, noexcept as far as every part is.
static_assert(detail::is_peer_predicate<decltype(peer::any_of(user::refuse_all,
                                                              peer::networks{"10.0.0.0/8"})),
                                        inet4_endpoint, tcp4_socket>);
static_assert(
    !std::is_nothrow_invocable_v<decltype(peer::any_of(user::refuse_all)), const inet4_endpoint&>);
static_assert(std::is_nothrow_invocable_v<decltype(peer::any_of(peer::networks{"10.0.0.0/8"})),
                                          const inet4_endpoint&>);

// The lambdas above answer as written (and are used, which clang's
// -Wunneeded-internal-declaration asks of a variable in this unnamed namespace).
TEST(PeerFilters, UserLambdasAnswerAsWritten) {
  const inet4_endpoint odd{{127, 0, 0, 1}, 5001};
  EXPECT_FALSE(user::refuse_all(odd));
  EXPECT_EQ(user::by_port(odd), 1);
  EXPECT_EQ(user::by_port(inet4_endpoint{{127, 0, 0, 1}, 5000}), 0);
  EXPECT_TRUE(user::any_peer(any_endpoint{odd}));
  EXPECT_FALSE(user::any_peer(any_endpoint{unix_endpoint::path("/run/x")}));
  EXPECT_FALSE(user::with_connection(unix_endpoint::path("/run/x"), unix_stream_socket{}));
  user::no_result(odd);
}

TEST(PeerFilters, ABadNetworkInAListIsNamed) {
  try {
    const peer::networks n{"10.0.0.0/8", "::1/129"};
    FAIL() << "built";
  } catch (const parse_error& e) {
    EXPECT_STREQ(
        e.what(),
        "peer::networks: entry 2 of 2: IP network \"::1/129\": prefix length above 128 for "
        "an IPv6 network (at offset 4)");
  }
}

// ---- on real loopback listeners ---------------------------------------------------------

inet4_endpoint from_address(std::uint8_t last) { return inet4_endpoint{{127, 0, 0, last}, 0}; }

TEST(PeerFilters, TcpListenerAdmitsOneNetwork) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  l.set_peer_filter(peer::networks{"127.0.0.1/32", "127.0.3.0/24"});
  const auto at = l.local_endpoint();
  auto stranger = tcp4_socket::connect(at, from_address(2), 10s);
  auto also_stranger = tcp4_socket::connect(at, inet4_endpoint{{127, 0, 4, 1}, 0}, 10s);
  auto member = tcp4_socket::connect(at, inet4_endpoint{{127, 0, 3, 200}, 0}, 10s);
  inet4_endpoint who;
  auto s = l.accept(10s, who);
  EXPECT_EQ(who, member.local_endpoint());
  EXPECT_EQ(l.rejected_peers(), 2u);
  auto friendly = tcp4_socket::connect(at, from_address(1), 10s);
  auto t = l.accept(10s, who);
  EXPECT_EQ(who, friendly.local_endpoint());
  EXPECT_EQ(l.rejected_peers(), 2u);
  // The strangers were closed.
  char c = 0;
  std::error_code ec;
  ASSERT_TRUE(stranger.wait_readable(10s));
  EXPECT_EQ(stranger.receive(&c, 1, ec), 0u) << ec.message();
  // Nothing but strangers: the deadline holds.
  auto more = tcp4_socket::connect(at, from_address(9), 10s);
  l.accept(300ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_EQ(l.rejected_peers(), 3u);
}

TEST(PeerFilters, AnyCallableConvertibleToBool) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const auto at = l.local_endpoint();
  // Not noexcept, and an int for a result: 127.0.0.1 admitted, 127.0.0.2 not.
  l.set_peer_filter([](const inet4_endpoint& p) { return p.address[3] == 1 ? 1 : 0; });
  auto stranger = tcp4_socket::connect(at, from_address(2), 10s);
  auto friendly = tcp4_socket::connect(at, from_address(1), 10s);
  inet4_endpoint who;
  auto s = l.accept(10s, who);
  EXPECT_EQ(who, friendly.local_endpoint());
  EXPECT_EQ(l.rejected_peers(), 1u);
  // Mixed with a ready-made one.
  l.set_peer_filter(peer::all_of(peer::networks{"127.0.0.0/8"},
                                 [](const inet4_endpoint& p) { return p.address[3] != 3; }));
  auto third = tcp4_socket::connect(at, from_address(3), 10s);
  auto fourth = tcp4_socket::connect(at, from_address(4), 10s);
  auto t = l.accept(10s, who);
  EXPECT_EQ(who, fourth.local_endpoint());
  EXPECT_EQ(l.rejected_peers(), 2u);
}

// A filter that throws refuses the peer, is counted, and accept goes on.
TEST(PeerFilters, AFilterThatThrowsRefusesThePeer) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const auto at = l.local_endpoint();
  std::atomic<int> asked{0};
  l.set_peer_filter([&asked](const inet4_endpoint& p) {
    ++asked;
    if (p.address[3] == 5) throw std::runtime_error("no peer 5 here");
    return true;
  });
  auto thrower = tcp4_socket::connect(at, from_address(5), 10s);
  auto fine = tcp4_socket::connect(at, from_address(6), 10s);
  inet4_endpoint who;
  auto s = l.accept(10s, who);
  EXPECT_EQ(who, fine.local_endpoint());
  EXPECT_EQ(l.rejected_peers(), 1u);
  EXPECT_EQ(asked.load(), 2);
  // The refused connection was closed: its peer sees the end of the stream.
  char c = 0;
  std::error_code ec;
  EXPECT_EQ(thrower.receive(vmsock::mutable_buffer{&c, 1}, 10s, ec), 0u);
  // The same on an any_listener, and in a combination.
  auto all = listen_all(std::vector<any_endpoint>{any_endpoint(inet4_endpoint::loopback(0))});
  const auto all_at = *all.local_endpoints()[0].get_if<inet4_endpoint>();
  all.set_peer_filter(peer::any_of(
      [](const any_endpoint& p) -> bool {
        if (p.get_if<inet4_endpoint>()->address[3] == 7) throw std::runtime_error("not 7");
        return false;
      },
      peer::networks{"127.0.0.8/32"}));
  auto seventh = tcp4_socket::connect(all_at, from_address(7), 10s);
  auto eighth = tcp4_socket::connect(all_at, from_address(8), 10s);
  any_endpoint from;
  auto a = all.accept(10s, &from);
  ASSERT_TRUE(from.holds<inet4_endpoint>()) << from.to_string();
  EXPECT_EQ(*from.get_if<inet4_endpoint>(), eighth.local_endpoint());
  EXPECT_EQ(all.rejected_peers(), 1u);
}

TEST(PeerFilters, Ipv6ListenerAndMappedIpv4Peers) {
  {
    auto l = tcp6_listener::listen(inet6_endpoint::loopback(0));
    l.set_peer_filter(peer::networks{"fd00::/8"});
    auto c = tcp6_socket::connect(l.local_endpoint(), 10s);
    std::error_code ec;
    l.accept(300ms, ec);
    EXPECT_EQ(ec, std::errc::timed_out) << "::1 is not in fd00::/8";
    EXPECT_EQ(l.rejected_peers(), 1u);
    l.set_peer_filter(peer::networks{"::1/128"});
    auto d = tcp6_socket::connect(l.local_endpoint(), 10s);
    inet6_endpoint who;
    auto s = l.accept(10s, who);
    EXPECT_EQ(who, d.local_endpoint());
  }
  // A dual-stack listener bound to the IPv4-mapped loopback address sees IPv4
  // clients as ::ffff:a.b.c.d, which IPv4 networks match.
  inet6_endpoint mapped_lo{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}, 0, 0};
  std::error_code ec;
  auto l = tcp6_listener::listen(mapped_lo, v6_only{false}, ec);
  if (ec) GTEST_SKIP() << "no dual-stack IPv6 listener here: " << ec.message();
  l.set_peer_filter(peer::networks{"127.0.0.1/32"});
  const auto port = l.local_endpoint().port;
  auto stranger = tcp4_socket::connect(inet4_endpoint{{127, 0, 0, 1}, port}, from_address(5), 10s);
  auto friendly = tcp4_socket::connect(inet4_endpoint{{127, 0, 0, 1}, port}, from_address(1), 10s);
  inet6_endpoint who;
  auto s = l.accept(10s, who);
  EXPECT_EQ(who.address[12], 127);
  EXPECT_EQ(who.address[15], 1) << "the 127.0.0.1 client, as ::ffff:127.0.0.1";
  EXPECT_EQ(who.port, friendly.local_endpoint().port);
  EXPECT_EQ(l.rejected_peers(), 1u);
}

TEST(PeerFilters, AnyListenerAcrossTransports) {
  // Unix too, where there is AF_UNIX (Wine has none: see test_support.hpp).
  std::vector<any_endpoint> eps = {any_endpoint::parse("tcp://127.0.0.1:0"),
                                   any_endpoint::parse("tcp://[::1]:0")};
#if VMSOCK_LINUX
  eps.push_back(any_endpoint(
      unix_endpoint::abstract("vmsock-peer-any-" + std::to_string(vmsock_test::process_id()))));
#endif
  auto all = listen_all(eps);
  const auto at4 = *all.local_endpoints()[0].get_if<inet4_endpoint>();
  const auto at6 = *all.local_endpoints()[1].get_if<inet6_endpoint>();
  // IPv4 from 127.0.0.1 only; IPv6 (and Unix) peers refused (others).
  all.set_peer_filter(peer::any_of(peer::networks{"127.0.0.1/32"}, peer::cids{vsock::cid::host}));
  {
    auto v6 = tcp6_socket::connect(at6, 10s);
#if VMSOCK_LINUX
    auto u = unix_stream_socket::connect(*all.local_endpoints()[2].get_if<unix_endpoint>(), 10s);
#endif
    auto stranger = tcp4_socket::connect(at4, from_address(7), 10s);
    auto friendly = tcp4_socket::connect(at4, from_address(1), 10s);
    any_endpoint who;
    auto s = all.accept(10s, &who);
    ASSERT_TRUE(who.holds<inet4_endpoint>()) << who.to_string();
    EXPECT_EQ(*who.get_if<inet4_endpoint>(), friendly.local_endpoint());
    EXPECT_EQ(all.rejected_peers(), eps.size());
  }
#if VMSOCK_LINUX
  // others::allow: the Unix peer passes the network filter.
  all.set_peer_filter(peer::networks{{"192.0.2.0/24"}, peer::others::allow});
  {
    auto v4 = tcp4_socket::connect(at4, 10s);
    auto u = unix_stream_socket::connect(*all.local_endpoints()[2].get_if<unix_endpoint>(), 10s);
    any_endpoint who;
    auto s = all.accept(10s, &who);
    EXPECT_TRUE(who.holds<unix_endpoint>()) << who.to_string();
    std::error_code ec;
    all.accept(200ms, nullptr, ec);
    EXPECT_EQ(ec, std::errc::timed_out);
    EXPECT_EQ(all.rejected_peers(), 4u) << "3 before, and the IPv4 client";
  }
#endif
}

#if VMSOCK_LINUX
// A child that becomes (uid, gid), connects to `at` and waits until the
// stream ends; its exit status says whether it got that far.
pid_t connect_as(std::uint32_t uid, std::uint32_t gid, const unix_endpoint& at) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(10);
  std::error_code ec;
  auto c = unix_stream_socket::connect(at, 5s, ec);
  if (ec) ::_exit(11);
  char b = 0;
  c.receive(vmsock::mutable_buffer{&b, 1}, 5s, ec);
  ::_exit(0);
}
int exit_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status)
                           : 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

TEST(PeerFilters, UnixListenerAdmitsOneUid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the child changes its uid with setuid";
  const auto at = unix_endpoint::abstract("vmsock-peer-uid-" + std::to_string(::getpid()));
  auto l = unix_listener::listen(at);
  constexpr std::uint32_t nobody = 65534;
  l.set_peer_filter(peer::uids{nobody});
  // root (the test itself) is refused, the child that became nobody admitted.
  auto as_root = unix_stream_socket::connect(at, 10s);
  const pid_t child = connect_as(nobody, nobody, at);
  auto s = l.accept(10s);
  const auto who = s.peer_credentials();
  EXPECT_EQ(who.uid, nobody);
  EXPECT_EQ(who.pid, child);
  EXPECT_EQ(l.rejected_peers(), 1u);
  s.close();
  EXPECT_EQ(exit_status(child), 0);
  // gids, and a combination with the connection form.
  l.set_peer_filter(peer::all_of(peer::gids{12345}, peer::uids{nobody}));
  const pid_t wrong_group = connect_as(nobody, nobody, at);
  std::error_code ec;
  l.accept(500ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(l.rejected_peers(), 2u);
  EXPECT_EQ(exit_status(wrong_group), 0) << "it saw its connection end";
  l.set_peer_filter(peer::gids{12345});
  const pid_t right_group = connect_as(nobody, 12345, at);
  auto g = l.accept(10s);
  EXPECT_EQ(g.peer_credentials().gid, 12345u);
  g.close();
  EXPECT_EQ(exit_status(right_group), 0);
}

// On an any_listener, credentials go on its Unix listener.
TEST(PeerFilters, CredentialsOnAnyListenersUnixListener) {
  const std::string name = "vmsock-peer-anyuid-" + std::to_string(::getpid());
  auto all = listen_all({"tcp://127.0.0.1:0", "unix://@" + name});
  auto* u = std::get_if<unix_listener>(&all.listener_at(1));
  ASSERT_NE(u, nullptr);
  u->set_peer_filter(peer::uids{::geteuid()});
  auto c = unix_stream_socket::connect(unix_endpoint::abstract(name), 10s);
  any_endpoint who;
  auto s = all.accept(10s, &who);
  EXPECT_TRUE(who.holds<unix_endpoint>());
  // The (any_endpoint, any_stream_socket) form, as a caller with both has them.
  EXPECT_TRUE(peer::uids{::geteuid()}(who, s));
  EXPECT_FALSE(peer::uids{::geteuid() + 1}(who, s));
  EXPECT_FALSE(peer::uids{::geteuid()}(any_endpoint(inet4_endpoint::loopback(1)), s));
  u->set_peer_filter(peer::uids{::geteuid() + 1});
  auto d = unix_stream_socket::connect(unix_endpoint::abstract(name), 10s);
  std::error_code ec;
  all.accept(300ms, nullptr, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(u->rejected_peers(), 1u);
}

// Or on the any_listener itself: uids and gids read a Unix connection's
// credentials; a connection of another family is decided by `others`.
TEST(PeerFilters, CredentialsOnAnAnyListener) {
  const std::string name = "vmsock-peer-anycred-" + std::to_string(::getpid());
  auto all = listen_all({"tcp://127.0.0.1:0", "unix://@" + name});
  const auto tcp_at = *all.local_endpoints()[0].get_if<inet4_endpoint>();
  all.set_peer_filter(peer::uids{::geteuid()});
  {
    auto over_tcp = tcp4_socket::connect(tcp_at, 10s);
    auto over_unix = unix_stream_socket::connect(unix_endpoint::abstract(name), 10s);
    any_endpoint who;
    auto s = all.accept(10s, &who);
    EXPECT_TRUE(who.holds<unix_endpoint>()) << who.to_string();
    EXPECT_EQ(all.rejected_peers(), 1u) << "the TCP peer: no credentials (others: refuse)";
  }
  {
    all.set_peer_filter(peer::gids{::getegid() + 1});
    auto over_unix = unix_stream_socket::connect(unix_endpoint::abstract(name), 10s);
    std::error_code ec;
    all.accept(300ms, nullptr, ec);
    EXPECT_EQ(ec, std::errc::timed_out);
    EXPECT_EQ(all.rejected_peers(), 2u);
  }
  {
    // others::allow lets the TCP peer through; a lambda of the connection form too.
    all.set_peer_filter(
        peer::all_of(peer::uids{{::geteuid()}, peer::others::allow},
                     [](const any_endpoint&, const any_stream_socket& c) { return c.is_open(); }));
    auto over_tcp = tcp4_socket::connect(tcp_at, 10s);
    any_endpoint who;
    auto s = all.accept(10s, &who);
    EXPECT_TRUE(who.holds<inet4_endpoint>()) << who.to_string();
    EXPECT_EQ(all.rejected_peers(), 2u);
  }
}
#endif

// The filters allocate when they are made, never per peer.
#if !defined(VMSOCK_TEST_NO_ALLOCATION_COUNT)
TEST(PeerFilters, NoAllocationPerAcceptedPeer) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  l.set_peer_filter(peer::any_of(peer::networks{"10.0.0.0/8", "127.0.0.0/8", "::1/128"}));
  const auto at = l.local_endpoint();
  std::vector<tcp4_socket> clients;
  clients.reserve(64);
  for (int i = 0; i < 32; ++i) clients.push_back(tcp4_socket::connect(at, 10s));
  for (int i = 0; i < 32; ++i) clients.push_back(tcp4_socket::connect(at, from_address(200), 10s));
  l.set_peer_filter(peer::networks{"127.0.0.1/32"});  // the 32 from 127.0.0.200 are refused
  std::vector<tcp4_socket> accepted;
  accepted.reserve(32);
  inet4_endpoint who;
  std::size_t allocations = 0;
  for (int i = 0; i < 32; ++i) {
    std::error_code ec;
    const std::size_t before = vmsock_test::allocations();
    auto s = l.accept(10s, who, ec);
    allocations += vmsock_test::allocations() - before;
    ASSERT_FALSE(ec) << ec.message();
    accepted.push_back(std::move(s));
  }
  EXPECT_EQ(allocations, 0u) << "over 32 accepted and the refused among them";
  std::error_code ec;
  const std::size_t before = vmsock_test::allocations();
  l.accept(200ms, ec);
  EXPECT_EQ(vmsock_test::allocations() - before, 0u);
  EXPECT_EQ(l.rejected_peers(), 32u);
}
#endif

}  // namespace
