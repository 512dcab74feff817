// libFuzzer target: ip_network (CIDR networks) parse, try_parse and
// parse_detail, its printing and its matching, against references that share
// no code with it: the C library's inet_pton for the address, the prefix
// rules written out here, and a bitwise prefix match.
#include <vmsock/endpoint/ip_network.hpp>

#include "fuzz_support.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <string>

namespace {

using vmsock::ip_network;

// Whether `prefix` (the text after '/') is a prefix length this parser must
// take: decimal digits, no leading zero but "0", at most `max`.
bool prefix_ok(std::string_view prefix, unsigned max, unsigned& out) {
  if (prefix.empty() || prefix.size() > 3) return false;
  if (prefix.size() > 1 && prefix[0] == '0') return false;
  unsigned v = 0;
  for (const char c : prefix) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return v <= max;
}

// Bit `i` (from the most significant) of an address.
bool bit(const std::uint8_t* a, unsigned i) { return ((a[i / 8] >> (7 - i % 8)) & 1) != 0; }

bool reference_match(const std::uint8_t* net, const std::uint8_t* a, unsigned prefix) {
  for (unsigned i = 0; i < prefix; ++i)
    if (bit(net, i) != bit(a, i)) return false;
  return true;
}

// What the text should parse to, by the references: valid, or not; and
// whether only bits after the prefix are wrong.
struct expected {
  bool address_ok = false;
  bool prefix_valid = false;
  bool host_bits = false;
  bool six = false;
  unsigned prefix = 0;
  std::uint8_t bytes[16] = {};
};

expected reference(std::string_view text) {
  expected e;
  const auto slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  e.six = addr.find(':') != std::string::npos;
  e.address_ok = ::inet_pton(e.six ? AF_INET6 : AF_INET, addr.c_str(), e.bytes) == 1;
  const unsigned max = e.six ? 128 : 32;
  if (slash == std::string_view::npos) {
    e.prefix_valid = true;
    e.prefix = max;
  } else {
    e.prefix_valid = prefix_ok(text.substr(slash + 1), max, e.prefix);
  }
  if (e.address_ok && e.prefix_valid) {
    for (unsigned i = e.prefix; i < max; ++i)
      if (bit(e.bytes, i)) e.host_bits = true;
  }
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = vmsock_fuzz::as_text(data, size);
  const auto n = vmsock_fuzz::check_parse<ip_network>(text);
  const auto detail = ip_network::parse_detail(text);

  // Against the references (inet_pton reads a C string: no NUL inside).
  if (text.find('\0') == std::string_view::npos) {
    const expected e = reference(text);
    const bool valid = e.address_ok && e.prefix_valid && !e.host_bits;
    VMSOCK_FUZZ_CHECK(n.has_value() == valid);
    if (n) {
      VMSOCK_FUZZ_CHECK(n->is_v6() == e.six);
      VMSOCK_FUZZ_CHECK(n->prefix_length() == e.prefix);
      VMSOCK_FUZZ_CHECK(std::memcmp(e.bytes,
                                    e.six ? n->address_v6().data() : n->address_v4().data(),
                                    e.six ? 16 : 4) == 0);
    }
    // Only the host bits wrong: the value is the network meant, which parses.
    if (e.address_ok && e.prefix_valid && e.host_bits) {
      VMSOCK_FUZZ_CHECK(!detail);
      const auto meant = ip_network::try_parse(detail.value.to_string());
      VMSOCK_FUZZ_CHECK(meant.has_value());
      VMSOCK_FUZZ_CHECK(*meant == detail.value);
      VMSOCK_FUZZ_CHECK(meant->prefix_length() == e.prefix);
    }
  }
  if (!n) return 0;

  // Matching: the network's own address; probes made of the input bytes,
  // against the bitwise reference; IPv4 networks match the mapped form.
  std::uint8_t own[16] = {};
  if (n->is_v6())
    std::memcpy(own, n->address_v6().data(), 16);
  else
    std::memcpy(own, n->address_v4().data(), 4);
  std::array<std::uint8_t, 16> probe6{};
  std::array<std::uint8_t, 4> probe4{};
  for (std::size_t i = 0; i < 16; ++i) probe6[i] = size ? data[(i * 7) % size] : 0;
  for (std::size_t i = 0; i < 4; ++i) probe4[i] = probe6[i];
  if (n->is_v4()) {
    VMSOCK_FUZZ_CHECK(n->contains(n->address_v4()));
    VMSOCK_FUZZ_CHECK(n->contains(probe4) ==
                      reference_match(own, probe4.data(), n->prefix_length()));
    std::array<std::uint8_t, 16> mapped{};
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    for (std::size_t i = 0; i < 4; ++i) mapped[12 + i] = probe4[i];
    VMSOCK_FUZZ_CHECK(n->contains(mapped) == n->contains(probe4));
    VMSOCK_FUZZ_CHECK(!n->contains(probe6) || (probe6[10] == 0xff && probe6[11] == 0xff));
  } else {
    VMSOCK_FUZZ_CHECK(n->contains(n->address_v6()));
    VMSOCK_FUZZ_CHECK(n->contains(probe6) ==
                      reference_match(own, probe6.data(), n->prefix_length()));
    VMSOCK_FUZZ_CHECK(!n->contains(probe4));
  }
  // The factories agree with the parser.
  const ip_network made = n->is_v4() ? ip_network::v4(n->address_v4(), n->prefix_length())
                                     : ip_network::v6(n->address_v6(), n->prefix_length());
  VMSOCK_FUZZ_CHECK(made == *n);
  return 0;
}
