// The relay's socket sides: a connected stream of any family (vmsock's
// any_stream_socket) and a connected UDP socket.  Everything goes through the
// library's public API: its send/receive with or without a deadline, cancel(),
// shutdown(), wait_readable/wait_writable; only splice(2) itself, which the
// library does not wrap, uses native_handle().
#pragma once

#include "relay.hpp"

#include <vmsock/any/stream_socket.hpp>
#include <vmsock/socket/datagram_socket.hpp>

#include <cstddef>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace vmsock_cli {

class socket_side final : public side {
 public:
  socket_side(vmsock::any_stream_socket s, std::string name) : s_(std::move(s)) {
    set_name(std::move(name));
  }

  std::size_t read(void* p, std::size_t n, const vmsock::deadline& when,
                   std::error_code& ec) noexcept override {
    if (when.is_never()) return s_.receive(p, n, ec);  // one recv(2), as raw code makes
    vmsock::mutable_buffer b{p, n};
    return s_.receive(b, when, ec);
  }
  std::size_t write(const void* p, std::size_t n, const vmsock::deadline& when,
                    std::error_code& ec) noexcept override {
    if (when.is_never()) return s_.send_all(p, n, ec);
    const vmsock::const_buffer b{p, n};
    return s_.send_all(b, when, ec);
  }
  void close_write(std::error_code& ec) noexcept override {
    s_.shutdown(vmsock::shutdown_type::send, ec);
  }
  void cancel() noexcept override { s_.cancel(); }
  void finish(bool) noexcept override {
    std::error_code ignored;
    s_.close(ignored);
  }

  side_kind kind() const noexcept override {
    switch (s_.scheme()) {
    case vmsock::uri_scheme::tcp: return side_kind::tcp;
    case vmsock::uri_scheme::unix_domain: return side_kind::unix_stream;
    // After its handshake a hybrid vsock connection is a Unix stream to the
    // VMM (splice(2) and the splice defaults are the Unix socket's).
    case vmsock::uri_scheme::hybrid_vsock: return side_kind::unix_stream;
    default: return side_kind::vsock;  // vsock, and hvsock (AF_VSOCK or AF_HYPERV)
    }
  }
  int splice_handle() const noexcept override {
#if VMSOCK_POSIX
    return s_.native_handle();
#else
    return -1;
#endif
  }
  void set_nonblocking(bool on, std::error_code& ec) noexcept override {
    s_.set_nonblocking(on, ec);
  }
  bool wait(bool readable, const vmsock::deadline& when, std::error_code& ec) noexcept override {
    return readable ? s_.wait_readable(when, ec) : s_.wait_writable(when, ec);
  }

 private:
  vmsock::any_stream_socket s_;
};

// udp://: each read is one datagram, each write one datagram (the relay keeps
// writes at most max_write()); there is no end of the stream to pass on.
template <class Endpoint> class udp_side final : public side {
 public:
  udp_side(vmsock::datagram_socket<Endpoint> s, std::string name) : s_(std::move(s)) {
    set_name(std::move(name));
  }

  std::size_t read(void* p, std::size_t n, const vmsock::deadline& when,
                   std::error_code& ec) noexcept override {
    if (when.is_never()) return s_.receive(p, n, ec);
    vmsock::mutable_buffer b{p, n};
    return s_.receive(b, when, ec);
  }
  std::size_t write(const void* p, std::size_t n, const vmsock::deadline& when,
                    std::error_code& ec) noexcept override {
    const vmsock::const_buffer b{p, n};
    if (when.is_never()) return s_.send(b, ec);
    return s_.send(b, when, ec);
  }
  void close_write(std::error_code& ec) noexcept override { ec.clear(); }
  void cancel() noexcept override { s_.cancel(); }
  void finish(bool) noexcept override {
    std::error_code ignored;
    s_.close(ignored);
  }
  side_kind kind() const noexcept override { return side_kind::udp; }
  bool has_end() const noexcept override { return false; }
  // The largest UDP payload: 65535 less the IPv4 and UDP headers (IPv6: less UDP's).
  std::size_t max_write() const noexcept override {
    return std::is_same_v<Endpoint, vmsock::inet4_endpoint> ? 65507 : 65527;
  }

 private:
  vmsock::datagram_socket<Endpoint> s_;
};

}  // namespace vmsock_cli
