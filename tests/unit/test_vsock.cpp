// vsock.hpp: cid constants, vsock_endpoint and sockaddr_vm.  Pure: nothing here
// opens a socket.
#include <vmsock/endpoint/vsock.hpp>

#include "unit_support.hpp"

#include <cstring>
#include <string>

namespace {

using vmsock::vsock_endpoint;
namespace vsock = vmsock::vsock;
using vmsock_test::expect_parse_error;

static_assert(vsock::cid::any == 0xffffffffu && vsock::cid::hypervisor == 0 &&
              vsock::cid::local == 1 && vsock::cid::host == 2 && vsock::port_any == 0xffffffffu);
static_assert(vsock_endpoint::parse("vsock://2:5000") == vsock_endpoint{2, 5000, false});
static_assert(vsock_endpoint::parse("vsock://host:5000?to_host") == vsock_endpoint{2, 5000, true});
static_assert(!vsock_endpoint::try_parse("vsock://2:").has_value());
static_assert(vsock_endpoint::protocol == 0);
static_assert(vsock_endpoint{}.cid == vsock::cid::any && vsock_endpoint{}.port == vsock::port_any);

#if VMSOCK_LINUX
// The kernel's own names, from <linux/vm_sockets.h>.
constexpr int kernel_af_vsock = AF_VSOCK;
constexpr int kernel_flag_to_host = VMADDR_FLAG_TO_HOST;

TEST(Vsock, ConstantsAreTheKernels) {
  EXPECT_EQ(vsock::cid::any, static_cast<std::uint32_t>(VMADDR_CID_ANY));
  EXPECT_EQ(vsock::cid::hypervisor, static_cast<std::uint32_t>(VMADDR_CID_HYPERVISOR));
  EXPECT_EQ(vsock::cid::local, static_cast<std::uint32_t>(VMADDR_CID_LOCAL));
  EXPECT_EQ(vsock::cid::host, static_cast<std::uint32_t>(VMADDR_CID_HOST));
  EXPECT_EQ(vsock::port_any, static_cast<std::uint32_t>(VMADDR_PORT_ANY));
  EXPECT_EQ(vsock::flag_to_host, VMADDR_FLAG_TO_HOST);
  EXPECT_EQ(vsock_endpoint::family, AF_VSOCK);
  EXPECT_EQ(vsock::address_family, 40);
}
#else
// No <linux/vm_sockets.h> here: Linux's values, written out.  The native
// struct is vmsock's mirror of sockaddr_vm, which the hv_sock transport of a
// Linux guest reads.
constexpr int kernel_af_vsock = 40;
constexpr int kernel_flag_to_host = 0x01;
#endif

TEST(Vsock, NativeStructIsSockaddrVm) {
  EXPECT_EQ(sizeof(vsock::native_sockaddr), 16u);
  EXPECT_EQ(vsock_endpoint::native_size(), 16u);
  EXPECT_EQ(offsetof(vsock::native_sockaddr, svm_family), 0u);
  EXPECT_EQ(offsetof(vsock::native_sockaddr, svm_reserved1), 2u);
  EXPECT_EQ(offsetof(vsock::native_sockaddr, svm_port), 4u);
  EXPECT_EQ(offsetof(vsock::native_sockaddr, svm_cid), 8u);
  EXPECT_EQ(offsetof(vsock::native_sockaddr, svm_flags), 12u);

  const auto sa = vsock_endpoint{3, 0x01020304u, true}.to_native();
  EXPECT_EQ(sa.svm_family, kernel_af_vsock);
  EXPECT_EQ(sa.svm_reserved1, 0);
  EXPECT_EQ(sa.svm_port, 0x01020304u);
  EXPECT_EQ(sa.svm_cid, 3u);
  EXPECT_EQ(sa.svm_flags, kernel_flag_to_host);
  for (auto z : sa.svm_zero) EXPECT_EQ(z, 0);
  EXPECT_EQ((vsock_endpoint{3, 1, false}).to_native().svm_flags, 0);
}

TEST(Vsock, FromNative) {
  vmsock_test::expect_from_native_rejects(vsock_endpoint{2, 5000, false}, 16);
  // The flag byte: bits other than TO_HOST are not ours to keep.
  auto sa = vsock_endpoint{2, 5000, false}.to_native();
  sa.svm_flags = 0xfe;
  EXPECT_EQ(vsock_endpoint::from_native(&sa, sizeof sa), (vsock_endpoint{2, 5000, false}));
  sa.svm_flags = 0xff;
  EXPECT_EQ(vsock_endpoint::from_native(&sa, sizeof sa), (vsock_endpoint{2, 5000, true}));
}

TEST(Vsock, TextForms) {
  EXPECT_EQ((vsock_endpoint{2, 5000, false}).to_string(), "vsock://2:5000");
  EXPECT_EQ((vsock_endpoint{}).to_string(), "vsock://any:any");
  EXPECT_EQ((vsock_endpoint{1, 0, true}).to_string(), "vsock://1:0?to_host");
  EXPECT_EQ((vsock_endpoint{0xfffffffeu, 0xfffffffeu, false}).to_string(),
            "vsock://4294967294:4294967294");
  vmsock_test::expect_parses_to("vsock://host:5000", vsock_endpoint{2, 5000, false});
  vmsock_test::expect_parses_to("vsock://local:5000", vsock_endpoint{1, 5000, false});
  vmsock_test::expect_parses_to("vsock://hypervisor:5000", vsock_endpoint{0, 5000, false});
  vmsock_test::expect_parses_to("vsock://any:5000", vsock_endpoint{vsock::cid::any, 5000, false});
  vmsock_test::expect_parses_to("VSOCK://HOST:ANY", vsock_endpoint{2, vsock::port_any, false});
  vmsock_test::expect_parses_to("vsock://4294967295:4294967295", vsock_endpoint{});
  vmsock_test::expect_parses_to("vsock://0:0", vsock_endpoint{0, 0, false});
  for (const char* canonical : {"vsock://2:5000", "vsock://any:any", "vsock://3:1?to_host",
                                "vsock://0:0", "vsock://4294967294:4294967294", "vsock://1:any"})
    vmsock_test::expect_text_round_trip<vsock_endpoint>(canonical);
}

TEST(Vsock, RandomValuesRoundTrip) {
  const std::uint32_t special[] = {0,          1,          2,          3,         1024,
                                   0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
  for (std::uint32_t cid : special)
    for (std::uint32_t port : special)
      for (bool to_host : {false, true}) {
        const vsock_endpoint ep{cid, port, to_host};
        vmsock_test::expect_text_round_trip<vsock_endpoint>(ep.to_string());
      }
  for (int i = 0; i < 1000; ++i) {
    const vsock_endpoint ep{vmsock_test::random_int<std::uint32_t>(0, 0xffffffffu),
                            vmsock_test::random_int<std::uint32_t>(0, 0xffffffffu), i % 2 == 0};
    vmsock_test::expect_text_round_trip<vsock_endpoint>(ep.to_string());
  }
}

// Every error says where it is, as an offset into the text (in constexpr too).
static_assert(vmsock::vsock_endpoint::parse_detail("vsock://2:5x00").position == 11);
TEST(Vsock, ParseErrorPositions) {
  using vmsock::vsock_endpoint;
  vmsock_test::expect_errors_at<vsock_endpoint>({
      {"vsock//2:5000", "expected vsock://", 0},
      {"tcp://2:5000", "unknown scheme", 0},
      {"vsock://2:5000?to_guest", "unknown option", 15},
      {"vsock://25000", "missing ':'", 13},
      {"vsock://:5000", "empty CID", 8},
      {"vsock://hots:5000", "CID is neither", 8},
      {"vsock://4294967296:1", "CID out of range", 8},
      {"vsock://2:", "empty port", 10},
      {"vsock://2:05000", "leading zeros", 10},
      {"vsock://2:50x0", "port is neither", 12},
      {"vsock://2:anyway", "port is neither", 10},
      {"vsock://2:99999999999", "port out of range", 10},
  });
}

TEST(Vsock, ParseErrors) {
  const std::string kind = "vsock endpoint";
  vmsock_test::expect_parse_errors<vsock_endpoint>(
      kind, {
                {"", "expected vsock://CID:PORT"},
                {"2:5000", "expected vsock://CID:PORT"},
                {"vsock:/2:5000", "expected vsock://CID:PORT"},
                {"hvsock://2:5000", "unknown scheme"},
                {"tcp://2:5000", "unknown scheme"},
                {"://2:5000", "unknown scheme"},
                {"vsock://", "missing ':'"},
                {"vsock://2", "missing ':'"},
                {"vsock://:5000", "empty CID"},
                {"vsock://2:", "empty port"},
                {"vsock://guest:5000", "CID is neither a number nor"},
                {"vsock://-1:5000", "CID is neither a number nor"},
                {"vsock://0x2:5000", "CID is neither a number nor"},
                {"vsock:// 2:5000", "CID is neither a number nor"},
                {"vsock://4294967296:5000", "CID out of range"},
                {"vsock://99999999999999999999999:1", "CID out of range"},
                {"vsock://02:5000", "leading zeros"},
                {"vsock://2:4294967296", "port out of range"},
                {"vsock://2:05000", "leading zeros"},
                {"vsock://2:http", "port is neither a number nor any"},
                {"vsock://2:5000 ", "port is neither a number nor any"},
                {"vsock://2:50:00", "port is neither a number nor any"},
                {"vsock://2:5000/", "port is neither a number nor any"},
                {"vsock://2:5000?", "unknown option"},
                {"vsock://2:5000?to_hosts", "unknown option"},
                {"vsock://2:5000?to_host?to_host", "unknown option"},
                {vmsock_test::bytes("vsock://2:5000\0"), "port is neither"},
                {vmsock_test::bytes("vsock://2\0:5000"), "CID is neither"},
                {vmsock_test::bytes("vsock://2:5000?to_host\0"), "unknown option"},
            });
}

}  // namespace
