// Must NOT compile: a VSOCK endpoint given to a Hyper-V acceptor (vmsock::boost_asio).
#include <vmsock/interop/boost_asio.hpp>

void misuse(boost::asio::io_context& io) {
  vmsock::boost_asio::hv_stream::acceptor acceptor(
      io, vmsock::vsock_endpoint{vmsock::vsock::cid::any, 5000});
}
