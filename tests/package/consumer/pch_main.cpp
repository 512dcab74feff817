// A consumer of many files that makes vmsock.hpp its precompiled header, as
// docs/performance.md gives the recipe (consumer/CMakeLists.txt builds it
// with -Werror=invalid-pch: a precompiled header that the compiler finds but
// cannot use fails the build).  The two files use the library for real: a
// TCP exchange on loopback here, URIs in pch_uri.cpp; main() returns nonzero
// when a check fails.
#include <vmsock/vmsock.hpp>

#include "checks.hpp"

#include <array>
#include <chrono>
#include <exception>
#include <string>
#include <string_view>

std::string pch_consumer_uri_round_trip(std::string_view uri);

int main() {
  using namespace std::chrono_literals;
  try {
    auto l = vmsock::tcp4_listener::listen(vmsock::inet4_endpoint::loopback(0));
    auto c = vmsock::tcp4_socket::connect(l.local_endpoint(), 10s);
    auto s = l.accept(10s);
    c.send_all(std::string_view("hello"));
    std::array<char, 5> got{};
    s.receive_exact(got, 10s);
    consumer::check(std::string_view(got.data(), got.size()) == "hello",
                    "precompiled vmsock.hpp: a TCP exchange on loopback");
  } catch (const std::exception& e) {
    const std::string what = std::string("precompiled vmsock.hpp: a TCP exchange: ") + e.what();
    consumer::check(false, what.c_str());
  }
  consumer::check(pch_consumer_uri_round_trip("vsock://2:5000") == "vsock://2:5000",
                  "precompiled vmsock.hpp: a URI parsed and printed in a second file");
  consumer::check(pch_consumer_uri_round_trip("tcp://[::1]:80") == "tcp://[::1]:80",
                  "precompiled vmsock.hpp: an IPv6 URI");
  consumer::check(pch_consumer_uri_round_trip("hvsock://bad/1").empty(),
                  "precompiled vmsock.hpp: a malformed URI refused");
  return consumer::report();
}
