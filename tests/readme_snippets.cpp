// The README's code, compiled with every build so that it stays true.  Nothing
// here runs (the snippets connect to VSOCK and Hyper-V peers); a function per
// snippet, as the README shows it.
#include <vmsock/fmt.hpp>
#include <vmsock/vmsock.hpp>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace readme {

void serve(vmsock::vsock_stream_socket) {}

void quick_start() {
  using namespace std::chrono_literals;
  // In the guest: listen for the host.
  auto server = vmsock::vsock_listener::listen({vmsock::vsock::cid::any, 5000});
  auto conn = server.accept();

  // On a Linux host (KVM/QEMU, Firecracker, ...): connect to the guest by its CID.
  auto sock = vmsock::vsock_stream_socket::connect({3, 5000}, 2s);
  // On a Windows Hyper-V host: connect to the guest by its VM id.
  auto hv = vmsock::hv_stream_socket::connect(
      vmsock::hv_endpoint::for_port(vmsock::guid::parse("6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11"), 5000), 2s);

  sock.send_all(std::string_view("hello"));
  std::array<char, 5> reply;
  sock.receive_exact(reply);

  auto up = vmsock::vsock_stream_socket::connect({vmsock::vsock::cid::host, 5000}, 2s);
  (void)conn, (void)hv, (void)up;
}

void accept_loop(vmsock::vsock_listener& server) {
  std::thread loop([&] {
    for (;;) {
      std::error_code ec;
      auto conn = server.accept(ec);
      if (ec == std::errc::operation_canceled) return;  // shutting down
      if (!ec) serve(std::move(conn));
    }
  });
  // ... later, from any thread:
  server.cancel();
  loop.join();
}

void lifecycle(const vmsock::inet4_endpoint& ep, const vmsock::vsock_endpoint& vep,
               vmsock::tcp4_socket& sock) {
  using namespace std::chrono_literals;
  using std::chrono::steady_clock;
  std::error_code ec;
  char buf[64];
  vmsock::deadline until = steady_clock::now() + 30s;
  while (!ec) sock.receive(vmsock::buffer(buf, sizeof buf), until, ec);

  auto l = vmsock::tcp6_listener::listen(vmsock::inet6_endpoint::any(8080),
                                         vmsock::v6_only{false});  // dual stack
  auto k = vmsock::tcp4_listener::listen(ep, 128, vmsock::reuse_port{true}, ec);
  auto c = vmsock::vsock_stream_socket::connect(vep, 10s, vmsock::vsock_buffer_size{1 << 20});
  auto m = vmsock::tcp4_listener::listen(
      ep, vmsock::control([](auto& s, std::error_code& e) noexcept { s.set_option(vmsock::keep_alive{true}, e); }));
  (void)l, (void)k, (void)c, (void)m;
}

void any_transport() {
  using namespace std::chrono_literals;
  // Tries each in order (2 s per attempt); the first that connects wins.
  auto sock = vmsock::connect_first({"vsock://2:5000", "tcp://10.0.0.1:5000"}, 2s);
  fmt::print("connected over {}\n", sock.remote());   // which transport won
  sock.set_option(vmsock::receive_timeout{30s});       // whichever won
  sock.send_all(std::string_view("hello"));

  // One listener on several transports; accept() takes the first ready one.
  auto server = vmsock::listen_all({"vsock://any:5000", "tcp://127.0.0.1:5000"});
  vmsock::any_endpoint peer;
  auto conn = server.accept(30s, &peer);
  (void)conn;
}

void error_codes() {
  std::error_code ec;
  auto s = vmsock::tcp4_socket::connect(vmsock::inet4_endpoint::loopback(1), ec);
  if (ec == std::errc::connection_refused) fmt::print("refused\n");
  (void)s;
}

}  // namespace readme
