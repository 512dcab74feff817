// The same programs on both sides of a real virtio-vsock boundary
// (tests/vm/nested): vmsock's examples (echo_server, echo_client) against each
// other, each way, and socat (VSOCK-LISTEN, VSOCK-CONNECT) on one side against
// vmsock on the other, each way.  The programs are found in PATH (/tests/bin
// in both guests).
#include "nested/nested_support.hpp"

#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using namespace vmsock;
using namespace vmsock_nested;

class Examples : public paired_test {};
class Socat : public paired_test {};

std::string temp_path(const std::string& tag, std::uint32_t p) {
  return "/tmp/nested-" + tag + "-" + std::to_string(p);
}

// `uri` for this side to connect to the other side's port p.
std::string peer_uri(std::uint32_t p) { return to_peer(p).to_string(); }

// examples/echo_server on vsock://any:P for one connection: says "ready" to
// the other side once it listens, and exits 0 after that connection.
void run_echo_server(std::uint32_t p) {
  const std::string ready = temp_path("ready", p);
  ::unlink(ready.c_str());
  child server(
      {"echo_server", "vsock://any:" + std::to_string(p), "--count", "1", "--ready-file", ready});
  ASSERT_TRUE(wait_for_file(ready, server)) << "echo_server never wrote its ready file";
  sync("ready");
  EXPECT_EQ(server.wait(150s), 0) << "echo_server --count 1 exits 0 after one connection";
}

// echo_server on `server_side`, echo_client on the other, connecting to
// `client_uri(P)`; the client checks its own checksums (exit 3 when they
// differ).
template <class ClientUri> void echo_examples(side server_side, ClientUri&& client_uri) {
  const std::uint32_t p = port();
  if (this_side() == server_side) {
    run_echo_server(p);
  } else {
    sync("ready");
    child client(
        {"echo_client", client_uri(p), "--bytes", "1M", "--pings", "10", "--timeout", "30000"});
    EXPECT_EQ(client.wait(150s), 0) << "echo_client's exit status";
  }
  sync("done", 200s);
}

TEST_F(Examples, EchoServerInTheGuestEchoClientOnTheHost) {
  echo_examples(side::guest, [](std::uint32_t p) { return peer_uri(p); });
}
TEST_F(Examples, EchoServerOnTheHostEchoClientInTheGuest) {
  echo_examples(side::host, [](std::uint32_t p) { return peer_uri(p); });
}
TEST_F(Examples, EchoClientInTheGuestByHvsockParent) {
  echo_examples(side::host, [](std::uint32_t p) { return "hvsock://parent/" + std::to_string(p); });
}

// Connects to the other side's port p while the program there is still
// starting (nothing listening yet is a refusal): at most about 30 s.
vsock_stream_socket connect_when_listening(std::uint32_t p) {
  for (int attempt = 0;; ++attempt) {
    std::error_code ec;
    auto s = vsock_stream_socket::connect(to_peer(p), 10s, ec);
    if (!ec) return s;
    if (attempt >= 150) throw std::system_error(ec, "connect to " + peer_uri(p));
    std::this_thread::sleep_for(200ms);
  }
}

// socat VSOCK-LISTEN:P,fork EXEC:cat on `socat_side`; on the other side a
// probe connection (vmsock) waits for it to listen, then echo_client runs
// against it.
void socat_listens(side socat_side) {
  const std::uint32_t p = port();
  if (this_side() == socat_side) {
    child socat({"socat", "VSOCK-LISTEN:" + std::to_string(p) + ",fork", "EXEC:cat"});
    sync("done", 200s);
    EXPECT_TRUE(socat.running()) << "socat with fork keeps listening";
    socat.stop();
    return;
  }
  {
    auto probe = connect_when_listening(p);
    probe.set_option(receive_timeout{60s});
    probe.send_all("ping", 4);
    char buf[4];
    EXPECT_EQ(probe.receive_exact(buf, 4), 4u);
    EXPECT_EQ(std::string(buf, 4), "ping");
  }
  child client(
      {"echo_client", peer_uri(p), "--bytes", "1M", "--pings", "10", "--timeout", "30000"});
  EXPECT_EQ(client.wait(150s), 0) << "echo_client's exit status against socat";
  sync("done", 200s);
}
TEST_F(Socat, ListenInTheGuestVmsockClientOnTheHost) { socat_listens(side::guest); }
TEST_F(Socat, ListenOnTheHostVmsockClientInTheGuest) { socat_listens(side::host); }

// socat VSOCK-CONNECT on `socat_side` into echo_server on the other side:
// what socat reads back equals what it sent.
void socat_connects(side socat_side) {
  const std::uint32_t p = port();
  if (this_side() != socat_side) {
    run_echo_server(p);
  } else {
    const auto payload = vmsock_vm::bytes(1u << 20, p);
    const std::string in = temp_path("in", p), out = temp_path("out", p);
    write_file(in, payload);
    sync("ready");
    const std::string target =
        "VSOCK-CONNECT:" + std::to_string(cid_of(other(socat_side))) + ":" + std::to_string(p);
    child socat({"socat", "-t", "30", "-", target}, in, out);
    EXPECT_EQ(socat.wait(150s), 0) << "socat's exit status";
    EXPECT_TRUE(read_file(out) == payload) << "socat read back other bytes than it sent";
  }
  sync("done", 200s);
}
TEST_F(Socat, ConnectFromTheGuestToEchoServerOnTheHost) { socat_connects(side::guest); }
TEST_F(Socat, ConnectFromTheHostToEchoServerInTheGuest) { socat_connects(side::host); }

}  // namespace
