// ip_network: an IPv4 or IPv6 network in CIDR form ("127.0.0.0/8",
// "10.1.0.0/16", "::1/128", "fd00::/8"), the value behind the network peer
// filters (peer_filter.hpp).  A pure value like the endpoints: constexpr
// parsing, printing and matching, no system call.
//
// Text: an address literal (inet.hpp's rules: dotted quad without leading
// zeros, RFC 4291 IPv6 text) and "/<prefix length>", 0..32 or 0..128; a bare
// address is the one-address network (/32, /128).  Bits after the prefix must
// be zero: "127.0.0.1/8" is refused (the message names 127.0.0.0/8), so that a
// typo never widens or narrows a network silently.  No brackets, no scope id,
// no spaces.
//
// Matching: an IPv4 network also matches IPv4-mapped IPv6 peers
// (::ffff:a.b.c.d, what a dual-stack IPv6 listener sees of an IPv4 client);
// an IPv6 network matches IPv6 addresses only (::ffff:0:0/96 names the mapped
// ones explicitly).
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/detail/ip_text.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/inet.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

VMSOCK_BEGIN_NAMESPACE

class ip_network {
 public:
  // The one-address IPv4 network 0.0.0.0/32 (matches nothing a peer can be).
  constexpr ip_network() noexcept = default;

  // From an address and a prefix length (clamped to 32 or 128); the bits
  // after the prefix are cleared.
  static constexpr ip_network v4(const std::array<std::uint8_t, 4>& address,
                                 unsigned prefix_length = 32) noexcept {
    ip_network n;
    n.v6_ = false;
    n.prefix_ = static_cast<std::uint8_t>(prefix_length > 32 ? 32 : prefix_length);
    for (std::size_t i = 0; i < 4; ++i) n.bytes_[i] = address[i];
    n.clear_host_bits();
    return n;
  }
  static constexpr ip_network v6(const std::array<std::uint8_t, 16>& address,
                                 unsigned prefix_length = 128) noexcept {
    ip_network n;
    n.v6_ = true;
    n.prefix_ = static_cast<std::uint8_t>(prefix_length > 128 ? 128 : prefix_length);
    for (std::size_t i = 0; i < 16; ++i) n.bytes_[i] = address[i];
    n.clear_host_bits();
    return n;
  }

  constexpr bool is_v4() const noexcept { return !v6_; }
  constexpr bool is_v6() const noexcept { return v6_; }
  constexpr unsigned prefix_length() const noexcept { return prefix_; }
  // The network's address: 4 bytes (IPv4) or 16, in network order.
  constexpr std::array<std::uint8_t, 4> address_v4() const noexcept {
    return {bytes_[0], bytes_[1], bytes_[2], bytes_[3]};
  }
  constexpr const std::array<std::uint8_t, 16>& address_v6() const noexcept { return bytes_; }

  // Whether an address is in this network (see the top of this file for
  // IPv4-mapped IPv6 addresses).
  constexpr bool contains(const std::array<std::uint8_t, 4>& a) const noexcept {
    return !v6_ && prefix_matches(a.data(), 4);
  }
  constexpr bool contains(const std::array<std::uint8_t, 16>& a) const noexcept {
    if (v6_) return prefix_matches(a.data(), 16);
    if (!is_v4_mapped(a)) return false;
    const std::uint8_t v4[4] = {a[12], a[13], a[14], a[15]};
    return prefix_matches(v4, 4);
  }
  constexpr bool contains(const inet4_endpoint& peer) const noexcept {
    return contains(peer.address);
  }
  constexpr bool contains(const inet6_endpoint& peer) const noexcept {
    return contains(peer.address);
  }

  // "127.0.0.0/8", "::1/128": always with the prefix length (RFC 5952 text
  // for IPv6, as inet6_endpoint prints it).
  VMSOCK_NOINLINE std::string to_string() const {
    std::string s;
    s.reserve(v6_ ? 44 : 18);
    if (v6_)
      detail::append_ipv6(s, bytes_);
    else
      detail::append_ipv4(s, address_v4());
    s += '/';
    detail::append_decimal(s, prefix_);
    return s;
  }

  static constexpr std::optional<ip_network> try_parse(std::string_view text) noexcept {
    const auto r = parse_detail(text);
    if (!r) return std::nullopt;
    return r.value;
  }
  // Throws vmsock::parse_error naming the text and what is wrong with it:
  //   IP network "127.0.0.1/8": bits are set after the prefix length
  //   (the network is 127.0.0.0/8)
  static constexpr ip_network parse(std::string_view text) {
    const auto r = parse_detail(text);
    if (!r) fail(text, r);
    return r.value;
  }
  // The reason as a static string and where in `s` it is; when only host
  // bits are wrong, `value` is the network with them cleared (and no position:
  // the address and the prefix length disagree, and the message names the
  // network meant).
  static constexpr detail::parsed<ip_network> parse_detail(std::string_view s) noexcept {
    using detail::failed_in;
    if (s.empty())
      return {{}, "empty network (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8)", 0};
    if (s[0] == '[') return {{}, "no brackets around an IPv6 network (write fd00::/8)", 0};
    const auto slash = s.find('/');
    const std::string_view addr = s.substr(0, slash);
    if (addr.empty()) return {{}, "missing address before '/'", 0};
    if (const auto pct = addr.find('%'); pct != std::string_view::npos)
      return {{}, "a network has no scope id ('%')", pct};
    const bool six = addr.find(':') != std::string_view::npos;
    if (!six && first_letter(addr) != std::string_view::npos)
      return {{}, "host names are not resolved: give an IPv4 or IPv6 address", first_letter(addr)};
    const unsigned max = six ? 128 : 32;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
      const auto len = s.substr(slash + 1);
      if (len.empty()) return {{}, "empty prefix length after '/'", slash + 1};
      if (const auto again = len.find('/'); again != std::string_view::npos)
        return {{}, "more than one '/'", slash + 1 + again};
      if (!detail::all_digits(len))
        return {
            {}, "prefix length is not a decimal number", slash + 1 + detail::first_non_digit(len)};
      const auto v = detail::parse_decimal(len, max,
                                           six ? "prefix length above 128 for an IPv6 network"
                                               : "prefix length above 32 for an IPv4 network");
      if (!v) return failed_in<ip_network>(s, len, v);
      prefix = static_cast<unsigned>(v.value);
    }
    ip_network n;
    if (six) {
      const auto a = detail::parse_ipv6(addr);
      if (!a) return failed_in<ip_network>(s, addr, a);
      n = v6(a.value, prefix);
      if (!same(n.bytes_.data(), a.value.data(), 16)) return {n, host_bits_error};
    } else {
      const auto a = detail::parse_ipv4(addr);
      if (!a) return failed_in<ip_network>(s, addr, a);
      n = v4(a.value, prefix);
      if (!same(n.bytes_.data(), a.value.data(), 4)) return {n, host_bits_error};
    }
    return {n, nullptr};
  }

  // Why parse_detail refused: its reason, and when only bits after the
  // prefix length are wrong, the network that was probably meant.
  static std::string reason(const detail::parsed<ip_network>& r) {
    std::string why = r.error != nullptr ? r.error : "";
    if (r.error != nullptr && std::string_view(r.error) == host_bits_error) {
      why += " (the network is ";
      why += r.value.to_string();
      why += ')';
    }
    return why;
  }

  friend constexpr bool operator==(const ip_network& a, const ip_network& b) noexcept {
    if (a.v6_ != b.v6_ || a.prefix_ != b.prefix_) return false;
    for (std::size_t i = 0; i < 16; ++i)
      if (a.bytes_[i] != b.bytes_[i]) return false;
    return true;
  }
  friend constexpr bool operator!=(const ip_network& a, const ip_network& b) noexcept {
    return !(a == b);
  }

 private:
  static constexpr const char* host_bits_error = "bits are set after the prefix length";

  [[noreturn]] VMSOCK_NOINLINE static void fail(std::string_view text,
                                                const detail::parsed<ip_network>& r) {
    detail::throw_parse_error("IP network", text, reason(r), r.position);
  }

  static constexpr std::size_t first_letter(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i)
      if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) return i;
    return std::string_view::npos;
  }

  static constexpr bool same(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }

  static constexpr bool is_v4_mapped(const std::array<std::uint8_t, 16>& a) noexcept {
    for (std::size_t i = 0; i < 10; ++i)
      if (a[i] != 0) return false;
    return a[10] == 0xff && a[11] == 0xff;
  }

  constexpr bool prefix_matches(const std::uint8_t* a, std::size_t size) const noexcept {
    unsigned bits = prefix_;
    for (std::size_t i = 0; i < size && bits > 0; ++i) {
      const unsigned take = bits >= 8 ? 8 : bits;
      const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - take));
      if ((a[i] & mask) != (bytes_[i] & mask)) return false;
      bits -= take;
    }
    return true;
  }

  constexpr void clear_host_bits() noexcept {
    const std::size_t size = v6_ ? 16 : 4;
    unsigned bits = prefix_;
    for (std::size_t i = 0; i < 16; ++i) {
      if (i >= size) {
        bytes_[i] = 0;
        continue;
      }
      const unsigned take = bits >= 8 ? 8 : bits;
      bytes_[i] = static_cast<std::uint8_t>(bytes_[i] & static_cast<std::uint8_t>(0xFF00u >> take));
      bits -= take;
    }
  }

  std::array<std::uint8_t, 16> bytes_{};
  std::uint8_t prefix_ = 32;
  bool v6_ = false;
};

VMSOCK_END_NAMESPACE
