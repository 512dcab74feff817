// The request line of a hybrid vsock client, as `vmsock mux` reads it:
// "CONNECT <port>\n", read and judged the way Firecracker's vsock device
// reads it from its Unix socket, so that a client written for Firecracker
// sees the same answers:
//
//   - at most 32 bytes, and nothing the client sends after its line is
//     taken: those bytes stay in the socket and are relayed to the guest.
//     Firecracker reads as many as the shortest valid line needs ("CONNECT
//     0\n", 10 bytes), then one byte per read up to the '\n'; the mux peeks
//     at what came and takes exactly the line, up to and with its '\n'
//     (vmsock::detail::read_line: two receives for a line that came whole),
//     and reads as Firecracker does where the socket refuses the peek;
//   - words separated by ASCII white space; the first is "connect" in any
//     case, the second a decimal port that fits in 32 bits (an optional '+'
//     and leading zeros allowed); words after the port are ignored;
//   - anything else is refused, and the caller closes the connection without
//     a word.
//
// Where this differs from Firecracker (deliberately): a line that has no '\n'
// within 32 bytes is refused (Firecracker parses the 32 bytes it has and
// passes the rest of the line to the guest), a byte above 0x7f is refused
// (Firecracker refuses invalid UTF-8 only), the line has a deadline
// (Firecracker has none), and a line shorter than 10 bytes is taken alone
// (Firecracker's first read takes what follows it too; such a line is
// refused either way).
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/detail/read_line.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace vmsock_cli {
namespace mux {

inline constexpr std::size_t request_max = 32;  // Firecracker's buffer
inline constexpr std::size_t request_min = 10;  // "CONNECT 0\n"

// How reading a request line ended.
enum class line_end {
  complete,   // a '\n' came: line() is the line with its '\n'
  too_long,   // request_max bytes and no '\n'
  closed,     // the client closed (or half-closed) before its '\n'
  timed_out,  // the deadline passed before the '\n'
  failed,     // a receive failed (ec), or was cancelled
};

struct request_line {
  char text[request_max] = {};
  std::size_t read = 0;      // bytes taken from the socket
  std::size_t line_len = 0;  // up to and with the '\n' (complete only)
  line_end end = line_end::failed;
  std::error_code ec;

  std::string_view line() const noexcept { return {text, line_len}; }
  std::string_view raw() const noexcept { return {text, read}; }
};

// Reads the line through receive(mutable_buffer, message_flags, ec): one
// call's worth of the client's socket by the line's deadline (timed_out
// after it), 0 at the end of the stream; message_flags::peek looks without
// taking, and a socket that refuses it (operation_not_supported,
// invalid_argument) is read in Firecracker's pieces: request_min bytes, then
// one at a time.  Read that way, only a line already too short to be valid
// can have bytes after its '\n' taken.
template <class Receive> request_line read_request_line(Receive&& receive) noexcept {
  request_line r;
  const auto end = vmsock::detail::read_line(
      r.text, request_max, r.read, receive,
      [&r] { return r.read < request_min ? request_min - r.read : std::size_t{1}; }, r.ec);
  switch (end) {
  case vmsock::detail::line_read::complete:
    r.line_len = vmsock::detail::line_part(r.text, r.read);
    r.end = line_end::complete;
    break;
  case vmsock::detail::line_read::full: r.end = line_end::too_long; break;
  case vmsock::detail::line_read::closed: r.end = line_end::closed; break;
  case vmsock::detail::line_read::failed:
    r.end = r.ec == std::errc::timed_out ? line_end::timed_out : line_end::failed;
    break;
  }
  return r;
}

// What a complete line asks for: a port, or why it is refused.
struct request {
  bool ok = false;
  std::uint32_t port = 0;
  const char* why = nullptr;  // when !ok
};

inline bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Judges a line (with its '\n'; more bytes after it make it malformed).
inline request parse_request(std::string_view line) noexcept {
  request r;
  if (line.size() < request_min || line.back() != '\n' || line.find('\n') != line.size() - 1) {
    r.why = "shorter than \"CONNECT 0\\n\"";
    return r;
  }
  for (const char c : line) {
    if (static_cast<unsigned char>(c) > 0x7f) {
      r.why = "a byte that is not ASCII";
      return r;
    }
  }
  std::size_t i = 0;
  auto next_word = [&]() -> std::string_view {
    while (i < line.size() && is_space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    return line.substr(start, i - start);
  };
  const std::string_view verb = next_word();
  constexpr std::string_view connect = "connect";
  bool is_connect = verb.size() == connect.size();
  for (std::size_t k = 0; is_connect && k < verb.size(); ++k) {
    char c = verb[k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    is_connect = c == connect[k];
  }
  if (!is_connect) {
    r.why = "not a CONNECT request";
    return r;
  }
  std::string_view port = next_word();
  if (!port.empty() && port.front() == '+') port.remove_prefix(1);
  if (port.empty()) {
    r.why = "no port after CONNECT";
    return r;
  }
  std::uint64_t v = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') {
      r.why = "the port is not a decimal number";
      return r;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > 0xFFFFFFFFu) {
      r.why = "the port does not fit in 32 bits";
      return r;
    }
  }
  r.ok = true;
  r.port = static_cast<std::uint32_t>(v);
  return r;
}

// The bytes of a line for a log: printable ASCII as it is, the rest escaped
// (\n, \r, \t, \xNN), in double quotes.
inline std::string quoted(std::string_view bytes) {
  static const char hex[] = "0123456789abcdef";
  std::string s = "\"";
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n')
      s += "\\n";
    else if (c == '\r')
      s += "\\r";
    else if (c == '\t')
      s += "\\t";
    else if (c == '"' || c == '\\')
      (s += '\\') += c;
    else if (u < 0x20 || u >= 0x7f)
      ((s += "\\x") += hex[u >> 4]) += hex[u & 15];
    else
      s += c;
  }
  s += '"';
  return s;
}

}  // namespace mux
}  // namespace vmsock_cli
