// The hybrid vsock handshake on a connected Unix socket, shared by the
// synchronous socket (socket/hybrid_vsock_socket.hpp) and the asio adapter:
// the request line, the VMM's answer read up to its '\n' and never past it,
// and the words of a failure.
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/config.hpp>
#include <vmsock/detail/read_line.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE

namespace detail {

// The VMM's answer line, as received (its '\n' included when it came).
struct hybrid_answer {
  // The longest answer read: "OK " and a GUID in braces with its '\n' is 42.
  static constexpr std::size_t max = 64;
  char text[max] = {};
  std::uint8_t len = 0;
  // The VMM took the Unix connection and its answer had not ended (no '\n',
  // no close) when the handshake stopped: a timeout there is the VMM's
  // silence, not a socket file that is missing or a VMM that refused.
  bool awaited = false;

  std::string_view raw() const noexcept { return {text, len}; }
  // The line without its '\n'.
  std::string_view line() const noexcept {
    std::string_view l = raw();
    if (!l.empty() && l.back() == '\n') l.remove_suffix(1);
    return l;
  }
  bool is_ok() const noexcept { return starts_ok(line()); }
  // How many bytes a stream that cannot peek asks for next, so that it never
  // takes one past the answer's '\n' (the guest's bytes may follow in the same
  // write): up to the shortest line the bytes so far can start, "OK\n" (3), or
  // "OK 0\n" (5) once "OK " came; then one at a time.
  std::size_t next_read() const noexcept {
    if (len < 3) return 3u - len;
    if (len < 5 && text[0] == 'O' && text[1] == 'K' && text[2] == ' ') return 5u - len;
    return 1;
  }
  // What follows "OK ": Firecracker's host-side port, vhost-device-vsock's
  // guest port, OpenVMM's GUID.
  std::string_view argument() const noexcept {
    std::string_view l = line();
    if (!starts_ok(l)) return {};
    l.remove_prefix(2);
    while (!l.empty() && l.front() == ' ') l.remove_prefix(1);
    return l;
  }

 private:
  static bool starts_ok(std::string_view l) noexcept {
    return l.size() >= 2 && l[0] == 'O' && l[1] == 'K' && (l.size() == 2 || l[2] == ' ');
  }
};

// "CONNECT <port>\n" into `out` (at least 20 bytes); its length.
inline std::size_t hybrid_request(char* out, std::uint32_t port) noexcept {
  constexpr std::string_view verb = "CONNECT ";
  std::size_t n = 0;
  for (char c : verb) out[n++] = c;
  char digits[10];
  std::size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + port % 10);
    port /= 10;
  } while (port != 0);
  while (d != 0) out[n++] = digits[--d];
  out[n++] = '\n';
  return n;
}

// What a close by the VMM looks like when it did not read all of the request
// first (Firecracker past its 1023 connections accepts and drops at once):
// EPIPE to the send, ECONNRESET (Windows: also WSAECONNABORTED) to the
// receive, instead of an end of stream.  A close without a word all the same.
inline bool hybrid_closed_by_vmm(const std::error_code& ec) noexcept {
  return ec == std::errc::broken_pipe || ec == std::errc::connection_reset ||
         ec == std::errc::connection_aborted;
}

// The handshake on a connected Unix socket `s` (a socket_core of a class that
// grants access: the callers pass their own send and receive), by `when`.
// SendAll(const_buffer, ec) sends every byte; Receive(mutable_buffer,
// message_flags, ec) one call's worth.  A stream's answer is read with
// detail::read_line (a peek, then exactly the line); on failure `a` holds what
// came back.
template <socket_type Kind, class SendAll, class Receive>
void hybrid_handshake(std::uint32_t port, hybrid_answer& a, std::error_code& ec, SendAll send_all,
                      Receive receive) noexcept {
  a = hybrid_answer{};
  a.awaited = true;
  char request[24];
  const std::size_t n = hybrid_request(request, port);
  if constexpr (Kind == socket_type::seqpacket) {
    // Firecracker's seqpacket muxer reads the request as it reads a stream's:
    // one read of 10 bytes ("CONNECT 0\n", the shortest request), then one
    // byte per read up to the '\n'.  On a SOCK_SEQPACKET socket each read
    // takes one message and drops what of it does not fit, so one message of
    // "CONNECT 5000\n" would lose "00\n".  The request goes as those reads
    // take it: its first 10 bytes in one message, then a message per byte.
    // The muxer reads them without waiting once the first is there, so they
    // go back to back, right after the connect.
    for (std::size_t at = 0; at < n && !ec;) {
      const std::size_t part = at == 0 ? (n < 10 ? n : 10) : 1;
      send_all(const_buffer{request + at, part}, ec);
      at += part;
    }
  } else {
    send_all(const_buffer{request, n}, ec);
  }
  if (ec) {
    if (hybrid_closed_by_vmm(ec)) {
      a.awaited = false;
      ec = make_error_code(errc::hybrid_vsock_refused);
    }
    return;
  }
  if constexpr (Kind == socket_type::seqpacket) {
    const std::size_t got = receive(mutable_buffer{a.text, a.max}, message_flags::none, ec);
    if (ec == errc::message_truncated) {
      a.len = static_cast<std::uint8_t>(a.max);
      a.awaited = false;
      ec = make_error_code(errc::hybrid_vsock_bad_answer);
      return;
    }
    if (ec && !hybrid_closed_by_vmm(ec)) return;
    a.len = static_cast<std::uint8_t>(ec ? 0 : got);
  } else {
    std::size_t len = 0;
    const line_read r = read_line(
        a.text, a.max, len, receive,
        [&] {
          a.len = static_cast<std::uint8_t>(len);
          return a.next_read();
        },
        ec);
    a.len = static_cast<std::uint8_t>(len);
    if (r == line_read::full) {
      a.awaited = false;
      ec = make_error_code(errc::hybrid_vsock_bad_answer);
      return;
    }
    // (A VMM that closed before reading it all: ECONNRESET rather than an end.)
    if (r == line_read::failed && !hybrid_closed_by_vmm(ec)) return;
  }
  a.awaited = false;  // it ended: a '\n', or the VMM closed
  if (a.len == 0) {
    ec = make_error_code(errc::hybrid_vsock_refused);
    return;
  }
  if (!a.is_ok() || (Kind == socket_type::stream && a.text[a.len - 1] != '\n')) {
    ec = make_error_code(errc::hybrid_vsock_bad_answer);
    return;
  }
  ec.clear();
}

// "hybrid-vsock:///run/fc.vsock:5000" (after "connect to") and, for an answer
// that is not OK, what came back; for a timeout while the VMM held the
// connection, that it did not answer (so that nobody looks for a missing
// socket file or a stopped VMM).  (A seqpacket answer is one message: one
// without a '\n' was not cut by a close.)
inline std::string hybrid_failure(const hybrid_vsock_endpoint& ep, const std::error_code& ec,
                                  const hybrid_answer& a, socket_type kind = socket_type::stream) {
  std::string s = ep.to_string();
  if (ec == errc::hybrid_vsock_bad_answer) {
    s += " (answered ";
    s += quote(a.raw());
    if (a.len == a.max)
      s += ", cut at 64 bytes";
    else if (kind == socket_type::stream && a.raw().back() != '\n')
      s += ", then closed";
    s += ')';
  } else if (ec == std::errc::timed_out && a.awaited) {
    if (a.len == 0) {
      s += " (the VMM took the connection and sent no answer)";
    } else {
      s += " (the VMM took the connection and answered ";
      s += quote(a.raw());
      s += " with no end of line)";
    }
  }
  return s;
}

}  // namespace detail

VMSOCK_END_NAMESPACE
