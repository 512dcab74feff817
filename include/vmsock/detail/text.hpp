// constexpr text helpers shared by the GUID and endpoint parsers and printers.
// No allocation, no locale, no exceptions: the parsers report a reason string
// and the public parse() turns it into a vmsock::parse_error.
#pragma once

#include <vmsock/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// Value of one hex digit, or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

constexpr bool all_digits(std::string_view s) noexcept {
  for (char c : s)
    if (!is_digit(c)) return false;
  return !s.empty();
}

// Result of a parse step: on failure `error` says why (a static string).
template <class T> struct parsed {
  T value{};
  const char* error = nullptr;
  std::size_t position = std::string_view::npos;  // where the error is, if known
  constexpr explicit operator bool() const noexcept { return error == nullptr; }
};

// Where `part`, a view into `whole` (a substr of it), begins in `whole`.  The
// parsers report positions in the text they were given this way, so that a
// sub-parser's offset becomes the caller's by one addition.
constexpr std::size_t offset_in(std::string_view whole, std::string_view part) noexcept {
  return static_cast<std::size_t>(part.data() - whole.data());
}

// A sub-parser's failure, its position (relative to `part`, or its start if
// it gave none) moved into `whole`'s offsets.
template <class T, class U>
constexpr parsed<T> failed_in(std::string_view whole, std::string_view part,
                              const parsed<U>& r) noexcept {
  const std::size_t at = r.position == std::string_view::npos ? 0 : r.position;
  return {T{}, r.error, offset_in(whole, part) + at};
}

// Unsigned decimal without sign, spaces or a leading '+', at most `max`.
// Leading zeros are refused (except "0" itself) so "010" is never read as
// octal by one tool and decimal by another.  A failure's position is the
// first character that is not a digit, else the number's start.
constexpr parsed<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max,
                                              const char* what_if_too_large) noexcept {
  if (s.empty()) return {0, "number expected", 0};
  if (s.size() > 1 && s[0] == '0') return {0, "leading zeros are not allowed", 0};
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!is_digit(c)) return {0, "not a decimal number", i};
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > max) return {0, what_if_too_large, 0};
  }
  return {v, nullptr};
}

// Index of the first character of `s` that is not a decimal digit (0 if none).
constexpr std::size_t first_non_digit(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!is_digit(s[i])) return i;
  return 0;
}

constexpr bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

// ASCII-only case-insensitive prefix test (for URI schemes).
constexpr bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i];
    char b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

// Splits "scheme://rest".  Returns false when there is no "://".
struct uri_parts {
  std::string_view scheme;
  std::string_view rest;
};

constexpr bool split_scheme(std::string_view s, uri_parts& out) noexcept {
  const auto pos = s.find("://");
  if (pos == std::string_view::npos) return false;
  out.scheme = s.substr(0, pos);
  out.rest = s.substr(pos + 3);
  return true;
}

constexpr bool equals_nocase(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && starts_with_nocase(a, b);
}

inline void append_decimal(std::string& out, std::uint64_t v) {
  char buf[20];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out += buf[--n];
}

inline void append_hex(std::string& out, std::uint64_t v, int digits) {
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out += hex[(v >> (4 * i)) & 0xf];
}

}  // namespace detail
VMSOCK_END_NAMESPACE
