// An installed vmsock's asio adapter, built with `pkg-config --cflags --libs
// vmsock` alone (standalone asio from the compiler's default include path):
// the protocol and endpoint types, and a VSOCK acceptor where this machine
// has AF_VSOCK (open, bind, listen: never a connect).
#include <vmsock/asio.hpp>

#include "../consumer/checks.hpp"

#include <cstdio>
#include <system_error>

int main() {
  using consumer::check;
  const vmsock::asio::vsock_stream::endpoint ep = vmsock::vsock_endpoint{2, 5000};
  check(ep.to_string() == "vsock://2:5000", "vsock_stream::endpoint from vsock://2:5000");
  check(ep.size() == (vmsock::asio::vsock_stream().family() == 34 ? 36u : 16u),
        "its native form is the OS family's");
  const vmsock::vsock_endpoint back = ep;
  check(back.port == 5000, "and back to vmsock::vsock_endpoint");

  ::asio::io_context io;
  vmsock::asio::vsock_stream::acceptor acceptor(io);
  std::error_code ec;
  acceptor.open(vmsock::asio::vsock_stream(), ec);
  if (ec) {
    std::printf("skip an AF_VSOCK acceptor: %s\n", ec.message().c_str());
  } else {
    acceptor.bind(vmsock::vsock_endpoint{vmsock::vsock::cid::any, vmsock::vsock::port_any}, ec);
    if (!ec) acceptor.listen(::asio::socket_base::max_listen_connections, ec);
    check(!ec, "an AF_VSOCK acceptor listens");
  }
  return consumer::report();
}
