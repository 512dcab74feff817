// inet4_endpoint and inet6_endpoint: IP address literal + port (+ IPv6 scope id).
// An IP endpoint is the same for TCP and UDP, so its to_string() carries no
// scheme ("127.0.0.1:80", "[::1]:80"); parse() accepts tcp://, udp:// or none.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/detail/ip_text.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

VMSOCK_BEGIN_NAMESPACE

namespace detail {
// sin_port / sin6_port are in network byte order; written bytewise so no
// host-order helper (htons) is needed.
inline void store_port(void* field, std::uint16_t port) noexcept {
  const std::uint8_t b[2] = {static_cast<std::uint8_t>(port >> 8),
                             static_cast<std::uint8_t>(port & 0xff)};
  std::memcpy(field, b, 2);
}
inline std::uint16_t load_port(const void* field) noexcept {
  std::uint8_t b[2];
  std::memcpy(b, field, 2);
  return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}
}  // namespace detail

struct inet4_endpoint {
  std::array<std::uint8_t, 4> address{};  // network order: {127, 0, 0, 1}
  std::uint16_t port = 0;

  static constexpr int family = AF_INET;
  static constexpr int protocol = 0;
  using native_type = ::sockaddr_in;

  static constexpr inet4_endpoint any(std::uint16_t port) noexcept { return {{0, 0, 0, 0}, port}; }
  static constexpr inet4_endpoint loopback(std::uint16_t port) noexcept {
    return {{127, 0, 0, 1}, port};
  }

  native_type to_native() const noexcept {
    native_type sa{};
    sa.sin_family = static_cast<decltype(sa.sin_family)>(family);
    detail::store_port(&sa.sin_port, port);
    std::memcpy(&sa.sin_addr, address.data(), 4);
    return sa;
  }
  static constexpr std::size_t native_size() noexcept { return sizeof(native_type); }

  static std::optional<inet4_endpoint> from_native(const void* sa, std::size_t len) noexcept {
    int f = 0;
    if (!detail::native_family(sa, len, f) || f != family || len < sizeof(native_type))
      return std::nullopt;
    native_type n;
    std::memcpy(&n, sa, sizeof n);
    inet4_endpoint ep;
    std::memcpy(ep.address.data(), &n.sin_addr, 4);
    ep.port = detail::load_port(&n.sin_port);
    return ep;
  }

  VMSOCK_NOINLINE std::string to_string() const {
    std::string s;
    s.reserve(21);
    detail::append_ipv4(s, address);
    s += ':';
    detail::append_decimal(s, port);
    return s;
  }

  // "[tcp://|udp://]a.b.c.d:port"
  static constexpr std::optional<inet4_endpoint> try_parse(std::string_view text) noexcept {
    const auto r = parse_detail(text);
    if (!r) return std::nullopt;
    return r.value;
  }
  static constexpr inet4_endpoint parse(std::string_view text) {
    const auto r = parse_detail(text);
    if (!r) detail::throw_parse_error("IPv4 endpoint", text, r.error, r.position);
    return r.value;
  }
  // The parser behind parse/try_parse: its reason, and where in `text` it is.
  static constexpr detail::parsed<inet4_endpoint> parse_detail(std::string_view text) noexcept {
    using detail::failed_in;
    using detail::offset_in;
    std::string_view s = text;
    if (const char* e = detail::strip_ip_scheme(s)) return {{}, e, 0};
    if (!s.empty() && s[0] == '[')
      return {{}, "an IPv6 address; use inet6_endpoint", offset_in(text, s)};
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return {{}, "missing ':PORT'", text.size()};
    if (const auto first = s.substr(0, colon).find(':'); first != std::string_view::npos)
      return {{},
              "an IPv6 address (in brackets: [addr]:port); use inet6_endpoint",
              offset_in(text, s) + first};
    const auto addr = s.substr(0, colon);
    const auto a = detail::parse_ipv4(addr);
    if (!a) return failed_in<inet4_endpoint>(text, addr, a);
    const auto tail = s.substr(colon);
    const auto p = detail::parse_port_suffix(tail);
    if (!p) return failed_in<inet4_endpoint>(text, tail, p);
    return {inet4_endpoint{a.value, p.value}, nullptr};
  }

  friend constexpr bool operator==(const inet4_endpoint& a, const inet4_endpoint& b) noexcept {
    for (std::size_t i = 0; i < 4; ++i)
      if (a.address[i] != b.address[i]) return false;
    return a.port == b.port;
  }
  friend constexpr bool operator!=(const inet4_endpoint& a, const inet4_endpoint& b) noexcept {
    return !(a == b);
  }
};

struct inet6_endpoint {
  std::array<std::uint8_t, 16> address{};  // network order
  std::uint16_t port = 0;
  std::uint32_t scope_id = 0;  // interface index for link-local addresses

  static constexpr int family = AF_INET6;
  static constexpr int protocol = 0;
  using native_type = ::sockaddr_in6;

  static constexpr inet6_endpoint any(std::uint16_t port) noexcept { return {{}, port, 0}; }
  static constexpr inet6_endpoint loopback(std::uint16_t port) noexcept {
    return {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, port, 0};
  }

  native_type to_native() const noexcept {
    native_type sa{};
    sa.sin6_family = static_cast<decltype(sa.sin6_family)>(family);
    detail::store_port(&sa.sin6_port, port);
    std::memcpy(&sa.sin6_addr, address.data(), 16);
    sa.sin6_scope_id = scope_id;
    return sa;
  }
  static constexpr std::size_t native_size() noexcept { return sizeof(native_type); }

  static std::optional<inet6_endpoint> from_native(const void* sa, std::size_t len) noexcept {
    int f = 0;
    if (!detail::native_family(sa, len, f) || f != family || len < sizeof(native_type))
      return std::nullopt;
    native_type n;
    std::memcpy(&n, sa, sizeof n);
    inet6_endpoint ep;
    std::memcpy(ep.address.data(), &n.sin6_addr, 16);
    ep.port = detail::load_port(&n.sin6_port);
    ep.scope_id = n.sin6_scope_id;
    return ep;
  }

  // "[addr]:port" or "[addr%scope]:port" (RFC 5952 address text).
  VMSOCK_NOINLINE std::string to_string() const {
    std::string s;
    s.reserve(56);
    s += '[';
    detail::append_ipv6(s, address);
    if (scope_id != 0) {
      s += '%';
      detail::append_decimal(s, scope_id);
    }
    s += "]:";
    detail::append_decimal(s, port);
    return s;
  }

  // "[tcp://|udp://][addr[%scope]]:port"; the scope is a numeric interface index.
  static constexpr std::optional<inet6_endpoint> try_parse(std::string_view text) noexcept {
    const auto r = parse_detail(text);
    if (!r) return std::nullopt;
    return r.value;
  }
  static constexpr inet6_endpoint parse(std::string_view text) {
    const auto r = parse_detail(text);
    if (!r) detail::throw_parse_error("IPv6 endpoint", text, r.error, r.position);
    return r.value;
  }
  // The parser behind parse/try_parse: its reason, and where in `text` it is.
  static constexpr detail::parsed<inet6_endpoint> parse_detail(std::string_view text) noexcept {
    using detail::failed_in;
    using detail::offset_in;
    std::string_view s = text;
    if (const char* e = detail::strip_ip_scheme(s)) return {{}, e, 0};
    if (s.empty()) return {{}, "empty endpoint", text.size()};
    if (s[0] != '[')
      return {{}, "IPv6 address must be in brackets: [addr]:port", offset_in(text, s)};
    const auto close = s.find(']');
    if (close == std::string_view::npos)
      return {{}, "missing ']' after the IPv6 address", text.size()};
    auto host = s.substr(1, close - 1);
    std::uint32_t scope = 0;
    if (const auto pct = host.find('%'); pct != std::string_view::npos) {
      const auto z = host.substr(pct + 1);
      if (z.empty()) return {{}, "empty scope id after '%'", offset_in(text, z)};
      if (!detail::all_digits(z))
        return {{},
                "scope id must be a numeric interface index",
                offset_in(text, z) + detail::first_non_digit(z)};
      const auto v = detail::parse_decimal(z, 0xFFFFFFFFu, "scope id out of range");
      if (!v) return failed_in<inet6_endpoint>(text, z, v);
      scope = static_cast<std::uint32_t>(v.value);
      host = host.substr(0, pct);
    }
    const auto a = detail::parse_ipv6(host);
    if (!a) return failed_in<inet6_endpoint>(text, host, a);
    const auto tail = s.substr(close + 1);
    const auto p = detail::parse_port_suffix(tail);
    if (!p) return failed_in<inet6_endpoint>(text, tail, p);
    return {inet6_endpoint{a.value, p.value, scope}, nullptr};
  }

  friend constexpr bool operator==(const inet6_endpoint& a, const inet6_endpoint& b) noexcept {
    for (std::size_t i = 0; i < 16; ++i)
      if (a.address[i] != b.address[i]) return false;
    return a.port == b.port && a.scope_id == b.scope_id;
  }
  friend constexpr bool operator!=(const inet6_endpoint& a, const inet6_endpoint& b) noexcept {
    return !(a == b);
  }
};

VMSOCK_END_NAMESPACE
