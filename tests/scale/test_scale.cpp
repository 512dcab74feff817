// 10,000 concurrent TCP connections on loopback, held open and echoing (the
// machinery and the figures: scale_echo.hpp).  The test raises RLIMIT_NOFILE
// as far as it may (root may raise the hard limit; otherwise the soft one up
// to it; with fewer than the server needs it skips, saying so); the clients
// connect from 127.0.0.1 to 127.0.0.20 in turn (ports to spare).
// VMSOCK_SCALE_CONNECTIONS changes the count.
#include "scale_echo.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace {

using namespace vmsock;

TEST(Scale, TenThousandTcpConnectionsHeldOpenAndEchoing) {
  const std::size_t n = vmsock_scale::connections(10000);
  std::string why;
  // One descriptor per connection on each side (see scale_echo.hpp), and room.
  const auto enough = static_cast<rlim_t>(n + n / 4 + 256);
  if (!vmsock_scale::raise_nofile(enough, enough, why)) GTEST_SKIP() << why;
  const long rss_before = vmsock_scale::rss_kib();
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0), 4096);
  const auto at = l.local_endpoint();
  vmsock_scale::run(
      l, n,
      [at](std::size_t i, deadline until, std::error_code& ec) {
        const inet4_endpoint from{{127, 0, 0, static_cast<std::uint8_t>(1 + i % 20)}, 0};
        return tcp4_socket::connect(at, from, until, ec);
      },
      "TCP", rss_before);
}

}  // namespace
