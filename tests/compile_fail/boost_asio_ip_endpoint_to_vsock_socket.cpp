// Must NOT compile: an IP endpoint given to a VSOCK socket (vmsock::boost_asio).
#include <vmsock/interop/boost_asio.hpp>

void misuse(boost::asio::io_context& io) {
  vmsock::boost_asio::vsock_stream::socket socket(io);
  socket.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 5000));
}
