// Must NOT compile: an IP endpoint given to a VSOCK socket (vmsock::asio).
#include <vmsock/interop/asio.hpp>

void misuse(::asio::io_context& io) {
  vmsock::asio::vsock_stream::socket socket(io);
  socket.connect(::asio::ip::tcp::endpoint(::asio::ip::address_v4::loopback(), 5000));
}
