// vmsock's asio adapters over real AF_VSOCK in the test guest (vsock_loopback,
// CID 1), once per asio flavour (tests/asio/flavour.hpp; C++20 coroutines):
// async echo on 100 connections at once, 64 MiB checksummed each way,
// SOCK_SEQPACKET boundaries through async_send/async_receive, a connect to a
// port nobody listens on (connection_refused) and one that waits for a late
// listener (wait_for_ready), cancellation of a pending
// accept and read, hv_stream through the hv_sock mapping, and the hand-over
// from vmsock's connect_first.  socat and the asio_agent example are run by
// asio_interop.sh in the same boot.
#include "flavour.hpp"
#include "guest_support.hpp"

#include <vmsock/socket/aliases.hpp>
#include <vmsock/uri.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using namespace vmsock_test;
using namespace std::chrono_literals;
using vmsock::hv_endpoint;
using vmsock::vsock_endpoint;
using vmsock_vm::any_cid;
using vmsock_vm::local;
using vmsock_vm::next_port;
namespace vm_id = vmsock::hv::vm_id;

template <class T> using awaitable = lib::awaitable<T>;
using lib::use_awaitable;

// Runs the coroutine `make()` returns to its end, at most `limit`: a hang
// fails the test instead of the boot.  Its exception, if any, is rethrown.
template <class Make> void run(lib::io_context& io, Make&& make, std::chrono::seconds limit = 90s) {
  bool done = false;
  std::exception_ptr error;
  lib::co_spawn(io, make(), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  io.restart();
  io.run_for(limit);
  if (!done) FAIL() << "not done after " << limit.count() << " s";
  if (error) std::rethrow_exception(error);
}

// The code a co_await threw, or none.
lib_error_code code_of(const std::exception_ptr& e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const lib_system_error& s) {
    return s.code();
  }
  return {};
}

// Echoes one connection until the peer half-closes, then half-closes too.
template <class Socket> awaitable<void> echo(Socket s) {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    lib_error_code ec;
    const std::size_t n =
        co_await s.async_read_some(lib::buffer(buf), lib::redirect_error(use_awaitable, ec));
    if (ec == lib::error::eof) break;
    if (ec) throw lib_system_error(ec, "echo receive");
    co_await lib::async_write(s, lib::buffer(buf.data(), n), use_awaitable);
  }
  s.shutdown(lib::socket_base::shutdown_send);
}

// Accepts `count` connections and echoes each in a coroutine of its own.
template <class Acceptor> awaitable<void> serve(Acceptor& acceptor, int count) {
  for (int i = 0; i < count; ++i) {
    auto s = co_await acceptor.async_accept(use_awaitable);
    lib::co_spawn(acceptor.get_executor(), echo(std::move(s)), lib::detached);
  }
}

TEST(ASIO_SUITE(GuestEcho), HundredConnectionsAtOnce) {
  lib::io_context io;
  const std::uint32_t port = next_port();
  vsock_stream::acceptor acceptor(io, any_cid(port));
  constexpr int clients = 100;
  constexpr std::size_t bytes = 16 * 1024;
  int echoed = 0;
  int in_flight = 0, most_in_flight = 0;
  lib::co_spawn(io, serve(acceptor, clients), lib::detached);
  auto client = [&](int i) -> awaitable<void> {
    vsock_stream::socket s(io);
    co_await s.async_connect(local(port), use_awaitable);
    most_in_flight = std::max(most_in_flight, ++in_flight);
    const auto data = vmsock_vm::bytes(bytes, static_cast<std::uint64_t>(i) + 1);
    std::vector<unsigned char> back(bytes);
    co_await lib::async_write(s, lib::buffer(data), use_awaitable);
    s.shutdown(lib::socket_base::shutdown_send);
    co_await lib::async_read(s, lib::buffer(back), use_awaitable);
    lib_error_code ec;
    char extra;
    co_await s.async_read_some(lib::buffer(&extra, 1), lib::redirect_error(use_awaitable, ec));
    EXPECT_EQ(ec, lib::error::eof);
    if (back == data) ++echoed;
    --in_flight;
  };
  const auto t0 = std::chrono::steady_clock::now();
  run(io, [&]() -> awaitable<void> {
    for (int i = 0; i < clients; ++i) lib::co_spawn(io, client(i), lib::detached);
    co_return;
  });
  EXPECT_EQ(echoed, clients);
  EXPECT_GT(most_in_flight, 1);  // connections were open together
  vmsock_vm::record("asio_clients_at_once", most_in_flight);
  vmsock_vm::record("asio_hundred_seconds", vmsock_vm::seconds_since(t0));
}

// Both directions at once: each side writes 64 MiB of its own pattern while
// it reads the other's, checksummed on both ends.
TEST(ASIO_SUITE(GuestStream), SixtyFourMiBEachWay) {
  lib::io_context io;
  const std::uint32_t port = next_port();
  vsock_stream::acceptor acceptor(io, any_cid(port));
  constexpr std::size_t total = 64u << 20, chunk = 256u << 10;
  struct side {
    std::uint64_t sent = vmsock_vm::checksum(nullptr, 0),
                  received = vmsock_vm::checksum(nullptr, 0);
  } client_side, server_side;
  auto pump = [&](vsock_stream::socket& s, std::uint64_t seed, side& out) -> awaitable<void> {
    vmsock_vm::pattern p(seed);
    std::vector<unsigned char> buf(chunk);
    for (std::size_t done = 0; done < total; done += chunk) {
      p.fill(buf.data(), chunk);
      out.sent = vmsock_vm::checksum(buf.data(), chunk, out.sent);
      co_await lib::async_write(s, lib::buffer(buf), use_awaitable);
    }
    s.shutdown(lib::socket_base::shutdown_send);
  };
  auto drain = [&](vsock_stream::socket& s, side& out) -> awaitable<void> {
    std::vector<unsigned char> buf(chunk);
    for (std::size_t done = 0; done < total; done += chunk) {
      co_await lib::async_read(s, lib::buffer(buf), use_awaitable);
      out.received = vmsock_vm::checksum(buf.data(), chunk, out.received);
    }
    lib_error_code ec;
    co_await s.async_read_some(lib::buffer(buf.data(), 1), lib::redirect_error(use_awaitable, ec));
    EXPECT_EQ(ec, lib::error::eof);
  };
  vsock_stream::socket client(io), server(io);
  const auto t0 = std::chrono::steady_clock::now();
  run(io, [&]() -> awaitable<void> {
    lib::co_spawn(
        io, [&]() -> awaitable<void> { co_await client.async_connect(local(port), use_awaitable); },
        lib::detached);
    server = co_await acceptor.async_accept(use_awaitable);
    while (!client.is_open()) co_await lib::post(io, use_awaitable);
    lib::co_spawn(io, pump(client, 11, client_side), lib::detached);
    lib::co_spawn(io, pump(server, 22, server_side), lib::detached);
    lib::co_spawn(io, drain(client, client_side), lib::detached);
    co_await drain(server, server_side);
  });
  EXPECT_EQ(server_side.received, client_side.sent);
  EXPECT_EQ(client_side.received, server_side.sent);
  EXPECT_NE(client_side.sent, server_side.sent);
  const double s = vmsock_vm::seconds_since(t0);
  vmsock_vm::record("asio_128MiB_seconds", s);
  vmsock_vm::record("asio_MBps_each_way", static_cast<double>(total) / s / 1e6);
}

TEST(ASIO_SUITE(GuestSeqpacket), BoundariesThroughAsyncSendAndReceive) {
  lib::io_context io;
  const std::uint32_t port = next_port();
  vsock_seqpacket::acceptor acceptor(io, any_cid(port));
  const std::vector<std::size_t> sizes = {1, 2, 100, 1000, 4096, 7, 65536, 3};
  std::vector<std::size_t> got;
  std::size_t truncated_length = 0;
  bool truncated_flag = false;
  run(io, [&]() -> awaitable<void> {
    vsock_seqpacket::socket client(io);
    lib::co_spawn(io, client.async_connect(local(port), use_awaitable), lib::detached);
    vsock_seqpacket::socket server = co_await acceptor.async_accept(use_awaitable);
    while (!client.is_open()) co_await lib::post(io, use_awaitable);
    for (const std::size_t n : sizes) {
      const auto m = vmsock_vm::bytes(n, n);
      co_await client.async_send(lib::buffer(m), 0, use_awaitable);
    }
    const auto big = vmsock_vm::bytes(100, 100);
    co_await client.async_send(lib::buffer(big), 0, use_awaitable);
    std::vector<unsigned char> buf(128 * 1024);
    for (const std::size_t n : sizes) {
      lib::socket_base::message_flags flags = 0;
      const std::size_t r = co_await server.async_receive(lib::buffer(buf), flags, use_awaitable);
      got.push_back(r);
      EXPECT_EQ(std::vector<unsigned char>(buf.begin(), buf.begin() + static_cast<long>(r)),
                vmsock_vm::bytes(n, n));
      EXPECT_EQ(flags & MSG_TRUNC, 0);
    }
    // A message larger than the buffer: what fits, MSG_TRUNC, the rest dropped.
    lib::socket_base::message_flags flags = 0;
    truncated_length =
        co_await server.async_receive(lib::buffer(buf.data(), 10), flags, use_awaitable);
    truncated_flag = (flags & MSG_TRUNC) != 0;
    // The peer's close: asio reports a seqpacket end as a 0-byte message (eof on streams).
    client.close();
    lib_error_code ec;
    const std::size_t end = co_await server.async_receive(lib::buffer(buf), flags,
                                                          lib::redirect_error(use_awaitable, ec));
    EXPECT_TRUE(ec == lib::error::eof || (!ec && end == 0))
        << ec.message() << ", " << end << " bytes";
  });
  EXPECT_EQ(got, sizes);
  EXPECT_EQ(truncated_length, 10u);
  EXPECT_TRUE(truncated_flag);
}

// Linux VSOCK answers a port with no listener with ECONNRESET; the adapters
// report connection refused, as the synchronous layer does.
TEST(ASIO_SUITE(GuestConnect), NothingListeningIsConnectionRefused) {
  lib::io_context io;
  const std::uint32_t port = next_port();  // nothing listens there
  lib_error_code async_ec, hv_ec;
  std::exception_ptr awaited;
  run(io, [&]() -> awaitable<void> {
    vsock_stream::socket s(io);
    co_await s.async_connect(local(port), lib::redirect_error(use_awaitable, async_ec));
    hv_stream::socket h(io);
    co_await h.async_connect(hv_endpoint::for_port(vm_id::loopback, port),
                             lib::redirect_error(use_awaitable, hv_ec));
    try {
      vsock_stream::socket t(io);
      co_await t.async_connect(local(port), use_awaitable);
    } catch (...) {
      awaited = std::current_exception();
    }
  });
  for (const auto& ec : {async_ec, hv_ec, code_of(awaited)}) {
    EXPECT_EQ(static_cast<std::error_code>(ec), std::errc::connection_refused) << ec.message();
    EXPECT_EQ(to_std(ec), vmsock::errc::vsock_connection_refused);
    EXPECT_NE(ec.message().find("nothing listens on that port"), std::string::npos) << ec.message();
  }
  vmsock_vm::record("asio_refused_message", async_ec.message());
  // The synchronous form, and its message.
  vsock_stream::socket s(io);
  try {
    s.connect(local(port));
    ADD_FAILURE() << "connected to a port nobody listens on";
  } catch (const lib_system_error& e) {
    EXPECT_EQ(static_cast<std::error_code>(e.code()), std::errc::connection_refused);
    EXPECT_NE(std::string(e.what()).find("connect to vsock://1:" + std::to_string(port)),
              std::string::npos)
        << e.what();
  }
}

// wait_for_ready: a connect made before anything listens (VSOCK's refusal,
// an ECONNRESET, retried) reaches the listener that comes up 300 ms later;
// over hv_stream (the hv_sock mapping) too.
TEST(ASIO_SUITE(GuestConnect), WaitForReadyReachesALateListener) {
  lib::io_context io;
  const std::uint32_t p1 = next_port(), p2 = next_port();
  const vmsock::wait_for_ready quick{10ms, 100ms};
  std::vector<std::string> echoed;
  run(io, [&]() -> awaitable<void> {
    std::optional<vsock_stream::acceptor> a1, a2;
    lib::steady_timer later(io, 300ms);
    later.async_wait([&](const lib_error_code&) {
      a1.emplace(io, any_cid(p1));
      a2.emplace(io, any_cid(p2));
      lib::co_spawn(io, serve(*a1, 1), lib::detached);
      lib::co_spawn(io, serve(*a2, 1), lib::detached);
    });
    vsock_stream::socket v(io);
    co_await v.async_connect(local(p1), 20s, quick, use_awaitable);
    hv_stream::socket h(io);
    co_await h.async_connect(hv_endpoint::for_port(vm_id::loopback, p2), 20s, quick, use_awaitable);
    std::string back(4, '\0');
    co_await lib::async_write(v, lib::buffer(std::string_view("ping")), use_awaitable);
    co_await lib::async_read(v, lib::buffer(back), use_awaitable);
    echoed.push_back(back);
    co_await lib::async_write(h, lib::buffer(std::string_view("pong")), use_awaitable);
    co_await lib::async_read(h, lib::buffer(back), use_awaitable);
    echoed.push_back(back);
  });
  EXPECT_EQ(echoed, (std::vector<std::string>{"ping", "pong"}));
}

TEST(ASIO_SUITE(GuestCancel), PendingAcceptAndRead) {
  lib::io_context io;
  const std::uint32_t port = next_port();
  vsock_stream::acceptor acceptor(io, any_cid(port));
  lib_error_code accept_ec, read_ec, closed_ec;
  std::string after;
  run(io, [&]() -> awaitable<void> {
    lib::steady_timer timer(io);
    // A pending accept, cancelled from a timer.
    timer.expires_after(50ms);
    timer.async_wait([&](const lib_error_code&) { acceptor.cancel(); });
    vsock_stream::socket nobody(io);
    co_await acceptor.async_accept(nobody, lib::redirect_error(use_awaitable, accept_ec));

    // A pending read on a connection, cancelled; the connection still works.
    vsock_stream::socket client(io);
    lib::co_spawn(io, client.async_connect(local(port), use_awaitable), lib::detached);
    vsock_stream::socket server = co_await acceptor.async_accept(use_awaitable);
    while (!client.is_open()) co_await lib::post(io, use_awaitable);
    std::array<char, 4> buf{};
    timer.expires_after(50ms);
    timer.async_wait([&](const lib_error_code&) { server.cancel(); });
    co_await lib::async_read(server, lib::buffer(buf), lib::redirect_error(use_awaitable, read_ec));
    co_await lib::async_write(client, lib::buffer(std::string_view("ping")), use_awaitable);
    co_await lib::async_read(server, lib::buffer(buf), use_awaitable);
    after.assign(buf.data(), buf.size());

    // close() during a read.
    timer.expires_after(50ms);
    timer.async_wait([&](const lib_error_code&) { server.close(); });
    co_await lib::async_read(server, lib::buffer(buf),
                             lib::redirect_error(use_awaitable, closed_ec));
  });
  EXPECT_EQ(accept_ec, lib::error::operation_aborted) << accept_ec.message();
  EXPECT_EQ(read_ec, lib::error::operation_aborted) << read_ec.message();
  EXPECT_EQ(after, "ping");
  EXPECT_EQ(closed_ec, lib::error::operation_aborted) << closed_ec.message();
}

// hv_stream over the hv_sock mapping: a Hyper-V listener takes a VSOCK client,
// a Hyper-V client reaches a VSOCK listener, and the names map back.
TEST(ASIO_SUITE(GuestHyperV), ThroughTheMapping) {
  lib::io_context io;
  const std::uint32_t p1 = next_port(), p2 = next_port();
  hv_stream::acceptor hv_acceptor(io, hv_endpoint::for_port(vm_id::wildcard, p1));
  vsock_stream::acceptor vsock_acceptor(io, any_cid(p2));
  EXPECT_EQ(hv_acceptor.local_endpoint().to_string(), "hvsock://wildcard/" + std::to_string(p1));
  hv_endpoint accepted_peer, client_peer;
  std::string echoed;
  run(io, [&]() -> awaitable<void> {
    vsock_stream::socket vc(io);
    lib::co_spawn(io, vc.async_connect(local(p1), use_awaitable), lib::detached);
    hv_stream::socket from_vsock = co_await hv_acceptor.async_accept(use_awaitable);
    accepted_peer = from_vsock.remote_endpoint();  // the VSOCK client, as a Hyper-V name

    hv_stream::socket hc(io);
    co_await hc.async_connect(hv_endpoint::for_port(vm_id::loopback, p2), use_awaitable);
    vsock_stream::socket from_hv = co_await vsock_acceptor.async_accept(use_awaitable);
    client_peer = hc.remote_endpoint();
    lib::co_spawn(io, echo(std::move(from_hv)), lib::detached);
    co_await lib::async_write(hc, lib::buffer(std::string_view("hv")), use_awaitable);
    std::array<char, 2> b{};
    co_await lib::async_read(hc, lib::buffer(b), use_awaitable);
    echoed.assign(b.data(), b.size());
  });
  EXPECT_EQ(accepted_peer.vm_id, vm_id::loopback);  // CID 1
  EXPECT_EQ(client_peer, hv_endpoint::for_port(vm_id::loopback, p2));
  EXPECT_EQ(echoed, "hv");
  vmsock_vm::record("asio_hv_accepted_peer", accepted_peer.to_string());
}

// connect_first (vmsock, synchronous, falling back over a dead port), then
// asynchronous with asio; and an asio connection handed back to vmsock.
TEST(ASIO_SUITE(GuestHandOver), ConnectFirstThenAsync) {
  lib::io_context io;
  const std::uint32_t dead = next_port(), port = next_port();
  vsock_stream::acceptor acceptor(io, any_cid(port));
  std::vector<vmsock::connect_attempt> failed;
  auto any = vmsock::connect_first(
      {vmsock::any_endpoint(local(dead)), vmsock::any_endpoint(local(port))}, 2s, failed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].error, std::errc::connection_refused);
  lib::generic::stream_protocol::socket generic = flavour::to_asio(io, std::move(any));
  EXPECT_EQ(generic.local_endpoint().protocol().family(), AF_VSOCK);
  std::string reply(5, '\0');
  vsock_stream::socket accepted(io);
  run(io, [&]() -> awaitable<void> {
    accepted = co_await acceptor.async_accept(use_awaitable);
    co_await lib::async_write(generic, lib::buffer(std::string_view("hello")), use_awaitable);
    co_await lib::async_read(accepted, lib::buffer(reply), use_awaitable);
  });
  EXPECT_EQ(reply, "hello");
  // The accepted side goes back to vmsock, blocking as it was.
  vmsock::vsock_stream_socket back = flavour::to_vmsock(std::move(accepted));
  EXPECT_FALSE(back.is_nonblocking());
  back.send_all(std::string_view("world"));
  run(io, [&]() -> awaitable<void> {
    co_await lib::async_read(generic, lib::buffer(reply), use_awaitable);
  });
  EXPECT_EQ(reply, "world");
  EXPECT_EQ(back.peer_endpoint().cid, vmsock::vsock::cid::local);
}

}  // namespace
