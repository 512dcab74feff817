// constexpr parsers and printers for IPv4 and IPv6 address text, and the
// "host:port" tail shared by both endpoint types.  No resolver: literals only.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/text.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

using ipv4_bytes = std::array<std::uint8_t, 4>;
using ipv6_bytes = std::array<std::uint8_t, 16>;

// Dotted quad, four decimal parts 0..255, no leading zeros (never octal).
// Positions (of a failure) are offsets into `text`, as everywhere below.
constexpr parsed<ipv4_bytes> parse_ipv4(std::string_view text) noexcept {
  ipv4_bytes out{};
  std::string_view s = text;
  if (s.empty()) return {out, "empty IPv4 address", 0};
  for (int part = 0; part < 4; ++part) {
    const auto dot = s.find('.');
    const bool last = part == 3;
    if (!last && dot == std::string_view::npos)
      return {out, "IPv4 address needs four parts a.b.c.d", text.size()};
    if (last && dot != std::string_view::npos)
      return {out, "IPv4 address has more than four parts", offset_in(text, s) + dot};
    const auto piece = last ? s : s.substr(0, dot);
    if (piece.empty()) return {out, "empty part in IPv4 address", offset_in(text, piece)};
    if (!all_digits(piece))
      return {out, "IPv4 address part is not a decimal number",
              offset_in(text, piece) + first_non_digit(piece)};
    const auto v = parse_decimal(piece, 255, "IPv4 address part above 255");
    if (!v) return failed_in<ipv4_bytes>(text, piece, v);
    out[static_cast<std::size_t>(part)] = static_cast<std::uint8_t>(v.value);
    if (!last) s = s.substr(dot + 1);
  }
  return {out, nullptr};
}

// RFC 4291 text: 8 groups of 1-4 hex digits, one "::" for one or more zero
// groups, an optional dotted-quad tail for the low 32 bits.
constexpr parsed<ipv6_bytes> parse_ipv6(std::string_view s) noexcept {
  ipv6_bytes out{};
  std::uint16_t groups[8] = {};
  int n = 0;
  int gap = -1;
  std::size_t gap_at = 0;  // where the "::" is
  std::size_t i = 0;
  if (s.empty()) return {out, "empty IPv6 address", 0};
  if (s[0] == ':') {
    if (s.size() < 2 || s[1] != ':') return {out, "IPv6 address starts with a single ':'", 0};
    gap = 0;
    i = 2;
  }
  while (i < s.size()) {
    const std::size_t start = i;
    std::uint32_t v = 0;
    while (i < s.size() && hex_value(s[i]) >= 0 && i - start < 5) {
      v = (v << 4) | static_cast<std::uint32_t>(hex_value(s[i]));
      ++i;
    }
    if (i < s.size() && s[i] == '.') {
      // Dotted-quad tail: the last 32 bits.
      if (n > 6) return {out, "IPv4 tail after too many IPv6 groups", start};
      const auto v4 = parse_ipv4(s.substr(start));
      if (!v4) return failed_in<ipv6_bytes>(s, s.substr(start), v4);
      groups[n++] = static_cast<std::uint16_t>((v4.value[0] << 8) | v4.value[1]);
      groups[n++] = static_cast<std::uint16_t>((v4.value[2] << 8) | v4.value[3]);
      break;
    }
    if (i == start) return {out, "bad character in IPv6 address", i};
    if (i - start > 4) return {out, "IPv6 group longer than four hex digits", start};
    if (n == 8) return {out, "IPv6 address has more than eight groups", start};
    groups[n++] = static_cast<std::uint16_t>(v);
    if (i == s.size()) break;
    if (s[i] != ':') return {out, "bad character in IPv6 address", i};
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (gap >= 0) return {out, "'::' appears more than once in IPv6 address", i - 1};
      gap = n;
      gap_at = i - 1;
      ++i;
    } else if (i == s.size()) {
      return {out, "IPv6 address ends with a single ':'", i - 1};
    }
  }
  if (gap < 0 && n != 8)
    return {out, "IPv6 address has fewer than eight groups and no '::'", s.size()};
  if (gap >= 0 && n > 7) return {out, "'::' must stand for at least one zero group", gap_at};
  std::uint16_t full[8] = {};
  if (gap < 0) {
    for (int k = 0; k < 8; ++k) full[k] = groups[k];
  } else {
    for (int k = 0; k < gap; ++k) full[k] = groups[k];
    const int tail = n - gap;
    for (int k = 0; k < tail; ++k) full[8 - tail + k] = groups[gap + k];
  }
  for (std::size_t k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<std::uint8_t>(full[k] >> 8);
    out[2 * k + 1] = static_cast<std::uint8_t>(full[k] & 0xff);
  }
  return {out, nullptr};
}

inline void append_ipv4(std::string& out, const ipv4_bytes& a) {
  for (int k = 0; k < 4; ++k) {
    if (k) out += '.';
    append_decimal(out, a[static_cast<std::size_t>(k)]);
  }
}

// RFC 5952 canonical form: lower case, no leading zeros, the longest run of two
// or more zero groups (the first on a tie) as "::", IPv4-mapped as ::ffff:a.b.c.d.
inline void append_ipv6(std::string& out, const ipv6_bytes& a) {
  std::uint16_t g[8];
  for (std::size_t k = 0; k < 8; ++k)
    g[k] = static_cast<std::uint16_t>((a[2 * k] << 8) | a[2 * k + 1]);
  const bool mapped =
      g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
  if (mapped) {
    out += "::ffff:";
    append_ipv4(out, ipv4_bytes{a[12], a[13], a[14], a[15]});
    return;
  }
  int best = -1, best_len = 0;
  for (int k = 0; k < 8;) {
    if (g[k] != 0) {
      ++k;
      continue;
    }
    int e = k;
    while (e < 8 && g[e] == 0) ++e;
    if (e - k > best_len && e - k >= 2) best = k, best_len = e - k;
    k = e;
  }
  for (int k = 0; k < 8; ++k) {
    if (k == best) {
      out += "::";
      k += best_len - 1;
      continue;
    }
    const bool after_gap = best >= 0 && k == best + best_len;  // "::" already separates
    if (k != 0 && !after_gap) out += ':';
    char buf[4];
    int len = 0;
    std::uint16_t v = g[k];
    do {
      buf[len++] = "0123456789abcdef"[v & 0xf];
      v = static_cast<std::uint16_t>(v >> 4);
    } while (v != 0);
    while (len > 0) out += buf[--len];
  }
}

// Port after the host: ":<0..65535>", required.
constexpr parsed<std::uint16_t> parse_port_suffix(std::string_view s) noexcept {
  if (s.empty()) return {0, "missing ':PORT'", 0};
  if (s[0] != ':') return {0, "expected ':PORT' after the address", 0};
  const std::string_view digits = s.substr(1);
  if (digits.empty()) return {0, "empty port", 1};
  if (!all_digits(digits)) return {0, "port is not a decimal number", 1 + first_non_digit(digits)};
  const auto v = parse_decimal(digits, 65535, "port out of range (max 65535)");
  if (!v) return failed_in<std::uint16_t>(s, digits, v);
  return {static_cast<std::uint16_t>(v.value), nullptr};
}

// Strips an optional "tcp://" or "udp://" scheme; any other scheme is an error
// (at offset 0, the scheme).
constexpr const char* strip_ip_scheme(std::string_view& s) noexcept {
  uri_parts u;
  if (!split_scheme(s, u)) return nullptr;
  if (!equals_nocase(u.scheme, "tcp") && !equals_nocase(u.scheme, "udp"))
    return "unknown scheme, expected tcp:// or udp://";
  s = u.rest;
  return nullptr;
}

}  // namespace detail
VMSOCK_END_NAMESPACE
