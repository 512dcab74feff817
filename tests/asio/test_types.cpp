// The protocol and endpoint types of vmsock/asio.hpp and vmsock/boost_asio.hpp:
// pure values, no sockets.  Compiled once per asio flavour (flavour.hpp).
#include "flavour.hpp"

#include <vmsock/interop/asio_fmt.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>

namespace {

using namespace vmsock_test;
using vmsock::guid;
using vmsock::hv_endpoint;
using vmsock::vsock_endpoint;
namespace cid = vmsock::vsock::cid;
namespace vm_id = vmsock::hv::vm_id;

// An arbitrary VM id: a real VM's, which neither family maps.
constexpr guid some_vm = guid::parse("6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f");
// A service id that is not a VSOCK-template GUID.
constexpr guid some_service = guid::parse("b31d5c4e-0f6a-4b8e-9a3e-2f1d7c6b5a49");

// The bytes of an endpoint's data() against a native struct.
template <class Endpoint, class Native> bool same_bytes(const Endpoint& ep, const Native& native) {
  return ep.size() == sizeof native && std::memcmp(ep.data(), &native, sizeof native) == 0;
}

// ---- the nested types are asio's ----------------------------------------------------

template <class P> using plain_stream = lib::basic_stream_socket<P, lib::any_io_executor>;

static_assert(std::is_base_of_v<plain_stream<vsock_stream>, vsock_stream::socket>);
static_assert(std::is_base_of_v<plain_stream<hv_stream>, hv_stream::socket>);
static_assert(std::is_base_of_v<lib::basic_seq_packet_socket<vsock_seqpacket, lib::any_io_executor>,
                                vsock_seqpacket::socket>);
static_assert(std::is_base_of_v<lib::basic_socket_acceptor<vsock_stream, lib::any_io_executor>,
                                vsock_stream::acceptor>);
static_assert(std::is_same_v<vsock_stream::acceptor::rebind_executor<lib::any_io_executor>::other,
                             vsock_stream::acceptor>);
static_assert(std::is_same_v<vsock_stream::socket::protocol_type, vsock_stream>);
static_assert(std::is_same_v<vsock_stream::socket::endpoint_type, vsock_stream::endpoint>);
static_assert(std::is_same_v<vsock_stream::endpoint::protocol_type, vsock_stream>);
// What acceptor.accept() returns: the protocol's socket, rebound to the acceptor's executor.
using io_executor = lib::io_context::executor_type;
static_assert(std::is_base_of_v<lib::basic_stream_socket<vsock_stream, io_executor>,
                                vsock_stream::socket::rebind_executor<io_executor>::other>);
static_assert(std::is_same_v<vsock_stream::socket::rebind_executor<lib::any_io_executor>::other,
                             vsock_stream::socket>);
// Endpoint requirements: default-constructible, copyable, cheap.
static_assert(std::is_nothrow_default_constructible_v<vsock_stream::endpoint>);
static_assert(std::is_trivially_copyable_v<vsock_stream::endpoint>);
static_assert(std::is_trivially_copyable_v<hv_stream::endpoint>);
// Conversions both ways, implicitly.
static_assert(std::is_convertible_v<vsock_endpoint, vsock_stream::endpoint>);
static_assert(std::is_convertible_v<vsock_stream::endpoint, vsock_endpoint>);
static_assert(std::is_convertible_v<hv_endpoint, hv_stream::endpoint>);
static_assert(std::is_convertible_v<hv_stream::endpoint, hv_endpoint>);
static_assert(std::is_convertible_v<vsock_endpoint, vsock_seqpacket::endpoint>);
// The two flavours and the three protocols are distinct types.
static_assert(!std::is_same_v<vsock_stream::endpoint, vsock_seqpacket::endpoint>);
static_assert(!std::is_same_v<vsock_stream, hv_stream>);

TEST(ASIO_SUITE(Protocol), FamilyTypeProtocolAsTheSynchronousLayer) {
  // Whatever the platform, the same family and protocol as vmsock's sockets.
  EXPECT_EQ(vsock_stream().family(), vmsock::vsock_stream_socket::native_family);
  EXPECT_EQ(vsock_stream().protocol(), vmsock::vsock_stream_socket::native_protocol);
  EXPECT_EQ(vsock_seqpacket().family(), vmsock::vsock_seqpacket_socket::native_family);
  EXPECT_EQ(hv_stream().family(), vmsock::hv_stream_socket::native_family);
  EXPECT_EQ(hv_stream().protocol(), vmsock::hv_stream_socket::native_protocol);
  EXPECT_EQ(vsock_stream().type(), SOCK_STREAM);
  EXPECT_EQ(hv_stream().type(), SOCK_STREAM);
  EXPECT_EQ(vsock_seqpacket().type(), SOCK_SEQPACKET);
#if VMSOCK_WINDOWS
  // A VSOCK endpoint travels as AF_HYPERV (HV_PROTOCOL_RAW).
  EXPECT_EQ(vsock_stream().family(), 34);
  EXPECT_EQ(vsock_stream().protocol(), 1);
  EXPECT_EQ(hv_stream().family(), 34);
  EXPECT_EQ(hv_stream().protocol(), 1);
#else
  // A Hyper-V endpoint travels as AF_VSOCK (the hv_sock transport).
  EXPECT_EQ(vsock_stream().family(), AF_VSOCK);
  EXPECT_EQ(vsock_stream().protocol(), 0);
  EXPECT_EQ(hv_stream().family(), AF_VSOCK);
  EXPECT_EQ(hv_stream().protocol(), 0);
#endif
  EXPECT_TRUE(vsock_stream() == vsock_stream());
  EXPECT_FALSE(vsock_stream() != vsock_stream());
  EXPECT_TRUE(vsock_stream::endpoint().protocol() == vsock_stream());
}

TEST(ASIO_SUITE(Endpoint), SizeCapacityAndNativeForm) {
  const vsock_stream::endpoint v = vsock_endpoint{cid::host, 5000};
  const hv_stream::endpoint h = hv_endpoint::for_port(vm_id::parent, 5000);
#if VMSOCK_WINDOWS
  EXPECT_EQ(v.size(), 36u);  // SOCKADDR_HV
  EXPECT_EQ(v.capacity(), 36u);
  EXPECT_EQ(h.size(), 36u);
  EXPECT_TRUE(same_bytes(v, hv_endpoint::for_port(vm_id::parent, 5000).to_native()));
  EXPECT_TRUE(same_bytes(h, hv_endpoint::for_port(vm_id::parent, 5000).to_native()));
#else
  EXPECT_EQ(v.size(), 16u);  // sockaddr_vm
  EXPECT_EQ(v.capacity(), 16u);
  EXPECT_EQ(h.size(), 16u);
  EXPECT_TRUE(same_bytes(v, vsock_endpoint{cid::host, 5000}.to_native()));
  EXPECT_TRUE(same_bytes(h, vsock_endpoint{cid::host, 5000}.to_native()));
#endif
  EXPECT_EQ(static_cast<int>(v.data()->sa_family), vsock_stream().family());
  EXPECT_EQ(static_cast<int>(h.data()->sa_family), hv_stream().family());
}

TEST(ASIO_SUITE(Endpoint), DefaultIsTheOsFamilysAny) {
  const vsock_stream::endpoint v;
  const hv_stream::endpoint h;
#if VMSOCK_WINDOWS
  EXPECT_EQ(v.os_endpoint(), hv_endpoint{});
  EXPECT_EQ(h.value(), hv_endpoint{});
  EXPECT_EQ(h.to_string(), "hvsock://wildcard/00000000-0000-0000-0000-000000000000");
#else
  EXPECT_EQ(v.value(), (vsock_endpoint{cid::any, vmsock::vsock::port_any}));
  EXPECT_EQ(v.to_string(), "vsock://any:any");
  EXPECT_EQ(h.os_endpoint(), (vsock_endpoint{cid::any, vmsock::vsock::port_any}));
#endif
}

TEST(ASIO_SUITE(Endpoint), ConvertsBothWaysImplicitly) {
  const auto takes_asio = [](const vsock_stream::endpoint& ep) { return ep; };
  const auto takes_vmsock = [](const vsock_endpoint& ep) { return ep; };
  const vsock_endpoint v{cid::host, 5000};
  EXPECT_EQ(takes_vmsock(takes_asio(v)), v);
  const vsock_stream::endpoint from_fields(cid::host, 5000);
  EXPECT_EQ(from_fields, v);
  EXPECT_EQ(v, from_fields);

  const hv_endpoint h = hv_endpoint::for_port(vm_id::loopback, 7000);
  const hv_stream::endpoint ah = h;
  EXPECT_EQ(static_cast<hv_endpoint>(ah), h);
  EXPECT_EQ(hv_stream::endpoint(vm_id::loopback, 7000u), h);
  EXPECT_EQ(hv_stream::endpoint(vm_id::loopback, *vmsock::hv::service_id_from_port(7000)), h);
#if !VMSOCK_WINDOWS
  // On Linux the Hyper-V endpoint is the VSOCK address the hv_sock transport uses.
  EXPECT_EQ(ah.os_endpoint(), (vsock_endpoint{cid::local, 7000}));
#endif
  std::error_code ec = make_error_code(vmsock::errc::timed_out);
  EXPECT_EQ(ah.value(ec), h);
  EXPECT_FALSE(ec);
}

TEST(ASIO_SUITE(Endpoint), FullThirtyTwoBitPortsAndToHost) {
#if VMSOCK_WINDOWS
  // Hyper-V carries ports up to hv::max_port and has no to_host flag: those
  // VSOCK endpoints have no form here (errc::no_mapping, at the conversion).
  std::error_code ec;
  vsock_stream::endpoint::from(vsock_endpoint{cid::host, 0x80000000u}, ec);
  EXPECT_EQ(ec, vmsock::errc::no_mapping);
  vsock_stream::endpoint::from(vsock_endpoint{cid::host, 5000, true}, ec);
  EXPECT_EQ(ec, vmsock::errc::no_mapping);
  const vsock_stream::endpoint top(cid::host, vmsock::hv::max_port);
  EXPECT_EQ(top.value().port, vmsock::hv::max_port);
#else
  // Every 32-bit CID and port, and VMADDR_FLAG_TO_HOST, survive both ways
  // (Boost.Asio PR #404 kept the port in an unsigned short).
  for (const std::uint32_t n :
       {0u, 1u, 1024u, 65535u, 65536u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu}) {
    const vsock_endpoint v{n, 0xffffffffu - n, (n & 1u) != 0};
    const vsock_stream::endpoint ep = v;
    EXPECT_TRUE(same_bytes(ep, v.to_native())) << v.to_string();
    EXPECT_EQ(static_cast<vsock_endpoint>(ep), v);
  }
  const vsock_stream::endpoint nested(cid::host, 5000, true);
  vmsock::vsock::native_sockaddr n;
  std::memcpy(&n, nested.data(), sizeof n);
  EXPECT_EQ(n.svm_flags, vmsock::vsock::flag_to_host);
  EXPECT_TRUE(nested.value().to_host);
  EXPECT_EQ(nested.to_string(), "vsock://2:5000?to_host");
#endif
}

// A vmsock endpoint the OS family has no form for fails where it becomes an
// asio endpoint: before any socket exists, so before any system call.
TEST(ASIO_SUITE(Endpoint), NoMappingFailsAtTheConversion) {
#if VMSOCK_WINDOWS
  const vsock_endpoint unmapped{5, 5000};  // a CID Windows has no VM id for
  using unmapped_endpoint = vsock_stream::endpoint;
  const char* text = "vsock://5:5000";
#else
  const hv_endpoint unmapped =
      hv_endpoint::for_port(some_vm, 5000);  // a VM id Linux has no CID for
  using unmapped_endpoint = hv_stream::endpoint;
  const std::string text_s = unmapped.to_string();
  const char* text = text_s.c_str();
#endif
  try {
    const unmapped_endpoint ep = unmapped;
    ADD_FAILURE() << "converted to " << ep;
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), vmsock::errc::no_mapping);
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no mapping"), std::string::npos) << e.what();
  }
  std::error_code ec;
  const unmapped_endpoint ep = unmapped_endpoint::from(unmapped, ec);
  EXPECT_EQ(ec, vmsock::errc::no_mapping);
  EXPECT_EQ(ep, unmapped_endpoint());  // the default, never a guess
  EXPECT_FALSE(ep == unmapped);        // an unmapped value equals no endpoint
  EXPECT_TRUE(ep != unmapped);

#if !VMSOCK_WINDOWS
  // A service id that carries no port: its own reason.
  hv_stream::endpoint::from(hv_endpoint{vm_id::parent, some_service}, ec);
  EXPECT_EQ(ec, vmsock::errc::not_a_template_service_id);
#endif
}

TEST(ASIO_SUITE(Endpoint), ResizeRejectsWrongLengthAndFamily) {
  vsock_stream::endpoint ep(cid::host, 5000);
  const vsock_stream::endpoint fresh;
  ep.resize(ep.size());  // what the OS writes for this family: accepted
  EXPECT_EQ(ep, vsock_stream::endpoint(cid::host, 5000));

  for (const std::size_t n :
       {std::size_t{0}, std::size_t{2}, ep.size() - 1, ep.size() + 1, sizeof(::sockaddr_storage)}) {
    ep = vsock_stream::endpoint(cid::host, 5000);
    const lib_error_code code = lib_error_of([&] { ep.resize(n); });
    EXPECT_EQ(to_std(code), std::errc::invalid_argument)
        << "resize(" << n << "): " << code.message();
    EXPECT_EQ(ep, fresh) << "a rejected resize leaves the default endpoint";
  }

  // Another family in the bytes (an AF_INET address, say): address_family_mismatch.
  ep = vsock_stream::endpoint(cid::host, 5000);
  ep.data()->sa_family = AF_INET;
  const lib_error_code code = lib_error_of([&] { ep.resize(ep.size()); });
  EXPECT_EQ(to_std(code), vmsock::errc::address_family_mismatch) << code.message();
  EXPECT_EQ(to_std(code), std::errc::address_family_not_supported);
  EXPECT_EQ(ep, fresh);
#if VMSOCK_TEST_BOOST_ASIO
  // Boost's codes compare equal to Boost's conditions as well.
  EXPECT_EQ(code, boost::system::errc::address_family_not_supported);
  EXPECT_EQ(std::string(code.category().name()), "vmsock");
#endif
}

// Names the kernel reports need not map back (hv_stream on Linux: a CID with
// no Hyper-V VM id); they are kept, and printed as the OS sees them.
#if !VMSOCK_WINDOWS  // the kernel-name crossover is Linux's hv_sock transport
TEST(ASIO_SUITE(Endpoint), KernelNamesWithoutAVmsockForm) {
  hv_stream::endpoint ep;
  const auto raw = vsock_endpoint{7, 1234}.to_native();
  std::memcpy(ep.data(), &raw, sizeof raw);
  ep.resize(sizeof raw);
  std::error_code ec;
  ep.value(ec);
  EXPECT_EQ(ec, vmsock::errc::no_mapping);
  EXPECT_THROW(static_cast<void>(ep.value()), std::system_error);
  EXPECT_EQ(ep.to_string(), "vsock://7:1234");
  EXPECT_EQ(ep.os_endpoint(), (vsock_endpoint{7, 1234}));

  // An ephemeral port above hv::max_port still maps (data1 carries it).
  const auto high = vsock_endpoint{cid::local, 0x80000001u}.to_native();
  std::memcpy(ep.data(), &high, sizeof high);
  ep.resize(sizeof high);
  const hv_endpoint h = ep.value();
  EXPECT_EQ(h.vm_id, vm_id::loopback);
  EXPECT_EQ(h.service_id.data1, 0x80000001u);
}
#endif

TEST(ASIO_SUITE(Endpoint), FormatsWithFmtAndStreams) {
  const vsock_stream::endpoint v(cid::host, 5000);
  const hv_stream::endpoint h = hv_endpoint::for_port(vm_id::parent, 5000);
  EXPECT_EQ(fmt::format("{}", v), "vsock://2:5000");
  EXPECT_EQ(fmt::format("[{:>16}]", v), "[  vsock://2:5000]");
  EXPECT_EQ(fmt::format("{:<22}|", h), "hvsock://parent/5000  |");
  EXPECT_EQ(fmt::format("{}", vsock_seqpacket::endpoint(cid::local, 0x7ffffffeu)),
            "vsock://1:2147483646");
  std::ostringstream out;
  out << v << ' ' << h;
  EXPECT_EQ(out.str(), "vsock://2:5000 hvsock://parent/5000");
#if VMSOCK_HAS_STD_FORMAT
  EXPECT_EQ(std::format("{:^18}", v), "  vsock://2:5000  ");
#endif
}

TEST(ASIO_SUITE(Endpoint), ParseComparisonsAndOrder) {
  const auto a = vsock_stream::endpoint::parse("vsock://host:5000");
  const auto b = vsock_stream::endpoint::parse("vsock://2:5001");
  EXPECT_EQ(a, vsock_stream::endpoint(cid::host, 5000));
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
  EXPECT_GT(b, a);
  EXPECT_LE(a, a);
  EXPECT_GE(b, a);
  EXPECT_THROW(vsock_stream::endpoint::parse("vsock://2"), vmsock::parse_error);
  EXPECT_EQ(hv_stream::endpoint::parse("hvsock://loopback/5000").to_string(),
            "hvsock://loopback/5000");
  const std::set<vsock_stream::endpoint> set{b, a, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(*set.begin(), a);
}

// connect's mapping of Linux VSOCK's ECONNRESET ("nothing listens on that
// port") to errc::vsock_connection_refused, which is connection_refused.
TEST(ASIO_SUITE(Connect), VsockResetAtConnectIsRefused) {
  lib_error_code ec = lib::error::connection_reset;
  vsock_stream::socket::map_connect_error(ec);
  lib_error_code hv_ec = lib::error::connection_reset;
  hv_stream::socket::map_connect_error(hv_ec);
#if VMSOCK_WINDOWS
  // AF_HYPERV reports a refusal as one: nothing is mapped.
  EXPECT_EQ(ec, lib::error::connection_reset);
  EXPECT_EQ(hv_ec, lib::error::connection_reset);
#else
  for (const auto& code : {ec, hv_ec}) {
    EXPECT_EQ(to_std(code), std::errc::connection_refused);
    EXPECT_EQ(to_std(code), vmsock::errc::vsock_connection_refused);
    EXPECT_NE(code.message().find("nothing listens on that port"), std::string::npos)
        << code.message();
#  if VMSOCK_TEST_BOOST_ASIO
    EXPECT_EQ(code, boost::system::errc::connection_refused);
    EXPECT_EQ(code, flavour::make_error_code(vmsock::errc::vsock_connection_refused));
    EXPECT_EQ(static_cast<std::error_code>(code), std::errc::connection_refused);
#  else
    EXPECT_EQ(code, std::errc::connection_refused);
    EXPECT_EQ(code, vmsock::errc::vsock_connection_refused);
#  endif
  }
#endif
  // Every other error passes unchanged.
  lib_error_code refused = lib::error::connection_refused;
  vsock_stream::socket::map_connect_error(refused);
  EXPECT_EQ(refused, lib::error::connection_refused);
  lib_error_code none;
  vsock_stream::socket::map_connect_error(none);
  EXPECT_FALSE(none);
}

}  // namespace
