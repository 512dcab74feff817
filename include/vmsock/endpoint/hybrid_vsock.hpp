// hybrid_vsock_endpoint: a guest port behind a VMM's Unix socket ("hybrid
// vsock"), the host side of Firecracker, Cloud Hypervisor, Kata's Dragonball,
// vhost-device-vsock and OpenVMM.  Those VMMs give the host no AF_VSOCK: the
// vsock device is a Unix socket (its `uds_path`), and
//   - the host reaches guest port P by connecting to that socket and writing
//     "CONNECT P\n"; the VMM answers "OK <n>\n" and the rest is the guest's
//     stream (hybrid_vsock_stream_socket, hybrid_vsock_socket.hpp);
//   - the guest reaches host port P (CID 2, port P) when something listens on
//     the Unix socket "<uds_path>_P" (hybrid_vsock_listener).
// A pure value, like the other endpoints: no system call.
//
//   vmsock::hybrid_vsock_endpoint ep{"/run/fc.vsock", 5000};
//   ep.to_string()  == "hybrid-vsock:///run/fc.vsock:5000"
//   ep.uds()        == unix:///run/fc.vsock        (what the host connects to)
//   ep.listen_uds() == unix:///run/fc.vsock_5000   (where the VMM connects to)
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/unix.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

VMSOCK_BEGIN_NAMESPACE

class hybrid_vsock_endpoint {
 public:
  static constexpr int family = unix_endpoint::family;
  static constexpr int protocol = 0;

  // The longest path: the listener's "_<port>" suffix (up to 11 bytes) must
  // still fit in sun_path after it.  Checked against the actual port: a path
  // of max_path - 1 - digits(port) bytes or fewer.
  static constexpr std::size_t max_path = unix_endpoint::max_path;

  constexpr hybrid_vsock_endpoint() noexcept = default;
  // Throws vmsock::parse_error for an empty path, one with a NUL byte, or one
  // that leaves no room in sun_path for "_<port>".
  hybrid_vsock_endpoint(std::string_view path, std::uint32_t port) {
    if (const char* e = assign(path, port)) detail::throw_parse_error("hybrid vsock path", path, e);
  }

  // The VMM's Unix socket (the vsock device's uds_path).
  constexpr std::string_view path() const noexcept { return {buf_, len_}; }
  // The vsock port: the guest's port for a host-initiated connection, the
  // host's port (the "_<port>" suffix) for a guest-initiated one.
  constexpr std::uint32_t port() const noexcept { return port_; }
  constexpr bool empty() const noexcept { return len_ == 0; }

  // What the host connects to: the VMM's socket (unnamed when empty()).
  unix_endpoint uds() const noexcept { return as_unix(false); }
  // Where the VMM connects to for a guest-initiated connection to port():
  // "<path>_<port>" (unnamed when empty()).
  unix_endpoint listen_uds() const noexcept { return as_unix(true); }

  // "hybrid-vsock:///run/fc.vsock:5000": the path as unix:// writes it
  // (bytes below 0x20, 0x7f and '%' percent-encoded), the port after the last
  // colon.  An empty endpoint is "hybrid-vsock://".
  VMSOCK_NOINLINE std::string to_string() const {
    std::string s = "hybrid-vsock://";
    if (len_ == 0) return s;
    for (std::size_t i = 0; i < len_; ++i) {
      const auto u = static_cast<unsigned char>(buf_[i]);
      if (u < 0x20 || u == 0x7f || u == '%') {
        s += '%';
        detail::append_hex(s, u, 2);
      } else {
        s += buf_[i];
      }
    }
    s += ':';
    detail::append_decimal(s, port_);
    return s;
  }

  static std::optional<hybrid_vsock_endpoint> try_parse(std::string_view text) noexcept {
    const auto p = parse_detail(text);
    if (!p) return std::nullopt;
    return p.value;
  }
  static hybrid_vsock_endpoint parse(std::string_view text) {
    const auto p = parse_detail(text);
    if (!p) detail::throw_parse_error("hybrid vsock endpoint", text, p.error, p.position);
    return p.value;
  }
  // The parser behind parse/try_parse: its reason and where it found it.
  static detail::parsed<hybrid_vsock_endpoint> parse_detail(std::string_view text) noexcept {
    hybrid_vsock_endpoint ep;
    std::size_t at = std::string_view::npos;
    const char* why = ep.parse_into(text, at);
    return {ep, why, at};
  }

  friend constexpr bool operator==(const hybrid_vsock_endpoint& a,
                                   const hybrid_vsock_endpoint& b) noexcept {
    return a.port_ == b.port_ && a.path() == b.path();
  }
  friend constexpr bool operator!=(const hybrid_vsock_endpoint& a,
                                   const hybrid_vsock_endpoint& b) noexcept {
    return !(a == b);
  }

 private:
  static constexpr std::size_t digits(std::uint32_t v) noexcept {
    std::size_t n = 1;
    while (v >= 10) {
      v /= 10;
      ++n;
    }
    return n;
  }
  static std::size_t write_decimal(char* out, std::uint32_t v) noexcept {
    const std::size_t n = digits(v);
    for (std::size_t i = n; i-- > 0; v /= 10) out[i] = static_cast<char>('0' + v % 10);
    return n;
  }

  // The path (and "_<port>") as a Unix address.  assign() made sure it fits,
  // so nothing here can fail.
  unix_endpoint as_unix(bool with_port) const noexcept {
    if (len_ == 0) return unix_endpoint{};
    unix_endpoint::native_type sa{};
    sa.sun_family = static_cast<decltype(sa.sun_family)>(family);
    std::size_t n = len_;
    for (std::size_t i = 0; i < n; ++i) sa.sun_path[i] = buf_[i];
    if (with_port) {
      sa.sun_path[n++] = '_';
      n += write_decimal(sa.sun_path + n, port_);
    }
    const auto ep =
        unix_endpoint::from_native(&sa, offsetof(unix_endpoint::native_type, sun_path) + n + 1);
    return ep ? *ep : unix_endpoint{};
  }

  const char* assign(std::string_view p, std::uint32_t port) noexcept {
    if (p.empty()) return "empty path (the VMM's vsock socket, e.g. /run/fc.vsock)";
    if (p.find('\0') != std::string_view::npos) return "path contains a NUL byte";
    if (p.size() + 1 + digits(port) > max_path)
      return "path too long: with the listener's \"_<port>\" suffix it must fit in the 107 bytes "
             "of sun_path";
    len_ = static_cast<std::uint8_t>(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) buf_[i] = p[i];
    port_ = port;
    return nullptr;
  }

  const char* parse_into(std::string_view s, std::size_t& at) noexcept {
    detail::uri_parts u;
    at = 0;
    if (!detail::split_scheme(s, u)) return "expected hybrid-vsock://PATH:PORT";
    if (!detail::equals_nocase(u.scheme, "hybrid-vsock"))
      return "unknown scheme, expected hybrid-vsock://";
    const std::size_t base = s.size() - u.rest.size();
    std::string_view rest = u.rest;
    const std::size_t colon = rest.rfind(':');
    if (rest.empty()) {
      at = base;
      return "empty path and port (expected hybrid-vsock:///run/fc.vsock:5000)";
    }
    if (colon == std::string_view::npos) {
      at = s.size();
      return "missing :PORT after the path (the port follows the last colon)";
    }
    const std::string_view port_text = rest.substr(colon + 1);
    const auto port = detail::parse_decimal(port_text, 0xFFFFFFFFu, "port above 4294967295");
    if (!port) {
      at = base + colon + 1;
      return port_text.empty() ? "missing port after the last colon" : port.error;
    }
    const std::string_view encoded = rest.substr(0, colon);
    // Percent-decode, as unix:// does; the length check sees decoded bytes.
    char tmp[unix_endpoint::capacity + 1] = {};
    std::size_t n = 0;
    for (std::size_t i = 0; i < encoded.size(); ++i) {
      char c = encoded[i];
      if (c == '%') {
        at = base + i;
        if (i + 2 >= encoded.size()) return "truncated %-escape (expected %XX)";
        const int hi = detail::hex_value(encoded[i + 1]);
        const int lo = detail::hex_value(encoded[i + 2]);
        if (hi < 0 || lo < 0) return "bad %-escape (expected %XX with two hex digits)";
        c = static_cast<char>((hi << 4) | lo);
        i += 2;
      }
      if (n == unix_endpoint::capacity) {
        at = base + i;
        return "path too long: with the listener's \"_<port>\" suffix it must fit in the 107 "
               "bytes of sun_path";
      }
      tmp[n++] = c;
    }
    at = base;
    if (const char* e = assign(std::string_view(tmp, n), static_cast<std::uint32_t>(port.value)))
      return e;
    at = std::string_view::npos;
    return nullptr;
  }

  char buf_[unix_endpoint::capacity] = {};
  std::uint8_t len_ = 0;
  std::uint32_t port_ = 0;
};

VMSOCK_END_NAMESPACE
