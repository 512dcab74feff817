// The asio adapters with real sockets on this machine, once per asio flavour
// (flavour.hpp): VSOCK acceptors open, bind and listen (never a connect: this
// machine's VSOCK peer is its hypervisor; traffic is in tests/vm), pending
// operations cancelled and closed, the connect wrapper's idioms over TCP on
// 127.0.0.1 (a connect timeout through a steady_timer), the hand-over between
// vmsock's sockets and asio's, and what Windows (Wine) answers.
#include "flavour.hpp"

#include <vmsock/socket/aliases.hpp>
#include <vmsock/uri.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#if VMSOCK_POSIX
#  include <fcntl.h>
#endif

namespace {

using namespace vmsock_test;
using namespace std::chrono_literals;
using vmsock::hv_endpoint;
using vmsock::vsock_endpoint;
namespace cid = vmsock::vsock::cid;

// Runs `io` until it has no work or `limit` passes (a test that would hang fails).
void run_for(lib::io_context& io, std::chrono::milliseconds limit = 10s) {
  io.restart();
  io.run_for(limit);
  EXPECT_TRUE(io.stopped()) << "operations still pending after " << limit.count() << " ms";
}

// An open, unconnected socket of type S (basic_socket::open returns the base type).
template <class S> S open_socket(vmsock::socket_type type, std::error_code& ec) {
  auto b = S::open(type, ec);
  return S(b.release(), type);
}

#if VMSOCK_LINUX  // AF_VSOCK, and a TCP connect that waits: this machine's (Wine would skip them)
// Why AF_VSOCK is unusable here, or empty.
std::string vsock_unavailable() {
  std::error_code ec;
  auto s = vmsock::vsock_stream_socket::open(vmsock::socket_type::stream, ec);
  if (ec) return "this machine has no AF_VSOCK: " + ec.message();
  return {};
}
#  define REQUIRE_VSOCK()                          \
    do {                                           \
      const std::string why = vsock_unavailable(); \
      if (!why.empty()) GTEST_SKIP() << why;       \
    } while (0)

// asio's code for a cancelled operation.  (Standalone asio 1.22's own codes
// compare equal to asio::error's values but to no std::errc condition; Boost's
// do: see OwnCodesAndPortableConditions.)
bool is_aborted(const lib_error_code& ec) { return ec == lib::error::operation_aborted; }

// ---- VSOCK acceptors on this machine (no connect) ------------------------------------

TEST(ASIO_SUITE(Acceptor), VsockOpenBindListen) {
  REQUIRE_VSOCK();
  lib::io_context io;
  // The explicit form.
  vsock_stream::acceptor a(io);
  a.open(vsock_stream());
  a.bind(vsock_endpoint{cid::any, vmsock::vsock::port_any});
  a.listen();
  const vsock_endpoint local = a.local_endpoint();
  EXPECT_EQ(local.cid, cid::any);
  EXPECT_NE(local.port, vmsock::vsock::port_any);  // the kernel picked one
  // The one-call form, on the port the first one was given after it closed.
  a.close();
  vsock_stream::acceptor b(io, vsock_endpoint{cid::any, local.port});
  EXPECT_EQ(b.local_endpoint(), (vsock_endpoint{cid::any, local.port}));
  // Bound twice: asio's error, address_in_use.
  lib_error_code ec;
  vsock_stream::acceptor c(io);
  c.open(vsock_stream());
  c.bind(vsock_endpoint{cid::any, local.port}, ec);
  EXPECT_EQ(ec, lib::error::address_in_use) << ec.message();
  // The throwing forms name the address, as vmsock's listeners do.
  const vsock_endpoint taken{cid::any, local.port};
  for (const bool one_call : {true, false}) {
    try {
      if (one_call) {
        vsock_stream::acceptor d(io, taken);
      } else {
        vsock_stream::acceptor d(io);
        d.open(vsock_stream());
        d.bind(taken);
      }
      ADD_FAILURE() << "bound twice to " << taken.to_string();
    } catch (const lib_system_error& e) {
      EXPECT_EQ(e.code(), lib::error::address_in_use) << e.what();
      EXPECT_NE(std::string(e.what()).find("bind to " + taken.to_string()), std::string::npos)
          << e.what();
    }
  }
}

TEST(ASIO_SUITE(Acceptor), SeqpacketAndHyperVThroughTheMapping) {
  REQUIRE_VSOCK();
  lib::io_context io;
  lib_error_code ec;
  vsock_seqpacket::acceptor s(io);
  s.open(vsock_seqpacket(), ec);
  if (ec) GTEST_SKIP() << "no VSOCK SOCK_SEQPACKET in this kernel: " << ec.message();
  s.bind(vsock_endpoint{cid::any, vmsock::vsock::port_any});
  s.listen();
  EXPECT_NE(s.local_endpoint().value().port, vmsock::vsock::port_any);

  // hvsock://wildcard/P is AF_VSOCK any:P on Linux.
  hv_stream::acceptor h(io);
  h.open(hv_stream());
  std::uint32_t port =
      0x30000000u + static_cast<std::uint32_t>(
                        std::chrono::steady_clock::now().time_since_epoch().count() % 0x10000000);
  for (int i = 0; i < 100; ++i, ++port) {
    h.bind(hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, port), ec);
    if (ec != lib::error::address_in_use) break;
  }
  ASSERT_FALSE(ec) << ec.message();
  h.listen();
#  if VMSOCK_LINUX
  EXPECT_EQ(h.local_endpoint().os_endpoint(), (vsock_endpoint{cid::any, port}));
#  endif
  EXPECT_EQ(h.local_endpoint(), hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, port));
  EXPECT_EQ(h.local_endpoint().to_string(), "hvsock://wildcard/" + std::to_string(port));
}

TEST(ASIO_SUITE(Acceptor), PendingAcceptEndsWithCancelAndClose) {
  REQUIRE_VSOCK();
  lib::io_context io;
  vsock_stream::acceptor a(io, vsock_endpoint{cid::any, vmsock::vsock::port_any});
  lib_error_code first, second, moved;
  int done = 0;
  vsock_stream::socket peer(io);
  a.async_accept(peer, [&](const lib_error_code& ec) { first = ec, ++done; });
  a.async_accept([&](const lib_error_code& ec, vsock_stream::socket s) {
    moved = ec, ++done;
    EXPECT_FALSE(s.is_open());
  });
  lib::steady_timer t(io, 50ms);
  t.async_wait([&](const lib_error_code&) { a.cancel(); });
  run_for(io);
  EXPECT_EQ(done, 2);
  EXPECT_TRUE(is_aborted(first)) << first.message();
  EXPECT_TRUE(is_aborted(moved)) << moved.message();
  EXPECT_TRUE(a.is_open());  // cancel leaves it listening

  a.async_accept(peer, [&](const lib_error_code& ec) { second = ec, ++done; });
  t.expires_after(50ms);
  t.async_wait([&](const lib_error_code&) { a.close(); });
  run_for(io);
  EXPECT_EQ(done, 3);
  EXPECT_TRUE(is_aborted(second)) << second.message();
}

#endif  // VMSOCK_LINUX

// ---- the connect wrapper's idioms, on TCP (nothing over VSOCK here) ---------------------

// asio_socket (the socket type of every protocol here) over asio's TCP
// socket: the same connect and async_connect, and a TCP connect can be made
// to hang on this machine.
using wrapped_tcp_socket = vmsock::detail::asio_socket<
#if VMSOCK_TEST_BOOST_ASIO
    vmsock::detail::boost_asio,
#else
    vmsock::detail::standalone_asio,
#endif
    lib::ip::tcp::socket>;

#if VMSOCK_LINUX
// A listener whose accept queue is full (backlog 0, one connection in it,
// never accepted): Linux drops the next SYN, so a connect to it waits (for
// the SYN's retransmissions, seconds).  (Windows refuses it instead.)
struct full_listener {
  explicit full_listener(lib::io_context& io) : acceptor(io), filler(io) {
    acceptor.open(lib::ip::tcp::v4());
    acceptor.bind({lib::ip::make_address_v4("127.0.0.1"), 0});
    acceptor.listen(0);
    filler.connect(acceptor.local_endpoint());
  }
  lib::ip::tcp::acceptor acceptor;
  lib::ip::tcp::socket filler;
};

// A wrapped TCP socket and a connect of it that will wait.
class ASIO_SUITE(HangingConnect) : public ::testing::Test {
 protected:
  lib::io_context io;
  full_listener full{io};
  wrapped_tcp_socket s{io};
  lib_error_code connect_ec = lib::error::would_block;
};

TEST_F(ASIO_SUITE(HangingConnect), TimeoutThroughASteadyTimer) {
  lib::steady_timer timer(io, 300ms);
  bool timed_out = false;
  const auto t0 = std::chrono::steady_clock::now();
  s.async_connect(full.acceptor.local_endpoint(), [&](const lib_error_code& ec) {
    connect_ec = ec;
    timer.cancel();
  });
  timer.async_wait([&](const lib_error_code& ec) {
    if (ec) return;
    timed_out = true;
    s.cancel();
  });
  run_for(io);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(timed_out);
  EXPECT_TRUE(is_aborted(connect_ec)) << connect_ec.message();
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 5s);
}

TEST_F(ASIO_SUITE(HangingConnect), CloseDuringConnect) {
  s.async_connect(full.acceptor.local_endpoint(),
                  [&](const lib_error_code& ec) { connect_ec = ec; });
  lib::post(io, [&] { s.close(); });
  run_for(io);
  EXPECT_TRUE(is_aborted(connect_ec)) << connect_ec.message();
  EXPECT_FALSE(s.is_open());
}

#endif  // VMSOCK_LINUX

TEST(ASIO_SUITE(Connect), RefusedAndSuccessfulConnectPassThrough) {
  lib::io_context io;
  // A port nothing listens on: bind one, close it.
  lib::ip::tcp::endpoint dead;
  {
    lib::ip::tcp::acceptor probe(io, {lib::ip::make_address_v4("127.0.0.1"), 0});
    dead = probe.local_endpoint();
  }
  wrapped_tcp_socket s(io);
  lib_error_code async_ec;
  s.async_connect(dead, [&](const lib_error_code& ec) { async_ec = ec; });
  run_for(io);
  EXPECT_EQ(async_ec, lib::error::connection_refused) << async_ec.message();

  wrapped_tcp_socket sync(io);
  try {
    sync.connect(dead);
    ADD_FAILURE() << "connected to a closed port";
  } catch (const lib_system_error& e) {
    EXPECT_EQ(e.code(), lib::error::connection_refused);
    // The message names the peer.
    EXPECT_NE(std::string(e.what()).find("connect to 127.0.0.1:" + std::to_string(dead.port())),
              std::string::npos)
        << e.what();
  }

  lib::ip::tcp::acceptor live(io, {lib::ip::make_address_v4("127.0.0.1"), 0});
  wrapped_tcp_socket ok(io);
  lib_error_code ok_ec = lib::error::would_block;
  ok.async_connect(live.local_endpoint(), [&](const lib_error_code& ec) { ok_ec = ec; });
  run_for(io);
  EXPECT_FALSE(ok_ec) << ok_ec.message();
  EXPECT_TRUE(ok.is_open());
}

// What asio's own codes compare equal to, recorded for docs/async.md: Boost's
// map to the portable conditions; standalone asio 1.22's do not (they match
// asio::error's values only).  vmsock's codes (connect's
// vsock_connection_refused) match the std::errc conditions in both.
TEST(ASIO_SUITE(Errors), OwnCodesAndPortableConditions) {
  const lib_error_code refused = lib::error::connection_refused;
  const bool maps = std::error_code(refused) == std::errc::connection_refused;
  std::printf(
      "[   info   ] %s: asio::error::connection_refused == std::errc::connection_refused: %s\n",
      flavour_name(), maps ? "yes" : "no");
#if VMSOCK_TEST_BOOST_ASIO
  EXPECT_TRUE(maps);
  EXPECT_EQ(refused, boost::system::errc::connection_refused);
#endif
  // to_std gives the code vmsock would report, which does.
  EXPECT_EQ(to_std(refused), std::errc::connection_refused);
  EXPECT_EQ(to_std(lib::error::operation_aborted), std::errc::operation_canceled);
  EXPECT_EQ(to_std(lib::error::address_in_use), std::errc::address_in_use);
}

// ---- hand-over -------------------------------------------------------------------------

#if VMSOCK_LINUX
TEST(ASIO_SUITE(HandOver), VsockListenerBothWays) {
  REQUIRE_VSOCK();
  lib::io_context io;
  auto listener = vmsock::vsock_listener::listen({cid::any, vmsock::vsock::port_any});
  const auto handle = listener.native_handle();
  const vsock_endpoint local = listener.local_endpoint();

  vsock_stream::acceptor acceptor = flavour::to_asio(io, std::move(listener));
  EXPECT_FALSE(listener.is_open());
  ASSERT_TRUE(acceptor.is_open());
  EXPECT_EQ(acceptor.native_handle(), handle);
  EXPECT_EQ(acceptor.local_endpoint(), local);
  // asio uses it: a pending accept, cancelled (which makes it non-blocking inside asio).
  vsock_stream::socket peer(io);
  lib_error_code ec;
  acceptor.async_accept(peer, [&](const lib_error_code& e) { ec = e; });
  lib::post(io, [&] { acceptor.cancel(); });
  run_for(io);
  EXPECT_TRUE(is_aborted(ec)) << ec.message();

  vmsock::vsock_listener back = flavour::to_vmsock(std::move(acceptor));
  EXPECT_FALSE(acceptor.is_open());
  ASSERT_TRUE(back.is_open());
  EXPECT_EQ(back.native_handle(), handle);
  EXPECT_EQ(back.local_endpoint(), local);
  EXPECT_FALSE(back.is_nonblocking());  // as the asio acceptor's non_blocking() said
  std::error_code vec;
  back.accept(std::chrono::milliseconds(20), vec);
  EXPECT_EQ(vec, std::errc::timed_out) << vec.message();
}

TEST(ASIO_SUITE(HandOver), VsockSocketKeepsTheUsersBlockingMode) {
  REQUIRE_VSOCK();
  lib::io_context io;
  for (const bool non_blocking : {false, true}) {
    std::error_code open_ec;
    auto s = open_socket<vmsock::vsock_stream_socket>(vmsock::socket_type::stream, open_ec);
    ASSERT_FALSE(open_ec) << open_ec.message();
    const auto handle = s.native_handle();
    vsock_stream::socket a = flavour::to_asio(io.get_executor(), std::move(s));
    ASSERT_TRUE(a.is_open());
    EXPECT_EQ(a.native_handle(), handle);
    a.native_non_blocking(true);  // asio's own use of the handle
    a.non_blocking(non_blocking);
    vmsock::vsock_stream_socket back = flavour::to_vmsock(std::move(a));
    ASSERT_TRUE(back.is_open());
    EXPECT_EQ(back.native_handle(), handle);
    EXPECT_EQ(back.is_nonblocking(), non_blocking);
#  if VMSOCK_POSIX
    EXPECT_EQ((::fcntl(handle, F_GETFL) & O_NONBLOCK) != 0, non_blocking);
#  endif
  }
  // A seqpacket socket and a Hyper-V one make the same trip.
  std::error_code ec;
  auto sp = open_socket<vmsock::vsock_seqpacket_socket>(vmsock::socket_type::seqpacket, ec);
  if (!ec) {
    vsock_seqpacket::socket a = flavour::to_asio(io, std::move(sp));
    EXPECT_TRUE(a.is_open());
    vmsock::vsock_seqpacket_socket back = flavour::to_vmsock(std::move(a));
    EXPECT_TRUE(back.is_open());
  }
  auto hv = open_socket<vmsock::hv_stream_socket>(vmsock::socket_type::stream, ec);
  ASSERT_FALSE(ec) << ec.message();
  hv_stream::socket ah = flavour::to_asio(io, std::move(hv));
  EXPECT_TRUE(ah.is_open());
  vmsock::hv_stream_socket hv_back = flavour::to_vmsock(std::move(ah));
  EXPECT_TRUE(hv_back.is_open());
}

#endif  // VMSOCK_LINUX

TEST(ASIO_SUITE(HandOver), ClosedSocketsStayClosed) {
  lib::io_context io;
  vmsock::vsock_stream_socket closed;
  lib_error_code ec = lib::error::would_block;
  vsock_stream::socket a = flavour::to_asio(io, std::move(closed), ec);
  EXPECT_FALSE(ec);
  EXPECT_FALSE(a.is_open());
  std::error_code vec;
  vmsock::vsock_stream_socket back = flavour::to_vmsock(std::move(a), vec);
  EXPECT_TRUE(vec);
  EXPECT_FALSE(back.is_open());
  EXPECT_THROW(static_cast<void>(flavour::to_vmsock(vsock_stream::socket(io))), std::system_error);
}

// vmsock's TCP sockets become asio::ip::tcp's, and connect_first's
// any_stream_socket asio's generic stream socket: a program connects with
// vmsock, then goes async.
TEST(ASIO_SUITE(HandOver), TcpAndConnectFirstThenAsync) {
  lib::io_context io;
  auto server = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
  const auto port = server.local_endpoint().port;

  // A typed TCP socket.
  auto client = vmsock::tcp4_socket::connect(vmsock::inet4_endpoint::loopback(port));
  auto accepted = server.accept();
  lib::ip::tcp::socket async_client = flavour::to_asio(io, std::move(client));
  lib::ip::tcp::socket async_server = flavour::to_asio(io, std::move(accepted));
  EXPECT_EQ(async_client.remote_endpoint().port(), port);
  std::string got(5, '\0');
  lib::async_write(async_client, lib::buffer(std::string_view("hello")),
                   [](const lib_error_code& ec, std::size_t) { EXPECT_FALSE(ec); });
  lib::async_read(async_server, lib::buffer(got), [](const lib_error_code& ec, std::size_t n) {
    EXPECT_FALSE(ec);
    EXPECT_EQ(n, 5u);
  });
  run_for(io);
  EXPECT_EQ(got, "hello");

  // connect_first, falling back over a refused entry, then async.
  vmsock::tcp4_listener dead = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
  const auto dead_port = dead.local_endpoint().port;
  dead.close();
  auto any = vmsock::connect_first(
      {"tcp://127.0.0.1:" + std::to_string(dead_port), "tcp://127.0.0.1:" + std::to_string(port)},
      2s);
  auto peer = server.accept();
  lib::generic::stream_protocol::socket generic = flavour::to_asio(io, std::move(any));
  EXPECT_EQ(generic.local_endpoint().protocol().family(), AF_INET);
  std::array<char, 4> reply{};
  lib::async_write(generic, lib::buffer(std::string_view("ping")),
                   [](const lib_error_code& ec, std::size_t) { EXPECT_FALSE(ec); });
  run_for(io);
  peer.receive_exact(reply);
  peer.send_all(std::string_view("pong"));
  lib::async_read(generic, lib::buffer(reply),
                  [](const lib_error_code& ec, std::size_t) { EXPECT_FALSE(ec); });
  run_for(io);
  EXPECT_EQ(std::string(reply.data(), reply.size()), "pong");

  // The listener goes over too, and accepts asynchronously.
  lib::ip::tcp::acceptor acceptor = flavour::to_asio(io, std::move(server));
  lib::ip::tcp::socket third(io);
  acceptor.async_accept(third, [](const lib_error_code& ec) { EXPECT_FALSE(ec); });
  auto late = vmsock::tcp4_socket::connect(vmsock::inet4_endpoint::loopback(port), 2s);
  run_for(io);
  EXPECT_TRUE(third.is_open());
}

#if VMSOCK_POSIX
TEST(ASIO_SUITE(HandOver), UnixStreamBecomesAsioLocal) {
  lib::io_context io;
  const auto name = vmsock::unix_endpoint::abstract(
      "vmsock-asio-test-" + std::to_string(::getpid()) + "-" + flavour_name());
  auto l = vmsock::unix_listener::listen(name);
  auto c = vmsock::unix_stream_socket::connect(name);
  lib::local::stream_protocol::acceptor acceptor = flavour::to_asio(io, std::move(l));
  lib::local::stream_protocol::socket client = flavour::to_asio(io, std::move(c));
  EXPECT_TRUE(acceptor.is_open());
  lib::local::stream_protocol::socket peer = acceptor.accept();
  lib::write(client, lib::buffer(std::string_view("x")));
  char b = 0;
  lib::read(peer, lib::buffer(&b, 1));
  EXPECT_EQ(b, 'x');
}
#endif

// ---- Windows (under Wine: no AF_HYPERV) -----------------------------------------------

#if VMSOCK_WINDOWS
// The Hyper-V family is missing (Wine): the async path reports
// address_family_not_supported, with the system's text for it.
TEST(ASIO_SUITE(Windows), HyperVFailsThroughTheAsyncPath) {
  lib::io_context io;
  for (const bool vsock : {false, true}) {
    lib_error_code async_ec;
    std::string message;
    if (vsock) {
      vsock_stream::socket s(io);
      s.async_connect(vsock_endpoint{cid::host, 5000}, [&](const lib_error_code& ec) {
        async_ec = ec;
        message = ec.message();
      });
      run_for(io);
    } else {
      hv_stream::socket s(io);
      s.async_connect(hv_endpoint::for_port(vmsock::hv::vm_id::loopback, 5000),
                      [&](const lib_error_code& ec) {
                        async_ec = ec;
                        message = ec.message();
                      });
      run_for(io);
    }
    std::printf("[   info   ] %s %s async_connect: %s (%s:%d)\n", flavour_name(),
                vsock ? "vsock_stream" : "hv_stream", message.c_str(), async_ec.category().name(),
                async_ec.value());
    if (std::getenv("VMSOCK_REAL_WINDOWS")) continue;  // a real host has AF_HYPERV
    EXPECT_EQ(async_ec, lib::error::address_family_not_supported) << message;
    EXPECT_EQ(async_ec.value(), WSAEAFNOSUPPORT);
    EXPECT_EQ(to_std(async_ec), std::errc::address_family_not_supported);
    EXPECT_FALSE(message.empty());
  }
  // The synchronous form names the endpoint.
  hv_stream::socket s(io);
  try {
    s.connect(hv_endpoint::for_port(vmsock::hv::vm_id::loopback, 5000));
    if (!std::getenv("VMSOCK_REAL_WINDOWS")) ADD_FAILURE() << "connected without AF_HYPERV";
  } catch (const lib_system_error& e) {
    std::printf("[   info   ] %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("connect to hvsock://loopback/5000: "), std::string::npos)
        << e.what();
  }
}

// A VSOCK endpoint Windows has no Hyper-V form for fails where it becomes an
// asio endpoint: no socket is opened, no Winsock call is made.  (The
// error-code form shows the second: Winsock's last error is untouched.  A
// thrown exception may change it on its way: the unwinder calls Windows.)
TEST(ASIO_SUITE(Windows), VsockWithoutMappingFailsBeforeAnySystemCall) {
  lib::io_context io;
  vsock_stream::socket s(io);
  constexpr int sentinel = 12345;
  ::WSASetLastError(sentinel);
  std::error_code ec;
  const vsock_stream::endpoint ep = vsock_stream::endpoint::from(vsock_endpoint{5, 5000}, ec);
  EXPECT_EQ(::WSAGetLastError(), sentinel);
  EXPECT_EQ(ec, vmsock::errc::no_mapping);
  EXPECT_EQ(ep, vsock_stream::endpoint());

  bool called = false;
  try {
    s.async_connect(vsock_endpoint{5, 5000}, [&](const lib_error_code&) { called = true; });
    ADD_FAILURE() << "vsock://5:5000 became an AF_HYPERV address";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), vmsock::errc::no_mapping);
    EXPECT_NE(std::string(e.what()).find("vsock://5:5000"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(s.is_open());  // async_connect never ran: nothing was opened
  run_for(io);
  EXPECT_FALSE(called);
}

// The WSAStartup reference a released vmsock handle carries is given back
// once asio has the handle (asio holds one of its own): after the asio socket
// closes, the only references left are the asio libraries' own, one each
// (this program links both flavours).  Each ctest case is its own process.
TEST(ASIO_SUITE(Windows), HandOverGivesTheStartupReferenceBack) {
  {
    lib::io_context io;
    auto server = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
    auto client = vmsock::tcp4_socket::connect(server.local_endpoint());
    auto accepted = server.accept();
    lib::ip::tcp::socket a = flavour::to_asio(io, std::move(client));
    lib::ip::tcp::socket b = flavour::to_asio(io, std::move(accepted));
    lib::write(a, lib::buffer(std::string_view("x")));
    char c = 0;
    lib::read(b, lib::buffer(&c, 1));
    EXPECT_EQ(c, 'x');
  }
  int references = 0;
  while (::WSACleanup() == 0) ++references;
  EXPECT_EQ(::WSAGetLastError(), WSANOTINITIALISED);
  EXPECT_EQ(references, VMSOCK_TEST_ASIO_FLAVOURS)
      << "one for each asio library linked in (asio's, Boost.Asio's), none of vmsock's";
}

// asio's release() needs FileReplaceCompletionInformation (Windows 8.1),
// which Wine 8 lacks: to_vmsock reports operation_not_supported there and the
// asio object keeps its handle.
TEST(ASIO_SUITE(Windows), ReleaseBackToVmsock) {
  lib::io_context io;
  std::error_code open_ec;
  auto hv = open_socket<vmsock::hv_stream_socket>(vmsock::socket_type::stream, open_ec);
  if (open_ec) {  // Wine: no AF_HYPERV; a TCP socket shows the same
    auto server = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
    lib::ip::tcp::acceptor acceptor = flavour::to_asio(io, std::move(server));
    lib_error_code ec;
    const auto h = acceptor.release(ec);
    std::printf("[   info   ] %s release(): %s (%s:%d)\n", flavour_name(),
                ec ? ec.message().c_str() : "ok", ec.category().name(), ec.value());
    if (!ec) {
      vmsock::tcp4_listener back(h);
      EXPECT_TRUE(back.is_open());
    } else {
      EXPECT_EQ(to_std(ec), std::errc::operation_not_supported) << ec.message();
      EXPECT_TRUE(acceptor.is_open());
    }
    return;
  }
  hv_stream::socket a = flavour::to_asio(io, std::move(hv));
  std::error_code ec;
  vmsock::hv_stream_socket back = flavour::to_vmsock(std::move(a), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(back.is_open());
}
#endif

}  // namespace
