// vmsock against a VSOCK peer nobody here wrote: socat (VSOCK-CONNECT and
// VSOCK-LISTEN, bundled into the guest with its libraries), in both
// directions, bytes checked; and vmsock's own examples (echo_server,
// echo_client) against socat and against each other over VSOCK.
//
// socat and the examples are found in PATH (/tests/bin in the guest).  The
// Examples.* cases need echo_server and echo_client there; the ctest case
// leaves them out (--gtest_filter) when the examples are not built.
#include "guest_support.hpp"

#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using namespace vmsock;
using namespace vmsock_vm;
using namespace std::chrono_literals;

// ---- child processes ------------------------------------------------------------------

// A child started with posix_spawnp; killed (SIGKILL) and reaped on destruction
// if it is still running.
class child {
 public:
  // stdin/stdout: a path to open, or empty for /dev/null (stdout: inherit).
  child(const std::vector<std::string>& args, const std::string& in = {},
        const std::string& out = {}) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.empty() ? "/dev/null" : in.c_str(), O_RDONLY, 0);
    if (!out.empty())
      posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int r = ::posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) {
      pid_ = -1;
      throw std::system_error(r, std::system_category(), "posix_spawnp " + args[0]);
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = status;
      return false;
    }
    return true;
  }

  // The exit status once the child ends by itself within `limit`; -1 when it
  // had to be killed, -2 - signal when a signal ended it.
  int wait(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (running()) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    return -2 - WTERMSIG(status_);
  }

  // SIGTERM (a server that would run forever), then reap.
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

std::string temp_path(const std::string& tag, std::uint32_t port) {
  return "/tmp/interop-" + tag + "-" + std::to_string(port);
}

void write_file(const std::string& path, const std::vector<unsigned char>& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {});
}

// Connects to 1:P while the peer process is still starting: the kernel answers
// a port nobody listens on yet with a reset (connection_refused), so retry
// those (at most ~10 s).
vsock_stream_socket connect_when_listening(std::uint32_t port) {
  for (int attempt = 0;; ++attempt) {
    std::error_code ec;
    auto s = vsock_stream_socket::connect(local(port), ec);
    if (!ec) return s;
    if (ec != std::errc::connection_refused || attempt >= 200)
      throw std::system_error(ec, "connect to vsock://1:" + std::to_string(port));
    std::this_thread::sleep_for(50ms);
  }
}

// Waits until a vsock listener exists on `port` (a probe connection that is
// closed at once: the peer must be one that serves more than one connection).
void wait_listening(std::uint32_t port) { (void)connect_when_listening(port); }

// Sends `data` from a second thread while this one takes the echo back, then
// half-closes and expects EOF.
void echo_through(vsock_stream_socket& s, const std::vector<unsigned char>& data) {
  std::string send_error;
  std::thread t([&] {
    try {
      s.send_all(data);
      s.shutdown(shutdown_type::send);
    } catch (const std::exception& e) {
      send_error = e.what();
    }
  });
  std::vector<unsigned char> got(data.size());
  std::error_code ec;
  const std::size_t n = s.receive_exact(got, ec);
  t.join();
  EXPECT_FALSE(ec) << ec.message() << " after " << n << " bytes";
  EXPECT_EQ(send_error, "");
  EXPECT_TRUE(got == data) << "the echo differs from what was sent";
  unsigned char c;
  EXPECT_EQ(s.receive(&c, 1), 0u) << "EOF once the peer has echoed everything";
}

// A one-connection vmsock echo server on any:P in a thread; counts what
// passed through.
class vmsock_echo_server {
 public:
  explicit vmsock_echo_server(std::uint32_t port)
      : listener_(vsock_listener::listen(any_cid(port))), thread_([this] { run(); }) {}
  ~vmsock_echo_server() {
    if (thread_.joinable()) thread_.join();
  }
  void join() { thread_.join(); }
  std::size_t bytes() const { return bytes_; }
  const std::string& error() const { return error_; }
  const vsock_endpoint& peer() const { return peer_; }

 private:
  void run() {
    try {
      auto s = listener_.accept(30s, peer_);
      std::vector<unsigned char> buf(64 * 1024);
      for (;;) {
        const std::size_t n = s.receive(buf);
        if (n == 0) break;
        bytes_ += n;
        s.send_all(buf.data(), n);
      }
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }

  vsock_listener listener_;
  vsock_endpoint peer_;
  std::size_t bytes_ = 0;
  std::string error_;
  std::thread thread_;
};

// ---- socat -> vmsock ----------------------------------------------------------------------

// socat VSOCK-CONNECT -> a vmsock echo server: what socat reads back equals
// what it sent.
TEST(Socat, ConnectToVmsockEchoServer) {
  const std::uint32_t port = next_port();
  const auto payload = vmsock_vm::bytes(1u << 20, port);
  const std::string in = temp_path("in", port), out = temp_path("out", port);
  write_file(in, payload);

  vmsock_echo_server server(port);
  child socat({"socat", "-t", "10", "-", "VSOCK-CONNECT:1:" + std::to_string(port)}, in, out);
  EXPECT_EQ(socat.wait(60s), 0) << "socat's exit status";
  server.join();
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.bytes(), payload.size());
  EXPECT_EQ(server.peer().cid, vsock::cid::local);
  EXPECT_TRUE(read_file(out) == payload) << "socat read back other bytes than it sent";
}

// socat -u FILE -> VSOCK-CONNECT: a vmsock server receives the file, then EOF.
TEST(Socat, OneWayIntoVmsock) {
  const std::uint32_t port = next_port();
  const auto payload = vmsock_vm::bytes(3u << 20, port);
  const std::string in = temp_path("in", port);
  write_file(in, payload);

  auto listener = vsock_listener::listen(any_cid(port));
  child socat({"socat", "-u", "FILE:" + in, "VSOCK-CONNECT:1:" + std::to_string(port)});
  auto s = listener.accept(30s);
  std::vector<unsigned char> got(payload.size());
  EXPECT_EQ(s.receive_exact(got), got.size());
  unsigned char c;
  EXPECT_EQ(s.receive(&c, 1), 0u);
  EXPECT_TRUE(got == payload);
  EXPECT_EQ(socat.wait(30s), 0);
}

// ---- vmsock -> socat ----------------------------------------------------------------------

// vmsock's client -> socat VSOCK-LISTEN,fork EXEC:cat: two connections, each
// echoed back intact, then EOF after our shutdown(send).
TEST(Socat, VmsockClientToSocatListenExecCat) {
  const std::uint32_t port = next_port();
  child socat({"socat", "VSOCK-LISTEN:" + std::to_string(port) + ",fork", "EXEC:cat"});
  for (int i = 0; i < 2; ++i) {
    auto s = connect_when_listening(port);
    EXPECT_EQ(s.peer_endpoint(), local(port));
    echo_through(s, vmsock_vm::bytes((1u << 20) + 12345u * static_cast<unsigned>(i),
                                     port + static_cast<unsigned>(i)));
  }
  EXPECT_TRUE(socat.running()) << "socat with fork keeps listening";
  socat.stop();
}

// vmsock's client -> socat -u VSOCK-LISTEN CREATE:file: the file holds what we
// sent once our close reaches socat.
TEST(Socat, OneWayFromVmsock) {
  const std::uint32_t port = next_port();
  const std::string out = temp_path("out", port);
  const auto payload = vmsock_vm::bytes(3u << 20, port);
  child socat({"socat", "-u", "VSOCK-LISTEN:" + std::to_string(port), "CREATE:" + out});
  {
    auto s = connect_when_listening(port);
    EXPECT_EQ(s.send_all(payload), payload.size());
  }  // close: socat sees EOF and exits
  EXPECT_EQ(socat.wait(30s), 0);
  EXPECT_TRUE(read_file(out) == payload) << "socat wrote other bytes than vmsock sent";
}

// ---- vmsock's examples --------------------------------------------------------------------

// Waits until `path` is non-empty (the example server's --ready-file).
bool wait_for_file(const std::string& path, child& owner) {
  for (int i = 0; i < 400; ++i) {
    if (!read_file(path).empty()) return true;
    if (!owner.running()) return false;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}

// socat VSOCK-CONNECT -> examples/echo_server vsock://any:P.
TEST(Examples, SocatToEchoServer) {
  const std::uint32_t port = next_port();
  const std::string ready = temp_path("ready", port);
  const std::string in = temp_path("in", port), out = temp_path("out", port);
  const auto payload = vmsock_vm::bytes(1u << 20, port);
  write_file(in, payload);
  ::unlink(ready.c_str());

  child server({"echo_server", "vsock://any:" + std::to_string(port), "--count", "1",
                "--ready-file", ready});
  ASSERT_TRUE(wait_for_file(ready, server)) << "echo_server never wrote its ready file";
  child socat({"socat", "-t", "10", "-", "VSOCK-CONNECT:1:" + std::to_string(port)}, in, out);
  EXPECT_EQ(socat.wait(60s), 0);
  EXPECT_EQ(server.wait(30s), 0) << "echo_server --count 1 exits 0 after one connection";
  EXPECT_TRUE(read_file(out) == payload) << "echo_server echoed other bytes than socat sent";
}

// examples/echo_client vsock://1:P -> socat VSOCK-LISTEN,fork EXEC:cat; the
// client checks its own checksums (exit 3 when they differ).
TEST(Examples, EchoClientToSocat) {
  const std::uint32_t port = next_port();
  child socat({"socat", "VSOCK-LISTEN:" + std::to_string(port) + ",fork", "EXEC:cat"});
  wait_listening(port);
  child client({"echo_client", "vsock://1:" + std::to_string(port), "--bytes", "2M", "--pings",
                "20", "--timeout", "5000"});
  EXPECT_EQ(client.wait(120s), 0) << "echo_client's exit status";
  socat.stop();
}

// examples/echo_client -> examples/echo_server over VSOCK.
TEST(Examples, EchoClientToEchoServer) {
  const std::uint32_t port = next_port();
  const std::string ready = temp_path("ready", port);
  ::unlink(ready.c_str());
  child server({"echo_server", "vsock://any:" + std::to_string(port), "--count", "1",
                "--ready-file", ready});
  ASSERT_TRUE(wait_for_file(ready, server)) << "echo_server never wrote its ready file";
  child client(
      {"echo_client", "vsock://1:" + std::to_string(port), "--bytes", "2M", "--pings", "20"});
  EXPECT_EQ(client.wait(120s), 0) << "echo_client's exit status";
  EXPECT_EQ(server.wait(30s), 0) << "echo_server's exit status";
}

// The same over hvsock:// on the client side: the Linux hv_sock mapping
// (loopback -> CID 1) carries it, whatever ephemeral port the kernel picks.
TEST(Examples, EchoClientOverHvsockToEchoServer) {
  const std::uint32_t port = next_port();
  const std::string ready = temp_path("ready", port);
  ::unlink(ready.c_str());
  child server({"echo_server", "vsock://any:" + std::to_string(port), "--count", "1",
                "--ready-file", ready});
  ASSERT_TRUE(wait_for_file(ready, server)) << "echo_server never wrote its ready file";
  child client({"echo_client", "hvsock://loopback/" + std::to_string(port), "--bytes", "2M",
                "--pings", "20"});
  EXPECT_EQ(client.wait(120s), 0) << "echo_client's exit status";
  EXPECT_EQ(server.wait(30s), 0) << "echo_server's exit status";
}

}  // namespace
