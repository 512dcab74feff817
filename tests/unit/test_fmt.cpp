// fmt.hpp: fmt::formatter (and std::formatter where <format> exists) for guid
// and every endpoint type, with width, fill and alignment.
#include <vmsock/interop/fmt.hpp>

#include "unit_support.hpp"

#include <string>

#if VMSOCK_HAS_STD_FORMAT
#  include <format>
#endif

namespace {

using namespace vmsock;

// The same checks for every type: plain, and each alignment with and without
// a fill character, against the text padded by hand.
template <class T> void expect_formats(const T& value) {
  const std::string text = value.to_string();
  SCOPED_TRACE(text);
  const std::size_t width = text.size() + 7;
  const std::string pad(width - text.size(), ' ');
  EXPECT_EQ(fmt::format("{}", value), text);
  EXPECT_EQ(fmt::to_string(value), text);
  EXPECT_EQ(fmt::format("<{}>", value), "<" + text + ">");
  EXPECT_EQ(fmt::format("{:{}}", value, width), text + pad);  // strings align left by default
  EXPECT_EQ(fmt::format("{:<{}}", value, width), text + pad);
  EXPECT_EQ(fmt::format("{:>{}}", value, width), pad + text);
  EXPECT_EQ(fmt::format("{:^{}}", value, width), std::string(3, ' ') + text + std::string(4, ' '));
  EXPECT_EQ(fmt::format("{:*^{}}", value, width), std::string(3, '*') + text + std::string(4, '*'));
  EXPECT_EQ(fmt::format("{:->{}}", value, width), std::string(7, '-') + text);
  // A width below the text's length never cuts it.
  EXPECT_EQ(fmt::format("{:>3}", value), text);
  // Precision truncates, as for any string.
  EXPECT_EQ(fmt::format("{:.5}", value), text.substr(0, 5));
  const T& cref = value;
  EXPECT_EQ(fmt::format("{0}|{0}", cref), text + "|" + text);
#if VMSOCK_HAS_STD_FORMAT
  EXPECT_EQ(std::format("{}", value), text);
  EXPECT_EQ(std::format("{:>{}}", value, width), pad + text);
  EXPECT_EQ(std::format("{:*^{}}", value, width), std::string(3, '*') + text + std::string(4, '*'));
#endif
}

TEST(Fmt, Guid) {
  expect_formats(guid::parse("{000004D2-FACB-11E6-BD58-64006A7986D3}"));
  expect_formats(guid{});
}

TEST(Fmt, HvEndpoint) {
  expect_formats(hv_endpoint::parse("hvsock://parent/5000"));
  expect_formats(
      hv_endpoint{guid::parse("12345678-9abc-def0-1234-56789abcdef0"), hv::vm_id::children});
  EXPECT_EQ(fmt::format("{}", hv_endpoint::parse("hvsock://loopback/1")), "hvsock://loopback/1");
}

TEST(Fmt, VsockEndpoint) {
  expect_formats(vsock_endpoint{2, 5000, false});
  expect_formats(vsock_endpoint{});
  EXPECT_EQ(fmt::format("{:>20}", vsock_endpoint{3, 1, true}), " vsock://3:1?to_host");
}

TEST(Fmt, InetEndpoints) {
  expect_formats(inet4_endpoint::loopback(80));
  expect_formats(inet6_endpoint::parse("[2001:db8::1%3]:443"));
  EXPECT_EQ(fmt::format("{:<12}|", inet4_endpoint::any(1)), "0.0.0.0:1   |");
  EXPECT_EQ(fmt::format("{}", inet6_endpoint::loopback(9)), "[::1]:9");
}

TEST(Fmt, UnixEndpoint) {
  expect_formats(unix_endpoint::path("/run/vmsock.sock"));
  expect_formats(unix_endpoint::abstract(vmsock_test::bytes("a\0b")));
  expect_formats(unix_endpoint{});
}

TEST(Fmt, HybridVsockEndpoint) {
  expect_formats(hybrid_vsock_endpoint{"/run/fc.vsock", 5000});
  expect_formats(hybrid_vsock_endpoint{"/a%b\nc", 0xFFFFFFFFu});
  expect_formats(hybrid_vsock_endpoint{});
  EXPECT_EQ(fmt::format("[{:>40}]", hybrid_vsock_endpoint{"/run/fc.vsock", 52}),
            "[         hybrid-vsock:///run/fc.vsock:52]");
  expect_formats(any_endpoint::parse("hybrid-vsock:///run/fc.vsock:5000"));
}

}  // namespace
