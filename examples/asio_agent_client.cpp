// asio_agent_client: asio_agent's client, C++20 coroutines on standalone asio.
// Opens several connections at once; each makes one-byte round trips, then
// sends a checksummed pattern while it takes the echo back, half-closes and
// waits for the agent to close.
//
//   asio_agent_client URI [URI...] [--connections K] [--each | --async] [--timeout MS]
//                     [--bytes N] [--chunk N] [--pings N]
//
//   (default)      each of the K connections is made by vmsock::connect_first
//                  over the URIs in order (the first that connects wins; why
//                  the others did not is printed), then handed to asio
//                  (vmsock::asio::to_asio: an asio::generic::stream_protocol
//                  socket) and run asynchronously: connect with vmsock, then
//                  go async
//   --async        each of the K connections made asynchronously from the URIs,
//                  by vmsock::asio::async_connect_first (the same order, the
//                  same listing of the attempts that failed)
//   --each         K connections to every URI, all at once, made with asio's
//                  async_connect (vmsock::asio::vsock_stream / hv_stream for
//                  vsock:// and hvsock://, vmsock::asio::hybrid_vsock_stream
//                  for hybrid-vsock://PATH:PORT: the Unix connect and the
//                  VMM's CONNECT handshake as one operation; asio's own for
//                  tcp:// and unix://), bounded by a steady_timer
//   --timeout MS   per connect (default 2000)
//
// Exit codes: 0 every connection echoed correctly, 1 a failure, 2 a usage or
// URI error.
#include "echo.hpp"

#include <vmsock/asio.hpp>
#include <vmsock/asio_fmt.hpp>
#include <vmsock/socket.hpp>
#include <vmsock/uri.hpp>

#include <fmt/format.h>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#if !defined(ASIO_HAS_CO_AWAIT)
#  error "asio_agent_client needs C++20 coroutines (asio's ASIO_HAS_CO_AWAIT)"
#endif

namespace {

using ::asio::awaitable;
using ::asio::use_awaitable;
using namespace ::asio::experimental::awaitable_operators;
namespace vasio = vmsock::asio;

constexpr std::string_view usage_head =
    "usage: asio_agent_client URI [URI...] [--connections K] [--each | --async] [--timeout MS]\n"
    "                         [--bytes N] [--chunk N] [--pings N]\n"
    "  URI: vsock://CID:PORT, hvsock://VM/SERVICE, tcp://127.0.0.1:PORT, unix:///PATH,\n"
    "       hybrid-vsock:///PATH:PORT (guest port PORT behind a Firecracker-style VMM socket), "
    "...\n"
    "  --connections K  connections at once (default 1)\n"
    "  --each           K connections to every URI (asio's async_connect), instead of\n"
    "                   K made by vmsock::connect_first over the URIs in order\n"
    "  --async          K made by vmsock::asio::async_connect_first over the URIs\n"
    "  --timeout MS     per connect (default 2000)\n";

struct options {
  std::vector<std::string> uris;
  std::uint64_t connections = 1;
  bool each = false;
  bool async = false;
  std::chrono::milliseconds timeout{2000};
  examples::transfer_options transfer;
};

options parse_options(int argc, char** argv) {
  options o;
  o.transfer.bytes = 4u << 20;
  o.transfer.pings = 100;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--connections") {
      o.connections = examples::parse_size(a, examples::option_value(argc, argv, i));
      if (o.connections == 0 || o.connections > 10000)
        throw examples::usage_error("--connections must be 1 .. 10000");
    } else if (a == "--each") {
      o.each = true;
    } else if (a == "--async") {
      o.async = true;
    } else if (a == "--timeout") {
      o.timeout =
          std::chrono::milliseconds(examples::parse_size(a, examples::option_value(argc, argv, i)));
    } else if (!examples::parse_transfer_option(argc, argv, i, o.transfer)) {
      examples::take_uri_argument(a, o.uris);
    }
  }
  return o;
}

struct outcome {
  int failures = 0;
  std::uint64_t bytes = 0;
};

// Round trips, then the checksummed echo of `t.bytes`, on a connected socket.
template <class Socket>
awaitable<void> exchange(Socket& s, const examples::transfer_options& t, std::string what,
                         outcome& out) {
  const auto start = examples::clock::now();
  char b = 'x';
  for (std::uint64_t i = 0; i < t.pings; ++i) {
    co_await ::asio::async_write(s, ::asio::buffer(&b, 1), use_awaitable);
    co_await ::asio::async_read(s, ::asio::buffer(&b, 1), use_awaitable);
  }
  const double rtt = t.pings ? examples::seconds_since(start) / static_cast<double>(t.pings) : 0;

  const examples::pattern data(t.chunk);
  examples::checksum sent, received;
  const auto bulk = examples::clock::now();
  auto send_all = [&]() -> awaitable<void> {
    std::uint64_t left = t.bytes;
    for (std::uint64_t i = 0; left > 0; ++i) {
      const std::size_t n = left < t.chunk ? static_cast<std::size_t>(left) : t.chunk;
      co_await ::asio::async_write(s, ::asio::buffer(data.chunk(i), n), use_awaitable);
      sent.update(data.chunk(i), n);
      left -= n;
    }
    s.shutdown(::asio::socket_base::shutdown_send);  // the agent sees the end, and closes
  };
  auto receive_all = [&]() -> awaitable<void> {
    std::vector<char> buf(t.chunk);
    std::uint64_t left = t.bytes;
    while (left > 0) {
      const std::size_t n = left < t.chunk ? static_cast<std::size_t>(left) : t.chunk;
      co_await ::asio::async_read(s, ::asio::buffer(buf.data(), n), use_awaitable);
      received.update(buf.data(), n);
      left -= n;
    }
    std::error_code ec;
    co_await s.async_read_some(::asio::buffer(buf.data(), 1),
                               ::asio::redirect_error(use_awaitable, ec));
    if (ec != ::asio::error::eof) throw std::runtime_error("the agent sent more than it was sent");
  };
  co_await (send_all() && receive_all());
  const double seconds = examples::seconds_since(bulk);
  const bool ok = sent.value() == received.value();
  fmt::print(
      "{}: {} round trips, {:.1f} us each; echoed {} in {:.3f} s ({:.1f} MB/s), checksums {}\n",
      what, t.pings, rtt * 1e6, examples::human_bytes(t.bytes), seconds,
      seconds > 0 ? static_cast<double>(t.bytes) / seconds / 1e6 : 0.0, ok ? "match" : "DIFFER");
  std::fflush(stdout);
  if (!ok) ++out.failures;
  out.bytes += t.bytes;
}

template <class Socket>
awaitable<void> run_exchange(Socket s, examples::transfer_options t, std::string what,
                             outcome& out) {
  try {
    co_await exchange(s, t, what, out);
  } catch (const std::exception& e) {
    fmt::print(stderr, "asio_agent_client: {}: {}\n", what, e.what());
    ++out.failures;
  }
}

// asio's async_connect, ended by a steady_timer after `timeout`.
template <class Socket, class Endpoint>
awaitable<void> connect_with_timeout(Socket& s, const Endpoint& to,
                                     std::chrono::milliseconds timeout) {
  ::asio::steady_timer timer(s.get_executor(), timeout);
  bool timed_out = false;
  timer.async_wait([&](const std::error_code& ec) {
    if (!ec) timed_out = true, s.close();
  });
  std::error_code ec;
  co_await s.async_connect(to, ::asio::redirect_error(use_awaitable, ec));
  timer.cancel();
  if (timed_out) throw std::system_error(std::make_error_code(std::errc::timed_out), "connect");
  if (ec) throw std::system_error(ec, "connect");
}

// An asio endpoint of protocol P with the native address of a vmsock endpoint
// (what asio's ip and local endpoints take: data(), resize()).
template <class P, class E> typename P::endpoint native_endpoint(const E& e) {
  typename P::endpoint out;
  const auto native = e.to_native();
  std::memcpy(out.data(), &native, e.native_size());
  out.resize(e.native_size());
  return out;
}

// The asio protocol for a vmsock endpoint type (--each): vmsock::asio's for
// the VM families and hybrid vsock, asio's own for TCP and Unix.
template <class E>
using protocol_for = std::conditional_t<
    std::is_same_v<E, vmsock::vsock_endpoint>, vasio::vsock_stream,
    std::conditional_t<
        std::is_same_v<E, vmsock::hv_endpoint>, vasio::hv_stream,
        std::conditional_t<std::is_same_v<E, vmsock::hybrid_vsock_endpoint>,
                           vasio::hybrid_vsock_stream,
                           std::conditional_t<std::is_same_v<E, vmsock::unix_endpoint>,
                                              ::asio::local::stream_protocol, ::asio::ip::tcp>>>>;

template <class P, class E> typename P::endpoint endpoint_for(const E& e) {
  if constexpr (std::is_same_v<P, vasio::vsock_stream> || std::is_same_v<P, vasio::hv_stream> ||
                std::is_same_v<P, vasio::hybrid_vsock_stream>)
    return e;  // converts: the OS form of a VSOCK or Hyper-V endpoint; the VMM's socket and port
  else
    return native_endpoint<P>(e);
}

awaitable<void> each_connection(::asio::io_context& io, vmsock::any_endpoint ep, std::uint64_t n,
                                const options& o, outcome& out) {
  const std::string what = fmt::format("connection {} to {}", n, ep.to_string());
  try {
    co_await std::visit(
        [&](const auto& e) -> awaitable<void> {
          using P = protocol_for<std::decay_t<decltype(e)>>;
          typename P::socket socket(io);
          // For hybrid-vsock://, the Unix connect and the CONNECT handshake.
          co_await connect_with_timeout(socket, endpoint_for<P>(e), o.timeout);
          if constexpr (std::is_same_v<P, vasio::hybrid_vsock_stream>)
            co_await exchange(socket, o.transfer,
                              fmt::format("{} (the VMM answered OK {})", what, socket.answer()),
                              out);
          else
            co_await exchange(socket, o.transfer, what, out);
        },
        ep.value());
  } catch (const std::exception& e) {
    fmt::print(stderr, "asio_agent_client: {}: {}\n", what, e.what());
    ++out.failures;
  }
}

// One connection made by async_connect_first over the whole list.
awaitable<void> first_of(::asio::io_context& io, std::vector<vmsock::any_endpoint> endpoints,
                         std::uint64_t n, const options& o, outcome& out) {
  std::vector<vmsock::connect_attempt> failed;
  std::error_code ec;
  auto socket = co_await vasio::async_connect_first(io, std::move(endpoints), o.timeout, failed,
                                                    ::asio::redirect_error(use_awaitable, ec));
  for (const auto& f : failed) fmt::print("{}: {}\n", f.endpoint.to_string(), f.error.message());
  if (ec) {
    fmt::print(stderr, "asio_agent_client: connection {}: {}\n", n,
               vmsock::make_connect_error(vasio::to_std(ec), failed).what());
    ++out.failures;
    co_return;
  }
  const std::string what =
      fmt::format("connection {} (async_connect_first, after {} failed)", n, failed.size());
  co_await run_exchange(std::move(socket), o.transfer, what, out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string usage(usage_head);
  usage += examples::transfer_usage;
  return examples::guarded_main("asio_agent_client", usage, argc, argv, [&] {
    const options o = parse_options(argc, argv);
    const auto endpoints = examples::parse_stream_uris(o.uris);
    ::asio::io_context io;
    outcome out;
    const auto start = examples::clock::now();
    if (o.each && o.async) throw examples::usage_error("--each and --async exclude each other");
    if (o.async) {
      for (std::uint64_t i = 1; i <= o.connections; ++i)
        ::asio::co_spawn(io, first_of(io, endpoints, i, o, out), ::asio::detached);
    } else if (o.each) {
      for (const auto& ep : endpoints)
        for (std::uint64_t i = 1; i <= o.connections; ++i)
          ::asio::co_spawn(io, each_connection(io, ep, i, o, out), ::asio::detached);
    } else {
      for (std::uint64_t i = 1; i <= o.connections; ++i) {
        std::vector<vmsock::connect_attempt> failed;
        auto s = vmsock::connect_first(endpoints, o.timeout, failed);
        for (const auto& f : failed)
          fmt::print("{}: {}\n", f.endpoint.to_string(), f.error.message());
        const std::string what = fmt::format("connection {} over {} to {}", i,
                                             vmsock::to_string(s.scheme()), s.remote().to_string());
        auto async = vasio::to_asio(io, std::move(s));  // asio::generic::stream_protocol::socket
        ::asio::co_spawn(io, run_exchange(std::move(async), o.transfer, what, out),
                         ::asio::detached);
      }
    }
    io.run();
    const double seconds = examples::seconds_since(start);
    const std::uint64_t total = o.connections * (o.each ? endpoints.size() : 1);
    const auto failures = static_cast<std::uint64_t>(out.failures);
    fmt::print("{} of {} connections echoed correctly, {} in {:.3f} s\n", total - failures, total,
               examples::human_bytes(out.bytes), seconds);
    return out.failures == 0 ? 0 : 1;
  });
}
