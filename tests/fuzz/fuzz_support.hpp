// Invariants shared by the parser fuzzers.  A broken invariant aborts with the
// reason, which libFuzzer reports as a crash and saves the input for.
#pragma once

#include <vmsock/detail/native.hpp>
#include <vmsock/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#define VMSOCK_FUZZ_CHECK(cond)                                                           \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "vmsock fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                             \
      std::abort();                                                                       \
    }                                                                                     \
  } while (false)

namespace vmsock_fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// try_parse, parse and parse_detail agree; a refusal is a vmsock::parse_error
// (nothing else) whose message quotes the whole input and gives parse_detail's
// reason; whatever parses prints a text that parses back to the same value and
// prints the same again.  Returns the parsed value.
template <class T> std::optional<T> check_parse(std::string_view text) {
  const auto detailed = T::parse_detail(text);
  const std::optional<T> tried = T::try_parse(text);
  std::optional<T> thrown;
  try {
    thrown = T::parse(text);
  } catch (const vmsock::parse_error& e) {
    const std::string_view what = e.what();
    VMSOCK_FUZZ_CHECK(!detailed);
    VMSOCK_FUZZ_CHECK(what.find(vmsock::detail::quote(text)) != std::string_view::npos);
    VMSOCK_FUZZ_CHECK(what.find(detailed.error) != std::string_view::npos);
  }
  // A failure's position, when it has one, is a place in the text (its end
  // at most: where something is missing).
  VMSOCK_FUZZ_CHECK(detailed || detailed.position == std::string_view::npos ||
                    detailed.position <= text.size());
  VMSOCK_FUZZ_CHECK(tried.has_value() == thrown.has_value());
  VMSOCK_FUZZ_CHECK(tried.has_value() == static_cast<bool>(detailed));
  if (!tried) return tried;
  VMSOCK_FUZZ_CHECK(*tried == *thrown);
  VMSOCK_FUZZ_CHECK(detailed.value == *tried);
  const std::string printed = tried->to_string();
  const std::optional<T> again = T::try_parse(printed);
  VMSOCK_FUZZ_CHECK(again.has_value());
  VMSOCK_FUZZ_CHECK(*again == *tried);
  VMSOCK_FUZZ_CHECK(again->to_string() == printed);
  return tried;
}

// endpoint -> native -> endpoint gives the endpoint back.
template <class E> void check_native_round_trip(const E& ep) {
  const typename E::native_type native = ep.to_native();
  VMSOCK_FUZZ_CHECK(ep.native_size() <= sizeof native);
  const std::optional<E> back = E::from_native(&native, ep.native_size());
  VMSOCK_FUZZ_CHECK(back.has_value());
  VMSOCK_FUZZ_CHECK(*back == ep);
}

// Endpoints that can be unnamed (an unbound Unix socket): such a one has no
// address, and its text is for readers only.
template <class E, class = void> struct can_be_unnamed : std::false_type {};
template <class E>
struct can_be_unnamed<E, std::void_t<decltype(std::declval<const E&>().is_unnamed())>>
    : std::true_type {};

// The raw bytes as a sockaddr of E's family (the family field overwritten so
// that most inputs get past it), at every length the input gives: from_native
// never reads out of bounds (ASan watches the exact-size copy), and whatever
// it accepts round-trips through the native form and the text form (an
// unnamed one's text never parses).
template <class E> void check_from_native(const std::uint8_t* data, std::size_t size) {
  using family_t = vmsock::detail::native_family_t;
  const std::size_t n = std::min<std::size_t>(size, 256);
  // An exact-size heap copy: a read past `n` is a heap-buffer-overflow.
  auto* copy = static_cast<unsigned char*>(std::malloc(n == 0 ? 1 : n));
  if (n != 0) std::memcpy(copy, data, n);
  if (n >= sizeof(family_t) && (n % 2) == 0) {  // odd lengths keep the input's family
    const auto f = static_cast<family_t>(E::family);
    std::memcpy(copy, &f, sizeof f);
  }
  const std::optional<E> ep = E::from_native(copy, n);
  std::free(copy);
  if (!ep) return;
  check_native_round_trip(*ep);
  if constexpr (can_be_unnamed<E>::value) {
    if (ep->is_unnamed()) {
      VMSOCK_FUZZ_CHECK(!E::try_parse(ep->to_string()).has_value());
      return;
    }
  }
  const std::optional<E> reparsed = E::try_parse(ep->to_string());
  VMSOCK_FUZZ_CHECK(reparsed.has_value());
  VMSOCK_FUZZ_CHECK(*reparsed == *ep);
}

}  // namespace vmsock_fuzz
