// The operations every connected socket shares (send and receive in every
// buffer form, shutdown, peer_endpoint, connect-in-one-call), for
// stream_socket, datagram_socket and seqpacket_socket.
#pragma once

#include <vmsock/basic_socket.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>

namespace vmsock {

namespace detail {

// Connected-socket operations shared by stream and seqpacket sockets, and by
// connected datagram sockets: send and receive with every buffer form.  Kind
// says whether a receive is a byte stream (zero bytes: the peer is done) or a
// message (its full length is asked for; a larger one is message_truncated).
template <class Derived, class Endpoint, class Policy, socket_type Kind>
class connected_ops : public basic_socket<Endpoint, Policy> {
  using base = basic_socket<Endpoint, Policy>;

 public:
  static constexpr socket_type kind = Kind;
  using base::base;

 protected:
  connected_ops(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:
  // ---- send ----
  std::size_t send(const const_buffer* bufs, std::size_t count, message_flags flags,
                   std::error_code& ec) noexcept {
    const std::size_t n = Policy::send(this->handle_, bufs, count, flags, ec);
    if (ec) this->normalize_timeout(ec);
    return n;
  }
  std::size_t send(const_buffer b, message_flags flags, std::error_code& ec) noexcept {
    return send(&b, 1, flags, ec);
  }
  std::size_t send(const_buffer b, std::error_code& ec) noexcept {
    return send(&b, 1, message_flags::none, ec);
  }
  std::size_t send(std::initializer_list<const_buffer> bufs, std::error_code& ec) noexcept {
    return send(bufs.begin(), bufs.size(), message_flags::none, ec);
  }
  std::size_t send(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return send(const_buffer{data, size}, ec);
  }
  template <class R, std::enable_if_t<is_const_range<R>, int> = 0>
  std::size_t send(const R& r, std::error_code& ec) noexcept {
    return send(buffer(r), ec);
  }

  std::size_t send(const const_buffer* bufs, std::size_t count,
                   message_flags flags = message_flags::none) {
    std::error_code ec;
    const std::size_t n = send(bufs, count, flags, ec);
    if (ec) this->fail(ec, "send to");
    return n;
  }
  std::size_t send(const_buffer b, message_flags flags = message_flags::none) {
    return send(&b, 1, flags);
  }
  std::size_t send(std::initializer_list<const_buffer> bufs) {
    return send(bufs.begin(), bufs.size());
  }
  std::size_t send(const void* data, std::size_t size) { return send(const_buffer{data, size}); }
  template <class R, std::enable_if_t<is_const_range<R>, int> = 0>
  std::size_t send(const R& r) {
    return send(buffer(r));
  }

  // ---- receive ----
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                      std::error_code& ec) noexcept {
    if constexpr (Kind != socket_type::stream) flags = flags | message_flags::report_full_length;
    const std::size_t n = Policy::receive(this->handle_, bufs, count, flags, ec);
    if (ec) {
      this->normalize_timeout(ec);
      return n;
    }
    if constexpr (Kind != socket_type::stream) {
      if (n > total_size(bufs, count)) ec = make_error_code(errc::message_truncated);
    }
    return n;
  }
  std::size_t receive(mutable_buffer b, message_flags flags, std::error_code& ec) noexcept {
    return receive(&b, 1, flags, ec);
  }
  std::size_t receive(mutable_buffer b, std::error_code& ec) noexcept {
    return receive(&b, 1, message_flags::none, ec);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> bufs, std::error_code& ec) noexcept {
    return receive(bufs.begin(), bufs.size(), message_flags::none, ec);
  }
  std::size_t receive(void* data, std::size_t size, std::error_code& ec) noexcept {
    return receive(mutable_buffer{data, size}, ec);
  }
  template <class R, std::enable_if_t<is_mutable_range<R>, int> = 0>
  std::size_t receive(R& r, std::error_code& ec) noexcept {
    return receive(buffer(r), ec);
  }

  std::size_t receive(const mutable_buffer* bufs, std::size_t count,
                      message_flags flags = message_flags::none) {
    std::error_code ec;
    const std::size_t n = receive(bufs, count, flags, ec);
    if (ec) receive_failed(ec, n, total_size(bufs, count));
    return n;
  }
  std::size_t receive(mutable_buffer b, message_flags flags = message_flags::none) {
    return receive(&b, 1, flags);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> bufs) {
    return receive(bufs.begin(), bufs.size());
  }
  std::size_t receive(void* data, std::size_t size) { return receive(mutable_buffer{data, size}); }
  template <class R, std::enable_if_t<is_mutable_range<R>, int> = 0>
  std::size_t receive(R& r) {
    return receive(buffer(r));
  }

  void shutdown(shutdown_type how, std::error_code& ec) noexcept {
    Policy::shutdown(this->handle_, how, ec);
  }
  void shutdown(shutdown_type how) {
    std::error_code ec;
    shutdown(how, ec);
    if (ec) this->fail(ec, "shutdown of");
  }

  Endpoint peer_endpoint(std::error_code& ec) const noexcept { return this->name_of(true, ec); }
  Endpoint peer_endpoint() const {
    std::error_code ec;
    auto ep = peer_endpoint(ec);
    if (ec) this->fail(ec, "peer_endpoint of");
    return ep;
  }

 protected:
  // Opens a socket of the derived type and connects it, waiting at most `t`.
  static Derived connect_socket(const Endpoint& remote, const Endpoint* local, timeout t,
                                std::error_code& ec) noexcept {
    typename base::os_endpoint native;
    if (!base::to_os(remote, native, ec)) return Derived{};
    Derived d(base::owned, Policy::open(base::native_family, Kind, base::native_protocol, ec), Kind);
    if (ec) return Derived{};
    if (local != nullptr) {
      d.bind(*local, ec);
      if (ec) return Derived{};
    }
    const auto sa = native.to_native();
    if (t < timeout::zero()) {
      Policy::connect(d.handle_, &sa, native.native_size(), ec);
      if (ec) return Derived{};
      return d;
    }
    // Timed: connect without blocking, wait for writability, read the result.
    Policy::set_nonblocking(d.handle_, true, ec);
    if (ec) return Derived{};
    Policy::connect(d.handle_, &sa, native.native_size(), ec);
    // Only "in progress" means the connect goes on; an AF_UNIX EAGAIN (a full
    // backlog) means it did not start.
    if (ec == std::errc::operation_in_progress) {
      if (!Policy::poll(d.handle_, wait_type::writable, t, ec)) {
        if (!ec) ec = make_error_code(errc::timed_out);
        return Derived{};
      }
      Policy::pending_error(d.handle_, ec);
    }
    if (ec) return Derived{};
    Policy::set_nonblocking(d.handle_, false, ec);
    if (ec) return Derived{};
    return d;
  }

  // The throwing receives' error path; a message socket adds the sizes.
  [[noreturn]] VMSOCK_NOINLINE void receive_failed(const std::error_code& ec, std::size_t n,
                                                   std::size_t capacity) const;
};

[[noreturn]] VMSOCK_NOINLINE inline void throw_message_error(const std::error_code& ec,
                                                             std::string what, std::size_t n,
                                                             std::size_t capacity) {
  if (ec == errc::message_truncated) {
    if (n > capacity) {
      what += " (message of ";
      append_decimal(what, n);
      what += " bytes, buffer of ";
    } else {  // the OS did not say how large it was (Windows)
      what += " (message larger than the buffer of ";
    }
    append_decimal(what, capacity);
    what += ')';
  }
  throw_error(ec, "receive from", what);
}

template <class Derived, class Endpoint, class Policy, socket_type Kind>
void connected_ops<Derived, Endpoint, Policy, Kind>::receive_failed(const std::error_code& ec,
                                                                    std::size_t n,
                                                                    std::size_t capacity) const {
  if constexpr (Kind == socket_type::stream) {
    (void)n, (void)capacity;
    this->fail(ec, "receive from");
  } else {
    throw_message_error(ec, this->describe_self(), n, capacity);
  }
}

}  // namespace detail

}  // namespace vmsock
