// Hyper-V socket endpoints on Linux, inside the test guest: an hv_endpoint
// travels as AF_VSOCK (to_vsock: loopback -> CID 1, wildcard -> CID any, a
// VSOCK-template service id -> its port), so hv_stream_socket and hv_listener
// talk to plain vsock sockets end to end, and the endpoints the kernel reports
// map back (CID 1 -> hv::vm_id::loopback).
#include "guest_support.hpp"

#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/socket/options.hpp>
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <system_error>
#include <thread>

namespace {

using namespace vmsock;
using namespace vmsock_vm;
using namespace std::chrono_literals;

hv_endpoint hv_loopback(std::uint32_t port) {
  return hv_endpoint{hv::vm_id::loopback, *hv::service_id_from_port(port)};
}
hv_endpoint hv_wildcard(std::uint32_t port) {
  return hv_endpoint{hv::vm_id::wildcard, *hv::service_id_from_port(port)};
}

void echo_one(vsock_stream_socket& a, stream_socket<hv_endpoint>& b) {
  const auto data = vmsock_vm::bytes(300000, 42);
  std::thread t([&] { a.send_all(data); });
  std::vector<unsigned char> got(data.size());
  EXPECT_EQ(b.receive_exact(got), got.size());
  t.join();
  EXPECT_EQ(got, data);
  EXPECT_EQ(b.send_all("back", 4), 4u);
  char buf[4];
  EXPECT_EQ(a.receive_exact(buf, 4), 4u);
  EXPECT_EQ(std::string(buf, 4), "back");
}

// hv_endpoint{loopback, service_id_from_port(P)} reaches a vsock listener on P.
TEST(HvOnLinux, HvClientConnectsToVsockListener) {
  const std::uint32_t port = next_port();
  const hv_endpoint target = hv_loopback(port);
  ASSERT_EQ(to_vsock(target), local(port));

  auto listener = vsock_listener::listen(any_cid(port));
  auto client = hv_stream_socket::connect(target);
  vsock_endpoint peer;
  auto server = listener.accept(peer);
  EXPECT_EQ(peer.cid, vsock::cid::local);
  EXPECT_EQ(client.peer_endpoint(), target) << client.peer_endpoint().to_string();
  echo_one(server, client);
}

// From a chosen local hv_endpoint (bound first): the server sees that port,
// and the client's own name maps back (the kernel reports the CID of a
// client's name as VMADDR_CID_ANY: hv::vm_id::wildcard).
TEST(HvOnLinux, HvClientFromAChosenLocalEndpoint) {
  const std::uint32_t port = next_port();
  const std::uint32_t from = next_port();
  auto listener = vsock_listener::listen(any_cid(port));
  auto client = hv_stream_socket::connect(hv_loopback(port), hv_wildcard(from), no_timeout);
  vsock_endpoint peer;
  auto server = listener.accept(peer);
  EXPECT_EQ(peer, local(from));
  EXPECT_EQ(client.local_endpoint(), hv_wildcard(from)) << client.local_endpoint().to_string();
  echo_one(server, client);
}

// The same through the hvsock:// text form, with the timed connect.
TEST(HvOnLinux, HvClientFromUriWithTimeout) {
  const std::uint32_t port = next_port();
  auto listener = vsock_listener::listen(any_cid(port));
  const auto ep = hv_endpoint::parse("hvsock://loopback/" + std::to_string(port));
  EXPECT_EQ(ep, hv_loopback(port));
  auto client = hv_stream_socket::connect(ep, 10s);
  auto server = listener.accept();
  echo_one(server, client);
}

// An hv_listener on hvsock://wildcard/P accepts a vsock client; the peer is
// reported as hv::vm_id::loopback with the client's port as its service id.
TEST(HvOnLinux, HvListenerAcceptsVsockClient) {
  const std::uint32_t port = next_port();
  const std::uint32_t from = next_port();
  auto listener =
      hv_listener::listen(hv_endpoint::parse("hvsock://wildcard/" + std::to_string(port)));
  EXPECT_EQ(listener.local_endpoint(), hv_wildcard(port));

  // Bound to a port a service id can carry (see the next test for why).
  auto client = vsock_stream_socket::connect(local(port), any_cid(from));
  hv_endpoint peer;
  auto server = listener.accept(peer);
  EXPECT_EQ(peer, hv_loopback(from)) << peer.to_string();
  EXPECT_EQ(server.peer_endpoint(), hv_loopback(from));
  EXPECT_EQ(server.local_endpoint(), hv_loopback(port));
  echo_one(client, server);
}

// The kernel picks ephemeral VSOCK ports at random from the whole range above
// 1023, up to 0xffffffff (one random start per boot, then counting up), but
// hv::service_id_from_port carries ports up to hv::max_port (0x7fffffff)
// only.  A name the kernel reports still maps: the service id carries the
// port in data1 (the hv_sock transport's own layout), so accept() and
// local_endpoint() work whatever port the kernel chose; port() cannot read
// such a port back, and the text form shows the GUID.
TEST(HvOnLinux, PeerPortAboveMaxPortStillMaps) {
  const std::uint32_t port = next_port();
  const std::uint32_t from = hv::max_port + 1000u + next_port();
  auto listener = hv_listener::listen(hv_wildcard(port));
  auto client = vsock_stream_socket::connect(local(port), any_cid(from));
  hv_endpoint peer;
  auto server = listener.accept(10s, peer);
  ASSERT_TRUE(server.is_open());
  EXPECT_EQ(peer.vm_id, hv::vm_id::loopback);
  EXPECT_EQ(peer.service_id.data1, from);
  EXPECT_FALSE(peer.port()) << "above hv::max_port: not a template port";
  guid rest = peer.service_id;
  rest.data1 = 0;
  EXPECT_EQ(rest, hv::vsock_template);
  EXPECT_EQ(peer.to_string(), "hvsock://loopback/" + peer.service_id.to_string());
  EXPECT_EQ(server.peer_endpoint(), peer);
  echo_one(client, server);
}

TEST(HvOnLinux, LocalPortAboveMaxPortStillMaps) {
  const std::uint32_t port = next_port();
  const std::uint32_t from = hv::max_port + 2000u + next_port();
  auto listener = vsock_listener::listen(any_cid(port));
  auto vs = vsock_stream_socket::connect(local(port), any_cid(from));
  hv_stream_socket hs(vs.release());
  const hv_endpoint local_ep = hs.local_endpoint();
  EXPECT_EQ(local_ep.vm_id, hv::vm_id::wildcard) << "a client's own CID reads as any";
  EXPECT_EQ(local_ep.service_id.data1, from);
  EXPECT_EQ(hs.peer_endpoint(), hv_loopback(port)) << "the peer's port is small: a template port";
}

// Endpoints with no VSOCK form are refused before any socket is opened.
TEST(HvOnLinux, UnmappableEndpointsAreRefused) {
  std::error_code ec;
  auto a = hv_stream_socket::connect(
      hv_endpoint{hv::vm_id::children, *hv::service_id_from_port(5000)}, ec);
  EXPECT_EQ(ec, errc::no_mapping);
  EXPECT_FALSE(a.is_open());
  auto b = hv_stream_socket::connect(
      hv_endpoint{hv::vm_id::loopback, guid::parse("0000138a-0000-0000-0000-000000000000")}, ec);
  EXPECT_EQ(ec, errc::not_a_template_service_id);
  std::error_code thrown;
  const std::string what = vmsock_vm::system_error_of(
      [] {
        (void)hv_stream_socket::connect(
            hv_endpoint{hv::vm_id::children, *hv::service_id_from_port(5000)});
      },
      thrown);
  EXPECT_EQ(thrown, errc::no_mapping);
  EXPECT_NE(what.find("connect to hvsock://children/5000"), std::string::npos) << what;
}

// hv_connect_timeout on Linux is the VSOCK connect timeout of the same socket.
TEST(HvOnLinux, HvConnectTimeoutIsTheVsockConnectTimeout) {
  auto s = basic_socket<hv_endpoint>::open(socket_type::stream);
  EXPECT_EQ(s.get_option<hv_connect_timeout>().value, 2000ms);
  s.set_option(hv_connect_timeout{3000ms});
  EXPECT_EQ(s.get_option<hv_connect_timeout>().value, 3000ms);
  std::error_code ec;
  s.set_option(hv_connect_timeout{300001ms}, ec);
  EXPECT_EQ(ec, errc::invalid_option_value) << "above HVSOCKET_CONNECT_TIMEOUT_MAX";
}

}  // namespace
