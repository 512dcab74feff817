// vmsock first, then <windows.h> and the other headers a Windows program adds:
// vmsock's includes must leave the user free to include them afterwards.
#include "all_headers.hpp"

#include <windows.h>
#include <mstcpip.h>
#include <mswsock.h>
#include <winsock2.h>
#include <ws2tcpip.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

namespace {

TEST(VmsockFirst, EndpointsWork) {
  const auto ep = vmsock::inet6_endpoint::parse("[::1]:443");
  const auto sa = ep.to_native();
  EXPECT_EQ(sa.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sa.sin6_port), 443);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&sa.sin6_addr));
  const auto back = vmsock::inet6_endpoint::from_native(&sa, sizeof sa);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == ep);
}

// The usual Windows spelling that survives the min/max macros.
TEST(VmsockFirst, ParenthesisedMinMax) {
  EXPECT_EQ((std::max)(2, 3), 3);
  EXPECT_EQ((std::numeric_limits<int>::max)(), 2147483647);
}

TEST(VmsockFirst, UnixEndpointOnWindows) {
  const auto ep = vmsock::unix_endpoint::path("C:\\temp\\vmsock.sock");
  const auto sa = ep.to_native();
  EXPECT_EQ(sa.sun_family, AF_UNIX);
  EXPECT_EQ(vmsock::unix_endpoint::capacity, sizeof sa.sun_path);
  EXPECT_EQ(vmsock::unix_endpoint::capacity, 108u);
  const auto back = vmsock::unix_endpoint::from_native(&sa, ep.native_size());
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == ep);
}

}  // namespace
