// stream_socket<Endpoint, Policy>: a connected byte stream.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/connected_ops.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE

namespace detail {
// "receive_exact from tcp://... (5 of 8 bytes received): ...".
[[noreturn]] VMSOCK_NOINLINE inline void throw_partial(const std::error_code& ec,
                                                       std::string_view op, std::string what,
                                                       std::size_t done, std::size_t total,
                                                       const char* verb) {
  what += " (";
  append_decimal(what, done);
  what += " of ";
  append_decimal(what, total);
  what += " bytes ";
  what += verb;
  what += ')';
  throw_error(ec, op, what);
}
}  // namespace detail

template <class Endpoint, class Policy, class Socket> class listener;

// A connected byte stream: TCP, Unix stream, VSOCK stream, Hyper-V socket.
template <class Endpoint, class Policy = default_policy>
class stream_socket : public detail::connected_ops<stream_socket<Endpoint, Policy>, Endpoint,
                                                   Policy, socket_type::stream> {
  using base =
      detail::connected_ops<stream_socket<Endpoint, Policy>, Endpoint, Policy, socket_type::stream>;
  friend base;

 public:
  stream_socket() noexcept = default;
  explicit stream_socket(typename Policy::handle h, socket_type type = socket_type::stream) noexcept
      : base(h, type) {}

 private:
  template <class, class, class> friend class listener;
  stream_socket(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:
  using base::connect;

  // Every buffer form of send and receive, each with and without a deadline
  // (a duration, or a steady_clock time point shared by several calls), each
  // throwing and with a trailing std::error_code&:
  //   s.send_all({buffer(header), buffer(body)}, 5s, ec);
  //   s.receive_exact(data, size, until);
  //
  // Sends every byte, looping over short writes; with a deadline, all of them
  // by then.  Returns the bytes sent: all of them unless ec is set.  On a
  // non-blocking socket it never waits: it stops at would_block, with the
  // count sent so far.
  std::size_t send_all(const const_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return this->template transfer_all<true>(bufs, count, detail::forever{}, ec);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count, deadline when,
                       std::error_code& ec) noexcept {
    return this->template transfer_all<true>(bufs, count, when, ec);
  }
  std::size_t send_all(const_buffer b, deadline when, std::error_code& ec) noexcept {
    return this->template transfer_all<true>(&b, 1, when, ec);
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r, deadline when, std::error_code& ec) noexcept {
    return send_all(buffer(r), when, ec);
  }
  std::size_t send_all(std::initializer_list<const_buffer> bufs, deadline when,
                       std::error_code& ec) noexcept {
    return send_all(bufs.begin(), bufs.size(), when, ec);
  }
  std::size_t send_all(const void* data, std::size_t size, deadline when,
                       std::error_code& ec) noexcept {
    return send_all(const_buffer{data, size}, when, ec);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count, deadline when) {
    std::error_code ec;
    const std::size_t n = send_all(bufs, count, when, ec);
    if (ec) partial_failure(ec, "send_all to", n, total_size(bufs, count), "sent");
    return n;
  }
  std::size_t send_all(const_buffer b, deadline when) { return send_all(&b, 1, when); }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r, deadline when) {
    return send_all(buffer(r), when);
  }
  std::size_t send_all(std::initializer_list<const_buffer> bufs, deadline when) {
    return send_all(bufs.begin(), bufs.size(), when);
  }
  std::size_t send_all(const void* data, std::size_t size, deadline when) {
    return send_all(const_buffer{data, size}, when);
  }
  std::size_t send_all(const_buffer b, std::error_code& ec) noexcept { return send_all(&b, 1, ec); }
  std::size_t send_all(std::initializer_list<const_buffer> bufs, std::error_code& ec) noexcept {
    return send_all(bufs.begin(), bufs.size(), ec);
  }
  std::size_t send_all(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return send_all(const_buffer{data, size}, ec);
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r, std::error_code& ec) noexcept {
    return send_all(buffer(r), ec);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count) {
    std::error_code ec;
    const std::size_t n = send_all(bufs, count, ec);
    if (ec) partial_failure(ec, "send_all to", n, total_size(bufs, count), "sent");
    return n;
  }
  std::size_t send_all(const_buffer b) { return send_all(&b, 1); }
  std::size_t send_all(std::initializer_list<const_buffer> bufs) {
    return send_all(bufs.begin(), bufs.size());
  }
  std::size_t send_all(const void* data, std::size_t size) {
    return send_all(const_buffer{data, size});
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r) {
    return send_all(buffer(r));
  }

  // Fills the buffers completely (with a deadline, by then).  If the peer
  // closes first the error is errc::end_of_stream and the result says how many
  // bytes did arrive; if it closed before the first byte (a clean end between
  // messages, not a message cut short) the code is errc::clean_end_of_stream,
  // which is end_of_stream too:
  //   if (ec == vmsock::errc::clean_end_of_stream) return;   // the peer is done
  //   if (ec == vmsock::errc::end_of_stream) ...              // a message cut short
  // On a non-blocking socket it stops at would_block, with the count received
  // so far.
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count,
                            std::error_code& ec) noexcept {
    return this->template transfer_all<false>(bufs, count, detail::forever{}, ec);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count, deadline when,
                            std::error_code& ec) noexcept {
    return this->template transfer_all<false>(bufs, count, when, ec);
  }
  std::size_t receive_exact(mutable_buffer b, deadline when, std::error_code& ec) noexcept {
    return this->template transfer_all<false>(&b, 1, when, ec);
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_exact(R& r, deadline when, std::error_code& ec) noexcept {
    return receive_exact(buffer(r), when, ec);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> bufs, deadline when,
                            std::error_code& ec) noexcept {
    return receive_exact(bufs.begin(), bufs.size(), when, ec);
  }
  std::size_t receive_exact(void* data, std::size_t size, deadline when,
                            std::error_code& ec) noexcept {
    return receive_exact(mutable_buffer{data, size}, when, ec);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count, deadline when) {
    std::error_code ec;
    const std::size_t n = receive_exact(bufs, count, when, ec);
    if (ec) partial_failure(ec, "receive_exact from", n, total_size(bufs, count), "received");
    return n;
  }
  std::size_t receive_exact(mutable_buffer b, deadline when) { return receive_exact(&b, 1, when); }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_exact(R& r, deadline when) {
    return receive_exact(buffer(r), when);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> bufs, deadline when) {
    return receive_exact(bufs.begin(), bufs.size(), when);
  }
  std::size_t receive_exact(void* data, std::size_t size, deadline when) {
    return receive_exact(mutable_buffer{data, size}, when);
  }
  std::size_t receive_exact(mutable_buffer b, std::error_code& ec) noexcept {
    return receive_exact(&b, 1, ec);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> bufs,
                            std::error_code& ec) noexcept {
    return receive_exact(bufs.begin(), bufs.size(), ec);
  }
  std::size_t receive_exact(void* data, std::size_t size, std::error_code& ec) noexcept {
    return receive_exact(mutable_buffer{data, size}, ec);
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_exact(R& r, std::error_code& ec) noexcept {
    return receive_exact(buffer(r), ec);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count) {
    std::error_code ec;
    const std::size_t n = receive_exact(bufs, count, ec);
    if (ec) partial_failure(ec, "receive_exact from", n, total_size(bufs, count), "received");
    return n;
  }
  std::size_t receive_exact(mutable_buffer b) { return receive_exact(&b, 1); }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> bufs) {
    return receive_exact(bufs.begin(), bufs.size());
  }
  std::size_t receive_exact(void* data, std::size_t size) {
    return receive_exact(mutable_buffer{data, size});
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_exact(R& r) {
    return receive_exact(buffer(r));
  }

 private:
  [[noreturn]] VMSOCK_NOINLINE void partial_failure(const std::error_code& ec, std::string_view op,
                                                    std::size_t done, std::size_t total,
                                                    const char* verb) const {
    detail::throw_partial(ec, op, this->describe_self(), done, total, verb);
  }
};

VMSOCK_END_NAMESPACE
