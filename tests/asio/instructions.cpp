// User-space instructions of one asynchronous ping-pong step, vmsock's
// protocol type against asio's own, counted by callgrind (not built by
// default, not a ctest case; tests/vm/RESULTS.md has the figures):
//
//   cmake --build <build> --target vmsock_asio_instructions
//   valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=cg.V.N
//            <build>/tests/asio/vmsock_asio_instructions V N 64
//   for V in vmsock, generic and N in 1000, 3000: (Ir of cg.V.3000-01 minus
//   cg.V.1000-01) / 2000 is the main thread's cost of one step.
//
// vmsock: vmsock::asio::vsock_stream::socket; generic: asio's
// generic::stream_protocol::socket.  Each is given one end of an AF_UNIX
// socketpair (asio's send and receive paths do not look at the family, and
// this machine may make no VSOCK connection); a blocking echo thread serves
// the other end.  Arguments: vmsock|generic, steps, bytes per message.
#include <vmsock/interop/asio.hpp>

#include <asio.hpp>

#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

namespace {

template <class Socket> asio::awaitable<void> ping_pong(Socket& s, long steps, std::size_t size) {
  std::vector<char> buf(size, 'm');
  for (long i = 0; i < steps; ++i) {
    co_await asio::async_write(s, asio::buffer(buf), asio::use_awaitable);
    co_await asio::async_read(s, asio::buffer(buf), asio::use_awaitable);
  }
}

template <class Socket, class Protocol>
void run(int fd, const Protocol& protocol, long steps, std::size_t size) {
  asio::io_context io;
  Socket s(io, protocol, fd);
  asio::co_spawn(io, ping_pong(s, steps, size), asio::detached);
  io.run();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: vmsock_asio_instructions vmsock|generic STEPS BYTES\n");
    return 2;
  }
  const std::string_view variant = argv[1];
  const long steps = std::atol(argv[2]);
  const auto size = static_cast<std::size_t>(std::atol(argv[3]));
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 1;
  std::thread echo([peer = pair[1]] {
    std::vector<char> b(1 << 16);
    for (;;) {
      const ssize_t n = ::recv(peer, b.data(), b.size(), 0);
      if (n <= 0 || ::send(peer, b.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
    }
  });
  if (variant == "vmsock")
    run<vmsock::asio::vsock_stream::socket>(pair[0], vmsock::asio::vsock_stream(), steps, size);
  else
    run<asio::generic::stream_protocol::socket>(pair[0], asio::generic::stream_protocol(AF_UNIX, 0),
                                                steps, size);
  ::shutdown(pair[1], SHUT_RDWR);
  echo.join();
  return 0;
}
