// Every buffer form of send, receive, send_all and receive_exact, with and
// without a deadline, throwing and with std::error_code&, on stream_socket and
// any_stream_socket (and send/receive on a connected datagram socket): each
// call must name one overload, without ambiguity between an initializer_list
// of buffers and a range, a pointer and size and a pointer to buffers, or a
// deadline made from a duration and one from a time point.  Compiled by the
// compile matrix (tests/compile/CMakeLists.txt); never run.
#pragma once

#include <vmsock/any/stream_socket.hpp>
#include <vmsock/socket/aliases.hpp>

#include <array>
#include <chrono>
#include <string>
#include <system_error>
#include <vector>

namespace vmsock_compile {

template <class S>
inline void every_form(S& s, const std::string& hdr, const std::vector<char>& body, char* data,
                       std::size_t size, std::error_code& ec) {
  using namespace std::chrono_literals;
  const vmsock::deadline until = std::chrono::steady_clock::now() + 5s;
  const auto at = std::chrono::steady_clock::now() + 5s;
  std::array<char, 4> a{};
  const vmsock::const_buffer out[2] = {vmsock::buffer(hdr), vmsock::buffer(body)};
  const vmsock::mutable_buffer in[2] = {vmsock::buffer(a), vmsock::buffer(data, size)};

  // send_all and send: scatter/gather, pointer and size, pointers to buffers, ranges.
  s.send_all({vmsock::buffer(hdr), vmsock::buffer(body)}, 5s, ec);
  s.send_all({vmsock::buffer(hdr), vmsock::buffer(body)}, 5s);
  s.send_all({vmsock::buffer(hdr), vmsock::buffer(body)}, until, ec);
  s.send_all({vmsock::buffer(hdr), vmsock::buffer(body)}, at);
  s.send_all({vmsock::buffer(hdr), vmsock::buffer(body)}, ec);
  s.send_all({vmsock::buffer(hdr), vmsock::buffer(body)});
  s.send_all(data, size, 5s, ec);
  s.send_all(data, size, 2500ms);
  s.send_all(data, size, ec);
  s.send_all(data, size);
  s.send_all(out, 2, 5s, ec);
  s.send_all(out, 2, until);
  s.send_all(out, 2, ec);
  s.send_all(out, 2);
  s.send_all(hdr, 5s, ec);
  s.send_all(hdr, at);
  s.send_all(out[0], 5s);
  s.send({vmsock::buffer(hdr), vmsock::buffer(body)}, 5s, ec);
  s.send({vmsock::buffer(hdr), vmsock::buffer(body)}, until);
  s.send(data, size, 5s, ec);
  s.send(data, size, at);
  s.send(out, 2, 5s, ec);
  s.send(out, 2, 5s);
  s.send(body, 5s, ec);

  // receive_exact and receive.
  s.receive_exact({vmsock::buffer(a), vmsock::buffer(data, size)}, 5s, ec);
  s.receive_exact({vmsock::buffer(a), vmsock::buffer(data, size)}, until);
  s.receive_exact({vmsock::buffer(a)}, ec);
  s.receive_exact(data, size, 5s, ec);
  s.receive_exact(data, size, at);
  s.receive_exact(data, size, ec);
  s.receive_exact(in, 2, 5s, ec);
  s.receive_exact(in, 2, until);
  s.receive_exact(in, 2, ec);
  s.receive_exact(a, 5s, ec);
  s.receive_exact(a, 5s);
  s.receive({vmsock::buffer(a), vmsock::buffer(data, size)}, 5s, ec);
  s.receive({vmsock::buffer(a), vmsock::buffer(data, size)}, at);
  s.receive(data, size, 2s, ec);
  s.receive(data, size, 2s);
  s.receive(data, size, ec);
  s.receive(in, 2, 5s, ec);
  s.receive(in, 2, until);
  s.receive(a, until, ec);
}

inline void on_stream_sockets(vmsock::tcp4_socket& t, vmsock::unix_stream_socket& u,
                              vmsock::any_stream_socket& any, const std::string& hdr,
                              const std::vector<char>& body, char* data, std::size_t size,
                              std::error_code& ec) {
  every_form(t, hdr, body, data, size, ec);
  every_form(u, hdr, body, data, size, ec);
  every_form(any, hdr, body, data, size, ec);
}

// A connected datagram socket: send and receive (no send_all or receive_exact).
inline void on_datagram_socket(vmsock::udp4_socket& d, char* data, std::size_t size,
                               std::error_code& ec) {
  using namespace std::chrono_literals;
  d.send(data, size, 5s, ec);
  d.send({vmsock::buffer(data, size)}, 5s);
  d.receive(data, size, 5s, ec);
  d.receive({vmsock::buffer(data, size)}, 5s);
}

}  // namespace vmsock_compile
