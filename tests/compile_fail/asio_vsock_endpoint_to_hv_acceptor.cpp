// Must NOT compile: a VSOCK endpoint given to a Hyper-V acceptor (vmsock::asio).
#include <vmsock/interop/asio.hpp>

void misuse(::asio::io_context& io) {
  vmsock::asio::hv_stream::acceptor acceptor(io,
                                             vmsock::vsock_endpoint{vmsock::vsock::cid::any, 5000});
}
