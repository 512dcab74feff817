// <windows.h> first, as most Windows code does, with neither WIN32_LEAN_AND_MEAN
// nor NOMINMAX: windows.h brings winsock.h (v1) along, and vmsock's headers
// must compile after it, warning-free under -Werror.
#include <windows.h>

// MSVC's windows.h also defines the min and max macros here.  MinGW's libstdc++
// stops that (it defines NOMINMAX), so the macros are recreated as windows.h
// writes them, after the standard headers (which libstdc++ does not guard
// against them) and before vmsock's: vmsock's own code must survive them.
#if !defined(max) && !defined(min)
#  if defined(__GLIBCXX__)
#    include <bits/stdc++.h>
#  endif
#  define max(a, b) (((a) > (b)) ? (a) : (b))
#  define min(a, b) (((a) < (b)) ? (a) : (b))
#endif

#include "all_headers.hpp"

// vmsock did not take the user's macros away either.
#if !defined(min) || !defined(max)
#  error "a vmsock header undefined windows.h's min/max macros"
#endif

#include <gtest/gtest.h>

namespace {

TEST(WindowsHFirst, EndpointsWork) {
  const auto ep = vmsock::hv_endpoint::parse("hvsock://parent/5000");
  const auto sa = ep.to_native();
  EXPECT_EQ(sa.Family, 34);
  const auto back = vmsock::hv_endpoint::from_native(&sa, sizeof sa);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == ep);

  const auto v4 = vmsock::inet4_endpoint::loopback(8080).to_native();
  EXPECT_EQ(v4.sin_family, AF_INET);
  EXPECT_EQ(ntohs(v4.sin_port), 8080);
  EXPECT_EQ(ntohl(v4.sin_addr.s_addr), INADDR_LOOPBACK);
}

// The user's min/max macros still work beside vmsock.
TEST(WindowsHFirst, UserMacrosIntact) {
  EXPECT_EQ(max(2, 3), 3);
  EXPECT_EQ(min(2, 3), 2);
}

TEST(WindowsHFirst, OsErrorsCompareToErrc) {
  EXPECT_EQ(vmsock::detail::make_os_error(WSAECONNREFUSED), std::errc::connection_refused);
}

}  // namespace
