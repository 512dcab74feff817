// A Windows host's VSOCK listener meets real VMs: an accepted peer's name is
// SOCKADDR_HV with the VM's own GUID (or HV_GUID_CHILDREN), which no CID can
// express.  That must never fail the accept.  A policy stands in for Hyper-V
// (here and under Wine, neither of which has it): it hands out real loopback
// connections and names their peers as Hyper-V would, and maps a
// vsock_endpoint to AF_HYPERV names as winsock_policy does.
#include <vmsock/socket/aliases.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

// winsock_policy is only declared on POSIX (endpoint/hyperv.hpp): its
// os_address specialisation (a vsock_endpoint travels as an hv_endpoint) is
// what this test borrows.
namespace {

using namespace std::chrono_literals;
using namespace vmsock;

struct hv_names_policy : default_policy {
  using base_policy = winsock_policy;  // for os_address: names are SOCKADDR_HV
  struct pending {
    handle h;
    hv_endpoint name;
  };
  static std::vector<pending>& queue() {
    static std::vector<pending> q;
    return q;
  }
  static std::map<handle, hv_endpoint>& names() {
    static std::map<handle, hv_endpoint> m;
    return m;
  }
  static void write_name(const hv_endpoint& name, void* sa, std::size_t& len) noexcept {
    const auto native = name.to_native();
    std::memcpy(sa, &native, sizeof native);
    len = sizeof native;
  }
  static handle accept(handle, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    if (queue().empty()) {
      ec = std::make_error_code(std::errc::operation_would_block);
      return invalid_handle;
    }
    const pending p = queue().front();
    queue().erase(queue().begin());
    names()[p.h] = p.name;
    write_name(p.name, sa, len);
    ec.clear();
    return p.h;
  }
  static void peer_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    const auto it = names().find(h);
    if (it == names().end()) return default_policy::peer_name(h, sa, len, ec);
    write_name(it->second, sa, len);
    ec.clear();
  }
};

using hv_vsock_listener = listener<vsock_endpoint, hv_names_policy>;

// A real connection whose server end the policy will hand out as `name`.
struct connection {
  tcp4_socket client;
  vmsock_test::handle server = vmsock_test::invalid_handle;
};
connection queue_connection(tcp4_listener& real, const hv_endpoint& name) {
  connection c;
  c.client = tcp4_socket::connect(real.local_endpoint(), 10s);
  c.server = real.accept(10s).release();
  hv_names_policy::queue().push_back({c.server, name});
  return c;
}

const guid some_vm = guid::parse("6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11");

TEST(HyperVPeers, AVmWithNoCidNeverFailsAnAccept) {
  auto real = tcp4_listener::listen(inet4_endpoint::loopback(0));
  // The listening handle: a real one, so that waiting works.
  hv_vsock_listener l(tcp4_listener::listen(inet4_endpoint::loopback(0)).release());

  // Plain accept converts nothing.
  auto a = queue_connection(real, hv_endpoint::for_port(some_vm, 5000));
  auto s1 = l.accept(10s);
  EXPECT_TRUE(s1.is_open());

  // With the peer asked for: the VM reads as cid::any, with its port.
  auto b = queue_connection(real, hv_endpoint::for_port(hv::vm_id::children, 1234));
  vsock_endpoint peer{7, 7, true};
  auto s2 = l.accept(10s, peer);
  ASSERT_TRUE(s2.is_open());
  EXPECT_EQ(peer, (vsock_endpoint{vsock::cid::any, 1234, false}));

  // A service id that is not a VSOCK template: no port either.
  auto c = queue_connection(
      real, hv_endpoint{some_vm, guid::parse("999e53d4-3d5c-4c3e-8779-bed06ec056e1")});
  auto s3 = l.accept(10s, peer);
  ASSERT_TRUE(s3.is_open());
  EXPECT_EQ(peer, (vsock_endpoint{vsock::cid::any, vsock::port_any, false}));

  // The VM id itself, whatever the endpoint type.
  EXPECT_EQ(s1.peer_hv_endpoint(), hv_endpoint::for_port(some_vm, 5000));
  EXPECT_EQ(s2.peer_hv_endpoint().vm_id, hv::vm_id::children);
  // And the connections are real.
  a.client.send_all(std::string("vm"));
  std::string got(2, '\0');
  s1.receive_exact(got);
  EXPECT_EQ(got, "vm");
}

TEST(HyperVPeers, AFilterSeesWhatAcceptReports) {
  auto real = tcp4_listener::listen(inet4_endpoint::loopback(0));
  hv_vsock_listener l(tcp4_listener::listen(inet4_endpoint::loopback(0)).release());
  // Only the parent partition: real VMs by their GUID are refused.
  l.set_peer_filter([](const vsock_endpoint& peer,
                       const stream_socket<vsock_endpoint, hv_names_policy>& s) noexcept {
    std::error_code ec;
    return peer.cid == vsock::cid::any && s.peer_hv_endpoint(ec).vm_id == some_vm;
  });
  auto refused = queue_connection(real, hv_endpoint::for_port(hv::vm_id::children, 1));
  auto allowed = queue_connection(real, hv_endpoint::for_port(some_vm, 2));
  vsock_endpoint peer;
  auto s = l.accept(10s, peer);
  ASSERT_TRUE(s.is_open());
  EXPECT_EQ(peer.port, 2u);
  EXPECT_EQ(l.rejected_peers(), 1u);
}

}  // namespace
