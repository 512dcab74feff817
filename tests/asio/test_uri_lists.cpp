// async_connect_first and listen_all, once per asio flavour (flavour.hpp):
// lists of URIs over TCP on 127.0.0.1, Unix sockets in a temporary directory
// and hybrid vsock against a fake VMM (a thread with a vmsock Unix listener).
// The first entry that connects wins, every failure before it is listed with
// its reason (as the synchronous connect_first lists them), a transport this
// platform lacks is skipped, a per-attempt timeout moves on to the next
// entry, a cancellation slot ends the whole list.  No AF_VSOCK socket is ever
// connected here: a Hyper-V URI with a VM id Linux has no form for is
// skipped before any socket exists.
#include "flavour.hpp"

#include <vmsock/any/connect_first.hpp>
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#if !defined(_WIN32)
#  include <unistd.h>
#endif

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace vmsock_uri_lists_test {
namespace {

using namespace vmsock_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using generic_socket = lib::generic::stream_protocol::socket;

// A Hyper-V address Linux has no AF_VSOCK form for: skipped there before any
// socket exists; Wine has no AF_HYPERV: skipped there too.
constexpr const char* unreachable_hv = "hvsock://6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f/5000";

bool have_unix_sockets() {
  temp_dir d;
  std::error_code ec;
  auto l = vmsock::unix_listener::listen(vmsock::unix_endpoint::path(d.file("probe")), ec);
  return !ec;
}

// A port on 127.0.0.1 nobody listens on.
std::uint16_t dead_port() {
  auto l = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
  return l.local_endpoint().port;
}
std::string tcp_uri(std::uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }

void run_io(lib::io_context& io, std::chrono::milliseconds limit = 10s) {
  io.restart();
  io.run_for(limit);
  EXPECT_TRUE(io.stopped()) << "operations still pending after " << limit.count() << " ms";
}

struct outcome {
  bool called = false;
  lib_error_code ec = lib::error::would_block;
  generic_socket socket;
  explicit outcome(lib::io_context& io) : socket(io) {}
  auto handler() {
    return [this](const lib_error_code& e, generic_socket s) {
      called = true;
      ec = e;
      socket = std::move(s);
    };
  }
};

// One echo through a connected socket.
void expect_echo(lib::io_context& io, generic_socket& s) {
  std::string back(4, '\0');
  lib::async_write(s, lib::buffer(std::string_view("ping")),
                   [](const lib_error_code& e, std::size_t) { EXPECT_FALSE(e) << e.message(); });
  lib::async_read(s, lib::buffer(back),
                  [](const lib_error_code& e, std::size_t) { EXPECT_FALSE(e) << e.message(); });
  run_io(io);
  EXPECT_EQ(back, "ping");
}

// Accepts one connection on `l` and echoes until the peer closes (bounded).
template <class Listener> std::thread echo_once(Listener& l) {
  return std::thread([&l] {
    std::error_code ec;
    auto c = l.accept(10s, ec);
    if (ec) return;
    char buf[256];
    for (;;) {
      const std::size_t n = c.receive(vmsock::mutable_buffer{buf, sizeof buf}, 10s, ec);
      if (ec || n == 0) return;
      c.send_all(vmsock::const_buffer{buf, n}, ec);
    }
  });
}

// A VMM on a Unix socket that reads the CONNECT line and answers `reply`
// (nothing when empty: it then waits for the host to close), then echoes.
class fake_vmm {
 public:
  explicit fake_vmm(std::string reply)
      : listener_(vmsock::unix_listener::listen(vmsock::unix_endpoint::path(path()))),
        reply_(std::move(reply)),
        thread_([this] { serve(); }) {}
  ~fake_vmm() { thread_.join(); }
  std::string path() const { return dir_.file("vmm.sock"); }
  std::string uri(std::uint32_t port) const {
    return "hybrid-vsock://" + path() + ":" + std::to_string(port);
  }

 private:
  void serve() {
    std::error_code ec;
    auto c = listener_.accept(10s, ec);
    if (ec) return;
    char ch = 0;
    std::string line;
    while (line.size() < 64 && c.receive(vmsock::mutable_buffer{&ch, 1}, 10s, ec) == 1 && !ec) {
      line += ch;
      if (ch == '\n') break;
    }
    if (!reply_.empty()) c.send_all(vmsock::const_buffer{reply_.data(), reply_.size()}, ec);
    char buf[256];
    for (;;) {
      const std::size_t n = c.receive(vmsock::mutable_buffer{buf, sizeof buf}, 10s, ec);
      if (ec || n == 0) return;
      c.send_all(vmsock::const_buffer{buf, n}, ec);
    }
  }

  temp_dir dir_;
  vmsock::unix_listener listener_;
  std::string reply_;
  std::thread thread_;
};

// ---- async_connect_first ---------------------------------------------------------------

TEST(ASIO_SUITE(AsyncConnectFirst), TheFirstThatConnectsWinsAndEachFailureIsListed) {
  const std::uint16_t dead = dead_port();
  auto live = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
  std::thread peer = echo_once(live);
  const std::vector<std::string> uris{unreachable_hv, tcp_uri(dead),
                                      tcp_uri(live.local_endpoint().port)};
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  flavour::async_connect_first(io, uris, 5s, failed, out.handler());
  EXPECT_FALSE(out.called) << "never completes inside the initiating call";
  run_io(io);
  ASSERT_TRUE(out.called);
  ASSERT_FALSE(out.ec) << out.ec.message();
  ASSERT_TRUE(out.socket.is_open());
  EXPECT_EQ(out.socket.remote_endpoint().protocol().family(), AF_INET);
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].endpoint.to_string(), unreachable_hv);
  EXPECT_TRUE(failed[0].skipped) << failed[0].error.message();
  EXPECT_EQ(failed[1].endpoint.to_string(), tcp_uri(dead));
  EXPECT_EQ(failed[1].error, std::errc::connection_refused) << failed[1].error.message();
  EXPECT_FALSE(failed[1].skipped);
  expect_echo(io, out.socket);
  out.socket.close();
  peer.join();
}

TEST(ASIO_SUITE(AsyncConnectFirst), WhenEveryEntryFailsTheLastErrorAndTheSynchronousListing) {
  const std::uint16_t a = dead_port();
  const std::uint16_t b = dead_port();
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  flavour::async_connect_first(io, {tcp_uri(a), tcp_uri(b)}, 5s, failed, out.handler());
  run_io(io);
  ASSERT_TRUE(out.called);
  EXPECT_EQ(to_std(out.ec), std::errc::connection_refused) << out.ec.message();
  EXPECT_FALSE(out.socket.is_open());
  ASSERT_EQ(failed.size(), 2u);
  // The listing the synchronous connect_first throws for the same list.
  std::string sync_what;
  try {
    auto never = vmsock::connect_first({tcp_uri(a), tcp_uri(b)}, 5s);
    ADD_FAILURE() << "connected to " << never.remote().to_string();
  } catch (const vmsock::connect_error& e) {
    sync_what = e.what();
  }
  const vmsock::connect_error async_error = vmsock::make_connect_error(to_std(out.ec), failed);
  EXPECT_EQ(std::string(async_error.what()), sync_what);
  EXPECT_EQ(async_error.attempts().size(), 2u);
  EXPECT_NE(sync_what.find(tcp_uri(a) + ": "), std::string::npos) << sync_what;
}

TEST(ASIO_SUITE(AsyncConnectFirst), UnixAndHybridEntries) {
  if (!have_unix_sockets()) GTEST_SKIP() << "no Unix sockets here (Wine)";
  temp_dir d;
  fake_vmm vmm("OK 1073741824\n");
  const std::string missing = "unix://" + d.file("nobody.sock");
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  flavour::async_connect_first(io, {missing, vmm.uri(5000)}, 5s, failed, out.handler());
  run_io(io);
  ASSERT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(out.socket.remote_endpoint().protocol().family(), AF_UNIX);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].error, std::errc::no_such_file_or_directory) << failed[0].error.message();
  expect_echo(io, out.socket);
  out.socket.close();
}

// A VMM's junk answer stays with its attempt, and make_connect_error quotes it
// as the synchronous connect_first does.
TEST(ASIO_SUITE(AsyncConnectFirst), AJunkAnswerIsKeptAndQuoted) {
  if (!have_unix_sockets()) GTEST_SKIP() << "no Unix sockets here (Wine)";
  fake_vmm junk("ERR nope\n");
  const std::uint16_t dead = dead_port();
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  flavour::async_connect_first(io, {junk.uri(5000), tcp_uri(dead)}, 5s, failed, out.handler());
  run_io(io);
  ASSERT_TRUE(out.called);
  EXPECT_EQ(to_std(out.ec), std::errc::connection_refused) << out.ec.message();
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].error, vmsock::errc::hybrid_vsock_bad_answer) << failed[0].error.message();
  EXPECT_EQ(failed[0].answer.raw(), "ERR nope\n");
  EXPECT_TRUE(failed[1].answer.raw().empty());
  const std::string what = vmsock::make_connect_error(to_std(out.ec), failed).what();
  EXPECT_NE(what.find(junk.uri(5000) + " (answered \"ERR nope\\x0a\"): "), std::string::npos)
      << what;
}

TEST(ASIO_SUITE(AsyncConnectFirst), APerAttemptTimeoutMovesOnToTheNextEntry) {
  if (!have_unix_sockets()) GTEST_SKIP() << "no Unix sockets here (Wine)";
  fake_vmm silent("");  // reads the CONNECT line and never answers
  auto live = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
  std::thread peer = echo_once(live);
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  const std::string tcp = tcp_uri(live.local_endpoint().port);
  flavour::async_connect_first(io, {silent.uri(5000), tcp}, 200ms, failed, out.handler());
  run_io(io);
  ASSERT_FALSE(out.ec) << out.ec.message();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].error, vmsock::errc::timed_out) << failed[0].error.message();
  EXPECT_TRUE(failed[0].answer.awaited) << "the VMM took the connection and said nothing";
  expect_echo(io, out.socket);
  out.socket.close();
  peer.join();
}

#if (VMSOCK_TEST_BOOST_ASIO && BOOST_ASIO_VERSION >= 101900) || \
    (!VMSOCK_TEST_BOOST_ASIO && ASIO_VERSION >= 101900)
TEST(ASIO_SUITE(AsyncConnectFirst), ACancellationSlotEndsTheWholeList) {
  if (!have_unix_sockets()) GTEST_SKIP() << "no Unix sockets here (Wine)";
  fake_vmm silent("");
  const std::uint16_t dead = dead_port();
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  lib::cancellation_signal signal;
  flavour::async_connect_first(io, {silent.uri(5000), tcp_uri(dead)}, vmsock::no_timeout, failed,
                               lib::bind_cancellation_slot(signal.slot(), out.handler()));
  lib::steady_timer timer(io, 50ms);
  timer.async_wait([&](const lib_error_code&) { signal.emit(lib::cancellation_type::terminal); });
  run_io(io);
  ASSERT_TRUE(out.called);
  EXPECT_EQ(out.ec, lib::error::operation_aborted) << out.ec.message();
  EXPECT_FALSE(out.socket.is_open());
  ASSERT_EQ(failed.size(), 1u) << "the entry after the cancelled one is never tried";
  EXPECT_EQ(failed[0].error, std::errc::operation_canceled);
}
#endif

TEST(ASIO_SUITE(AsyncConnectFirst), BadListsAreRefusedBeforeAnythingStarts) {
  lib::io_context io;
  outcome out(io);
  try {
    flavour::async_connect_first(io, {"tcp://127.0.0.1:1", "tcp://localhost:80"}, out.handler());
    ADD_FAILURE() << "no parse_error";
  } catch (const vmsock::parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("async_connect_first: entry 2 of 2"), std::string::npos)
        << e.what();
  }
  try {
    flavour::async_connect_first(io, {"tcp://127.0.0.1:1", "udp://127.0.0.1:5000"}, 1s,
                                 out.handler());
    ADD_FAILURE() << "no parse_error";
  } catch (const vmsock::parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("udp://127.0.0.1:5000 is a datagram endpoint"),
              std::string::npos)
        << e.what();
  }
  run_io(io);
  EXPECT_FALSE(out.called);
  // An empty list completes (not inline) with invalid_argument.
  flavour::async_connect_first(io, std::vector<vmsock::any_endpoint>{}, out.handler());
  EXPECT_FALSE(out.called);
  run_io(io);
  ASSERT_TRUE(out.called);
  EXPECT_EQ(to_std(out.ec), std::errc::invalid_argument);
}

// ---- async_connect_first with wait_for_ready ------------------------------------------

// A fast backoff, so that the rounds are many and the test short.
constexpr vmsock::wait_for_ready quick{std::chrono::milliseconds(5), std::chrono::milliseconds(20),
                                       0.2, 7};

TEST(ASIO_SUITE(AsyncConnectFirstReady), APeerThatComesUpLateIsReachedWithinTheDeadline) {
  temp_dir d;
  const std::uint16_t port = dead_port();
  const std::string late_file = "unix://" + d.file("late.sock");
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  std::vector<std::string> uris{tcp_uri(port)};
  if (have_unix_sockets()) uris.insert(uris.begin(), late_file);
  flavour::async_connect_first(io, uris, 10s, quick, failed, out.handler());
  // The TCP peer starts listening after the list was tried several times.
  std::optional<vmsock::tcp4_listener> late;
  lib::steady_timer start_late(io, 200ms);
  start_late.async_wait([&](const lib_error_code&) {
    late = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(port));
  });
  run_io(io);
  ASSERT_TRUE(out.called);
  ASSERT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(out.socket.remote_endpoint().protocol().family(), AF_INET);
  // Each entry once, with its last failure: the Unix file never came.
  ASSERT_EQ(failed.size(), uris.size());
  EXPECT_EQ(failed.back().endpoint.to_string(), tcp_uri(port));
  EXPECT_EQ(failed.back().error, std::errc::connection_refused);
  if (uris.size() == 2) {
    EXPECT_EQ(failed[0].error, std::errc::no_such_file_or_directory);
  }
}

TEST(ASIO_SUITE(AsyncConnectFirstReady), TheDeadlineEndsItWithTimedOut) {
  const std::uint16_t a = dead_port();
  const std::uint16_t b = dead_port();
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  flavour::async_connect_first(io, {tcp_uri(a), tcp_uri(b)}, 300ms, quick, failed, out.handler());
  run_io(io);
  ASSERT_TRUE(out.called);
  EXPECT_EQ(to_std(out.ec), vmsock::errc::timed_out) << out.ec.message();
  ASSERT_EQ(failed.size(), 2u) << "each entry once, with its last error";
  EXPECT_EQ(failed[0].error, std::errc::connection_refused);
  EXPECT_EQ(failed[1].error, std::errc::connection_refused);
}

TEST(ASIO_SUITE(AsyncConnectFirstReady), AnEntryThatFailsOtherwiseIsNotTriedAgain) {
  lib::io_context io;
  outcome out(io);
  std::vector<vmsock::connect_attempt> failed;
  flavour::async_connect_first(io, {unreachable_hv}, 10s, quick, failed, out.handler());
  run_io(io);
  ASSERT_TRUE(out.called);
  EXPECT_TRUE(out.ec);
  EXPECT_NE(to_std(out.ec), vmsock::errc::timed_out) << "ended by the error, not the deadline";
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_TRUE(failed[0].skipped) << failed[0].error.message();
}

// ---- listen_all --------------------------------------------------------------------------

std::uint16_t dead_port6() {
  auto l = vmsock::tcp6_listener::listen(vmsock::inet6_endpoint::loopback(0));
  return l.local_endpoint().port;
}

TEST(ASIO_SUITE(ListenAll), AnAcceptorForEachAndTheirConnections) {
  temp_dir d;
  std::vector<std::string> uris{tcp_uri(dead_port()),
                                "tcp://[::1]:" + std::to_string(dead_port6())};
  const bool with_unix = have_unix_sockets();
  if (with_unix) {
    uris.push_back("unix://" + d.file("agent.sock"));
    uris.push_back("hybrid-vsock://" + d.file("vmm.sock") + ":6000");
  }
  lib::io_context io;
  auto acceptors = flavour::listen_all(io, uris);
  ASSERT_EQ(acceptors.size(), uris.size());
  EXPECT_EQ(acceptors[0].local_endpoint().protocol().family(), AF_INET);
  EXPECT_EQ(acceptors[1].local_endpoint().protocol().family(), AF_INET6);
  if (with_unix) {
    EXPECT_EQ(acceptors[2].local_endpoint().protocol().family(), AF_UNIX);
    EXPECT_TRUE(fs::exists(d.file("vmm.sock_6000")))
        << "the guest's connections come to <path>_<port>";
  }
  std::size_t accepted = 0;
  for (auto& a : acceptors) {
    a.async_accept([&](const lib_error_code& e, generic_socket) {
      EXPECT_FALSE(e) << e.message();
      if (!e) ++accepted;
    });
  }
  // A client at each address (vmsock's synchronous layer; a connection waits
  // in the backlog until the acceptor takes it).
  std::vector<std::string> to(uris.begin(), uris.end());
  if (with_unix) to.back() = "unix://" + d.file("vmm.sock_6000");
  std::vector<vmsock::any_stream_socket> clients;
  for (const auto& uri : to)
    clients.push_back(vmsock::any_stream_socket::connect(vmsock::any_endpoint::parse(uri), 5s));
  run_io(io);
  EXPECT_EQ(accepted, uris.size());
}

#if !defined(_WIN32)
// A VSOCK listener among them (AF_VSOCK listens on this machine; nothing
// connects to it here: real VSOCK traffic is the test guest's, vm_asio).
TEST(ASIO_SUITE(ListenAll), AVsockEntryIsAnAfVsockAcceptor) {
  const std::uint32_t port = 20000 + static_cast<std::uint32_t>(::getpid()) % 30000;
  lib::io_context io;
  std::vector<decltype(flavour::listen_all(io, {"tcp://127.0.0.1:0"}))::value_type> acceptors;
  try {
    acceptors = flavour::listen_all(
        io, {std::string("tcp://127.0.0.1:0"), "vsock://any:" + std::to_string(port)});
  } catch (const std::system_error& e) {
    if (e.code() == std::errc::address_family_not_supported)
      GTEST_SKIP() << "no AF_VSOCK in this kernel: " << e.what();
    throw;
  }
  ASSERT_EQ(acceptors.size(), 2u);
  EXPECT_EQ(acceptors[1].local_endpoint().protocol().family(), vmsock::vsock::address_family);
  EXPECT_TRUE(acceptors[1].is_open());
}
#endif

TEST(ASIO_SUITE(ListenAll), AnAddressInUseIsNamedAndNothingStaysOpen) {
  auto taken = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
  const std::string busy = tcp_uri(taken.local_endpoint().port);
  const std::uint16_t free = dead_port();
  lib::io_context io;
  try {
    flavour::listen_all(io, {tcp_uri(free), busy});
    ADD_FAILURE() << "listen_all did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
    EXPECT_NE(std::string(e.what()).find("listen_all: listen on " + busy), std::string::npos)
        << e.what();
  }
  // All or nothing: the first address was let go again.
  std::error_code ec;
  auto again = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(free), ec);
  EXPECT_FALSE(ec) << ec.message();
}

}  // namespace
}  // namespace vmsock_uri_lists_test
