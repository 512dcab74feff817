// stream_socket<Endpoint, Policy>: a connected byte stream.
#pragma once

#include <vmsock/detail/connected_ops.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>

namespace vmsock {

template <class Endpoint, class Policy, class Socket>
class listener;

// A connected byte stream: TCP, Unix stream, VSOCK stream, Hyper-V socket.
template <class Endpoint, class Policy = default_policy>
class stream_socket
    : public detail::connected_ops<stream_socket<Endpoint, Policy>, Endpoint, Policy,
                                  socket_type::stream> {
  using base = detail::connected_ops<stream_socket<Endpoint, Policy>, Endpoint, Policy,
                                  socket_type::stream>;
  friend base;

 public:
  stream_socket() noexcept = default;
  explicit stream_socket(typename Policy::handle h,
                         socket_type type = socket_type::stream) noexcept
      : base(h, type) {}

 private:
  template <class, class, class>
  friend class listener;
  stream_socket(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

 public:
  // Create, connect, return the connected socket: one call.  With a timeout the
  // connect is non-blocking plus a wait; expiry is errc::timed_out
  // (== std::errc::timed_out).
  static stream_socket connect(const Endpoint& remote, timeout t, std::error_code& ec) noexcept {
    return base::connect_socket(remote, nullptr, t, ec);
  }
  static stream_socket connect(const Endpoint& remote, std::error_code& ec) noexcept {
    return connect(remote, no_timeout, ec);
  }
  // As connect, from a given local endpoint (bound first).
  static stream_socket connect(const Endpoint& remote, const Endpoint& local, timeout t,
                               std::error_code& ec) noexcept {
    return base::connect_socket(remote, &local, t, ec);
  }
  static stream_socket connect(const Endpoint& remote, timeout t = no_timeout) {
    std::error_code ec;
    auto s = connect(remote, t, ec);
    if (ec) detail::throw_error(ec, "connect to", detail::describe(remote, socket_type::stream));
    return s;
  }
  static stream_socket connect(const Endpoint& remote, const Endpoint& local,
                               timeout t = no_timeout) {
    std::error_code ec;
    auto s = connect(remote, local, t, ec);
    if (ec) detail::throw_error(ec, "connect to", detail::describe(remote, socket_type::stream));
    return s;
  }

  // Sends every byte, looping over short writes (and, on a non-blocking socket,
  // waiting for room).  Returns the bytes sent: all of them unless ec is set.
  std::size_t send_all(const const_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return transfer_all<true>(bufs, count, ec);
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
  std::size_t send_all(const void* data, std::size_t size) { return send_all(const_buffer{data, size}); }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r) {
    return send_all(buffer(r));
  }

  // Fills the buffers completely.  If the peer closes first the error is
  // errc::end_of_stream and the result says how many bytes did arrive.
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count,
                            std::error_code& ec) noexcept {
    return transfer_all<false>(bufs, count, ec);
  }
  std::size_t receive_exact(mutable_buffer b, std::error_code& ec) noexcept {
    return receive_exact(&b, 1, ec);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> bufs, std::error_code& ec) noexcept {
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
  template <bool Sending, class Buffer>
  std::size_t transfer_all(const Buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    if (count == 1) return transfer_one<Sending>(bufs[0], ec);
    return transfer_many<Sending>(bufs, count, ec);
  }

  // One step of send/receive; false when the loop must stop (ec says why:
  // an error, or end_of_stream).  A would-block on a non-blocking socket
  // waits for readiness and reports zero bytes.
  template <bool Sending, class Buffer>
  bool step(const Buffer* window, std::size_t n, std::size_t& got, std::error_code& ec) noexcept {
    if constexpr (Sending)
      got = Policy::send(this->handle_, window, n, message_flags::none, ec);
    else
      got = Policy::receive(this->handle_, window, n, message_flags::none, ec);
    if (ec) {
      got = 0;
      if (this->nonblocking_ && detail::would_block(ec))
        return Policy::poll(this->handle_, Sending ? wait_type::writable : wait_type::readable,
                            no_timeout, ec);
      this->normalize_timeout(ec);
      return false;
    }
    if (!Sending && got == 0) {
      ec = make_error_code(errc::end_of_stream);
      return false;
    }
    return true;
  }

  template <bool Sending, class Buffer>
  static Buffer advanced(const Buffer& b, std::size_t by) noexcept {
    using byte_ptr = std::conditional_t<Sending, const char*, char*>;
    return Buffer{static_cast<decltype(Buffer{}.data)>(static_cast<byte_ptr>(b.data) + by),
                  b.size - by};
  }

  // The common case, one buffer: no window to build.
  template <bool Sending, class Buffer>
  std::size_t transfer_one(const Buffer& b, std::error_code& ec) noexcept {
    std::size_t done = 0;
    ec.clear();
    while (done < b.size) {
      const Buffer rest = advanced<Sending>(b, done);
      std::size_t got = 0;
      if (!step<Sending>(&rest, 1, got, ec)) return done;
      done += got;
    }
    return done;
  }

  // Moves through a buffer sequence without copying it: `first` is the index
  // of the first unfinished buffer and `offset` how far into it we are.
  template <bool Sending, class Buffer>
  std::size_t transfer_many(const Buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    std::size_t done = 0;
    std::size_t first = 0;
    std::size_t offset = 0;
    ec.clear();
    while (first < count && bufs[first].size == offset) ++first, offset = 0;
    // The current window: the rest of bufs[first], then whole non-empty
    // buffers.  Declared once per call (its entries are value-initialised: a
    // 1 KiB store that must not recur on every pass).
    Buffer window[Policy::max_buffers];
    while (first < count) {
      std::size_t n = 0;
      window[n++] = advanced<Sending>(bufs[first], offset);
      for (std::size_t i = first + 1; i < count && n < Policy::max_buffers; ++i)
        if (bufs[i].size != 0) window[n++] = bufs[i];
      std::size_t got = 0;
      if (!step<Sending>(window, n, got, ec)) return done;
      done += got;
      // Advance (first, offset) by `got` bytes.
      while (got > 0 && first < count) {
        const std::size_t left = bufs[first].size - offset;
        if (got < left) {
          offset += got;
          got = 0;
        } else {
          got -= left;
          ++first;
          offset = 0;
        }
      }
      while (first < count && bufs[first].size == offset) ++first, offset = 0;
    }
    return done;
  }

  [[noreturn]] VMSOCK_NOINLINE void partial_failure(const std::error_code& ec, std::string_view op,
                                                    std::size_t done, std::size_t total,
                                                    const char* verb) const {
    std::string what = this->describe_self();
    what += " (";
    detail::append_decimal(what, done);
    what += " of ";
    detail::append_decimal(what, total);
    what += " bytes ";
    what += verb;
    what += ')';
    detail::throw_error(ec, op, what);
  }
};

}  // namespace vmsock
