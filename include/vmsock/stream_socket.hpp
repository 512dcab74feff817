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
  using base::connect;

  // Sends every byte, looping over short writes; with a deadline, all of them
  // by then.  Returns the bytes sent: all of them unless ec is set.  On a
  // non-blocking socket it never waits: it stops at would_block, with the
  // count sent so far.
  std::size_t send_all(const const_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return transfer_all<true>(bufs, count, detail::forever{}, ec);
  }
  std::size_t send_all(const_buffer b, deadline when, std::error_code& ec) noexcept {
    return transfer_all<true>(&b, 1, when, ec);
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r, deadline when, std::error_code& ec) noexcept {
    return send_all(buffer(r), when, ec);
  }
  std::size_t send_all(const_buffer b, deadline when) {
    std::error_code ec;
    const std::size_t n = send_all(b, when, ec);
    if (ec) partial_failure(ec, "send_all to", n, b.size, "sent");
    return n;
  }
  template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
  std::size_t send_all(const R& r, deadline when) {
    return send_all(buffer(r), when);
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

  // Fills the buffers completely (with a deadline, by then).  If the peer
  // closes first the error is errc::end_of_stream and the result says how many
  // bytes did arrive.  On a non-blocking socket it stops at would_block, with
  // the count received so far.
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count,
                            std::error_code& ec) noexcept {
    return transfer_all<false>(bufs, count, detail::forever{}, ec);
  }
  std::size_t receive_exact(mutable_buffer b, deadline when, std::error_code& ec) noexcept {
    return transfer_all<false>(&b, 1, when, ec);
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_exact(R& r, deadline when, std::error_code& ec) noexcept {
    return receive_exact(buffer(r), when, ec);
  }
  std::size_t receive_exact(mutable_buffer b, deadline when) {
    std::error_code ec;
    const std::size_t n = receive_exact(b, when, ec);
    if (ec) partial_failure(ec, "receive_exact from", n, b.size, "received");
    return n;
  }
  template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
  std::size_t receive_exact(R& r, deadline when) {
    return receive_exact(buffer(r), when);
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
  template <bool Sending, class Buffer, class When>
  std::size_t transfer_all(const Buffer* bufs, std::size_t count, const When& when,
                           std::error_code& ec) noexcept {
    if (count == 1) return transfer_one<Sending>(bufs[0], when, ec);
    return transfer_many<Sending>(bufs, count, when, ec);
  }

  // One step of send/receive; false when the loop must stop (ec says why:
  // an error, would_block on a non-blocking socket, or end_of_stream).
  template <bool Sending, class Buffer, class When>
  bool step(const Buffer* window, std::size_t n, const When& when, std::size_t& got,
            std::error_code& ec) noexcept {
    if constexpr (Sending)
      got = this->send_until(window, n, message_flags::none, when, ec);
    else
      got = this->receive_until(window, n, message_flags::none, when, ec);
    if (ec) {
      got = 0;
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
  template <bool Sending, class Buffer, class When>
  std::size_t transfer_one(const Buffer& b, const When& when, std::error_code& ec) noexcept {
    std::size_t done = 0;
    ec.clear();
    while (done < b.size) {
      const Buffer rest = advanced<Sending>(b, done);
      std::size_t got = 0;
      if (!step<Sending>(&rest, 1, when, got, ec)) return done;
      done += got;
    }
    return done;
  }

  // Moves through a buffer sequence without copying it: `first` is the index
  // of the first unfinished buffer and `offset` how far into it we are.
  template <bool Sending, class Buffer, class When>
  std::size_t transfer_many(const Buffer* bufs, std::size_t count, const When& when,
                            std::error_code& ec) noexcept {
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
      if (!step<Sending>(window, n, when, got, ec)) return done;
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
