// `vmsock mux` (tools/vmsock) across a real virtio-vsock boundary
// (tests/vm/nested): on the host (the outer test guest, CID 2, vhost_vsock)
// the mux serves a Firecracker-style Unix socket for the inner guest (CID 3),
//   vmsock mux -v --guest-port G /tmp/nested-mux-P.sock vsock://3
// and vmsock's hybrid vsock classes are its host-side users: the hybrid client
// reaches an agent in the guest through it, a hybrid listener on <path>_G
// takes the guest's connections to host port G.  Where tool-mux.sh (vm_tool_mux)
// runs the mux over vsock_loopback in one guest, here the VM socket under it
// is a VM's.  The mux is found in PATH (/tests/bin in the outer guest only).
#include "nested/nested_support.hpp"

#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using namespace vmsock;
using namespace vmsock_nested;

class Mux : public paired_test {};

constexpr std::size_t big_echo = 1u << 20;  // the one connection's bytes, each way
constexpr std::size_t at_once = 8;          // connections at once, each way
constexpr std::size_t each = 128u << 10;    // bytes of each of those

// Firecracker's answers carry host-side ports counted up from 1 << 30, within
// [1 << 30, 1 << 31); so do the mux's.
constexpr std::uint32_t first_answer = 1u << 30;

std::string mux_path(std::uint32_t p) { return "/tmp/nested-mux-" + std::to_string(p) + ".sock"; }

// The mux on the host side, for the guest's CID, once its socket file is
// there: it has no ready signal of its own.  It binds UDS_PATH first and
// listens on the guest port just after, so a guest's connect to that port
// may still come too early (the guest side retries it).
std::unique_ptr<child> start_mux(const std::string& path, std::uint32_t guest_port) {
  ::unlink(path.c_str());
  auto mux = std::make_unique<child>(
      std::vector<std::string>{"vmsock", "mux", "-v", "--guest-port", std::to_string(guest_port),
                               path, "vsock://" + std::to_string(guest_cid)});
  if (!wait_for_socket(path, *mux, 30s))
    throw std::runtime_error("vmsock mux never made its socket file " + path);
  return mux;
}

// SIGTERM: the mux ends every listener and connection, removes its socket
// file and exits 0 (within 3 s of the stop, as it says; 10 s allowed here).
void stop_mux(child& mux, const std::string& path) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(mux.terminate(10s), 0) << "vmsock mux's exit status after SIGTERM";
  vmsock_vm::record("mux_sigterm_to_exit_s", vmsock_vm::seconds_since(t0));
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << path << " is left after the mux's exit";
}

// The agent's part of a connection: echoes until the peer's end of stream,
// then ends its own side.  The error as text ("" for none): it runs in a
// thread of its own.
template <class Socket> std::string echo_until_end(Socket& s) {
  std::vector<unsigned char> buf(64u << 10);
  std::error_code ec;
  for (;;) {
    const std::size_t n = s.receive(buf.data(), buf.size(), 60s, ec);
    if (ec) return "receive: " + ec.message();
    if (n == 0) break;
    s.send_all(buf.data(), n, 60s, ec);
    if (ec) return "send: " + ec.message();
  }
  s.shutdown(shutdown_type::send, ec);
  return ec ? "shutdown: " + ec.message() : "";
}

// Accepts `count` connections on `l` and echoes each in a thread of its own;
// "" when every one ended well, else what went wrong.
template <class Listener> std::string echo_agent(Listener& l, std::size_t count) {
  std::vector<std::thread> threads;
  std::vector<std::string> failures(count);
  std::string accept_failure;
  for (std::size_t k = 0; k < count; ++k) {
    std::error_code ec;
    auto s = l.accept(60s, ec);
    if (ec) {
      accept_failure = "accept " + std::to_string(k) + ": " + ec.message();
      break;
    }
    threads.emplace_back(
        [&failures, k, s = std::move(s)]() mutable { failures[k] = echo_until_end(s); });
  }
  for (auto& t : threads) t.join();
  for (std::size_t k = 0; k < count; ++k)
    if (!failures[k].empty()) return "connection " + std::to_string(k) + ": " + failures[k];
  return accept_failure;
}

// The client's part: `n` bytes of test data (seeded) sent from a thread of
// their own and then shutdown(send), what comes back received meanwhile up to
// the end of the stream; "" when it is the same bytes, else what differed.
template <class Socket> std::string echoed_whole(Socket& s, std::size_t n, std::uint64_t seed) {
  const auto sent = vmsock_vm::bytes(n, seed);
  std::string send_failure;
  std::thread sender([&] {
    std::error_code ec;
    s.send_all(sent.data(), sent.size(), 60s, ec);
    if (!ec) s.shutdown(shutdown_type::send, ec);
    if (ec) send_failure = "send: " + ec.message();
  });
  std::vector<unsigned char> back(n + 1);  // one more: bytes past the echo show
  std::size_t got = 0;
  std::error_code ec;
  while (got < back.size()) {
    const std::size_t r = s.receive(back.data() + got, back.size() - got, 60s, ec);
    if (ec || r == 0) break;
    got += r;
  }
  sender.join();
  if (!send_failure.empty()) return send_failure;
  if (ec) return "receive after " + std::to_string(got) + " bytes: " + ec.message();
  if (got != n) return std::to_string(got) + " bytes came back of " + std::to_string(n);
  if (vmsock_vm::checksum(back.data(), n) != vmsock_vm::checksum(sent.data(), n)) {
    const auto at = std::mismatch(sent.begin(), sent.end(), back.begin()).first - sent.begin();
    return "the echo differs from byte " + std::to_string(at);
  }
  return {};
}

double mb_per_s(std::size_t bytes, double seconds) {
  return static_cast<double>(bytes) / seconds / 1e6;
}

// ---- host -> guest: the hybrid client through the mux into the guest's agent ---------

// The guest's agent listens on P; the host connects through the mux with
// CONNECT P: 1 MiB echoed whole, then 8 connections at once (each answered
// with a port of its own, each echoed whole); CONNECT to a port nothing
// listens on is closed without a word, which the hybrid client reports as
// connection refused; SIGTERM ends the mux.
TEST_F(Mux, HybridClientReachesTheGuestsAgentThroughTheMux) {
  const std::uint32_t p_agent = port(0), p_dead = port(1), p_guest = port(2);
  if (on_guest()) {
    auto l = vsock_listener::listen(any_port(p_agent));
    sync_listening(p_agent);
    EXPECT_EQ(echo_agent(l, 1 + at_once), "");
    sync("done");
    return;
  }
  const std::string path = mux_path(p_agent);
  auto mux = start_mux(path, p_guest);
  sync_listening(p_agent);

  {
    const auto t0 = std::chrono::steady_clock::now();
    auto s = hybrid_vsock_stream_socket::connect({path, p_agent}, 30s);
    const double connected = vmsock_vm::seconds_since(t0);
    EXPECT_EQ(s.answer_port().value_or(0), first_answer)
        << "the answer was \"OK " << s.answer() << "\"";
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_EQ(echoed_whole(s, big_echo, p_agent), "");
    const double took = vmsock_vm::seconds_since(t1);
    vmsock_vm::record("connect_until_ok_s", connected);
    vmsock_vm::record("echo_1MiB_s", took);
    vmsock_vm::record("echo_1MiB_MB_per_s_each_way", mb_per_s(big_echo, took));
  }

  std::vector<std::thread> threads;
  std::vector<std::string> failures(at_once);
  std::vector<std::uint32_t> answers(at_once);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < at_once; ++i) {
    threads.emplace_back([&, i] {
      try {
        auto s = hybrid_vsock_stream_socket::connect({path, p_agent}, 30s);
        answers[i] = s.answer_port().value_or(0);
        failures[i] = echoed_whole(s, each, p_agent + 1 + i);
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double took = vmsock_vm::seconds_since(t0);
  vmsock_vm::record("echo_at_once_s", took);
  vmsock_vm::record("echo_at_once_MB_per_s_each_way", mb_per_s(at_once * each, took));
  for (std::size_t i = 0; i < at_once; ++i) {
    EXPECT_EQ(failures[i], "") << "connection " << i;
    EXPECT_GE(answers[i], first_answer) << "connection " << i;
    EXPECT_LT(answers[i], 2 * first_answer) << "connection " << i;
  }
  EXPECT_EQ(std::set<std::uint32_t>(answers.begin(), answers.end()).size(), at_once)
      << "connections open at once were answered with the same port";

  // Nothing listens on p_dead in the guest: the guest's kernel resets the
  // mux's connect, and the mux closes the client's connection unanswered.
  const failure refused = time_failure([&] {
    (void)hybrid_vsock_stream_socket::connect({path, p_dead}, 30s);
  });
  vmsock_vm::record("refused", refused.what);
  EXPECT_EQ(refused.ec, std::errc::connection_refused) << refused.what;
  EXPECT_EQ(refused.ec, errc::hybrid_vsock_refused) << refused.what;

  sync("done");
  stop_mux(*mux, path);
}

// ---- guest -> host: the guest's connections to host port G, through the mux ---------

// The host listens with the hybrid listener on <path>_G, the guest connects
// to CID 2, port G (the mux's guest port: its peer filter takes CID 3, the
// target VM); 8 connections at once, each echoed whole by the host.
TEST_F(Mux, GuestReachesTheHostsHybridListenerThroughTheMux) {
  const std::uint32_t p_guest = port(0);
  if (on_guest()) {
    sync_listening(p_guest);
    std::vector<std::thread> threads;
    std::vector<std::string> failures(at_once);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < at_once; ++i) {
      threads.emplace_back([&, i] {
        try {
          // The mux listens on G just after its socket file appears: a
          // connect that comes before is refused, and tried again.
          auto s = vsock_stream_socket::connect({host_cid, p_guest}, 60s, wait_for_ready{});
          if (s.peer_endpoint() != vsock_endpoint{host_cid, p_guest})
            failures[i] = "connected to " + s.peer_endpoint().to_string();
          else
            failures[i] = echoed_whole(s, each, p_guest + i);
        } catch (const std::exception& e) {
          failures[i] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    vmsock_vm::record("guest_at_once_s", vmsock_vm::seconds_since(t0));
    for (std::size_t i = 0; i < at_once; ++i) EXPECT_EQ(failures[i], "") << "connection " << i;
    sync("done");
    return;
  }
  const std::string path = mux_path(p_guest);
  // Before the mux: it connects each of the guest's connections to <path>_G
  // at once, and closes it when nothing listens there.
  auto l = hybrid_vsock_listener::listen({path, p_guest});
  auto mux = start_mux(path, p_guest);
  sync_listening(p_guest);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(echo_agent(l, at_once), "");
  const double took = vmsock_vm::seconds_since(t0);
  vmsock_vm::record("host_at_once_s", took);
  vmsock_vm::record("guest_at_once_MB_per_s_each_way", mb_per_s(at_once * each, took));
  sync("done");
  stop_mux(*mux, path);
}

}  // namespace
