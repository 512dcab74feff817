// Reading one line from a stream up to its '\n' and never past it, in few
// system calls: the hybrid vsock client's answer (socket/hybrid_vsock_socket.hpp,
// and the asio adapter's composed form) and the request line of `vmsock mux`.
// The bytes after the '\n' belong to someone else (the guest's first bytes,
// the client's first bytes for the guest) and must stay in the socket.
//
// A peek (MSG_PEEK) into the free room of the buffer shows what is there;
// then exactly the bytes up to and with the first '\n' are taken (all of the
// peeked bytes when there is no '\n' yet, and the next peek waits for more).
// Those bytes are already queued, so that taking receive returns at once: a
// line that came in one segment costs two receives.  Where the stream refuses
// the peek (Winsock's AF_UNIX on some Windows builds), the line is read in
// pieces that cannot reach past a '\n' (`piece`: the caller knows the
// shortest line its bytes so far can start), then one byte at a time.
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/config.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <cstring>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// What a stream that does not do MSG_PEEK answers to one (WSAEOPNOTSUPP,
// WSAEINVAL, EOPNOTSUPP): read without it.
inline bool peek_refused(const std::error_code& ec) noexcept {
  return ec == std::errc::operation_not_supported || ec == std::errc::invalid_argument;
}

// Of `n` peeked bytes at `p`, how many a line takes: up to and with the
// first '\n', or all of them.
inline std::size_t line_part(const char* p, std::size_t n) noexcept {
  const void* nl = n == 0 ? nullptr : std::memchr(p, '\n', n);
  return nl == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(nl) - p) + 1;
}

enum class line_read {
  complete,  // a '\n' came: the last byte taken (or, read in pieces, among them)
  full,      // `max` bytes and no '\n'
  closed,    // the end of the stream before the '\n'
  failed,    // a receive failed: ec (a deadline's timed_out, a cancel, ...)
};

// Reads into buf[len, max) until a '\n', `len` counting the bytes taken.
// receive(mutable_buffer, message_flags, ec) is one call's worth of the
// stream's receive (with the caller's deadline), 0 at its end;
// piece() how many bytes a read without a peek may ask for.
template <class Receive, class Piece>
line_read read_line(char* buf, std::size_t max, std::size_t& len, Receive&& receive, Piece&& piece,
                    std::error_code& ec) noexcept {
  bool peek = true;
  for (;;) {
    if (len >= max) return line_read::full;
    char* at = buf + len;
    const std::size_t want = peek ? max - len : piece();
    const std::size_t n =
        receive(mutable_buffer{at, want}, peek ? message_flags::peek : message_flags::none, ec);
    if (ec && peek && peek_refused(ec)) {
      ec.clear();
      peek = false;
      continue;
    }
    if (ec) return line_read::failed;
    if (n == 0) return line_read::closed;
    std::size_t take = line_part(at, n);
    const bool ended = at[take - 1] == '\n';
    if (!peek) {
      take = n;  // a plain read took them all
    } else {
      // Take what was peeked, no more: it is queued, each receive returns at once.
      for (std::size_t got = 0; got < take;) {
        const std::size_t m =
            receive(mutable_buffer{at + got, take - got}, message_flags::none, ec);
        if (ec) return line_read::failed;
        if (m == 0) {
          len += got;
          return line_read::closed;
        }
        got += m;
      }
    }
    len += take;
    if (ended) return line_read::complete;
  }
}

}  // namespace detail
VMSOCK_END_NAMESPACE
