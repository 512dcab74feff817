// hyperv.hpp: well-known VM ids, service id <-> port, hv_endpoint and SOCKADDR_HV.
#include <vmsock/endpoint/hyperv.hpp>

#include "unit_support.hpp"

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace {

using vmsock::guid;
using vmsock::hv_endpoint;
namespace hv = vmsock::hv;
using vmsock_test::expect_parse_error;

// ---- compile-time proofs ------------------------------------------------------
static_assert(hv::service_id_from_port(1234) ==
              guid::parse("000004d2-facb-11e6-bd58-64006a7986d3"));
static_assert(hv::service_id_from_port(2761) ==
              guid::parse("00000ac9-facb-11e6-bd58-64006a7986d3"));
static_assert(hv::service_id_from_port(6000) ==
              guid::parse("00001770-facb-11e6-bd58-64006a7986d3"));
static_assert(*hv::port_from_service_id(guid::parse("00001770-facb-11e6-bd58-64006a7986d3")) ==
              6000);
static_assert(*hv::port_from_service_id(*hv::service_id_from_port(hv::max_port)) == hv::max_port);
static_assert(!hv::service_id_from_port(0x80000000u).has_value());
static_assert(!hv::service_id_from_port(0xffffffffu).has_value());
static_assert(!hv::port_from_service_id(hv::vm_id::parent).has_value());
static_assert(noexcept(hv::service_id_from_port(0)) && noexcept(hv::port_from_service_id(guid{})));
static_assert(hv_endpoint::parse("hvsock://parent/5000").port() == 5000u);
static_assert(hv_endpoint::parse("hvsock://parent/5000").vm_id == hv::vm_id::parent);
static_assert(hv_endpoint::for_port(hv::vm_id::loopback, 7).service_id ==
              guid::parse("00000007-facb-11e6-bd58-64006a7986d3"));
static_assert(hv_endpoint::family == 34 && hv_endpoint::protocol == 1);
static_assert(hv::max_port == 0x7fffffffu);

// ---- service id <-> port --------------------------------------------------------
TEST(HyperV, PortVectorsRoundTrip) {
  struct vector_case {
    std::uint32_t port;
    const char* text;
  };
  const vector_case cases[] = {
      {0, "00000000-facb-11e6-bd58-64006a7986d3"},
      {1, "00000001-facb-11e6-bd58-64006a7986d3"},
      {50, "00000032-facb-11e6-bd58-64006a7986d3"},
      {1234, "000004d2-facb-11e6-bd58-64006a7986d3"},
      {2761, "00000ac9-facb-11e6-bd58-64006a7986d3"},
      {6000, "00001770-facb-11e6-bd58-64006a7986d3"},
      {0x7fffffff, "7fffffff-facb-11e6-bd58-64006a7986d3"},
  };
  for (const auto& c : cases) {
    const auto id = hv::service_id_from_port(c.port);
    ASSERT_TRUE(id.has_value()) << c.port;
    EXPECT_EQ(id->to_string(), c.text);
    EXPECT_EQ(*id, guid::parse(c.text));
    EXPECT_EQ(hv::port_from_service_id(*id), c.port);
    // The port is data1: the kernel reads it little-endian from byte 0 of
    // the wire image, which is also the memory image on a little-endian host.
    const auto wire = id->to_bytes();
    std::uint32_t le = 0;
    for (int i = 3; i >= 0; --i) le = (le << 8) | wire[static_cast<std::size_t>(i)];
    EXPECT_EQ(le, c.port);
    EXPECT_EQ(id->data1, c.port);
    unsigned char raw[16];
    std::memcpy(raw, &*id, 16);
    EXPECT_EQ(0, std::memcmp(raw, vmsock_test::guid_host_image(wire).data(), 16));
  }
}

TEST(HyperV, PortsAboveMaxGiveNoGuid) {
  for (std::uint32_t port : {0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu})
    EXPECT_FALSE(hv::service_id_from_port(port).has_value()) << port;
  for (int i = 0; i < 1000; ++i) {
    const auto port = vmsock_test::random_int<std::uint32_t>(0x80000000u, 0xffffffffu);
    EXPECT_FALSE(hv::service_id_from_port(port).has_value()) << port;
    // A template GUID carrying such a data1 gives no port either.
    guid g = hv::vsock_template;
    g.data1 = port;
    EXPECT_FALSE(hv::port_from_service_id(g).has_value()) << port;
  }
  for (int i = 0; i < 1000; ++i) {
    const auto port = vmsock_test::random_int<std::uint32_t>(0, hv::max_port);
    EXPECT_EQ(hv::port_from_service_id(*hv::service_id_from_port(port)), port);
  }
}

// Fields 2-4 must be the template's to the bit: flip bits in each of bytes
// 4..15 of the GUID's image (data2, data3, data4), for several ports.
TEST(HyperV, AnyChangeOutsideData1GivesNoPort) {
  for (std::uint32_t port : {0u, 1u, 5000u, hv::max_port}) {
    const auto image = hv::service_id_from_port(port)->to_bytes();
    for (std::size_t byte = 4; byte < 16; ++byte) {
      for (unsigned flip :
           {0x01u, 0x02u, 0x04u, 0x08u, 0x10u, 0x20u, 0x40u, 0x80u, 0x0fu, 0xf0u, 0xffu}) {
        auto changed = image;
        changed[byte] = static_cast<std::uint8_t>(changed[byte] ^ flip);
        EXPECT_FALSE(hv::port_from_service_id(guid::from_bytes(changed)).has_value())
            << "port " << port << " byte " << byte << " flip " << flip;
        // And as an endpoint: the service prints as a GUID, not a port.
        const hv_endpoint ep{hv::vm_id::parent, guid::from_bytes(changed)};
        EXPECT_FALSE(ep.port().has_value());
        EXPECT_EQ(ep.to_string(), "hvsock://parent/" + guid::from_bytes(changed).to_string());
      }
    }
  }
}

TEST(HyperV, WellKnownVmIdsAreTheSdkValues) {
  EXPECT_EQ(hv::vm_id::wildcard.to_string(), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(hv::vm_id::zero.to_string(), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(hv::vm_id::broadcast.to_string(), "ffffffff-ffff-ffff-ffff-ffffffffffff");
  EXPECT_EQ(hv::vm_id::children.to_string(), "90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd");
  EXPECT_EQ(hv::vm_id::loopback.to_string(), "e0e16197-dd56-4a10-9195-5ee7a155a838");
  EXPECT_EQ(hv::vm_id::parent.to_string(), "a42e7cda-d03f-480c-9cc2-a4de20abb878");
  EXPECT_EQ(hv::vm_id::silo_host.to_string(), "36bd0c5c-7276-4223-88ba-7d03b654c568");
  EXPECT_EQ(hv::vsock_template.to_string(), "00000000-facb-11e6-bd58-64006a7986d3");
}

// ---- SOCKADDR_HV -------------------------------------------------------------------
TEST(HyperV, NativeStructIsSockaddrHv) {
  EXPECT_EQ(sizeof(hv::native_sockaddr), 36u);
  EXPECT_EQ(offsetof(hv::native_sockaddr, Family), 0u);
  EXPECT_EQ(offsetof(hv::native_sockaddr, Reserved), 2u);
  EXPECT_EQ(offsetof(hv::native_sockaddr, VmId), 4u);
  EXPECT_EQ(offsetof(hv::native_sockaddr, ServiceId), 20u);
  EXPECT_EQ(hv_endpoint::native_size(), 36u);
  EXPECT_EQ(hv::address_family, 34);
  EXPECT_EQ(hv::protocol_raw, 1);

  // The fields in host byte order, as every sockaddr: what Windows reads on a
  // little-endian host.  (SOCKADDR_HV reaches no kernel on a big-endian one:
  // there an hv_endpoint goes out as AF_VSOCK, and the mirror is host order.)
  const hv_endpoint ep{hv::vm_id::children, *hv::service_id_from_port(1234)};
  const auto sa = ep.to_native();
  EXPECT_EQ(sa.Family, 34);
  EXPECT_EQ(sa.Reserved, 0);
  unsigned char raw[36];
  std::memcpy(raw, &sa, sizeof raw);
  const bool little = vmsock_test::host_is_little_endian();
  EXPECT_EQ(raw[little ? 0 : 1], 34);  // AF_HYPERV, a u16 in host order
  EXPECT_EQ(raw[little ? 1 : 0], 0);
  EXPECT_EQ(raw[2], 0);  // Reserved
  EXPECT_EQ(raw[3], 0);
  const auto vm = vmsock_test::guid_host_image(ep.vm_id.to_bytes());
  const auto svc = vmsock_test::guid_host_image(ep.service_id.to_bytes());
  EXPECT_EQ(0, std::memcmp(raw + 4, vm.data(), 16));
  EXPECT_EQ(0, std::memcmp(raw + 20, svc.data(), 16));
  // Port 1234 in data1: d2 04 00 00 on a little-endian host, 00 00 04 d2 on a big-endian one.
  EXPECT_EQ(raw[little ? 20 : 23], 0xd2);
  EXPECT_EQ(raw[little ? 21 : 22], 0x04);
}

TEST(HyperV, FromNativeRejects) {
  vmsock_test::expect_from_native_rejects(
      hv_endpoint{hv::vm_id::parent, *hv::service_id_from_port(5)}, 36);
}

// ---- text forms ---------------------------------------------------------------------
TEST(HyperV, NamedVmsPrintAndParse) {
  struct named {
    const char* name;
    guid id;
  };
  const named names[] = {{"wildcard", hv::vm_id::wildcard}, {"broadcast", hv::vm_id::broadcast},
                         {"children", hv::vm_id::children}, {"loopback", hv::vm_id::loopback},
                         {"parent", hv::vm_id::parent},     {"silohost", hv::vm_id::silo_host}};
  for (const auto& n : names) {
    const hv_endpoint ep{n.id, *hv::service_id_from_port(5000)};
    EXPECT_EQ(ep.to_string(), std::string("hvsock://") + n.name + "/5000");
    vmsock_test::expect_parses_to(ep.to_string(), ep);
    // The GUID spelling of the same VM, in either case and in braces.
    vmsock_test::expect_parses_to("hvsock://" + n.id.to_string() + "/5000", ep);
    vmsock_test::expect_parses_to("hvsock://{" + n.id.to_string() + "}/5000", ep);
    std::string shout = std::string("HVSOCK://") + n.name + "/5000";
    for (auto& c : shout)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    vmsock_test::expect_parses_to(shout, ep);
  }
  vmsock_test::expect_parses_to("hvsock://zero/1",
                                hv_endpoint{hv::vm_id::zero, *hv::service_id_from_port(1)});
  vmsock_test::expect_parses_to("hvsock://silo_host/1",
                                hv_endpoint{hv::vm_id::silo_host, *hv::service_id_from_port(1)});
}

TEST(HyperV, ServiceAsPortOrGuid) {
  const guid vm = guid::parse("12345678-9abc-def0-1234-56789abcdef0");
  const guid svc = guid::parse("8049197c-facb-11e6-bd58-64006a7986d3");  // template, data1 > max
  EXPECT_EQ((hv_endpoint{vm, svc}).to_string(),
            "hvsock://12345678-9abc-def0-1234-56789abcdef0/8049197c-facb-11e6-bd58-64006a7986d3");
  vmsock_test::expect_text_round_trip<hv_endpoint>(
      "hvsock://12345678-9abc-def0-1234-56789abcdef0/8049197c-facb-11e6-bd58-64006a7986d3");
  // A template GUID written as a GUID parses to the same endpoint as its port.
  vmsock_test::expect_parses_to("hvsock://parent/00001388-facb-11e6-bd58-64006a7986d3",
                                hv_endpoint::parse("hvsock://parent/5000"));
  EXPECT_EQ(hv_endpoint::parse("hvsock://parent/00001388-FACB-11E6-BD58-64006A7986D3").to_string(),
            "hvsock://parent/5000");
  vmsock_test::expect_text_round_trip<hv_endpoint>("hvsock://parent/0");
  vmsock_test::expect_text_round_trip<hv_endpoint>("hvsock://wildcard/2147483647");
}

TEST(HyperV, ForPort) {
  EXPECT_EQ(hv_endpoint::for_port(hv::vm_id::parent, 80).to_string(), "hvsock://parent/80");
  EXPECT_EQ(hv_endpoint::for_port(hv::vm_id::parent, hv::max_port).port(), hv::max_port);
  // Out of range fails as the parsers do: a parse_error naming the port.
  try {
    (void)hv_endpoint::for_port(hv::vm_id::parent, hv::max_port + 1);
    ADD_FAILURE() << "for_port did not throw";
  } catch (const vmsock::parse_error& e) {
    EXPECT_STREQ(e.what(),
                 "Hyper-V service port \"2147483648\": port out of range for a Hyper-V service id "
                 "(max 2147483647)");
  }
  EXPECT_THROW((void)hv_endpoint::for_port(hv::vm_id::parent, 0xffffffffu), vmsock::parse_error);
  EXPECT_FALSE(hv_endpoint::try_for_port(hv::vm_id::parent, 0x80000000u));
  EXPECT_EQ(hv_endpoint::try_for_port(hv::vm_id::parent, 80),
            hv_endpoint::for_port(hv::vm_id::parent, 80));
  static_assert(hv_endpoint::try_for_port(hv::vm_id::loopback, 7)->port() == 7u);
}

TEST(HyperV, RandomValuesRoundTrip) {
  for (int i = 0; i < 500; ++i) {
    std::array<std::uint8_t, 16> a{}, b{};
    for (auto& x : a) x = vmsock_test::random_int<std::uint8_t>(0, 255);
    for (auto& x : b) x = vmsock_test::random_int<std::uint8_t>(0, 255);
    const hv_endpoint by_guid{guid::from_bytes(a), guid::from_bytes(b)};
    vmsock_test::expect_text_round_trip<hv_endpoint>(by_guid.to_string());
    const hv_endpoint by_port = hv_endpoint::for_port(
        guid::from_bytes(a), vmsock_test::random_int<std::uint32_t>(0, hv::max_port));
    vmsock_test::expect_text_round_trip<hv_endpoint>(by_port.to_string());
  }
}

// Every error says where it is, as an offset into the text: in a GUID, the
// character that breaks it; a misspelt name, at its start.
TEST(HyperV, ParseErrorPositions) {
  vmsock_test::expect_errors_at<hv_endpoint>({
      {"hvsock:/parent/5000", "expected hvsock://", 0},
      {"vsock://parent/5000", "unknown scheme", 0},
      {"hvsock://parent", "missing '/'", 15},
      {"hvsock:///5000", "empty VM id", 9},
      {"hvsock://parent/", "empty service id", 16},
      {"hvsock://parnet/5000", "VM is neither", 9},
      {"hvsock://6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a1z/5000", "VM is neither", 44},
      {"hvsock://{6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11/5000", "VM is neither", 46},
      {"hvsock://parent/2147483648", "port out of range", 16},
      {"hvsock://parent/00001388-facb-11e6-bd58-64006a7986dX", "service is neither", 51},
      {"hvsock://parent/00001388-facb-11e6-bd58_64006a7986d3", "service is neither", 39},
      {"hvsock://parent/50a0", "service is neither", 16},
  });
}

TEST(HyperV, ParseErrors) {
  const std::string kind = "hvsock endpoint";
  vmsock_test::expect_parse_errors<hv_endpoint>(
      kind, {
                {"", "expected hvsock://VM/SERVICE"},
                {"parent/5000", "expected hvsock://VM/SERVICE"},
                {"vsock://parent/5000", "unknown scheme"},
                {"tcp://parent/5000", "unknown scheme"},
                {"hvsockx://parent/5000", "unknown scheme"},
                {"hvsock:/parent/5000", "expected hvsock://VM/SERVICE"},
                {"hvsock://", "missing '/'"},
                {"hvsock://parent", "missing '/'"},
                {"hvsock:///5000", "empty VM id"},
                {"hvsock://parent/", "empty service id"},
                {"hvsock://mom/5000", "VM is neither a GUID nor"},
                {"hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb87/5000", "VM is neither a GUID nor"},
                {"hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb8788/5000", "VM is neither a GUID nor"},
                {"hvsock://{a42e7cda-d03f-480c-9cc2-a4de20abb878/5000", "VM is neither a GUID nor"},
                {"hvsock://parent/2147483648", "port out of range"},
                {"hvsock://parent/4294967295", "port out of range"},
                {"hvsock://parent/99999999999999999999999", "port out of range"},
                {"hvsock://parent/05000", "leading zeros"},
                {"hvsock://parent/-1", "service is neither a port number nor a GUID"},
                {"hvsock://parent/+5", "service is neither a port number nor a GUID"},
                {"hvsock://parent/5000 ", "service is neither"},
                {"hvsock://parent/5000/", "service is neither"},
                {"hvsock://parent/00001388-facb-11e6-bd58-64006a7986d", "service is neither"},
                {"hvsock://parent/{00001388-facb-11e6-bd58-64006a7986d3", "service is neither"},
                {vmsock_test::bytes("hvsock://parent/50\0"), "service is neither"},
                {vmsock_test::bytes("hvsock://par\0ent/50"), "VM is neither"},
                {vmsock_test::bytes("hvsock\0://parent/50"), "unknown scheme"},
            });
}

}  // namespace
