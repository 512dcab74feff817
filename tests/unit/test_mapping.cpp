// to_vsock / to_hyperv: the table of DESIGN.md, both ways, and every refusal.
// The mapping lives in hyperv.hpp (it needs both endpoint types).
#include <vmsock/endpoint/hyperv.hpp>

#include "unit_support.hpp"

#include <string>
#include <vector>

namespace {

using vmsock::guid;
using vmsock::hv_endpoint;
using vmsock::vsock_endpoint;
namespace hv = vmsock::hv;
namespace cid = vmsock::vsock::cid;

static_assert(vmsock::to_vsock(hv_endpoint::parse("hvsock://parent/5000")) ==
              vsock_endpoint{cid::host, 5000, false});
static_assert(vmsock::to_hyperv(vsock_endpoint{cid::local, 7, false}) ==
              hv_endpoint::parse("hvsock://loopback/7"));
static_assert(!vmsock::to_vsock(hv_endpoint::parse("hvsock://children/5000")).has_value());
static_assert(
    noexcept(vmsock::to_vsock(hv_endpoint{})) && noexcept(vmsock::to_hyperv(vsock_endpoint{})));

struct row {
  guid vm;
  std::uint32_t cid;
};
const row table[] = {
    {hv::vm_id::wildcard, cid::any},
    {hv::vm_id::parent, cid::host},
    {hv::vm_id::loopback, cid::local},
};

const std::uint32_t ports[] = {0, 1, 50, 1234, 2761, 5000, 6000, 65535, 0x10000, hv::max_port};

TEST(Mapping, TableBothWays) {
  for (const auto& r : table) {
    for (std::uint32_t port : ports) {
      const hv_endpoint h = hv_endpoint::for_port(r.vm, port);
      const vsock_endpoint v{r.cid, port, false};
      EXPECT_EQ(vmsock::to_vsock(h), v) << h.to_string();
      EXPECT_EQ(vmsock::to_hyperv(v), h) << v.to_string();
      EXPECT_EQ(vmsock::to_hyperv(*vmsock::to_vsock(h)), h);
      EXPECT_EQ(vmsock::to_vsock(*vmsock::to_hyperv(v)), v);
      vsock_endpoint out;
      EXPECT_EQ(vmsock::detail::map_to_vsock(h, out), vmsock::errc{});
      EXPECT_EQ(out, v);
    }
  }
  // hv::vm_id::zero is wildcard's other name.
  EXPECT_EQ(vmsock::to_vsock(hv_endpoint::for_port(hv::vm_id::zero, 9)),
            (vsock_endpoint{cid::any, 9, false}));
}

TEST(Mapping, VmsWithoutACidAreRefused) {
  std::vector<guid> vms = {hv::vm_id::broadcast, hv::vm_id::children, hv::vm_id::silo_host,
                           hv::vsock_template, guid::parse("12345678-9abc-def0-1234-56789abcdef0")};
  for (int i = 0; i < 100; ++i) {
    std::array<std::uint8_t, 16> b{};
    for (auto& x : b) x = vmsock_test::random_int<std::uint8_t>(0, 255);
    vms.push_back(guid::from_bytes(b));
  }
  for (const guid& vm : vms) {
    if (vm == hv::vm_id::wildcard || vm == hv::vm_id::parent || vm == hv::vm_id::loopback) continue;
    const hv_endpoint h = hv_endpoint::for_port(vm, 5000);
    EXPECT_FALSE(vmsock::to_vsock(h).has_value()) << h.to_string();
    vsock_endpoint out{7, 7, true};
    EXPECT_EQ(vmsock::detail::map_to_vsock(h, out), vmsock::errc::no_mapping);
    EXPECT_EQ(out, (vsock_endpoint{7, 7, true})) << "left untouched on failure";
  }
}

TEST(Mapping, ServicesThatAreNotTemplatesAreRefused) {
  for (const auto& r : table) {
    std::vector<guid> services = {hv::vm_id::parent, guid{}, hv::vm_id::broadcast};
    // Template GUIDs with data1 above max_port, and with any one bit of
    // fields 2-4 flipped.
    for (std::uint32_t d1 : {0x80000000u, 0xffffffffu}) {
      guid g = hv::vsock_template;
      g.data1 = d1;
      services.push_back(g);
    }
    for (std::size_t byte = 4; byte < 16; ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        auto b = hv::service_id_from_port(5000)->to_bytes();
        b[byte] = static_cast<std::uint8_t>(b[byte] ^ (1u << bit));
        services.push_back(guid::from_bytes(b));
      }
    }
    for (const guid& svc : services) {
      const hv_endpoint h{r.vm, svc};
      EXPECT_FALSE(vmsock::to_vsock(h).has_value()) << h.to_string();
      vsock_endpoint out;
      EXPECT_EQ(vmsock::detail::map_to_vsock(h, out), vmsock::errc::not_a_template_service_id)
          << h.to_string();
    }
  }
}

TEST(Mapping, CidsAndPortsWithoutAHyperVFormAreRefused) {
  for (std::uint32_t c : {cid::hypervisor, 3u, 4u, 1000u, 0xfffffffeu})
    EXPECT_FALSE(vmsock::to_hyperv(vsock_endpoint{c, 5000, false}).has_value()) << c;
  for (int i = 0; i < 200; ++i) {
    const auto c = vmsock_test::random_int<std::uint32_t>(3, 0xfffffffeu);
    EXPECT_FALSE(vmsock::to_hyperv(vsock_endpoint{c, 5000, false}).has_value()) << c;
  }
  for (const auto& r : table) {
    // Ports above the template's range, VMADDR_PORT_ANY among them.
    for (std::uint32_t port : {hv::max_port + 1, 0xfffffffeu, vmsock::vsock::port_any})
      EXPECT_FALSE(vmsock::to_hyperv(vsock_endpoint{r.cid, port, false}).has_value()) << port;
    // VMADDR_FLAG_TO_HOST has no Hyper-V form.
    EXPECT_FALSE(vmsock::to_hyperv(vsock_endpoint{r.cid, 5000, true}).has_value());
  }
}

TEST(Mapping, NamedVm) {
  const guid vm = guid::parse("12345678-9abc-def0-1234-56789abcdef0");
  for (std::uint32_t port : ports) {
    // Any CID and flag: the VM replaces them.
    for (std::uint32_t c : {cid::any, cid::host, 3u, 77u}) {
      const hv_endpoint h = vmsock::to_hyperv(vsock_endpoint{c, port, c == 77u}, vm);
      EXPECT_EQ(h.vm_id, vm);
      EXPECT_EQ(h.port(), port);
    }
  }
  EXPECT_THROW((void)vmsock::to_hyperv(vsock_endpoint{3, hv::max_port + 1, false}, vm),
               vmsock::parse_error);
  EXPECT_THROW((void)vmsock::to_hyperv(vsock_endpoint{3, vmsock::vsock::port_any, false}, vm),
               vmsock::parse_error);
}

// The crossover each real policy applies: hv_endpoint travels as AF_VSOCK on
// Linux, vsock_endpoint as AF_HYPERV on Windows.  Pure, so testable anywhere.
TEST(Mapping, PolicyCrossover) {
  using posix_hv = vmsock::detail::os_address<vmsock::posix_policy, hv_endpoint>;
  using win_vsock = vmsock::detail::os_address<vmsock::winsock_policy, vsock_endpoint>;
  static_assert(std::is_same_v<posix_hv::type, vsock_endpoint>);
  static_assert(std::is_same_v<win_vsock::type, hv_endpoint>);
  static_assert(
      std::is_same_v<vmsock::detail::os_address<vmsock::posix_policy, vsock_endpoint>::type,
                     vsock_endpoint>);

  vsock_endpoint v;
  EXPECT_EQ(posix_hv::to_os(hv_endpoint::parse("hvsock://parent/5000"), v), vmsock::errc{});
  EXPECT_EQ(v, (vsock_endpoint{cid::host, 5000, false}));
  EXPECT_EQ(posix_hv::to_os(hv_endpoint::parse("hvsock://children/5000"), v),
            vmsock::errc::no_mapping);
  EXPECT_EQ(
      posix_hv::to_os(hv_endpoint::parse("hvsock://parent/" + hv::vm_id::parent.to_string()), v),
      vmsock::errc::not_a_template_service_id);
  hv_endpoint h;
  EXPECT_EQ(posix_hv::from_os(vsock_endpoint{cid::local, 9, false}, h), vmsock::errc{});
  EXPECT_EQ(h, hv_endpoint::parse("hvsock://loopback/9"));
  // In a guest, the peer of an accepted hv_sock connection may be any CID.
  EXPECT_EQ(posix_hv::from_os(vsock_endpoint{3, 9, false}, h), vmsock::errc::no_mapping);
  // A name the kernel reports may carry any 32-bit port (ephemeral ports are
  // picked up to 0xffffffff): it still maps, with the port in data1, though
  // port() cannot read it back above hv::max_port.  port_any has no name.
  EXPECT_EQ(posix_hv::from_os(vsock_endpoint{cid::any, 0xfedcba98u, false}, h), vmsock::errc{});
  EXPECT_EQ(h.vm_id, hv::vm_id::wildcard);
  EXPECT_EQ(h.service_id.data1, 0xfedcba98u);
  EXPECT_EQ(h.service_id.data2, hv::vsock_template.data2);
  EXPECT_FALSE(h.port());
  EXPECT_EQ(posix_hv::from_os(vsock_endpoint{cid::local, hv::max_port, false}, h), vmsock::errc{});
  EXPECT_EQ(h.port(), hv::max_port);
  EXPECT_EQ(posix_hv::from_os(vsock_endpoint{cid::local, vmsock::vsock::port_any, false}, h),
            vmsock::errc::no_mapping);
  EXPECT_EQ(posix_hv::from_os(vsock_endpoint{cid::host, 9, true}, h), vmsock::errc::no_mapping);

  EXPECT_EQ(win_vsock::to_os(vsock_endpoint{cid::any, 80, false}, h), vmsock::errc{});
  EXPECT_EQ(h, hv_endpoint::parse("hvsock://wildcard/80"));
  EXPECT_EQ(win_vsock::to_os(vsock_endpoint{3, 80, false}, h), vmsock::errc::no_mapping);
  EXPECT_EQ(win_vsock::from_os(hv_endpoint::parse("hvsock://parent/80"), v), vmsock::errc{});
  EXPECT_EQ(v, (vsock_endpoint{cid::host, 80, false}));
  // The same rule for names on Windows: a template service id keeps any port.
  hv_endpoint big = hv_endpoint::parse("hvsock://loopback/80");
  big.service_id.data1 = 0xfedcba98u;
  EXPECT_EQ(win_vsock::from_os(big, v), vmsock::errc{});
  EXPECT_EQ(v, (vsock_endpoint{cid::local, 0xfedcba98u, false}));
  big.service_id.data1 = vmsock::vsock::port_any;
  EXPECT_EQ(win_vsock::from_os(big, v), vmsock::errc::no_mapping);
  EXPECT_EQ(win_vsock::from_os(
                hv_endpoint::parse("hvsock://loopback/" + hv::vm_id::parent.to_string()), v),
            vmsock::errc::not_a_template_service_id);
  EXPECT_EQ(win_vsock::from_os(hv_endpoint::parse("hvsock://children/80"), v),
            vmsock::errc::no_mapping);
}

}  // namespace
