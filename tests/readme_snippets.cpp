// The code of README.md and of the pages in docs/, compiled with every build so
// that it stays true.  Nothing here runs (the snippets connect to VSOCK and
// Hyper-V peers); a function per snippet, as the page shows it, each under a
// comment naming its page.
#include <vmsock/interop/fmt.hpp>
#include <vmsock/vmsock.hpp>
#include <vmsock/host/handoff.hpp>
#include <vmsock/host/peer_filter.hpp>
#include <vmsock/host/systemd.hpp>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace readme {

void serve(vmsock::vsock_stream_socket) {}

// README.md: the example, and "the other way round".
void quick_start() {
  using namespace std::chrono_literals;
  // In the guest: listen for the host.
  auto server = vmsock::vsock_listener::listen({vmsock::vsock::cid::any, 5000});
  auto conn = server.accept();

  // On a QEMU/KVM host (vhost-vsock): connect to the guest by its CID.
  auto sock = vmsock::vsock_stream_socket::connect({3, 5000}, 2s);
  // On a Firecracker or Cloud Hypervisor host: through the VMM's vsock socket
  // (its uds_path), which vmsock asks for port 5000 ("CONNECT 5000").
  auto fc = vmsock::hybrid_vsock_stream_socket::connect({"/run/fc.vsock", 5000}, 2s);
  // On a Windows Hyper-V host: connect to the guest by its VM id.
  auto hv = vmsock::hv_stream_socket::connect(
      vmsock::hv_endpoint::for_port(vmsock::guid::parse("6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11"),
                                    5000),
      2s);

  sock.send_all(std::string_view("hello"));
  std::array<char, 5> reply;
  sock.receive_exact(reply);

  auto up = vmsock::vsock_stream_socket::connect({vmsock::vsock::cid::host, 5000}, 2s);
  (void)conn, (void)hv, (void)up, (void)fc;
}

// docs/hybrid_vsock.md: "The socket".
void hybrid_vsock() {
  using namespace std::chrono_literals;
  // Host to guest port 5000: a Unix connect, "CONNECT 5000\n" in one write, and the
  // VMM's "OK <n>\n" read up to its newline and never past it.  One deadline for both.
  auto s = vmsock::hybrid_vsock_stream_socket::connect({"/run/fc.vsock", 5000}, 5s);
  s.answer();  // what followed "OK ": Firecracker's host-side port, e.g. "1073741824"
  s.send_all(std::string_view("ping"));  // from here on an ordinary Unix stream socket

  // The guest's connections to host port 6000 (CID 2, port 6000): the VMM connects
  // to "/run/fc.vsock_6000", which this listens on (a stale file is replaced).
  auto l = vmsock::hybrid_vsock_listener::listen({"/run/fc.vsock", 6000});
  auto from_guest = l.accept(30s);
}

// docs/agents.md: "Stopping an accept loop".
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

// docs/agents.md: "Graceful shutdown".
void graceful_shutdown(vmsock::vsock_listener& server) {
  vmsock::connection_group group;
  std::vector<std::thread> workers;
  std::thread loop([&] {
    for (;;) {
      std::error_code ec;
      auto conn = group.accept(server, ec);  // accepted and joined: group.join(server.accept(ec))
      if (ec == std::errc::operation_canceled) return;
      if (!ec) workers.emplace_back(serve, std::move(conn));
    }
  });
  // ... on SIGTERM:
  group.cancel_all();
  server.cancel();
  loop.join();
  for (auto& w : workers) w.join();
}

// docs/api.md: "Lifecycle" (the deadline loop, two-step setup, control).
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
  auto m =
      vmsock::tcp4_listener::listen(ep, vmsock::control([](auto& s, std::error_code& e) noexcept {
                                      s.set_option(vmsock::keep_alive{true}, e);
                                    }));
  (void)l, (void)k, (void)c, (void)m;
}

// docs/api.md: "One socket over any transport".
void any_transport() {
  using namespace std::chrono_literals;
  // Tries each in order (2 s per attempt); the first that connects wins.
  auto sock = vmsock::connect_first({"vsock://2:5000", "tcp://10.0.0.1:5000"}, 2s);
  fmt::print("connected over {}\n", sock.remote());  // which transport won
  sock.set_option(vmsock::receive_timeout{30s});     // whichever won
  sock.send_all(std::string_view("hello"));

  // One listener on several transports; accept() takes the first ready one.
  auto server = vmsock::listen_all({"vsock://any:5000", "tcp://127.0.0.1:5000"});
  vmsock::any_endpoint peer;
  auto conn = server.accept(30s, &peer);
  (void)conn;
}

// docs/agents.md: "wait_for_ready".
void wait_for_ready(const std::vector<vmsock::any_endpoint>& endpoints) {
  using namespace std::chrono_literals;
  // Retries while refused, until 30 s have passed; any other error fails at once.
  auto sock = vmsock::vsock_stream_socket::connect({2, 5000}, 30s, vmsock::wait_for_ready{});
  // Through a Firecracker VMM: also while its socket file is missing or it closes silently.
  auto fc = vmsock::hybrid_vsock_stream_socket::connect({"/run/fc.vsock", 52}, 30s,
                                                        vmsock::wait_for_ready{});
  // One deadline for a whole list, tried round after round; cancel() ends it at once.
  vmsock::any_connector connector;
  auto any = connector.connect_first(endpoints, 30s, vmsock::wait_for_ready{});
  (void)sock, (void)fc, (void)any;
}

// docs/api.md: "Sockets" (clean_end_of_stream between frames).
void handle(const std::array<char, 16>&) {}
std::error_code frames(vmsock::tcp4_socket& sock) {
  using namespace std::chrono_literals;
  std::error_code ec;
  std::array<char, 16> frame;
  for (;;) {
    sock.receive_exact(frame, 30s, ec);
    if (ec == vmsock::errc::clean_end_of_stream) break;  // the peer is done
    if (ec) return ec;                                   // a frame cut short, a timeout, ...
    handle(frame);
  }
  return {};
}

// docs/api.md: "Errors" (comparing with a portable condition).
void error_codes() {
  std::error_code ec;
  auto s = vmsock::tcp4_socket::connect(vmsock::inet4_endpoint::loopback(1), ec);
  if (ec == std::errc::connection_refused) fmt::print("refused\n");
  (void)s;
}

// docs/api.md: "Builds without exceptions": a URI list with error codes.
int fail(std::string_view, std::string_view) { return 1; }
int uri_list_without_exceptions() {
  using namespace std::chrono_literals;
  std::vector<vmsock::any_endpoint> eps;
  for (std::string_view uri : {"vsock://2:5000", "tcp://10.0.0.1:5000"}) {
    const auto r = vmsock::any_endpoint::parse_detail(uri);
    if (!r) return fail(uri, r.error);
    eps.push_back(r.value);
  }
  std::error_code ec;
  auto sock = vmsock::connect_first(eps, 2s, ec);
  return ec ? 1 : 0;
}

// docs/host.md: peer filters, hand-off, socket activation.
void peer_filters() {
  // A guest agent: the host only.
  auto agent = vmsock::vsock_listener::listen({vmsock::vsock::cid::any, 5000});
  agent.set_peer_filter(vmsock::peer::cids{vmsock::vsock::cid::host});

  auto svc =
      vmsock::hv_listener::listen(vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, 5000));
  svc.set_peer_filter(
      vmsock::peer::vm_ids{vmsock::guid::parse("6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11")});

  auto web = vmsock::tcp6_listener::listen(vmsock::inet6_endpoint::any(8080));
  web.set_peer_filter(vmsock::peer::networks{"127.0.0.0/8", "10.0.0.0/8", "::1/128"});

  auto ctl = vmsock::unix_listener::listen(vmsock::unix_endpoint::path("/run/agent.sock"));
  ctl.set_peer_filter(vmsock::peer::uids{0});

  auto all = vmsock::listen_all({"vsock://any:5000", "tcp://0.0.0.0:5000"});
  all.set_peer_filter(vmsock::peer::any_of(vmsock::peer::cids{vmsock::vsock::cid::host},
                                           vmsock::peer::networks{"10.0.0.0/8"}));
  std::uint64_t refused = all.rejected_peers();
  (void)refused;
}

void handoff_supervisor(vmsock::tcp4_listener& server, vmsock::unix_stream_socket& channel,
                        std::int64_t worker_pid) {
  auto conn = server.accept();
  vmsock::send_socket(channel, conn, worker_pid);
  conn.close();
}

void handoff_worker(vmsock::unix_stream_socket& channel) {
  using namespace std::chrono_literals;
  auto conn = vmsock::receive_socket<vmsock::tcp4_socket>(channel, 30s);
  (void)conn;
}

void activation() {
  auto server = vmsock::systemd_listeners();
  auto conn = server.accept();

  auto passed = vmsock::systemd_sockets::from_environment();
  auto agent = passed.take<vmsock::vsock_listener>("agent");
  auto web = passed.take<vmsock::tcp6_listener>("web");
}

}  // namespace readme
