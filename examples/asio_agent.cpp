// asio_agent: a guest agent written with C++20 coroutines on standalone asio
// and vmsock/asio.hpp.  It serves many clients at once on every endpoint it
// is given, VSOCK, Hyper-V, TCP and Unix together, on one thread: each
// connection is a coroutine that echoes what it receives.  asio_agent_client
// is its client.
//
//   asio_agent URI [URI...] [--count N] [--ready-file PATH]
//
//   URI            vsock://any:5000, hvsock://wildcard/5000 (vmsock::asio's
//                  protocols: vsock_stream::acceptor, hv_stream::acceptor),
//                  tcp://127.0.0.1:5000, tcp://[::1]:0, unix:///run/agent.sock,
//                  unix://@agent (listened on by vmsock, with its defaults,
//                  then handed to asio: vmsock::asio::to_asio),
//                  hybrid-vsock:///run/fc.vsock:5000 (a Firecracker guest's
//                  connections to host port 5000, on the Unix socket
//                  /run/fc.vsock_5000: vmsock::asio::hybrid_vsock_stream::acceptor)
//   --count N      exit once N connections have been served (for tests)
//   --ready-file   once listening, write a URI to reach each endpoint from
//                  this machine to PATH, one per line (an "any" address
//                  becomes the loopback one: vsock://1:P, hvsock://loopback/P)
//
// SIGINT or SIGTERM stops it.  Exit codes: 0 done, 1 a socket error, 2 a
// usage or URI error.
#include "echo.hpp"

#include <vmsock/asio.hpp>
#include <vmsock/asio_fmt.hpp>
#include <vmsock/socket.hpp>

#include <fmt/format.h>

#include <asio.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#if !defined(ASIO_HAS_CO_AWAIT)
#  error "asio_agent needs C++20 coroutines (asio's ASIO_HAS_CO_AWAIT)"
#endif

namespace {

using ::asio::awaitable;
using ::asio::use_awaitable;
namespace vasio = vmsock::asio;

constexpr std::string_view usage =
    "usage: asio_agent URI [URI...] [--count N] [--ready-file PATH]\n"
    "  URI: vsock://CID:PORT (CID any: every CID), hvsock://VM/SERVICE, tcp://127.0.0.1:PORT,\n"
    "       tcp://[::1]:PORT, unix:///PATH, unix://@ABSTRACT, hybrid-vsock:///PATH:PORT (a\n"
    "       Firecracker guest's connections to host port PORT, on PATH_PORT); all served at once\n"
    "  --count N          exit after N connections (default: serve until SIGINT/SIGTERM)\n"
    "  --ready-file PATH  once listening, write a URI to reach each endpoint, one per line\n";

struct options {
  std::vector<std::string> uris;
  std::uint64_t count = 0;  // 0: until a signal
  std::string ready_file;
};

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--count") {
      o.count = examples::parse_size(a, examples::option_value(argc, argv, i));
      if (o.count == 0) throw examples::usage_error("--count must be at least 1");
    } else if (a == "--ready-file") {
      o.ready_file = std::string(examples::option_value(argc, argv, i));
    } else {
      examples::take_uri_argument(a, o.uris);
    }
  }
  return o;
}

// Any acceptor this agent has: vmsock::asio's three, asio's TCP and Unix ones.
using any_acceptor =
    std::variant<vasio::vsock_stream::acceptor, vasio::hv_stream::acceptor,
                 ::asio::ip::tcp::acceptor, ::asio::local::stream_protocol::acceptor,
                 vasio::hybrid_vsock_stream::acceptor>;

// Listens on `ep`.  VSOCK, Hyper-V and hybrid vsock through vmsock::asio's
// protocol types; the others with vmsock's listener (SO_REUSEADDR, a stale
// Unix socket file taken over), handed to asio.
any_acceptor listen_on(::asio::io_context& io, const vmsock::any_endpoint& ep) {
  return std::visit(
      [&](const auto& e) -> any_acceptor {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, vmsock::vsock_endpoint>)
          return vasio::vsock_stream::acceptor(io, e);
        else if constexpr (std::is_same_v<E, vmsock::hv_endpoint>)
          return vasio::hv_stream::acceptor(io, e);
        else if constexpr (std::is_same_v<E, vmsock::hybrid_vsock_endpoint>)
          // The guest's connections through a VMM, on "<path>_<port>" (a stale
          // socket file replaced, the file removed when the acceptor closes).
          return vasio::hybrid_vsock_stream::acceptor(io, e);
        else
          return vasio::to_asio(io, vmsock::listener<E>::listen(e));
      },
      ep.value());
}

// A URI that reaches what an acceptor is bound to, from this machine.
std::string reach_uri(const any_acceptor& a) {
  return std::visit(
      [](const auto& acc) -> std::string {
        using A = std::decay_t<decltype(acc)>;
        if constexpr (std::is_same_v<A, vasio::vsock_stream::acceptor>) {
          vmsock::vsock_endpoint v = acc.local_endpoint();
          if (v.cid == vmsock::vsock::cid::any) v.cid = vmsock::vsock::cid::local;
          return v.to_string();
        } else if constexpr (std::is_same_v<A, vasio::hv_stream::acceptor>) {
          vmsock::hv_endpoint h = acc.local_endpoint();
          if (h.vm_id == vmsock::hv::vm_id::wildcard) h.vm_id = vmsock::hv::vm_id::loopback;
          return h.to_string();
        } else if constexpr (std::is_same_v<A, ::asio::ip::tcp::acceptor>) {
          auto local = acc.local_endpoint();
          if (local.address().is_unspecified())
            local.address(local.address().is_v4()
                              ? ::asio::ip::address(::asio::ip::address_v4::loopback())
                              : ::asio::ip::address(::asio::ip::address_v6::loopback()));
          std::ostringstream out;
          out << "tcp://" << local;
          return out.str();
        } else if constexpr (std::is_same_v<A, vasio::hybrid_vsock_stream::acceptor>) {
          return acc.hybrid_endpoint().listen_uds().to_string();  // where the VMM connects
        } else {
          const std::string path = acc.local_endpoint().path();
          if (!path.empty() && path[0] == '\0') return "unix://@" + path.substr(1);
          return "unix://" + path;
        }
      },
      a);
}

const char* scheme_of(const any_acceptor& a) {
  static constexpr const char* names[] = {"vsock", "hvsock", "tcp", "unix", "hybrid-vsock"};
  return names[a.index()];
}

// Who is on the other end of a connection, for the log.
template <class Socket> std::string peer_of(const Socket& s) {
  std::error_code ec;
  const auto peer = s.remote_endpoint(ec);
  if (ec) return "an unknown peer (" + ec.message() + ")";
  if constexpr (std::is_same_v<Socket, ::asio::local::stream_protocol::socket>) {
    if (peer.path().empty()) return "an unnamed Unix socket";
    return "unix://" + peer.path();
  } else {
    std::ostringstream out;
    if constexpr (std::is_same_v<Socket, ::asio::ip::tcp::socket>) out << "tcp://";
    out << peer;  // vmsock::asio's endpoints print as their URIs
    return out.str();
  }
}

class agent {
 public:
  agent(::asio::io_context& io, std::uint64_t count) : io_(io), count_(count) {}

  void add(any_acceptor a) { acceptors_.push_back(std::make_unique<any_acceptor>(std::move(a))); }
  const std::vector<std::unique_ptr<any_acceptor>>& acceptors() const { return acceptors_; }

  void start() {
    for (auto& a : acceptors_)
      std::visit(
          [&](auto& acc) {
            ::asio::co_spawn(io_, accept_loop(acc, scheme_of(*a)), ::asio::detached);
          },
          *a);
  }

  // Closing the acceptors ends their loops; the connections in progress finish.
  void stop() {
    for (auto& a : acceptors_) std::visit([](auto& acc) { acc.close(); }, *a);
    if (on_stop_) on_stop_();
  }
  void on_stop(std::function<void()> f) { on_stop_ = std::move(f); }

  int failures() const { return failures_; }

 private:
  template <class Acceptor> awaitable<void> accept_loop(Acceptor& acceptor, const char* scheme) {
    for (;;) {
      try {
        auto socket = co_await acceptor.async_accept(use_awaitable);
        const std::uint64_t id = ++accepted_;
        ::asio::co_spawn(io_, serve(std::move(socket), id, scheme), ::asio::detached);
        if (count_ != 0 && accepted_ == count_) co_return;  // the last one is in
      } catch (const std::system_error& e) {
        if (e.code() == ::asio::error::operation_aborted) co_return;  // stop()
        fmt::print(stderr, "asio_agent: accept on {}: {}\n", scheme, e.what());
        ++failures_;
        co_return;
      }
    }
  }

  // Echoes until the peer half-closes, then closes.
  template <class Socket>
  awaitable<void> serve(Socket socket, std::uint64_t id, const char* scheme) {
    const std::string peer = peer_of(socket);
    std::uint64_t echoed = 0;
    std::vector<char> buf(64 * 1024);
    try {
      for (;;) {
        std::error_code ec;
        const std::size_t n = co_await socket.async_read_some(
            ::asio::buffer(buf), ::asio::redirect_error(use_awaitable, ec));
        if (ec == ::asio::error::eof) break;
        if (ec) throw std::system_error(ec, "receive");
        co_await ::asio::async_write(socket, ::asio::buffer(buf.data(), n), use_awaitable);
        echoed += n;
      }
      socket.shutdown(::asio::socket_base::shutdown_send);
      fmt::print("connection {} over {} from {}: echoed {}\n", id, scheme, peer,
                 examples::human_bytes(echoed));
    } catch (const std::system_error& e) {
      fmt::print(stderr, "asio_agent: connection {} over {} from {}: {}\n", id, scheme, peer,
                 e.what());
      ++failures_;
    }
    std::fflush(stdout);
    if (count_ != 0 && ++finished_ == count_) stop();
  }

  ::asio::io_context& io_;
  std::uint64_t count_;
  std::uint64_t accepted_ = 0;
  std::uint64_t finished_ = 0;
  int failures_ = 0;
  std::vector<std::unique_ptr<any_acceptor>> acceptors_;
  std::function<void()> on_stop_;
};

void write_ready_file(const std::string& path, const std::vector<std::string>& uris) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    for (const auto& u : uris) f << u << '\n';
  }
  std::filesystem::rename(tmp, path);  // readers see all of it or nothing
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main("asio_agent", usage, argc, argv, [&] {
    const options o = parse_options(argc, argv);
    const auto endpoints = examples::parse_stream_uris(o.uris);

    ::asio::io_context io;
    agent a(io, o.count);
    std::vector<std::string> reach;
    std::vector<std::string> unix_paths;  // the socket files to remove at the end
    for (const auto& ep : endpoints) {
      try {
        a.add(listen_on(io, ep));
      } catch (const std::system_error& e) {
        throw std::system_error(e.code(), "listen on " + ep.to_string());
      }
      reach.push_back(reach_uri(*a.acceptors().back()));
      if (const auto* u = ep.get_if<vmsock::unix_endpoint>();
          u && u->type() == vmsock::unix_endpoint::kind::path)
        unix_paths.emplace_back(u->name());
    }
    std::string list;
    for (const auto& r : reach) list += (list.empty() ? "" : ", ") + r;
    if (o.count != 0)
      fmt::print("listening on {}, for {} connection{}\n", list, o.count, o.count == 1 ? "" : "s");
    else
      fmt::print("listening on {}\n", list);
    std::fflush(stdout);
    if (!o.ready_file.empty()) write_ready_file(o.ready_file, reach);

    ::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code& ec, int) {
      if (!ec) a.stop();
    });
    a.on_stop([&] { signals.cancel(); });  // then run() returns when the connections have
    a.start();
    io.run();
    for (const auto& p : unix_paths) std::filesystem::remove(p);
    return a.failures() == 0 ? 0 : 1;
  });
}
