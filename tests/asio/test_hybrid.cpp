// hybrid_vsock_stream, once per asio flavour (flavour.hpp): the endpoint's
// conversions, then sockets against a fake VMM (a thread with a vmsock Unix
// listener in a temporary directory) that reads the CONNECT line and answers
// as told: OK, OK with the guest's first bytes in the same write (they must
// come through the asio socket intact: the answer is never read past), a
// silent close (connection refused), junk (bad answer), nothing at all
// (cancel, close, per-operation cancellation); a missing socket file; a
// connect with wait_for_ready (a late socket file, silent closes, the
// deadline, another error, cancel in a pause, an open socket); the
// acceptor on "<path>_<port>"; the hand-over from vmsock's hybrid sockets.
#include "flavour.hpp"

#include <vmsock/interop/asio_fmt.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/aliases.hpp>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

namespace vmsock_hybrid_test {
namespace {

using namespace vmsock_test;
using namespace std::chrono_literals;
using vmsock::hybrid_vsock_endpoint;
using hybrid = flavour::hybrid_vsock_stream;
namespace fs = std::filesystem;

// ---- types and endpoints (no sockets) ------------------------------------------------

static_assert(
    std::is_base_of_v<lib::basic_stream_socket<hybrid, lib::any_io_executor>, hybrid::socket>);
static_assert(
    std::is_base_of_v<lib::basic_socket_acceptor<hybrid, lib::any_io_executor>, hybrid::acceptor>);
static_assert(std::is_same_v<hybrid::socket::endpoint_type, hybrid::endpoint>);
static_assert(std::is_same_v<hybrid::endpoint::protocol_type, hybrid>);
static_assert(
    std::is_same_v<hybrid::socket::rebind_executor<lib::any_io_executor>::other, hybrid::socket>);
// What the acceptor's accept() returns: the protocol's socket, with answer().
static_assert(std::is_same_v<decltype(std::declval<hybrid::acceptor&>().accept()), hybrid::socket>);
static_assert(std::is_nothrow_default_constructible_v<hybrid::endpoint>);
static_assert(std::is_convertible_v<hybrid_vsock_endpoint, hybrid::endpoint>);
static_assert(std::is_convertible_v<hybrid::endpoint, hybrid_vsock_endpoint>);

TEST(ASIO_SUITE(HybridEndpoint), FromAndToTheVmsockEndpoint) {
  const hybrid_vsock_endpoint v{"/run/fc.vsock", 5000};
  const hybrid::endpoint ep = v;
  EXPECT_EQ(ep.protocol().family(), AF_UNIX);
  EXPECT_EQ(ep.protocol().type(), SOCK_STREAM);
  EXPECT_EQ(ep.protocol().protocol(), 0);
  // The OS sees the VMM's socket; the port is the handshake's.
  EXPECT_EQ(ep.address(), v.uds());
  EXPECT_EQ(ep.size(), v.uds().native_size());
  EXPECT_EQ(ep.data()->sa_family, AF_UNIX);
  EXPECT_TRUE(ep.has_port());
  EXPECT_EQ(ep.port(), 5000u);
  EXPECT_EQ(ep.value(), v);
  EXPECT_EQ(static_cast<hybrid_vsock_endpoint>(ep), v);
  EXPECT_TRUE(ep == v && v == ep);
  EXPECT_NE(ep, (hybrid_vsock_endpoint{"/run/fc.vsock", 5001}));
  EXPECT_EQ(ep.to_string(), "hybrid-vsock:///run/fc.vsock:5000");
  EXPECT_EQ(fmt::format("{:>35}", ep), "  hybrid-vsock:///run/fc.vsock:5000");
  EXPECT_EQ(hybrid::endpoint::parse("hybrid-vsock:///run/fc.vsock:5000"), ep);
  EXPECT_EQ(hybrid::endpoint("/run/fc.vsock", 5000), ep);
  EXPECT_THROW(hybrid::endpoint("", 5000), std::invalid_argument);
}

// What the OS writes (local_endpoint(), remote_endpoint(), accept's peer) is
// a Unix address without a port.
TEST(ASIO_SUITE(HybridEndpoint), ResizeTakesUnixAddressesWithoutAPort) {
  hybrid::endpoint ep;
  EXPECT_FALSE(ep.has_port());
  EXPECT_TRUE(ep.address().is_unnamed());
  const auto listening = hybrid_vsock_endpoint{"/run/fc.vsock", 6000}.listen_uds();
  const auto native = listening.to_native();
  std::memcpy(static_cast<void*>(ep.data()), &native, listening.native_size());
  ep.resize(listening.native_size());
  EXPECT_EQ(ep.address(), listening);
  EXPECT_FALSE(ep.has_port());
  EXPECT_EQ(ep.to_string(), "unix:///run/fc.vsock_6000");
  std::error_code ec;
  EXPECT_EQ(ep.value(ec), hybrid_vsock_endpoint{});
  EXPECT_EQ(ec, std::errc::invalid_argument);
  try {
    static_cast<void>(ep.value());
    ADD_FAILURE() << "a port from nowhere";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("unix:///run/fc.vsock_6000"), std::string::npos)
        << e.what();
  }
  // An unnamed peer (the family field alone).
  ep.resize(offsetof(vmsock::unix_endpoint::native_type, sun_path));
  EXPECT_TRUE(ep.address().is_unnamed());
  // Too short, too long, another family: asio's system_error, and the default endpoint.
  EXPECT_EQ(to_std(lib_error_of([&] { ep.resize(1); })), std::errc::invalid_argument);
  EXPECT_EQ(to_std(lib_error_of([&] { ep.resize(ep.capacity() + 1); })),
            std::errc::invalid_argument);
  std::memcpy(static_cast<void*>(ep.data()), &native, listening.native_size());
  ep.data()->sa_family = AF_INET;
  EXPECT_EQ(to_std(lib_error_of([&] { ep.resize(listening.native_size()); })),
            vmsock::errc::address_family_mismatch);
  EXPECT_EQ(ep, hybrid::endpoint());
}

// ---- a fake VMM ------------------------------------------------------------------------

// Why Unix sockets cannot be used here (Wine has none), or empty.
std::string unix_unavailable() {
  temp_dir d;
  std::error_code ec;
  auto l =
      vmsock::unix_listener::listen(vmsock::unix_endpoint::path((d.path / "probe").string()), ec);
  if (ec) return "no Unix sockets here: " + ec.message();
  return {};
}
#define REQUIRE_UNIX_SOCKETS()                  \
  do {                                          \
    const std::string why = unix_unavailable(); \
    if (!why.empty()) GTEST_SKIP() << why;      \
  } while (0)

// The request line a VMM reads (up to its '\n', at most 64 bytes, 10 s).
template <class Connection> std::string read_request(Connection& c) {
  std::error_code ec;
  std::string line;
  char ch = 0;
  while (line.size() < 64 && c.receive(vmsock::mutable_buffer{&ch, 1}, 10s, ec) == 1 && !ec) {
    line += ch;
    if (ch == '\n') break;
  }
  return line;
}

// What the VMM does after its reply (drop: closes at once, reading nothing,
// as Firecracker past its connection limit does).
enum class then { echo, close, wait_for_close, drop };

// Listens on <dir>/vmm.sock; for each of `connections` connections reads
// the request line, sends `reply` in one write (nothing when empty), or its
// `parts` in as many writes a few milliseconds apart, then echoes, closes or
// waits for the host to close.  Every wait is bounded (10 s).
class fake_vmm {
 public:
  fake_vmm(std::string reply, then after, int connections = 1)
      : fake_vmm(std::vector<std::string>{std::move(reply)}, after, connections) {}
  fake_vmm(std::vector<std::string> parts, then after, int connections = 1)
      : listener_(vmsock::unix_listener::listen(vmsock::unix_endpoint::path(path()))),
        parts_(std::move(parts)),
        after_(after),
        thread_([this, connections] {
          for (int i = 0; i < connections; ++i) serve();
        }) {}
  ~fake_vmm() { join(); }

  std::string path() const { return (dir_.path / "vmm.sock").string(); }
  hybrid_vsock_endpoint endpoint(std::uint32_t port) const { return {path(), port}; }
  // The request lines it read, once it is done.
  std::vector<std::string> requests() {
    join();
    return requests_;
  }

 private:
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  void serve() {
    std::error_code ec;
    auto c = listener_.accept(10s, ec);
    if (ec) return;
    if (after_ == then::drop) return;
    requests_.push_back(read_request(c));
    for (std::size_t i = 0; i < parts_.size() && !ec; ++i) {
      if (i != 0) std::this_thread::sleep_for(20ms);  // separate segments, most likely
      if (!parts_[i].empty())
        c.send_all(vmsock::const_buffer{parts_[i].data(), parts_[i].size()}, ec);
    }
    if (after_ == then::close) return;
    char buf[4096];
    for (;;) {
      const std::size_t n = c.receive(vmsock::mutable_buffer{buf, sizeof buf}, 10s, ec);
      if (ec || n == 0) break;
      if (after_ == then::echo) c.send_all(vmsock::const_buffer{buf, n}, ec);
    }
  }

  temp_dir dir_;
  vmsock::unix_listener listener_;
  std::vector<std::string> parts_;
  then after_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// Runs `io` until it has no work or `limit` passes (a test that would hang fails).
void run_io(lib::io_context& io, std::chrono::milliseconds limit = 10s) {
  io.restart();
  io.run_for(limit);
  EXPECT_TRUE(io.stopped()) << "operations still pending after " << limit.count() << " ms";
}

// async_connect with a callback, run to completion.
lib_error_code connect_async(lib::io_context& io, hybrid::socket& s, const hybrid::endpoint& ep) {
  lib_error_code result = lib::error::would_block;
  s.async_connect(ep, [&](const lib_error_code& ec) { result = ec; });
  run_io(io);
  return result;
}

// Bytes the guest sends first: more than one read of the answer could take.
std::string guest_bytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

// ---- connect -----------------------------------------------------------------------------

TEST(ASIO_SUITE(HybridConnect), OkThenAnOrdinaryStream) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm vmm("OK 1073741824\n", then::echo);
  lib::io_context io;
  hybrid::socket s(io);
  EXPECT_TRUE(s.answer().empty());
  const lib_error_code ec = connect_async(io, s, vmm.endpoint(5000));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.answer(), "1073741824");
  EXPECT_EQ(s.answer_port(), 1073741824u);
  EXPECT_EQ(s.remote_endpoint().address(), vmm.endpoint(5000).uds());
  // The echo through asio.
  std::string back(4, '\0');
  lib::async_write(s, lib::buffer(std::string_view("ping")),
                   [](const lib_error_code& e, std::size_t) { EXPECT_FALSE(e) << e.message(); });
  lib::async_read(s, lib::buffer(back),
                  [](const lib_error_code& e, std::size_t) { EXPECT_FALSE(e) << e.message(); });
  run_io(io);
  EXPECT_EQ(back, "ping");
  s.close();
  EXPECT_EQ(vmm.requests(), std::vector<std::string>{"CONNECT 5000\n"});
}

// The VMM's answer and the guest's first bytes in one write: every byte after
// the '\n' reaches the application, for the bare "OK\n" (3 bytes), the
// shortest answer with a port (5), a port and a GUID.
TEST(ASIO_SUITE(HybridConnect), GuestBytesInTheAnswersWriteArriveIntact) {
  REQUIRE_UNIX_SOCKETS();
  const std::string data = guest_bytes(1000);
  for (const std::string answer :
       {"OK\n", "OK 7\n", "OK 1073741825\n", "OK {6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f}\n"}) {
    SCOPED_TRACE(answer);
    fake_vmm vmm(answer + data, then::echo);
    lib::io_context io;
    hybrid::socket s(io);
    const lib_error_code ec = connect_async(io, s, vmm.endpoint(0xFFFFFFFFu));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(s.answer(), answer.substr(3, answer.size() - 4));
    std::string got(data.size(), '\0');
    lib_error_code read_ec;
    lib::async_read(s, lib::buffer(got),
                    [&](const lib_error_code& e, std::size_t) { read_ec = e; });
    run_io(io);
    EXPECT_FALSE(read_ec) << read_ec.message();
    EXPECT_EQ(got, data);
    // And the stream goes on.
    lib::write(s, lib::buffer(std::string_view("x")));
    char c = 0;
    lib::read(s, lib::buffer(&c, 1));
    EXPECT_EQ(c, 'x');
    s.close();
    EXPECT_EQ(vmm.requests(), std::vector<std::string>{"CONNECT 4294967295\n"});
  }
}

// The answer split over several writes, the guest's bytes right after its
// '\n' in the last: the same answer and every guest byte, async and blocking.
TEST(ASIO_SUITE(HybridConnect), AnAnswerInSeveralSegmentsStopsAtItsNewline) {
  REQUIRE_UNIX_SOCKETS();
  const std::string data = guest_bytes(300);
  for (const auto& parts : std::vector<std::vector<std::string>>{
           {"O", "K 10", "73741824", "\n" + data}, {"OK 1073741824", "\n" + data}}) {
    SCOPED_TRACE(parts[1]);
    fake_vmm vmm(parts, then::echo, 2);
    lib::io_context io;
    for (const bool blocking : {false, true}) {
      hybrid::socket s(io);
      if (blocking)
        s.connect(vmm.endpoint(5000));
      else
        ASSERT_FALSE(connect_async(io, s, vmm.endpoint(5000)));
      EXPECT_EQ(s.answer(), "1073741824");
      std::string got(data.size(), '\0');
      lib::read(s, lib::buffer(got));
      EXPECT_EQ(got, data);
      s.close();
    }
  }
}

TEST(ASIO_SUITE(HybridConnect), SilentCloseIsConnectionRefused) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm vmm("", then::close);
  lib::io_context io;
  hybrid::socket s(io);
  const lib_error_code ec = connect_async(io, s, vmm.endpoint(5000));
  EXPECT_EQ(to_std(ec), vmsock::errc::hybrid_vsock_refused) << ec.message();
  EXPECT_EQ(to_std(ec), std::errc::connection_refused);
  EXPECT_EQ(std::error_code(ec), std::errc::connection_refused);
#if VMSOCK_TEST_BOOST_ASIO
  EXPECT_EQ(ec, boost::system::errc::connection_refused);
#endif
  EXPECT_FALSE(s.is_open());  // closed on failure
  EXPECT_TRUE(s.answer().empty());
}

// A VMM that closes before it reads the request (the host's send or
// receive sees EPIPE or ECONNRESET rather than an end of stream): refused too.
TEST(ASIO_SUITE(HybridConnect), CloseBeforeReadingTheRequestIsConnectionRefused) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm vmm("", then::drop, 5);
  for (int i = 0; i < 5; ++i) {
    lib::io_context io;
    hybrid::socket s(io);
    const lib_error_code ec = connect_async(io, s, vmm.endpoint(5000));
    EXPECT_EQ(to_std(ec), vmsock::errc::hybrid_vsock_refused) << ec.message();
    EXPECT_FALSE(s.is_open());
  }
}

// Not OK, no '\n' before the close, more than 64 bytes without one.
TEST(ASIO_SUITE(HybridConnect), AnythingButOkIsABadAnswer) {
  REQUIRE_UNIX_SOCKETS();
  for (const std::string& junk : std::vector<std::string>{
           "KO 1\n", "OKAY 1\n", "OK 5", "HTTP/1.1 400 Bad Request\r\n", std::string(70, 'x')}) {
    SCOPED_TRACE(junk);
    fake_vmm vmm(junk, then::close);
    lib::io_context io;
    hybrid::socket s(io);
    const lib_error_code ec = connect_async(io, s, vmm.endpoint(5000));
    EXPECT_EQ(to_std(ec), vmsock::errc::hybrid_vsock_bad_answer) << ec.message();
    EXPECT_FALSE(s.is_open());
    EXPECT_TRUE(s.answer().empty());
  }
}

// A VMM that never answers: cancel(), close() and a cancellation slot end
// the connect with operation_aborted, and the socket is closed.
// On a fresh socket each, start(s, handler) starts an operation that
// cancel(), then close(), `after` that must end with operation_aborted,
// leaving the socket closed.
template <class Start>
void expect_cancel_and_close_end_it(lib::io_context& io, std::chrono::milliseconds after,
                                    Start&& start) {
  for (const bool by_close : {false, true}) {
    hybrid::socket s(io);
    lib_error_code result = lib::error::would_block;
    lib::steady_timer timer(io, after);
    start(s, [&](const lib_error_code& ec) {
      result = ec;
      timer.cancel();
    });
    timer.async_wait([&](const lib_error_code& ec) {
      if (ec) return;
      if (by_close)
        s.close();
      else
        s.cancel();
    });
    run_io(io);
    EXPECT_EQ(result, lib::error::operation_aborted)
        << (by_close ? "close: " : "cancel: ") << result.message();
    EXPECT_FALSE(s.is_open());
  }
}

TEST(ASIO_SUITE(HybridConnect), NoAnswerEndsWithCancelAndClose) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm vmm("", then::wait_for_close, 2);
  lib::io_context io;
  expect_cancel_and_close_end_it(io, 50ms, [&](hybrid::socket& s, auto handler) {
    s.async_connect(vmm.endpoint(5000), std::move(handler));
  });
  EXPECT_EQ(vmm.requests(), (std::vector<std::string>{"CONNECT 5000\n", "CONNECT 5000\n"}));
}

#if (VMSOCK_TEST_BOOST_ASIO && BOOST_ASIO_VERSION >= 101900) || \
    (!VMSOCK_TEST_BOOST_ASIO && ASIO_VERSION >= 101900)
// start(handler) starts an operation; its handler's cancellation slot is
// emitted (terminal) `after` that; the operation's result.
template <class Start>
lib_error_code ended_by_a_slot(lib::io_context& io, std::chrono::milliseconds after,
                               Start&& start) {
  lib::cancellation_signal signal;
  lib_error_code result = lib::error::would_block;
  start(lib::bind_cancellation_slot(signal.slot(), [&](const lib_error_code& ec) { result = ec; }));
  lib::steady_timer timer(io, after);
  timer.async_wait([&](const lib_error_code&) { signal.emit(lib::cancellation_type::terminal); });
  run_io(io);
  return result;
}

TEST(ASIO_SUITE(HybridConnect), NoAnswerEndsWithACancellationSlot) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm vmm("", then::wait_for_close);
  lib::io_context io;
  hybrid::socket s(io);
  const lib_error_code result = ended_by_a_slot(
      io, 50ms, [&](auto handler) { s.async_connect(vmm.endpoint(5000), std::move(handler)); });
  EXPECT_EQ(result, lib::error::operation_aborted) << result.message();
  EXPECT_FALSE(s.is_open());
}
#endif

TEST(ASIO_SUITE(HybridConnect), MissingSocketFileIsTheOsError) {
  REQUIRE_UNIX_SOCKETS();
  temp_dir d;
  const hybrid_vsock_endpoint nowhere{(d.path / "no-such.sock").string(), 5000};
  lib::io_context io;
  hybrid::socket s(io);
  const lib_error_code ec = connect_async(io, s, nowhere);
  EXPECT_EQ(to_std(ec), std::errc::no_such_file_or_directory) << ec.message();
  EXPECT_FALSE(s.is_open());
  // The synchronous layer says the same.
  std::error_code vec;
  static_cast<void>(vmsock::hybrid_vsock_stream_socket::connect(nowhere, 2s, vec));
  EXPECT_EQ(vec, to_std(ec));
  // The throwing blocking form names the endpoint.
  try {
    s.connect(nowhere);
    ADD_FAILURE() << "connected to a missing file";
  } catch (const lib_system_error& e) {
    EXPECT_EQ(to_std(e.code()), std::errc::no_such_file_or_directory);
    EXPECT_NE(std::string(e.what()).find("connect to " + nowhere.to_string()), std::string::npos)
        << e.what();
  }
}

// ---- connect with wait_for_ready ------------------------------------------------------

// A VMM that is not up yet: its socket file appears `after` the start, then it
// closes its first `refusals` connections without a word (the guest's agent
// not listening yet) before it answers OK and echoes.
class late_vmm {
 public:
  late_vmm(std::chrono::milliseconds after, int refusals)
      : thread_([this, after, refusals] { run(after, refusals); }) {}
  ~late_vmm() { join(); }

  hybrid_vsock_endpoint endpoint(std::uint32_t port) const {
    return {(dir_.path / "vmm.sock").string(), port};
  }
  // The connections it took, once it is done.
  int connections() {
    join();
    return connections_;
  }

 private:
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  void run(std::chrono::milliseconds after, int refusals) {
    std::this_thread::sleep_for(after);
    std::error_code ec;
    auto l = vmsock::unix_listener::listen(endpoint(0).uds(), ec);
    if (ec) return;
    for (int i = 0; i <= refusals; ++i) {
      auto c = l.accept(10s, ec);
      if (ec) return;
      ++connections_;
      static_cast<void>(read_request(c));
      if (i < refusals) continue;  // closed with nothing sent
      const std::string ok = "OK 1073741824\n";
      c.send_all(vmsock::const_buffer{ok.data(), ok.size()}, ec);
      char buf[256];
      for (std::size_t n;
           !ec && (n = c.receive(vmsock::mutable_buffer{buf, sizeof buf}, 10s, ec)) != 0;)
        c.send_all(vmsock::const_buffer{buf, n}, ec);
    }
  }

  temp_dir dir_;
  int connections_ = 0;
  std::thread thread_;
};

// async_connect(ep, within, wait_for_ready, callback), run to completion.  It
// never completes inside the initiating call.
lib_error_code connect_when_ready(lib::io_context& io, hybrid::socket& s,
                                  const hybrid::endpoint& ep, vmsock::timeout within,
                                  const vmsock::wait_for_ready& w) {
  lib_error_code result = lib::error::would_block;
  s.async_connect(ep, within, w, [&](const lib_error_code& ec) { result = ec; });
  EXPECT_EQ(result, lib::error::would_block) << "completed inside the initiating call";
  run_io(io);
  return result;
}

TEST(ASIO_SUITE(HybridConnectWhenReady), WaitsForTheSocketFileAndThroughSilentCloses) {
  REQUIRE_UNIX_SOCKETS();
  late_vmm vmm(150ms, 2);
  lib::io_context io;
  hybrid::socket s(io);
  const lib_error_code ec =
      connect_when_ready(io, s, vmm.endpoint(5000), 10s, vmsock::wait_for_ready{5ms, 20ms});
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.answer_port(), 1073741824u);
  std::string back(4, '\0');
  lib::write(s, lib::buffer(std::string_view("ping")));
  lib::read(s, lib::buffer(back));
  EXPECT_EQ(back, "ping");
  s.close();
  EXPECT_EQ(vmm.connections(), 3);  // two refusals, then the one that answered
}

TEST(ASIO_SUITE(HybridConnectWhenReady), TheDeadlineEndsItWithTimedOut) {
  REQUIRE_UNIX_SOCKETS();
  temp_dir d;
  lib::io_context io;
  hybrid::socket s(io);
  const lib_error_code ec =
      connect_when_ready(io, s, hybrid_vsock_endpoint{(d.path / "vmm.sock").string(), 5000}, 200ms,
                         vmsock::wait_for_ready{10ms, 50ms});
  EXPECT_EQ(to_std(ec), std::errc::timed_out) << ec.message();
  EXPECT_EQ(to_std(ec), vmsock::errc::timed_out);
  EXPECT_FALSE(s.is_open());
}

TEST(ASIO_SUITE(HybridConnectWhenReady), AReportTellsTheAttemptsAndTheLastError) {
  REQUIRE_UNIX_SOCKETS();
  temp_dir d;
  const hybrid_vsock_endpoint missing{(d.path / "vmm.sock").string(), 5000};
  lib::io_context io;
  hybrid::socket s(io);
  vmsock::ready_report report{7, make_error_code(vmsock::errc::timed_out)};  // reset by the call
  lib_error_code ec = lib::error::would_block;
  s.async_connect(missing, 200ms, vmsock::wait_for_ready{10ms, 50ms}, report,
                  [&](const lib_error_code& e) { ec = e; });
  run_io(io);
  ASSERT_EQ(to_std(ec), vmsock::errc::timed_out) << ec.message();
  EXPECT_GE(report.attempts, 2u);
  EXPECT_EQ(report.last, std::errc::no_such_file_or_directory) << report.last.message();
  // Worded as the synchronous form words the same wait.
  const std::string what = vmsock::make_ready_error(to_std(ec), missing, report).what();
  EXPECT_EQ(what.rfind("connect to " + missing.to_string() +
                           ": waited for it to be ready: " + std::to_string(report.attempts) +
                           " attempts, the last: " + report.last.message(),
                       0),
            0u)
      << what;
  try {
    static_cast<void>(vmsock::hybrid_vsock_stream_socket::connect(
        missing, 200ms, vmsock::wait_for_ready{10ms, 50ms}));
    ADD_FAILURE() << "connected to a missing file";
  } catch (const std::system_error& e) {
    const std::string sync = e.what();
    const auto tail = [](const std::string& t) { return t.substr(t.find(" attempts, ")); };
    EXPECT_EQ(tail(what), tail(sync)) << what << "\n" << sync;
  }

  // Through VMM refusals to an answer: every attempt counted, the last one good.
  late_vmm vmm(50ms, 2);
  hybrid::socket t(io);
  t.async_connect(vmm.endpoint(5000), 10s, vmsock::wait_for_ready{5ms, 20ms}, report,
                  [&](const lib_error_code& e) { ec = e; });
  run_io(io);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_GE(report.attempts, 3u);  // the missing file's, then two refusals, then OK
  EXPECT_FALSE(report.last) << report.last.message();
  t.close();
  EXPECT_EQ(vmm.connections(), 3);
}

TEST(ASIO_SUITE(HybridConnectWhenReady), AnyOtherErrorEndsItAtOnce) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm vmm("NO\n", then::close);
  lib::io_context io;
  hybrid::socket s(io);
  // Had it tried again, the VMM would take that connection and never answer:
  // the 10 s would end it with timed_out.
  const lib_error_code ec =
      connect_when_ready(io, s, vmm.endpoint(5000), 10s, vmsock::wait_for_ready{5ms, 20ms});
  EXPECT_EQ(to_std(ec), vmsock::errc::hybrid_vsock_bad_answer) << ec.message();
  EXPECT_FALSE(s.is_open());
  EXPECT_EQ(vmm.requests(), std::vector<std::string>{"CONNECT 5000\n"});
}

TEST(ASIO_SUITE(HybridConnectWhenReady), CancelOrCloseEndsItDuringAPause) {
  REQUIRE_UNIX_SOCKETS();
  temp_dir d;
  const hybrid_vsock_endpoint missing{(d.path / "vmm.sock").string(), 5000};
  lib::io_context io;
  // After the first attempt (no file) it pauses 30 s: only the cancel or the
  // close can end it within run_io's 10 s.
  expect_cancel_and_close_end_it(io, 100ms, [&](hybrid::socket& s, auto handler) {
    s.async_connect(missing, vmsock::no_timeout, vmsock::wait_for_ready{30s, 30s},
                    std::move(handler));
  });
}

#if (VMSOCK_TEST_BOOST_ASIO && BOOST_ASIO_VERSION >= 101900) || \
    (!VMSOCK_TEST_BOOST_ASIO && ASIO_VERSION >= 101900)
TEST(ASIO_SUITE(HybridConnectWhenReady), ACancellationSlotEndsItDuringAPause) {
  REQUIRE_UNIX_SOCKETS();
  temp_dir d;
  lib::io_context io;
  hybrid::socket s(io);
  const lib_error_code result = ended_by_a_slot(io, 100ms, [&](auto handler) {
    s.async_connect(hybrid_vsock_endpoint{(d.path / "vmm.sock").string(), 5000}, 60s,
                    vmsock::wait_for_ready{30s, 30s}, std::move(handler));
  });
  EXPECT_EQ(result, lib::error::operation_aborted) << result.message();
  EXPECT_FALSE(s.is_open());
}
#endif

TEST(ASIO_SUITE(HybridConnectWhenReady), AnOpenSocketIsRefused) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm vmm("OK 1\n", then::close);
  lib::io_context io;
  hybrid::socket s(io);
  s.open(hybrid());
  // What was set on it would hold for the first attempt only.
  const lib_error_code ec =
      connect_when_ready(io, s, vmm.endpoint(5000), 10s, vmsock::wait_for_ready{});
  EXPECT_EQ(ec, lib::error::already_open) << ec.message();
  EXPECT_TRUE(s.is_open());
  vmsock::ready_report report{3, {}};
  lib_error_code again = lib::error::would_block;
  s.async_connect(vmm.endpoint(5000), 10s, vmsock::wait_for_ready{}, report,
                  [&](const lib_error_code& e) { again = e; });
  run_io(io);
  EXPECT_EQ(again, lib::error::already_open) << again.message();
  EXPECT_EQ(report.attempts, 0u) << "no attempt on an open socket";
  EXPECT_TRUE(s.is_open());
  s.close();
  // The VMM's connection, for it to end.
  hybrid::socket t(io);
  EXPECT_FALSE(connect_async(io, t, vmm.endpoint(5000)));
  t.close();
  EXPECT_EQ(vmm.requests(), std::vector<std::string>{"CONNECT 5000\n"});
}

// The asynchronous and the synchronous handshakes agree, answer by answer.
TEST(ASIO_SUITE(HybridConnect), SameResultsAsTheSynchronousLayer) {
  REQUIRE_UNIX_SOCKETS();
  for (const std::string& reply :
       std::vector<std::string>{"OK 1073741824\n", "OK\n", "", "drop", "NO\n", "OK 1",
                                std::string(64, 'o'), "OK " + std::string(59, '9') + "\n"}) {
    SCOPED_TRACE(reply);
    fake_vmm vmm(reply, reply == "drop" ? then::drop : then::close, 3);
    std::error_code vec;
    auto sync = vmsock::hybrid_vsock_stream_socket::connect(vmm.endpoint(42), 10s, vec);
    lib::io_context io;
    hybrid::socket s(io);
    const lib_error_code ec = connect_async(io, s, vmm.endpoint(42));
    EXPECT_EQ(to_std(ec), vec) << ec.message() << " / " << vec.message();
    EXPECT_EQ(s.answer(), sync.answer());
    // The blocking form too (detail::hybrid_handshake itself).
    hybrid::socket b(io);
    lib_error_code bec;
    b.connect(vmm.endpoint(42), bec);
    EXPECT_EQ(to_std(bec), vec) << bec.message();
    EXPECT_EQ(b.answer(), sync.answer());
  }
}

// What the synchronous connect to `ep` throws (its what()), or "" if it connects.
std::string sync_message(const hybrid_vsock_endpoint& ep, vmsock::deadline when) {
  try {
    static_cast<void>(vmsock::hybrid_vsock_stream_socket::connect(ep, when));
  } catch (const std::system_error& e) {
    return e.what();
  }
  return {};
}

// A junk answer stays readable after the failed connect (last_answer(); not
// answer()), and make_hybrid_error words it as the synchronous exception does.
TEST(ASIO_SUITE(HybridConnect), AFailedConnectKeepsWhatTheVmmAnswered) {
  REQUIRE_UNIX_SOCKETS();
  for (const std::string& junk :
       std::vector<std::string>{"ERR nope\n", "OK 12", "KO 1\n", std::string(70, 'x')}) {
    SCOPED_TRACE(junk);
    fake_vmm vmm(junk, then::close, 3);
    const std::string sync = sync_message(vmm.endpoint(5000), 10s);
    EXPECT_NE(sync.find(" (answered \""), std::string::npos) << sync;
    lib::io_context io;
    hybrid::socket s(io);
    const lib_error_code ec = connect_async(io, s, vmm.endpoint(5000));
    ASSERT_EQ(to_std(ec), vmsock::errc::hybrid_vsock_bad_answer) << ec.message();
    EXPECT_TRUE(s.answer().empty()) << s.answer();
    EXPECT_FALSE(s.answer_port());
    const vmsock::hybrid_vsock_answer& kept = s.last_answer();
    EXPECT_EQ(kept.raw(), junk.substr(0, 64));
    // "OK 12" reads as OK, but the VMM closed before its '\n': still refused.
    EXPECT_EQ(kept.is_ok(), junk == "OK 12");
    EXPECT_FALSE(kept.awaited) << "the VMM ended its answer (or closed)";
    EXPECT_EQ(vmsock::make_hybrid_error(to_std(ec), vmm.endpoint(5000), s).what(), sync);
    // The blocking form keeps it too.
    hybrid::socket b(io);
    lib_error_code bec;
    b.connect(vmm.endpoint(5000), bec);
    EXPECT_EQ(to_std(bec), vmsock::errc::hybrid_vsock_bad_answer) << bec.message();
    EXPECT_EQ(b.last_answer().raw(), junk.substr(0, 64));
    EXPECT_EQ(vmsock::make_hybrid_error(to_std(bec), vmm.endpoint(5000), b).what(), sync);
  }
}

// An answer from an earlier connect is not answer() once a later one failed.
TEST(ASIO_SUITE(HybridConnect), AFailedConnectAfterAGoodOneHasNoAnswer) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm ok("OK 1073741824\n", then::close);
  fake_vmm junk("OK 7", then::close);
  lib::io_context io;
  hybrid::socket s(io);
  ASSERT_FALSE(connect_async(io, s, ok.endpoint(5000)));
  EXPECT_EQ(s.answer(), "1073741824");
  EXPECT_EQ(s.last_answer().raw(), "OK 1073741824\n");
  s.close();
  EXPECT_EQ(s.answer(), "1073741824") << "a close keeps it";
  const lib_error_code ec = connect_async(io, s, junk.endpoint(5000));
  EXPECT_EQ(to_std(ec), vmsock::errc::hybrid_vsock_bad_answer) << ec.message();
  EXPECT_TRUE(s.answer().empty()) << s.answer();
  EXPECT_EQ(s.last_answer().raw(), "OK 7");
}

// A VMM that takes the connection and never answers (or never ends its
// line): the deadline's timed_out says so, in both layers, in the same words.
TEST(ASIO_SUITE(HybridConnectWhenReady), ASilentVmmIsWordedAsTheSynchronousTimeout) {
  REQUIRE_UNIX_SOCKETS();
  for (const std::string& partial : {std::string(), std::string("OK 12")}) {
    SCOPED_TRACE(partial);
    fake_vmm vmm(partial, then::wait_for_close, 3);
    const std::string sync = sync_message(vmm.endpoint(5000), 200ms);
    const std::string note = partial.empty()
                                 ? " (the VMM took the connection and sent no answer): "
                                 : " (the VMM took the connection and answered \"OK 12\" with "
                                   "no end of line): ";
    EXPECT_EQ(sync, "connect to " + vmm.endpoint(5000).to_string() + note +
                        make_error_code(vmsock::errc::timed_out).message());
    // The synchronous wait for ready says the same (a timeout is not retried).
    std::string ready;
    try {
      static_cast<void>(vmsock::hybrid_vsock_stream_socket::connect(
          vmm.endpoint(5000), 200ms, vmsock::wait_for_ready{10ms, 50ms}));
    } catch (const std::system_error& e) {
      ready = e.what();
    }
    EXPECT_EQ(ready, sync);
    lib::io_context io;
    hybrid::socket s(io);
    vmsock::ready_report report;
    lib_error_code ec = lib::error::would_block;
    s.async_connect(vmm.endpoint(5000), 200ms, vmsock::wait_for_ready{10ms, 50ms}, report,
                    [&](const lib_error_code& e) { ec = e; });
    run_io(io);
    ASSERT_EQ(to_std(ec), vmsock::errc::timed_out) << ec.message();
    EXPECT_EQ(report.attempts, 1u);
    EXPECT_TRUE(s.answer().empty());
    EXPECT_EQ(s.last_answer().raw(), partial);
    EXPECT_EQ(vmsock::make_hybrid_error(to_std(ec), vmm.endpoint(5000), s, report).what(), sync);
    EXPECT_EQ(vmsock::make_hybrid_error(to_std(ec), vmm.endpoint(5000), s).what(), sync);
  }
  // A missing socket file is no silence: no such words.
  temp_dir d;
  const hybrid_vsock_endpoint missing{(d.path / "vmm.sock").string(), 5000};
  lib::io_context io;
  hybrid::socket s(io);
  vmsock::ready_report report;
  lib_error_code ec = lib::error::would_block;
  s.async_connect(missing, 100ms, vmsock::wait_for_ready{10ms, 50ms}, report,
                  [&](const lib_error_code& e) { ec = e; });
  run_io(io);
  ASSERT_EQ(to_std(ec), vmsock::errc::timed_out) << ec.message();
  const std::string what = vmsock::make_hybrid_error(to_std(ec), missing, s, report).what();
  EXPECT_EQ(what, vmsock::make_ready_error(to_std(ec), missing, report).what());
  EXPECT_EQ(what.find("took the connection"), std::string::npos) << what;
}

// The blocking connect, and its message for a bad answer.
TEST(ASIO_SUITE(HybridConnect), BlockingConnect) {
  REQUIRE_UNIX_SOCKETS();
  {
    fake_vmm vmm("OK 1073741830\nguest", then::close);
    lib::io_context io;
    hybrid::socket s(io);
    s.connect(vmm.endpoint(5000));
    EXPECT_EQ(s.answer_port(), 1073741830u);
    std::string got(5, '\0');
    lib::read(s, lib::buffer(got));
    EXPECT_EQ(got, "guest");
  }
  fake_vmm vmm("KO\n", then::close);
  lib::io_context io;
  hybrid::socket s(io);
  try {
    s.connect(vmm.endpoint(5000));
    ADD_FAILURE() << "connected on a bad answer";
  } catch (const lib_system_error& e) {
    EXPECT_EQ(to_std(e.code()), vmsock::errc::hybrid_vsock_bad_answer);
    const std::string what = e.what();
    EXPECT_NE(what.find("connect to " + vmm.endpoint(5000).to_string()), std::string::npos) << what;
    EXPECT_NE(what.find("answered"), std::string::npos) << what;
  }
}

// asio's other completion tokens: a future (asio running on another thread).
TEST(ASIO_SUITE(HybridConnect), UseFuture) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm ok("OK 1073741824\n", then::close);
  fake_vmm refuses("", then::close);
  lib::io_context io;
  hybrid::socket a(io), b(io);
  auto connected = a.async_connect(ok.endpoint(1), lib::use_future);
  auto refused = b.async_connect(refuses.endpoint(1), lib::use_future);
  std::thread runner([&] { io.run_for(20s); });  // until both are done
  const bool ready = connected.wait_for(10s) == std::future_status::ready &&
                     refused.wait_for(10s) == std::future_status::ready;
  if (!ready) io.stop();
  runner.join();
  ASSERT_TRUE(ready) << "no completion within 10 s";
  EXPECT_NO_THROW(connected.get());
  try {
    refused.get();
    ADD_FAILURE() << "no error from a silent VMM";
  } catch (const lib_system_error& e) {
    EXPECT_EQ(to_std(e.code()), vmsock::errc::hybrid_vsock_refused);
  }
  EXPECT_EQ(a.answer(), "1073741824");
}

#if (VMSOCK_TEST_BOOST_ASIO && defined(BOOST_ASIO_HAS_CO_AWAIT)) || \
    (!VMSOCK_TEST_BOOST_ASIO && defined(ASIO_HAS_CO_AWAIT))
TEST(ASIO_SUITE(HybridConnect), Coroutine) {
  REQUIRE_UNIX_SOCKETS();
  fake_vmm vmm("OK 9\nhi", then::close);
  lib::io_context io;
  std::string got(2, '\0');
  std::string answer;
  lib::co_spawn(
      io,
      [&]() -> lib::awaitable<void> {
        hybrid::socket s(io);
        co_await s.async_connect(vmm.endpoint(5000), lib::use_awaitable);
        answer = s.answer();
        co_await lib::async_read(s, lib::buffer(got), lib::use_awaitable);
      },
      lib::detached);
  run_io(io);
  EXPECT_EQ(answer, "9");
  EXPECT_EQ(got, "hi");
}
#endif

// ---- the acceptor: the guest's connections, on "<path>_<port>" -------------------------

TEST(ASIO_SUITE(HybridAcceptor), AcceptsOnPathUnderscorePort) {
  REQUIRE_UNIX_SOCKETS();
  temp_dir d;
  const hybrid_vsock_endpoint ep{(d.path / "fc.vsock").string(), 6000};
  const fs::path file = d.path / "fc.vsock_6000";
  lib::io_context io;
  {
    hybrid::acceptor a(io, ep);
    EXPECT_TRUE(fs::is_socket(file));
    EXPECT_EQ(a.hybrid_endpoint(), ep);
    EXPECT_EQ(a.local_endpoint().address(), ep.listen_uds());
    // The VMM connects there when the guest connects to CID 2, port 6000.
    auto vmm = vmsock::unix_stream_socket::connect(ep.listen_uds(), 10s);
    lib_error_code accept_ec = lib::error::would_block;
    hybrid::socket peer(io);
    a.async_accept([&](const lib_error_code& ec, hybrid::socket s) {
      accept_ec = ec;
      peer = std::move(s);
    });
    run_io(io);
    ASSERT_FALSE(accept_ec) << accept_ec.message();
    EXPECT_TRUE(peer.answer().empty());
    lib::write(peer, lib::buffer(std::string_view("to the guest")));
    std::string got(12, '\0');
    vmm.receive_exact(vmsock::mutable_buffer{got.data(), got.size()}, 10s);
    EXPECT_EQ(got, "to the guest");
    // A live socket file is not taken over.
    EXPECT_EQ(to_std(lib_error_of([&] { hybrid::acceptor second(io, ep); })),
              std::errc::address_in_use);
    EXPECT_TRUE(fs::is_socket(file));
  }
  EXPECT_FALSE(fs::exists(file)) << "the destructor removes the socket file";

  // A stale one is; close() removes it; release() leaves it.
  vmsock::unix_listener::listen(ep.listen_uds(), vmsock::unlink_on_close{false}).close();
  ASSERT_TRUE(fs::is_socket(file));
  hybrid::acceptor a(io);
  a.listen(ep);
  EXPECT_TRUE(a.is_open());
  a.close();
  EXPECT_FALSE(fs::exists(file));
  lib_error_code ec;
  a.listen(ep, ec);
  ASSERT_FALSE(ec) << ec.message();
  const auto handle = a.release();
  vmsock::unix_listener adopted(handle);  // someone else's now
  adopted.set_unlink_on_close(false);
  EXPECT_TRUE(fs::is_socket(file));
  // Listening on an open acceptor fails, and leaves no file behind.
  hybrid::acceptor b(io, hybrid_vsock_endpoint{ep.path(), 6001});
  b.listen(hybrid_vsock_endpoint{ep.path(), 6002}, ec);
  EXPECT_TRUE(ec);
  EXPECT_FALSE(fs::exists(d.path / "fc.vsock_6002"));
  EXPECT_TRUE(fs::is_socket(d.path / "fc.vsock_6001"));
}

// ---- hand-over from vmsock's hybrid sockets and listeners ------------------------------

TEST(ASIO_SUITE(HybridHandOver), ListenerAndConnectedSocket) {
  REQUIRE_UNIX_SOCKETS();
  lib::io_context io;
  temp_dir d;
  const hybrid_vsock_endpoint ep{(d.path / "fc.vsock").string(), 7000};
  const fs::path file = d.path / "fc.vsock_7000";
  {
    hybrid::acceptor a = flavour::to_asio(io, vmsock::hybrid_vsock_listener::listen(ep));
    EXPECT_EQ(a.hybrid_endpoint(), ep);
    auto vmm = vmsock::unix_stream_socket::connect(ep.listen_uds(), 10s);
    hybrid::socket s = a.accept();
    EXPECT_TRUE(s.is_open());
    // Moved elsewhere, the acceptor still removes its file, once.
    hybrid::acceptor moved(std::move(a));
    EXPECT_TRUE(fs::is_socket(file));
  }
  EXPECT_FALSE(fs::exists(file));

  fake_vmm vmm("OK 1073741900\nafter", then::close);
  hybrid::socket s =
      flavour::to_asio(io, vmsock::hybrid_vsock_stream_socket::connect(vmm.endpoint(5), 10s));
  EXPECT_EQ(s.answer(), "1073741900");
  std::string got(5, '\0');
  lib::read(s, lib::buffer(got));
  EXPECT_EQ(got, "after");
}

#if VMSOCK_WINDOWS
// Where Windows has no AF_UNIX (Wine 8): the connect fails through the async
// path with the OS's code, and the acceptor throws it; nothing is left open.
TEST(ASIO_SUITE(HybridWindows), WithoutUnixSocketsTheOsSaysSo) {
  if (unix_unavailable().empty()) GTEST_SKIP() << "this Windows has Unix sockets";
  temp_dir d;
  const hybrid_vsock_endpoint ep{(d.path / "vmm.sock").string(), 5000};
  lib::io_context io;
  hybrid::socket s(io);
  const lib_error_code ec = connect_async(io, s, ep);
  std::printf("[   info   ] %s hybrid_vsock_stream async_connect: %s (%s:%d)\n", flavour_name(),
              ec.message().c_str(), ec.category().name(), ec.value());
  EXPECT_EQ(ec, lib::error::address_family_not_supported) << ec.message();
  EXPECT_EQ(to_std(ec), std::errc::address_family_not_supported);
  EXPECT_FALSE(s.is_open());
  const lib_error_code listen_ec = lib_error_of([&] { hybrid::acceptor a(io, ep); });
  EXPECT_EQ(to_std(listen_ec), std::errc::address_family_not_supported) << listen_ec.message();
  EXPECT_FALSE(fs::exists(d.path / "vmm.sock_5000"));
}
#endif

}  // namespace
}  // namespace vmsock_hybrid_test
