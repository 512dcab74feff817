// Peer control over real AF_VSOCK in the test guest (vsock_loopback: every peer
// is CID 1): a listener that allows only the host (CID 2) refuses a CID 1
// peer and admits it once the filter allows CID 1; vm_ids on a VSOCK
// listener (CID 1 is hv::vm_id::loopback); an any_listener over VSOCK and
// TCP; a VSOCK connection, and a VSOCK listener, accepted here and served by
// a worker started with fork + exec that received it over a Unix channel
// (SCM_RIGHTS); 1,000 concurrent VSOCK connections held open and echoing
// (figures printed: tests/scale/scale_echo.hpp).
#include "guest_support.hpp"

#include "handoff_support.hpp"
#include "scale_echo.hpp"

#include <vmsock/any/listener.hpp>
#include <vmsock/host/handoff.hpp>
#include <vmsock/host/peer_filter.hpp>
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#ifndef VMSOCK_HANDOFF_WORKER
#  error "VMSOCK_HANDOFF_WORKER: where the worker is in the guest"
#endif

namespace {

using namespace std::chrono_literals;
using namespace vmsock;
using vmsock_vm::any_cid;
using vmsock_vm::local;
using vmsock_vm::next_port;

// A refused client sees its connection end (EOF or a reset).
void expect_refused(vsock_stream_socket& c) {
  ASSERT_TRUE(c.wait_readable(10s)) << "the listener closes a refused peer";
  char b = 0;
  std::error_code ec;
  const std::size_t n = c.receive(mutable_buffer{&b, 1}, 5s, ec);
  EXPECT_TRUE(n == 0 || ec) << "got a byte from a refused connection";
}

TEST(VsockPeer, OnlyTheHostRefusesCid1UntilTheFilterAllowsIt) {
  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port));
  l.set_peer_filter(peer::cids{vsock::cid::host});
  auto refused = vsock_stream_socket::connect(local(port), 10s);
  std::error_code ec;
  l.accept(500ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out) << "the CID 1 peer was not admitted";
  EXPECT_EQ(l.rejected_peers(), 1u);
  expect_refused(refused);

  l.set_peer_filter(peer::cids{vsock::cid::host, vsock::cid::local});
  auto admitted = vsock_stream_socket::connect(local(port), 10s);
  vsock_endpoint who;
  auto s = l.accept(10s, who);
  EXPECT_EQ(who.cid, vsock::cid::local);
  EXPECT_EQ(l.rejected_peers(), 1u);
  s.send_all(std::string_view("admitted"), 10s);
  std::string eight(8, '\0');
  admitted.receive_exact(eight, 10s);
  EXPECT_EQ(eight, "admitted");
}

TEST(VsockPeer, VmIdsOnAVsockListenerReadTheConnection) {
  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port));
  l.set_peer_filter(peer::vm_ids{hv::vm_id::parent});  // CID 2: not this peer
  auto c = vsock_stream_socket::connect(local(port), 10s);
  std::error_code ec;
  l.accept(500ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
  l.set_peer_filter(peer::vm_ids{hv::vm_id::loopback});  // CID 1's Hyper-V name
  auto d = vsock_stream_socket::connect(local(port), 10s);
  auto s = l.accept(10s);
  EXPECT_EQ(s.peer_hv_endpoint().vm_id, hv::vm_id::loopback);
  EXPECT_EQ(l.rejected_peers(), 1u);
}

TEST(VsockPeer, AnyListenerOverVsockAndTcp) {
  const std::uint32_t port = next_port();
  auto all = listen_all({"vsock://any:" + std::to_string(port), "tcp://127.0.0.1:0"});
  const auto tcp_at = *all.local_endpoints()[1].get_if<inet4_endpoint>();
  // The host over VSOCK, 127.0.0.1 over TCP: the CID 1 peer is refused.
  all.set_peer_filter(peer::any_of(peer::cids{vsock::cid::host}, peer::networks{"127.0.0.0/8"}));
  auto v = vsock_stream_socket::connect(local(port), 10s);
  auto t = tcp4_socket::connect(tcp_at, 10s);
  any_endpoint who;
  auto s = all.accept(10s, &who);
  EXPECT_TRUE(who.holds<inet4_endpoint>()) << who.to_string();
  std::error_code ec;
  all.accept(500ms, nullptr, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(all.rejected_peers(), 1u);
  expect_refused(v);
}

// ---- hand-off ----------------------------------------------------------------

pid_t start_worker(const std::string& channel, const char* kind) {
  return vmsock_handoff::start_worker(VMSOCK_HANDOFF_WORKER, channel, kind);
}
using vmsock_handoff::wait_exit;

TEST(VsockHandoff, AVsockConnectionServedByAnExecdWorker) {
  const std::string name = "vmsock-vm-handoff-" + std::to_string(::getpid());
  auto supervisor = unix_listener::listen(unix_endpoint::abstract(name));
  const pid_t worker = start_worker("unix://@" + name, "vsock");
  ASSERT_GT(worker, 0);
  auto channel = supervisor.accept(20s);

  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port));
  auto client = vsock_stream_socket::connect(local(port), 10s);
  auto conn = l.accept(10s);
  send_socket(channel, conn, worker);
  conn.close();

  EXPECT_EQ(vmsock_handoff::read_line(client, 20s), "worker " + std::to_string(worker));
  const auto data = vmsock_vm::bytes(1 << 20, 14);
  std::thread sender([&] {
    client.send_all(data, 30s);
    client.shutdown(shutdown_type::send);
  });
  std::vector<unsigned char> back(data.size());
  client.receive_exact(back, 30s);
  sender.join();
  EXPECT_EQ(back, data);
  EXPECT_EQ(wait_exit(worker), 0);
}

TEST(VsockHandoff, AVsockListenerHandedToAWorker) {
  const std::string name = "vmsock-vm-handoff-l-" + std::to_string(::getpid());
  auto supervisor = unix_listener::listen(unix_endpoint::abstract(name));
  const pid_t worker = start_worker("unix://@" + name, "vsock-listener");
  auto channel = supervisor.accept(20s);
  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port));
  send_socket(channel, l);
  l.close();
  auto client = vsock_stream_socket::connect(local(port), 10s);
  EXPECT_EQ(vmsock_handoff::read_line(client, 20s), "worker " + std::to_string(worker));
  client.send_all(std::string_view("ping"), 10s);
  client.shutdown(shutdown_type::send);
  std::string back(4, '\0');
  client.receive_exact(back, 10s);
  EXPECT_EQ(back, "ping");
  EXPECT_EQ(wait_exit(worker), 0);
}

// A received socket of the wrong type is refused over VSOCK too.
TEST(VsockHandoff, AVsockSocketIsNotATcpSocket) {
  const std::string name = "vmsock-vm-handoff-m-" + std::to_string(::getpid());
  auto l = unix_listener::listen(unix_endpoint::abstract(name));
  auto a = unix_stream_socket::connect(unix_endpoint::abstract(name), 10s);
  auto b = l.accept(10s);
  const std::uint32_t port = next_port();
  auto vl = vsock_listener::listen(any_cid(port));
  auto c = vsock_stream_socket::connect(local(port), 10s);
  auto s = vl.accept(10s);
  send_socket(a, s);
  try {
    receive_socket<tcp4_socket>(b, 10s);
    FAIL() << "received";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::address_family_mismatch);
    EXPECT_NE(std::string(e.what()).find("received a connected VSOCK stream socket, expected a "
                                         "connected IPv4 stream socket"),
              std::string::npos)
        << e.what();
  }
  send_socket(a, s);
  auto again = receive_socket<vsock_stream_socket>(b, 10s);
  EXPECT_EQ(again.peer_endpoint().cid, vsock::cid::local);
}

// ---- 1,000 concurrent connections ----------------------------------------------

TEST(VsockScale, ThousandVsockConnectionsHeldOpenAndEchoing) {
  const std::size_t n = vmsock_scale::connections(1000);
  std::string why;
  if (!vmsock_scale::raise_nofile(static_cast<rlim_t>(n + n / 4 + 256),
                                  static_cast<rlim_t>(2 * n + 256), why))
    GTEST_SKIP() << why;
  const long rss_before = vmsock_scale::rss_kib();
  const std::uint32_t port = next_port();
  auto l = vsock_listener::listen(any_cid(port), 4096);
  vmsock_scale::run(
      l, n,
      [port](std::size_t, deadline until, std::error_code& ec) {
        return vsock_stream_socket::connect(local(port), until, ec);
      },
      "AF_VSOCK", rss_before);
}

}  // namespace
