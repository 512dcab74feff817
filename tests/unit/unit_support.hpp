// Helpers shared by the unit tests: printing endpoints in gtest messages, the
// parse-error check every parser goes through, the native round trip, a
// deterministic random source.  Included AFTER each test's own header, so that
// the header under test proves it is self-contained.
#pragma once

#include <vmsock/detail/native.hpp>
#include <vmsock/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace vmsock {
// gtest finds this by ADL: a failing EXPECT_EQ on two endpoints prints their
// text forms instead of raw bytes.  (An operator<< rather than PrintTo: a
// PrintTo template would be as good a match as gtest's own.)
template <class T>
auto operator<<(std::ostream& os, const T& value) -> decltype(value.to_string(), os) {
  return os << value.to_string();
}
}  // namespace vmsock

namespace vmsock_test {

// A fixed seed: every run tests the same values, and a failure reproduces.
inline std::mt19937_64& rng() {
  static std::mt19937_64 engine(0x766d736f636bULL);
  return engine;
}

template <class Int> Int random_int(Int lo, Int hi) {
  return static_cast<Int>(std::uniform_int_distribution<std::uint64_t>(
      static_cast<std::uint64_t>(lo), static_cast<std::uint64_t>(hi))(rng()));
}

// Whether this host stores integers little-endian (x86, x86-64, ARM64) or
// big-endian (s390x).  A struct's memory image depends on it; to_bytes() and
// the wire formats do not.
inline bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// A GUID's memory image on this host, from its wire image (to_bytes(): data1,
// data2, data3 little-endian, data4 as written): the same bytes on a
// little-endian host; each of the three integer fields reversed on a
// big-endian one, where the fields are stored in host byte order.
inline std::array<std::uint8_t, 16> guid_host_image(std::array<std::uint8_t, 16> wire) {
  if (!host_is_little_endian()) {
    std::swap(wire[0], wire[3]);
    std::swap(wire[1], wire[2]);
    std::swap(wire[4], wire[5]);
    std::swap(wire[6], wire[7]);
  }
  return wire;
}

// The bytes `len` long, each one uniformly random.
inline std::string random_bytes(std::size_t len) {
  std::string s(len, '\0');
  for (auto& c : s) c = static_cast<char>(random_int<unsigned>(0, 255));
  return s;
}

// A string_view of a literal that may hold NUL bytes.
template <std::size_t N> constexpr std::string_view bytes(const char (&literal)[N]) noexcept {
  return {literal, N - 1};
}

// The parse error contract: try_parse gives nullopt, parse throws
// vmsock::parse_error whose message names the kind of text (`kind`), quotes the
// input exactly (control bytes escaped, nothing cut at a NUL) and contains
// `reason`.
template <class E>
void expect_parse_error(std::string_view text, std::string_view kind, std::string_view reason) {
  SCOPED_TRACE(::testing::Message() << "input " << vmsock::detail::quote(text));
  EXPECT_FALSE(E::try_parse(text).has_value());
  try {
    (void)E::parse(text);
    ADD_FAILURE() << "parse accepted the input";
  } catch (const vmsock::parse_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(kind), std::string::npos) << what;
    EXPECT_NE(what.find(vmsock::detail::quote(text)), std::string::npos) << what;
    EXPECT_NE(what.find(reason), std::string::npos) << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "parse threw something other than vmsock::parse_error: " << e.what();
  }
}

// One bad input and a fragment of the reason its error must give.
struct bad_input {
  std::string_view text;
  std::string_view reason;
};

template <class E>
void expect_parse_errors(std::string_view kind, std::initializer_list<bad_input> cases) {
  for (const bad_input& c : cases) expect_parse_error<E>(c.text, kind, c.reason);
}

// Where the error is: parse_detail's position is `at`, an offset into the
// text given, and parse's message ends its reason with "(at offset <at>)".
struct bad_input_at {
  std::string_view text;
  std::string_view reason;
  std::size_t at;
};

template <class E> void expect_errors_at(std::initializer_list<bad_input_at> cases) {
  for (const bad_input_at& c : cases) {
    SCOPED_TRACE(::testing::Message() << "input " << vmsock::detail::quote(c.text));
    const auto r = E::parse_detail(c.text);
    ASSERT_FALSE(r);
    EXPECT_NE(std::string_view(r.error).find(c.reason), std::string_view::npos) << r.error;
    EXPECT_EQ(r.position, c.at) << r.error;
    try {
      (void)E::parse(c.text);
      ADD_FAILURE() << "parse accepted the input";
    } catch (const vmsock::parse_error& e) {
      const std::string what = e.what();
      const std::string tail = " (at offset " + std::to_string(c.at) + ")";
      EXPECT_EQ(what.substr(what.size() - std::min(what.size(), tail.size())), tail) << what;
    }
  }
}

// parse and try_parse agree on a valid input and give `expected`.
template <class E> void expect_parses_to(std::string_view text, const E& expected) {
  SCOPED_TRACE(::testing::Message() << "input " << vmsock::detail::quote(text));
  const std::optional<E> tried = E::try_parse(text);
  ASSERT_TRUE(tried.has_value());
  EXPECT_EQ(*tried, expected);
  EXPECT_EQ(E::parse(text), expected);
}

template <class E, class = void> struct has_kind : std::false_type {};
template <class E>
struct has_kind<E, std::void_t<decltype(std::declval<const E&>().type())>> : std::true_type {};

// False where the sockaddr's length is part of the address (a Unix socket's
// abstract name, or no name at all): there, trailing bytes change it.
template <class E> bool length_is_fixed_or_terminated(const E& ep) {
  if constexpr (has_kind<E>::value)
    return ep.type() == E::kind::path;
  else
    return true;
}

// endpoint -> native struct -> endpoint: equal, and the text form survives.
template <class E> void expect_native_round_trip(const E& ep) {
  SCOPED_TRACE(::testing::Message() << "endpoint " << ep.to_string());
  const typename E::native_type native = ep.to_native();
  const std::optional<E> back = E::from_native(&native, ep.native_size());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, ep);
  EXPECT_EQ(back->to_string(), ep.to_string());
  // A longer buffer than the native struct (what accept() hands back in a
  // sockaddr_storage) reads the same endpoint; except where the length is the
  // name's delimiter (Unix abstract and unnamed).
  if (!length_is_fixed_or_terminated(ep)) return;
  union {
    typename E::native_type n;
    unsigned char raw[256];
  } big{};
  big.n = native;
  const std::optional<E> from_big = E::from_native(&big, sizeof big);
  ASSERT_TRUE(from_big.has_value());
  EXPECT_EQ(*from_big, ep);
}

// The whole chain of the issue: text -> endpoint -> native -> endpoint -> text,
// where `text` is canonical (to_string gives it back unchanged).
template <class E> void expect_text_round_trip(const std::string& text) {
  SCOPED_TRACE(::testing::Message() << "text " << text);
  const std::optional<E> ep = E::try_parse(text);
  ASSERT_TRUE(ep.has_value());
  EXPECT_EQ(ep->to_string(), text);
  expect_native_round_trip(*ep);
}

// from_native's rejections: a null pointer at any length, every length shorter
// than `min_len` (the rest of the struct valid), and a struct of the right size
// whose family is changed to every other value of sa_family's low byte.
template <class E> void expect_from_native_rejects(const E& valid, std::size_t min_len) {
  SCOPED_TRACE(::testing::Message() << "endpoint " << valid.to_string());
  const typename E::native_type native = valid.to_native();
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, sizeof native, std::size_t{4096}})
    EXPECT_FALSE(E::from_native(nullptr, len).has_value()) << "len " << len;
  for (std::size_t len = 0; len < min_len; ++len)
    EXPECT_FALSE(E::from_native(&native, len).has_value()) << "len " << len;
  EXPECT_TRUE(E::from_native(&native, min_len).has_value());
  for (int family = 0; family < 256; ++family) {
    if (family == E::family) continue;
    typename E::native_type other = native;
    // The family field is the first member of every native struct here.
    const auto f = static_cast<vmsock::detail::native_family_t>(family);
    std::memcpy(static_cast<void*>(&other), &f, sizeof f);
    EXPECT_FALSE(E::from_native(&other, sizeof other).has_value()) << "family " << family;
  }
}

}  // namespace vmsock_test
