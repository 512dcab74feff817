// What echo_server, echo_client and demo share: the echo loop of the server,
// the client's round trips and checksummed bulk echo, and small command-line
// helpers.  Works on any stream_socket<Endpoint>.
#pragma once

#include "uri_dispatch.hpp"

#include <vmsock/socket.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace examples {

using clock = std::chrono::steady_clock;

inline double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

// ---- the server side -------------------------------------------------------

// Echoes everything the peer sends until it shuts down its sending side, then
// returns how many bytes went back.  Errors throw (the library's message).
template <class Endpoint>
std::uint64_t echo_connection(vmsock::stream_socket<Endpoint>& s) {
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
template <class Endpoint>
double ping_pong(vmsock::stream_socket<Endpoint>& s, std::uint64_t rounds) {
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
template <class Endpoint>
echo_result echo_bulk(vmsock::stream_socket<Endpoint>& s, std::uint64_t bytes, std::size_t chunk) {
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
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      default: break;
    }
    if (shift != 0) ++i;
  }
  if (i == 0 || i != text.size())
    throw usage_error(std::string(option) + ": expected a number (with an optional K, M or G), got \"" +
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

// The one positional argument, the endpoint URI; anything else starting with
// '-' is an option this program does not know.
inline void take_uri_argument(std::string_view a, std::string& uri) {
  if (!a.empty() && a[0] == '-') throw usage_error("unknown option " + std::string(a));
  if (!uri.empty()) throw usage_error("more than one URI given");
  uri = std::string(a);
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
