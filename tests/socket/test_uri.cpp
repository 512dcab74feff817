// any_endpoint, any_stream_socket, connect_first and listen_all, over real
// loopback sockets.  No AF_VSOCK connection is ever attempted here (this
// machine's VSOCK peer is its host): the VSOCK cases run in the test guest.
// On Windows the transports are TCP only (no AF_UNIX under Wine: see
// test_support.hpp), and WineAnswers below shows what a Unix entry does there.
#include <vmsock/uri.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#if VMSOCK_HAS_SPAN
#  include <span>
#endif

namespace {

using namespace vmsock;
using namespace std::chrono_literals;

// A VM endpoint of the family that is not native here, with no mapping to the
// native one: skipped by connect_first on either platform.
#if VMSOCK_WINDOWS
constexpr const char* unmapped_vm_uri = "vsock://99:5000";  // CID 99: no Hyper-V VM id
#else
// A VM GUID that is none of the well-known ones: no VSOCK mapping on Linux.
constexpr const char* unmapped_vm_uri = "hvsock://6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f/5000";
#endif

std::vector<any_endpoint> parse_all(const std::vector<std::string>& uris) {
  std::vector<any_endpoint> eps;
  for (const auto& u : uris) eps.push_back(any_endpoint::parse(u));
  return eps;
}

std::string closed_tcp_uri() {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  return "tcp://" + l.local_endpoint().to_string();
}

TEST(AnyEndpoint, ParsesEverySchemeAndPrintsItBack) {
  const std::vector<std::pair<std::string, uri_scheme>> cases = {
      {"vsock://2:5000", uri_scheme::vsock},
      {"vsock://any:5000", uri_scheme::vsock},
      {"hvsock://parent/5000", uri_scheme::hvsock},
      {"hvsock://e0e16197-dd56-4a10-9195-5ee7a155a838/11111111-2222-3333-4444-555555555555",
       uri_scheme::hvsock},
      {"tcp://127.0.0.1:80", uri_scheme::tcp},
      {"tcp://[::1]:80", uri_scheme::tcp},
      {"udp://10.0.0.1:53", uri_scheme::udp},
      {"udp://[fe80::1%3]:53", uri_scheme::udp},
      {"unix:///run/agent.sock", uri_scheme::unix_domain},
      {"unix://@agent", uri_scheme::unix_domain},
  };
  for (const auto& [text, scheme] : cases) {
    const auto ep = any_endpoint::parse(text);
    EXPECT_EQ(ep.scheme(), scheme) << text;
    EXPECT_EQ(ep.to_string(), text.find("e0e16197") != std::string::npos
                                  ? "hvsock://loopback/11111111-2222-3333-4444-555555555555"
                                  : text);
    EXPECT_EQ(any_endpoint::parse(ep.to_string()), ep) << text;
    EXPECT_EQ(parse_uri(text), ep);
  }
  EXPECT_TRUE(any_endpoint::parse("tcp://127.0.0.1:1").holds<inet4_endpoint>());
  EXPECT_TRUE(any_endpoint::parse("udp://[::1]:1").holds<inet6_endpoint>());
  EXPECT_EQ(any_endpoint::parse("udp://[::1]:1").type(), socket_type::datagram);
  EXPECT_EQ(any_endpoint::parse("vsock://2:1").get_if<vsock_endpoint>()->cid, 2u);
  EXPECT_NE(any_endpoint::parse("tcp://127.0.0.1:1"), any_endpoint::parse("udp://127.0.0.1:1"));
}

TEST(AnyEndpoint, BadUrisAreClearErrors) {
  const std::map<std::string, std::string> bad = {
      {"", "not a URI"},
      {"127.0.0.1:80", "not a URI"},
      {"ftp://127.0.0.1:21", "unknown scheme"},
      {"tcp://localhost:80", "host names are not resolved"},
      {"tcp://::1:80", "host names are not resolved"},
      {"tcp://127.0.0.1", "missing ':PORT'"},
      {"tcp://127.0.0.1:65536", "port out of range"},
      {"vsock://2", "missing ':'"},
      {"hvsock://parent", "missing '/'"},
      {"unix://@", "empty abstract name"},
      {"unix:///tmp/%zz", "bad %-escape"},
  };
  for (const auto& [text, why] : bad) {
    EXPECT_FALSE(any_endpoint::try_parse(text)) << text;
    try {
      (void)any_endpoint::parse(text);
      ADD_FAILURE() << text << " parsed";
    } catch (const parse_error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

TEST(AnyStreamSocket, EchoOverEachLoopbackTransport) {
  vmsock_test::temp_socket_path path;
  std::vector<std::string> uris = {"tcp://127.0.0.1:0", "tcp://[::1]:0"};
#if VMSOCK_POSIX
  uris.push_back("unix://" + path.path);
#endif
#if VMSOCK_LINUX
  uris.push_back("unix://@" + vmsock_test::unique_name("any"));
#endif
  auto all = listen_all(parse_all(uris));
  ASSERT_EQ(all.size(), uris.size());
  for (const auto& where : all.local_endpoints()) {
    auto client = any_stream_socket::connect(where, 2s);
    EXPECT_EQ(client.remote(), where);
    EXPECT_EQ(client.scheme(), where.scheme());
    EXPECT_EQ(client.peer_endpoint(), where);
    any_endpoint peer;
    auto conn = all.accept(2s, &peer);
    EXPECT_EQ(conn.local_endpoint(), where);
    EXPECT_EQ(conn.peer_endpoint(), peer);

    const std::string msg = "over " + where.to_string();
    client.send_all(msg);
    std::string got(msg.size(), '\0');
    conn.receive_exact(got);
    EXPECT_EQ(got, msg);
    conn.send_all({buffer(got)});
    client.shutdown(shutdown_type::send);
    std::string back(msg.size(), '\0');
    std::error_code ec;
    client.receive_exact(back, ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(back, msg);
    char c;
    EXPECT_EQ(conn.receive(&c, 1), 0u);
    EXPECT_TRUE(conn.is_open());
    conn.close();
    EXPECT_FALSE(conn.is_open());
  }
}

// Parse errors say where they are, as offsets into the whole URI (each
// family's parser is given all of it), as the family parsers do.
TEST(AnyEndpoint, ParseErrorsSayWhere) {
  const struct {
    const char* text;
    const char* why;
    std::size_t at;
  } cases[] = {
      {"2:5000", "not a URI", 0},
      {"nope://x", "unknown scheme", 0},
      {"tcp://localhost:80", "host names are not resolved", 6},
      {"tcp://127.0.0.1:8x", "not a decimal number", 17},
      {"udp://[::1]:99999", "port out of range", 12},
      {"vsock://2:5x00", "port is neither", 11},
      {"hvsock://parnet/5000", "VM is neither", 9},
      {"unix://", "empty path", 7},
      {"unix:///tmp/%zz", "bad %-escape", 12},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto r = any_endpoint::parse_detail(c.text);
    ASSERT_FALSE(r);
    EXPECT_NE(std::string(r.error).find(c.why), std::string::npos) << r.error;
    EXPECT_EQ(r.position, c.at);
    try {
      (void)any_endpoint::parse(c.text);
      ADD_FAILURE() << "parsed";
    } catch (const parse_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::string(c.why)), std::string::npos) << what;
      EXPECT_NE(what.find("(at offset " + std::to_string(c.at) + ")"), std::string::npos) << what;
    }
  }
  // A URI list names the entry and the place in it.
  try {
    connect_first({"tcp://127.0.0.1:1", "tcp://127.0.0.1:65536"}, 1s);
    FAIL() << "parsed";
  } catch (const parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("entry 2 of 2: endpoint URI \"tcp://127.0.0.1:65536\": "
                                         "port out of range (max 65535) (at offset 16)"),
              std::string::npos)
        << e.what();
  }
}

TEST(ConnectFirst, FallsBackInOrderAndSaysWhichTransportWon) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::string live = "tcp://" + l.local_endpoint().to_string();
  const std::string dead = closed_tcp_uri();

  auto s = connect_first({unmapped_vm_uri, dead, live}, 2s);
  EXPECT_EQ(s.scheme(), uri_scheme::tcp);
  EXPECT_EQ(s.remote(), any_endpoint::parse(live));
  auto conn = l.accept(2s);
  s.send_all(std::string("won"));
  std::string got(3, '\0');
  conn.receive_exact(got);
  EXPECT_EQ(got, "won");

  // The first that connects wins even when later ones would too.
  auto l2 = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto first = connect_first({live, "tcp://" + l2.local_endpoint().to_string()}, 2s);
  EXPECT_EQ(first.remote(), any_endpoint::parse(live));

  // Why the fallback was taken: the attempts before the winner.
  std::vector<connect_attempt> failed;
  auto again = connect_first(parse_all({unmapped_vm_uri, dead, live}), 2s, failed);
  EXPECT_EQ(again.remote(), any_endpoint::parse(live));
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].endpoint, any_endpoint::parse(unmapped_vm_uri));
  EXPECT_TRUE(failed[0].skipped);
  EXPECT_EQ(failed[1].endpoint, any_endpoint::parse(dead));
  EXPECT_FALSE(failed[1].skipped);
  EXPECT_EQ(failed[1].error, std::errc::connection_refused);
  connect_first(parse_all({live}), 2s, failed);
  EXPECT_TRUE(failed.empty()) << "the first entry won: nothing failed";
}

TEST(ConnectFirst, WhenAllFailTheErrorListsEveryAttempt) {
  const std::string dead = closed_tcp_uri();
  vmsock_test::temp_socket_path missing;
  std::vector<std::string> uris = {unmapped_vm_uri, dead};
  // The last attempt's error is the exception's code: a missing socket file
  // where there are Unix sockets, else the refused TCP connect.
#if VMSOCK_POSIX
  uris.push_back("unix://" + missing.path);
  const auto last = std::errc::no_such_file_or_directory;
#else
  const auto last = std::errc::connection_refused;
#endif
  try {
    connect_first(parse_all(uris), 1s);
    FAIL() << "nothing listens";
  } catch (const connect_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(std::string(unmapped_vm_uri) +
                        ": skipped: " + make_error_code(errc::no_mapping).message()),
              std::string::npos)
        << what;
    ASSERT_EQ(e.attempts().size(), uris.size());
    EXPECT_TRUE(e.attempts()[0].skipped);
    EXPECT_EQ(e.attempts()[0].error, errc::no_mapping);
    EXPECT_FALSE(e.attempts()[1].skipped);
    EXPECT_EQ(e.attempts()[1].error, std::errc::connection_refused);
    // The refused attempt is written with the OS's text for it.
    EXPECT_NE(what.find(dead + ": " + e.attempts()[1].error.message()), std::string::npos) << what;
    EXPECT_NE(what.find(uris.back()), std::string::npos) << what;
    EXPECT_EQ(e.code(), last);
  }
  std::error_code ec;
  auto s = connect_first(std::vector<any_endpoint>{any_endpoint::parse(dead)}, 1s, ec);
  EXPECT_EQ(ec, std::errc::connection_refused);
  EXPECT_FALSE(s.is_open());
}

TEST(ConnectFirst, BadEntryIsReportedBeforeAnyConnection) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::string live = "tcp://" + l.local_endpoint().to_string();
  try {
    connect_first({live, "tcp://300.1.1.1:5", live});
    FAIL();
  } catch (const parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("entry 2 of 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tcp://300.1.1.1:5"), std::string::npos) << e.what();
  }
  // Nothing connected: the listener has no pending connection.
  std::error_code ec;
  l.accept(50ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
}

// Any range of strings, not only a braced list: a std::vector<std::string>
// (argv as a program keeps it), argv's own char* entries, a C array, string
// views, a std::span.
TEST(ConnectFirst, TakesAnyRangeOfStrings) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::string live = "tcp://" + l.local_endpoint().to_string();
  const std::string dead = closed_tcp_uri();
  // What main() is given: the program's name, the URIs, a null pointer.
  std::string prog = "echo_client", first = dead, second = live;
  char* argv[] = {prog.data(), first.data(), second.data(), nullptr};
  const int argc = 3;

  auto s = connect_first(std::vector<std::string>(argv + 1, argv + argc), 2s);
  EXPECT_EQ(s.remote(), any_endpoint::parse(live));
  auto c1 = l.accept(2s);
  std::vector<connect_attempt> failed;
  auto t = connect_first(std::vector<char*>(argv + 1, argv + argc), 2s, failed);
  EXPECT_EQ(t.remote(), any_endpoint::parse(live));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].endpoint, any_endpoint::parse(dead));
  EXPECT_EQ(failed[0].error, std::errc::connection_refused);
  auto c2 = l.accept(2s);
  const char* const array[] = {dead.c_str(), live.c_str()};
  auto u = connect_first(array, 2s);
  EXPECT_EQ(u.remote(), any_endpoint::parse(live));
  auto c3 = l.accept(2s);
  const std::vector<std::string_view> views = {live};
  auto v = connect_first(views, 2s);
  EXPECT_EQ(v.remote(), any_endpoint::parse(live));
  auto c4 = l.accept(2s);
#if VMSOCK_HAS_SPAN
  auto w = connect_first(std::span<char*>(argv + 1, argv + argc), 2s);
  EXPECT_EQ(w.remote(), any_endpoint::parse(live));
  auto c5 = l.accept(2s);
#endif

  // A bad entry is named before anything is tried; a null char* is an empty one.
  try {
    connect_first(std::vector<std::string>{live, "tcp://300.1.1.1:5"}, 2s);
    FAIL() << "parsed";
  } catch (const parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("connect_first: entry 2 of 2"), std::string::npos)
        << e.what();
  }
  try {
    connect_first(std::vector<char*>(argv + 2, argv + 4), 2s);
    FAIL() << "parsed";
  } catch (const parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("connect_first: entry 2 of 2: endpoint URI \"\""),
              std::string::npos)
        << e.what();
  }
  std::error_code ec;
  l.accept(50ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << "nothing connected for the bad lists";
}

TEST(ListenAll, TakesAnyRangeOfStrings) {
  const std::vector<std::string> uris = {"tcp://127.0.0.1:0", "tcp://[::1]:0"};
  auto all = listen_all(uris);
  ASSERT_EQ(all.size(), 2u);
  auto c = tcp4_socket::connect(*all.local_endpoints()[0].get_if<inet4_endpoint>(), 2s);
  auto s = all.accept(2s);
  EXPECT_TRUE(s.is_open());
  auto member = any_listener::listen_all(std::vector<std::string_view>{"tcp://127.0.0.1:0"}, 16);
  EXPECT_EQ(member.size(), 1u);
  const char* const array[] = {"tcp://127.0.0.1:0"};
  EXPECT_EQ(listen_all(array).size(), 1u);
  try {
    listen_all(std::vector<std::string>{"tcp://127.0.0.1:0", "nope://x"});
    FAIL() << "parsed";
  } catch (const parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("listen_all: entry 2 of 2"), std::string::npos)
        << e.what();
  }
}

TEST(ListenAll, AcceptsFromEveryTransportInOneLoopNothingLost) {
  vmsock_test::temp_socket_path path;
#if VMSOCK_POSIX
  auto all = listen_all({"tcp://127.0.0.1:0", "unix://" + path.path, "tcp://[::1]:0"});
  constexpr int expected_tcp = 67;  // connections 0, 2, 3, 5, ... of 100 over 3 endpoints
#else
  auto all = listen_all({"tcp://127.0.0.1:0", "tcp://[::1]:0"});
  constexpr int expected_tcp = 100;
#endif
  const auto endpoints = all.local_endpoints();
  constexpr int connections = 100;

  std::thread server([&] {
    for (int i = 0; i < connections; ++i) {
      any_endpoint peer;
      auto c = all.accept(10s, &peer);
      std::array<char, 64> buf{};
      const std::size_t n = c.receive(buf);
      c.send_all(buf.data(), n);
    }
  });
  std::map<uri_scheme, int> per_scheme;
  int ok = 0;
  for (int i = 0; i < connections; ++i) {
    const auto& where = endpoints[static_cast<std::size_t>(i) % endpoints.size()];
    auto c = any_stream_socket::connect(where, 5s);
    const std::string msg = "#" + std::to_string(i);
    c.send_all(msg);
    std::string back(msg.size(), '\0');
    c.receive_exact(back);
    if (back == msg) ++ok;
    ++per_scheme[where.scheme()];
  }
  server.join();
  EXPECT_EQ(ok, connections);
  EXPECT_EQ(per_scheme[uri_scheme::tcp], expected_tcp);
  EXPECT_EQ(per_scheme[uri_scheme::unix_domain], connections - expected_tcp);
}

TEST(ListenAll, TakesTurnsSoNoTransportStarves) {
  auto all = listen_all({"tcp://127.0.0.1:0", "tcp://[::1]:0"});
  const auto eps = all.local_endpoints();
  // Both have connections waiting: accepts alternate between them.
  std::vector<any_stream_socket> clients;
  for (int i = 0; i < 3; ++i)
    for (const auto& ep : eps) clients.push_back(any_stream_socket::connect(ep, 2s));
  std::vector<bool> v6;
  for (int i = 0; i < 6; ++i) {
    any_endpoint peer;
    auto c = all.accept(2s, &peer);
    v6.push_back(peer.holds<inet6_endpoint>());
  }
  for (std::size_t i = 1; i < v6.size(); ++i) EXPECT_NE(v6[i], v6[i - 1]) << "at accept " << i;
}

TEST(ListenAll, FailuresAreAllOrNothingAndNameTheEndpoint) {
  auto taken = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::string busy = "tcp://" + taken.local_endpoint().to_string();
  try {
    listen_all({"tcp://127.0.0.1:0", busy});
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use);
    EXPECT_NE(std::string(e.what()).find("listen_all: listen on " + busy), std::string::npos)
        << e.what();
  }
  // udp:// is a mistake in the list, named before anything listens.
  try {
    listen_all({"tcp://127.0.0.1:0", "udp://127.0.0.1:0"});
    FAIL();
  } catch (const parse_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "listen_all: entry 2 of 2: udp://127.0.0.1:0 is a datagram endpoint; listen_all "
              "takes stream endpoints (tcp, unix, vsock, hvsock)");
  }
  try {
    listen_all({"tcp://127.0.0.1:0", "nope://x"});
    FAIL();
  } catch (const parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("entry 2 of 2"), std::string::npos) << e.what();
  }
  auto one = listen_all({"tcp://127.0.0.1:0"});
  std::error_code ec;
  one.accept(20ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
}

#if VMSOCK_WINDOWS
// Under Wine (no AF_UNIX: WSAEAFNOSUPPORT), a Unix entry is a transport this
// platform lacks: connect_first skips it and goes on; listen_all, which is all
// or nothing, fails naming it.  Windows 10 1803+ has AF_UNIX streams, so this
// asserts Wine's answer and runs under Wine only.
TEST(WineAnswers, UnixEntriesAreSkippedByConnectFirstAndFailListenAll) {
  VMSOCK_TEST_REQUIRE_WINE();
  vmsock_test::temp_socket_path path;
  const std::string unix_uri = "unix://" + path.path;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::string live = "tcp://" + l.local_endpoint().to_string();
  std::error_code ec;
  auto s = connect_first(parse_all({unix_uri, live}), 2s, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.remote(), any_endpoint::parse(live));

  try {
    connect_first(parse_all({unix_uri}), 1s);
    FAIL() << "AF_UNIX connected under Wine";
  } catch (const connect_error& e) {
    ASSERT_EQ(e.attempts().size(), 1u);
    EXPECT_TRUE(e.attempts()[0].skipped);
    EXPECT_EQ(e.code().value(), WSAEAFNOSUPPORT);
    EXPECT_EQ(e.code(), std::errc::address_family_not_supported);
    EXPECT_NE(std::string(e.what()).find(unix_uri + ": skipped"), std::string::npos) << e.what();
  }
  try {
    listen_all(parse_all({"tcp://127.0.0.1:0", unix_uri}));
    FAIL() << "AF_UNIX listened under Wine";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_family_not_supported);
    EXPECT_NE(std::string(e.what()).find("listen_all: listen on " + unix_uri), std::string::npos)
        << e.what();
  }
}

// Under Wine: Hyper-V first (an hvsock:// entry, and a vsock:// one,
// which travels as AF_HYPERV on Windows), TCP last.  Wine has no AF_HYPERV:
// both are skipped with that reason and TCP wins.
TEST(WineAnswers, HyperVEntriesAreSkippedAndTcpWins) {
  VMSOCK_TEST_REQUIRE_WINE();
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::string live = "tcp://" + l.local_endpoint().to_string();
  auto s = connect_first({"hvsock://loopback/5000", "vsock://2:5000", live}, 2s);
  EXPECT_EQ(s.scheme(), uri_scheme::tcp);
  EXPECT_EQ(s.remote(), any_endpoint::parse(live));
  auto conn = l.accept(2s);
  s.send_all(std::string("tcp won"));
  std::string got(7, '\0');
  conn.receive_exact(got);
  EXPECT_EQ(got, "tcp won");

  try {
    connect_first({"hvsock://loopback/5000", "vsock://2:5000", closed_tcp_uri()}, 1s);
    FAIL() << "nothing listens";
  } catch (const connect_error& e) {
    ASSERT_EQ(e.attempts().size(), 3u);
    for (int i = 0; i < 2; ++i) {
      EXPECT_TRUE(e.attempts()[static_cast<std::size_t>(i)].skipped);
      EXPECT_EQ(e.attempts()[static_cast<std::size_t>(i)].error,
                std::errc::address_family_not_supported);
    }
    EXPECT_NE(std::string(e.what()).find("hvsock://loopback/5000: skipped: "), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("vsock://2:5000: skipped: "), std::string::npos)
        << e.what();
    EXPECT_EQ(e.code(), std::errc::connection_refused);
  }
}
#endif

}  // namespace
