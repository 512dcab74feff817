// Without exceptions a throwing form calls vmsock::throw_exception with what it
// would have thrown.  This program defines it (print what(), abort) and the
// death tests read what reached it.
#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#if !VMSOCK_NO_EXCEPTIONS
#  error "this test is built with -fno-exceptions"
#endif

[[noreturn]] void vmsock::throw_exception(const std::exception& e) {
  std::fprintf(stderr, "vmsock::throw_exception: %s\n", e.what());
  std::fflush(stderr);
  std::abort();
}

namespace {

using namespace std::chrono_literals;

TEST(NoExceptionsHook, AParseFailureReachesIt) {
  EXPECT_DEATH((void)vmsock::guid::parse("nope"),
               "vmsock::throw_exception: GUID \"nope\": bad hex digit at offset 0");
  EXPECT_DEATH(
      (void)vmsock::any_endpoint::parse("tcp://host:80"),
      "vmsock::throw_exception: endpoint URI \"tcp://host:80\": host names are not resolved");
  EXPECT_DEATH((void)vmsock::connect_first({"udp://127.0.0.1:53"}, 1s),
               "vmsock::throw_exception: connect_first: entry 1 of 1: udp://127.0.0.1:53 is a "
               "datagram endpoint");
}

TEST(NoExceptionsHook, ASocketFailureReachesItWithTheUsualMessage) {
  std::error_code ec;
  auto l = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0), ec);
  const auto where = l.local_endpoint(ec);
  l.close(ec);
  // The message of the code the error_code form reports (on Windows
  // vmsock's Winsock category words it, not the C library's strerror).  On
  // Windows the port is left open: a death test's child runs this body again
  // in a new process there (no fork), where the listener gets another port.
  vmsock::tcp4_socket::connect(where, 2s, ec);
  ASSERT_EQ(ec, std::errc::connection_refused) << ec.message();
  const std::string port = VMSOCK_WINDOWS ? std::string(".+") : std::to_string(where.port);
  const std::string expected =
      "vmsock::throw_exception: connect to tcp://127\\.0\\.0\\.1:" + port + ": " + ec.message();
  EXPECT_DEATH((void)vmsock::tcp4_socket::connect(where, 2s), expected);
}

}  // namespace
