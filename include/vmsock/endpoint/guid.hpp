// vmsock::guid: a 128-bit GUID with the memory layout of the Windows GUID.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>  // also declares std::hash, specialised below (<functional>
                     // would cost every user its searchers and hash tables)
#include <string>
#include <string_view>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

// Layout-compatible with the Windows GUID (and with guid_t/uuid_le of the Linux
// kernel): uint32 data1, uint16 data2, uint16 data3, uint8 data4[8].  The three
// integer fields are stored in host byte order, which on every host Hyper-V runs
// on (x86, x86-64, ARM64) is little-endian: the byte order Windows and the Linux
// hv_sock transport use on the wire.  On a big-endian host (s390x) the memory
// image has those fields reversed; to_bytes()/from_bytes() give the wire image
// independently of the host, and the port <-> service id translation works on
// data1's value, so it is the same everywhere.
struct guid {
  std::uint32_t data1 = 0;
  std::uint16_t data2 = 0;
  std::uint16_t data3 = 0;
  std::uint8_t data4[8] = {};

  // "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", optionally in braces, any case.
  static constexpr std::optional<guid> try_parse(std::string_view text) noexcept {
    const auto r = parse_detail(text);
    if (!r) return std::nullopt;
    return r.value;
  }

  // As try_parse, but throws vmsock::parse_error saying what is wrong and where.
  static constexpr guid parse(std::string_view text) {
    const auto r = parse_detail(text);
    if (!r) fail(text, r);
    return r.value;
  }

  // Lower case, no braces.
  VMSOCK_NOINLINE std::string to_string() const {
    std::string out;
    out.reserve(36);
    detail::append_hex(out, data1, 8);
    out += '-';
    detail::append_hex(out, data2, 4);
    out += '-';
    detail::append_hex(out, data3, 4);
    out += '-';
    detail::append_hex(out, data4[0], 2);
    detail::append_hex(out, data4[1], 2);
    out += '-';
    for (int i = 2; i < 8; ++i) detail::append_hex(out, data4[i], 2);
    return out;
  }

  // The 16-byte image Windows keeps in memory and sends on the wire: the three
  // integer fields little-endian, then data4 as is.
  constexpr std::array<std::uint8_t, 16> to_bytes() const noexcept {
    std::array<std::uint8_t, 16> b{};
    for (std::size_t i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(data1 >> (8 * i));
    for (std::size_t i = 0; i < 2; ++i) b[4 + i] = static_cast<std::uint8_t>(data2 >> (8 * i));
    for (std::size_t i = 0; i < 2; ++i) b[6 + i] = static_cast<std::uint8_t>(data3 >> (8 * i));
    for (std::size_t i = 0; i < 8; ++i) b[8 + i] = data4[i];
    return b;
  }

  static constexpr guid from_bytes(const std::array<std::uint8_t, 16>& b) noexcept {
    guid g;
    g.data1 = static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
              static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24;
    g.data2 = static_cast<std::uint16_t>(b[4] | b[5] << 8);
    g.data3 = static_cast<std::uint16_t>(b[6] | b[7] << 8);
    for (std::size_t i = 0; i < 8; ++i) g.data4[i] = b[8 + i];
    return g;
  }

  friend constexpr bool operator==(const guid& a, const guid& b) noexcept {
    if (a.data1 != b.data1 || a.data2 != b.data2 || a.data3 != b.data3) return false;
    for (int i = 0; i < 8; ++i)
      if (a.data4[i] != b.data4[i]) return false;
    return true;
  }
  friend constexpr bool operator!=(const guid& a, const guid& b) noexcept { return !(a == b); }

  // Orders as the text form does (field by field, then data4 bytewise).
  friend constexpr bool operator<(const guid& a, const guid& b) noexcept {
    if (a.data1 != b.data1) return a.data1 < b.data1;
    if (a.data2 != b.data2) return a.data2 < b.data2;
    if (a.data3 != b.data3) return a.data3 < b.data3;
    for (int i = 0; i < 8; ++i)
      if (a.data4[i] != b.data4[i]) return a.data4[i] < b.data4[i];
    return false;
  }
  friend constexpr bool operator>(const guid& a, const guid& b) noexcept { return b < a; }
  friend constexpr bool operator<=(const guid& a, const guid& b) noexcept { return !(b < a); }
  friend constexpr bool operator>=(const guid& a, const guid& b) noexcept { return !(a < b); }

  // The parser behind parse/try_parse; reports the reason and the offset.
  static constexpr detail::parsed<guid> parse_detail(std::string_view s) noexcept {
    using detail::hex_value;
    if (s.empty()) return {{}, "empty string", 0};
    const bool open = s.front() == '{';
    const bool close = s.back() == '}';
    std::size_t base = 0;
    if (open || close) {
      if (!open || !close || s.size() < 2) return {{}, "unbalanced brace", open ? s.size() : 0};
      s = s.substr(1, s.size() - 2);
      base = 1;
    }
    // The first character that breaks the pattern is reported before the
    // length, so "zz" is a bad digit and "<guid> junk" is trailing junk.
    guid g;
    std::uint64_t acc = 0;
    int field = 0;
    int digits = 0;
    const std::size_t n = s.size() < 36 ? s.size() : 36;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s[i];
      const bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash_here) {
        if (c != '-') return {{}, "expected '-'", base + i};
        continue;
      }
      const int v = hex_value(c);
      if (v < 0) return {{}, c == '-' ? "misplaced '-'" : "bad hex digit", base + i};
      acc = (acc << 4) | static_cast<std::uint64_t>(v);
      ++digits;
      // Fields: 8 | 4 | 4 | 2+2 (data4[0..1]) | 12 (data4[2..7]).
      if (field == 0 && digits == 8) {
        g.data1 = static_cast<std::uint32_t>(acc);
        field = 1, digits = 0, acc = 0;
      } else if (field == 1 && digits == 4) {
        g.data2 = static_cast<std::uint16_t>(acc);
        field = 2, digits = 0, acc = 0;
      } else if (field == 2 && digits == 4) {
        g.data3 = static_cast<std::uint16_t>(acc);
        field = 3, digits = 0, acc = 0;
      } else if (field >= 3 && digits == 2) {
        g.data4[field - 3] = static_cast<std::uint8_t>(acc);
        ++field, digits = 0, acc = 0;
      }
    }
    if (s.size() < 36)
      return {{}, "too short: a GUID has 36 characters (38 in braces)", base + s.size()};
    if (s.size() > 36) return {{}, "unexpected characters after the GUID", base + 36};
    return {g, nullptr, std::string_view::npos};
  }

 private:
  [[noreturn]] static void fail(std::string_view text, const detail::parsed<guid>& r) {
    std::string why = r.error;
    if (r.position != std::string_view::npos) {
      why += " at offset ";
      detail::append_decimal(why, r.position);
    }
    detail::throw_parse_error("GUID", text, why);
  }
};

static_assert(sizeof(guid) == 16, "guid must have the size of the Windows GUID");
static_assert(offsetof(guid, data1) == 0 && offsetof(guid, data2) == 4 &&
                  offsetof(guid, data3) == 6 && offsetof(guid, data4) == 8,
              "guid must have the field offsets of the Windows GUID");
static_assert(std::is_trivially_copyable_v<guid> && std::is_standard_layout_v<guid>,
              "guid is copied into and out of native sockaddrs with memcpy");

VMSOCK_END_NAMESPACE

namespace std {
template <> struct hash<vmsock::guid> {
  std::size_t operator()(const vmsock::guid& g) const noexcept {
    // FNV-1a over the canonical byte image: stable across hosts and cheap.
    std::uint64_t h = 1469598103934665603ull;
    for (auto b : g.to_bytes()) {
      h ^= b;
      h *= 1099511628211ull;
    }
    return static_cast<std::size_t>(h);
  }
};
}  // namespace std
