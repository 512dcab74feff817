// What echo_server, echo_client and demo share: the echo loop of the server,
// the client's round trips and checksummed bulk echo, the URI arguments, and
// small command-line helpers.  The socket functions are templates on the socket
// type: they take a stream_socket<Endpoint> and a vmsock::any_stream_socket alike.
#pragma once

#include <vmsock/socket.hpp>
#include <vmsock/uri.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace examples {

// A command line the user has to fix: exit code 2, not 1.
class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

using clock = std::chrono::steady_clock;

inline double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

// ---- the server side -------------------------------------------------------

// Echoes everything the peer sends until it shuts down its sending side, then
// returns how many bytes went back.  Errors throw (the library's message).
template <class Socket> std::uint64_t echo_connection(Socket& s) {
  std::vector<char> buf(64 * 1024);
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t n = s.receive(buf.data(), buf.size());
    if (n == 0) return total;  // the peer is done sending
    s.send_all(buf.data(), n);
    total += n;
  }
}

// ---- the client side -------------------------------------------------------

// A 64-bit checksum, eight bytes per step: fast enough not to limit loopback
// throughput, and sensitive to the order of the bytes.
class checksum {
 public:
  void update(const void* data, std::size_t size) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    while (size >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      mix(w);
      p += 8;
      size -= 8;
    }
    std::uint64_t tail = size;  // the length of the tail is part of the sum
    for (std::size_t i = 0; i < size; ++i) tail = (tail << 8) | p[i];
    mix(tail);
  }
  std::uint64_t value() const noexcept { return h_; }

 private:
  void mix(std::uint64_t w) noexcept {
    h_ = (h_ ^ w) * 0x9e3779b97f4a7c15u;
    h_ ^= h_ >> 31;
  }
  std::uint64_t h_ = 0xcbf29ce484222325u;
};

// The bytes the client sends: a pseudo-random pattern, each chunk starting at
// another offset, so that a lost, repeated or reordered chunk changes the sum.
class pattern {
 public:
  explicit pattern(std::size_t chunk) : bytes_(chunk + stride_count) {
    std::uint64_t x = 0x2545f4914f6cdd1du;
    for (auto& b : bytes_) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<char>(x >> 56);
    }
  }
  const char* chunk(std::uint64_t index) const noexcept {
    return bytes_.data() + (index * 61) % stride_count;
  }

 private:
  static constexpr std::size_t stride_count = 4096;
  std::vector<char> bytes_;
};

struct echo_result {
  std::uint64_t bytes = 0;
  std::uint64_t chunks = 0;
  std::uint64_t sent_sum = 0;
  std::uint64_t received_sum = 0;
  double seconds = 0;
  bool ok() const noexcept { return sent_sum == received_sum; }
  double megabytes_per_second() const noexcept {
    return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0.0;
  }
};

// `rounds` round trips of one byte; returns the mean round-trip time in seconds.
template <class Socket> double ping_pong(Socket& s, std::uint64_t rounds) {
  if (rounds == 0) return 0;
  char b = 'x';
  const auto start = clock::now();
  for (std::uint64_t i = 0; i < rounds; ++i) {
    s.send_all(&b, 1);
    s.receive_exact(&b, 1);
  }
  return seconds_since(start) / static_cast<double>(rounds);
}

// Sends `bytes` in chunks of `chunk` from a second thread while this one takes
// the echo back with receive_exact, then half-closes and expects the server to
// close too.  Both sides are checksummed.
template <class Socket> echo_result echo_bulk(Socket& s, std::uint64_t bytes, std::size_t chunk) {
  const pattern data(chunk);
  echo_result r;
  r.bytes = bytes;
  r.chunks = (bytes + chunk - 1) / chunk;
  std::exception_ptr send_error;
  const auto start = clock::now();
  std::thread sender([&] {
    try {
      checksum sum;
      std::uint64_t left = bytes;
      for (std::uint64_t i = 0; left > 0; ++i) {
        const std::size_t n = left < chunk ? static_cast<std::size_t>(left) : chunk;
        s.send_all(data.chunk(i), n);
        sum.update(data.chunk(i), n);
        left -= n;
      }
      r.sent_sum = sum.value();
      s.shutdown(vmsock::shutdown_type::send);
    } catch (...) {
      send_error = std::current_exception();
      std::error_code ignored;
      s.shutdown(vmsock::shutdown_type::both, ignored);  // unblocks the receiver
    }
  });
  try {
    std::vector<char> buf(chunk);
    checksum sum;
    std::uint64_t left = bytes;
    while (left > 0) {
      const std::size_t n = left < chunk ? static_cast<std::size_t>(left) : chunk;
      s.receive_exact(buf.data(), n);
      sum.update(buf.data(), n);
      left -= n;
    }
    r.received_sum = sum.value();
    // Everything is back: the server now sees our EOF and closes its side.
    char extra;
    if (s.receive(&extra, 1) != 0)
      throw std::runtime_error("the server sent more bytes than it was sent");
  } catch (...) {
    std::error_code ignored;
    s.shutdown(vmsock::shutdown_type::both, ignored);  // unblocks the sender
    sender.join();
    if (send_error) std::rethrow_exception(send_error);  // the first cause
    throw;
  }
  sender.join();
  if (send_error) std::rethrow_exception(send_error);
  r.seconds = seconds_since(start);
  return r;
}

// ---- command lines ---------------------------------------------------------

// "65536", "64K", "64M", "1G" (binary multiples).
inline std::uint64_t parse_size(std::string_view option, std::string_view text) {
  std::uint64_t v = 0;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const auto d = static_cast<std::uint64_t>(text[i] - '0');
    if (v > (UINT64_MAX - d) / 10) throw usage_error(std::string(option) + ": number too large");
    v = v * 10 + d;
  }
  unsigned shift = 0;
  if (i + 1 == text.size()) {
    switch (text[i]) {
    case 'k':
    case 'K': shift = 10; break;
    case 'm':
    case 'M': shift = 20; break;
    case 'g':
    case 'G': shift = 30; break;
    default: break;
    }
    if (shift != 0) ++i;
  }
  if (i == 0 || i != text.size())
    throw usage_error(std::string(option) +
                      ": expected a number (with an optional K, M or G), got \"" +
                      std::string(text) + "\"");
  if (shift != 0 && v > (UINT64_MAX >> shift))
    throw usage_error(std::string(option) + ": number too large");
  return v << shift;
}

// The value after an option: argv[++i], or a usage error naming the option.
inline std::string_view option_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) throw usage_error(std::string(argv[i]) + " needs a value");
  return argv[++i];
}

// A positional argument is an endpoint URI; anything else starting with '-' is
// an option this program does not know.
inline void take_uri_argument(std::string_view a, std::vector<std::string>& uris) {
  if (!a.empty() && a[0] == '-') throw usage_error("unknown option " + std::string(a));
  uris.emplace_back(a);
}

// ---- endpoint URIs ---------------------------------------------------------

inline constexpr std::string_view stream_uri_forms =
    "tcp://127.0.0.1:PORT, tcp://[::1]:PORT, unix:///PATH, unix://@ABSTRACT, "
    "vsock://CID:PORT, hvsock://VM/SERVICE";

// The URIs of the command line as the library's endpoints, all parsed before
// any socket is made.  A bad entry is the library's parse_error, prefixed with
// its place in the list when there are several; a udp:// entry is a usage error
// (the echo needs a byte stream).
inline std::vector<vmsock::any_endpoint> parse_stream_uris(const std::vector<std::string>& uris) {
  if (uris.empty()) throw usage_error("no endpoint URI given");
  std::vector<vmsock::any_endpoint> eps;
  eps.reserve(uris.size());
  for (std::size_t i = 0; i < uris.size(); ++i) {
    const std::string entry =
        uris.size() == 1 ? std::string() : fmt::format("entry {} of {}: ", i + 1, uris.size());
    std::optional<vmsock::any_endpoint> ep;
    try {
      ep = vmsock::any_endpoint::parse(uris[i]);  // the library's reason, if it is bad
    } catch (const vmsock::parse_error& e) {
      throw vmsock::parse_error(entry + e.what());
    }
    if (ep->type() != vmsock::socket_type::stream)
      throw usage_error(
          fmt::format("{}\"{}\": {}:// is a datagram transport; the echo examples need a byte "
                      "stream: {}",
                      entry, uris[i], vmsock::to_string(ep->scheme()), stream_uri_forms));
    eps.push_back(*ep);
  }
  return eps;
}

// An endpoint for a human: its URI, or "an unnamed Unix socket" for the
// address of an unbound Unix socket (which prints as "unix:(unnamed)").
inline std::string describe(const vmsock::any_endpoint& ep) {
  if (const auto* u = ep.get_if<vmsock::unix_endpoint>(); u && u->is_unnamed())
    return "an unnamed Unix socket";
  return ep.to_string();
}

// "tcp://127.0.0.1:5000, unix:///tmp/echo.sock"
inline std::string join_uris(const std::vector<vmsock::any_endpoint>& eps) {
  std::string s;
  for (const auto& ep : eps) {
    if (!s.empty()) s += ", ";
    s += ep.to_string();
  }
  return s;
}

// What the client and the demo transfer; set by --bytes, --chunk and --pings.
struct transfer_options {
  std::uint64_t bytes = 64u << 20;
  std::size_t chunk = 64u << 10;
  std::uint64_t pings = 1000;
};

inline constexpr std::string_view transfer_usage =
    "  --bytes N     bytes to echo (default 64M; K, M, G are binary multiples)\n"
    "  --chunk N     bytes per send and per receive_exact (default 64K)\n"
    "  --pings N     one-byte round trips before the bulk echo (default 1000)\n";

// Takes argv[i] (and its value) when it is one of the transfer options.
inline bool parse_transfer_option(int argc, char** argv, int& i, transfer_options& t) {
  const std::string_view a = argv[i];
  if (a == "--bytes") {
    t.bytes = parse_size(a, option_value(argc, argv, i));
  } else if (a == "--chunk") {
    const std::uint64_t c = parse_size(a, option_value(argc, argv, i));
    if (c == 0 || c > (1u << 30)) throw usage_error("--chunk must be 1 .. 1G");
    t.chunk = static_cast<std::size_t>(c);
  } else if (a == "--pings") {
    t.pings = parse_size(a, option_value(argc, argv, i));
  } else {
    return false;
  }
  return true;
}

// main() of every example: --help prints the usage; a usage or address error
// exits with 2, any other failure with 1, each as one line with the program's
// name and the library's message.
template <class Body>
int guarded_main(std::string_view program, std::string_view usage, int argc, char** argv,
                 Body&& body) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      fmt::print("{}", usage);
      return 0;
    }
  }
  try {
    return body();
  } catch (const usage_error& e) {
    fmt::print(stderr, "{}: {}\n{}", program, e.what(), usage);
    return 2;
  } catch (const vmsock::parse_error& e) {
    fmt::print(stderr, "{}: {}\n{}", program, e.what(), usage);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", program, e.what());
    return 1;
  }
}

// "64 MiB", "100 bytes", "1049600 bytes (1.00 MiB)" for a human.
inline std::string human_bytes(std::uint64_t n) {
  static constexpr std::array<const char*, 4> units = {"bytes", "KiB", "MiB", "GiB"};
  std::size_t u = 0;
  std::uint64_t scale = 1;
  while (u + 1 < units.size() && n >= scale * 1024) ++u, scale *= 1024;
  if (u == 0 || n % scale == 0) return fmt::format("{} {}", n / scale, units[u]);
  return fmt::format("{} bytes ({:.2f} {})", n, static_cast<double>(n) / static_cast<double>(scale),
                     units[u]);
}

}  // namespace examples
