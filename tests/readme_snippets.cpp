// The README's code, compiled with every build so that it stays true.  Nothing
// here runs (the snippets connect to VSOCK and Hyper-V peers); a function per
// snippet, as the README shows it.
#include <vmsock/fmt.hpp>
#include <vmsock/vmsock.hpp>

#include <array>
#include <chrono>
#include <string>
#include <string_view>

namespace readme {

void quick_start() {
  // In the guest: listen on VSOCK port 5000 (on Windows the same line listens on
  // the Hyper-V service id 00001388-facb-11e6-bd58-64006a7986d3).
  auto server = vmsock::vsock_listener::listen({vmsock::vsock::cid::any, 5000});
  auto conn = server.accept();

  // On the host, or anywhere: connect, with a timeout, in one call.
  auto sock = vmsock::hv_stream_socket::connect(
      vmsock::hv_endpoint::parse("hvsock://parent/5000"), std::chrono::seconds(2));
  sock.send_all(std::string_view("hello"));
  std::array<char, 5> reply;
  sock.receive_exact(reply);
  (void)conn;
}

void any_transport() {
  // Tries each in order (2 s per attempt); the first that connects wins.
  auto sock = vmsock::connect_first(
      {"hvsock://parent/5000", "vsock://2:5000", "tcp://10.0.0.1:5000"}, std::chrono::seconds(2));
  fmt::print("connected over {}\n", sock.remote());  // which transport won
  sock.send_all(std::string_view("hello"));

  // One listener on several transports; accept() takes the first ready one.
  auto server = vmsock::listen_all({"vsock://any:5000", "tcp://127.0.0.1:5000"});
  vmsock::any_endpoint peer;
  auto conn = server.accept(std::chrono::seconds(30), &peer);
  (void)conn;
}

void error_codes() {
  std::error_code ec;
  auto s = vmsock::tcp4_socket::connect(vmsock::inet4_endpoint::loopback(1), ec);
  if (ec == std::errc::connection_refused) fmt::print("refused\n");
  (void)s;
}

}  // namespace readme
