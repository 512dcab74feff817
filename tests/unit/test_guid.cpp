// vmsock::guid: parse, print, compare, hash, memory layout.
#include <vmsock/endpoint/guid.hpp>

#include "unit_support.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

using vmsock::guid;
using vmsock_test::expect_parse_error;

constexpr std::string_view sample = "000004d2-facb-11e6-bd58-64006a7986d3";

// Compile-time parse, in every accepted spelling.
constexpr guid sample_guid{
    0x000004d2u, 0xfacb, 0x11e6, {0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3}};
static_assert(guid::parse("000004d2-facb-11e6-bd58-64006a7986d3") == sample_guid);
static_assert(guid::parse("{000004D2-FACB-11E6-BD58-64006A7986D3}") == sample_guid);
static_assert(guid::parse("{000004d2-FaCb-11e6-bD58-64006a7986D3}") == sample_guid);
static_assert(!guid::try_parse("000004d2-facb-11e6-bd58-64006a7986d").has_value());
static_assert(!guid::try_parse("{000004d2-facb-11e6-bd58-64006a7986d3").has_value());
static_assert(guid::try_parse(sample)->data4[7] == 0xd3);
static_assert(guid{} < sample_guid && !(sample_guid < sample_guid) && sample_guid != guid{});
static_assert(guid::from_bytes(sample_guid.to_bytes()) == sample_guid);
static_assert(sample_guid.to_bytes()[0] == 0xd2 && sample_guid.to_bytes()[1] == 0x04 &&
              sample_guid.to_bytes()[4] == 0xcb && sample_guid.to_bytes()[5] == 0xfa &&
              sample_guid.to_bytes()[6] == 0xe6 && sample_guid.to_bytes()[7] == 0x11 &&
              sample_guid.to_bytes()[8] == 0xbd && sample_guid.to_bytes()[15] == 0xd3);
static_assert(noexcept(guid::try_parse(sample)));

guid random_guid() {
  return guid::from_bytes([] {
    std::array<std::uint8_t, 16> b{};
    for (auto& x : b) x = vmsock_test::random_int<std::uint8_t>(0, 255);
    return b;
  }());
}

TEST(Guid, LayoutIsTheWindowsGuid) {
  EXPECT_EQ(sizeof(guid), 16u);
  EXPECT_EQ(offsetof(guid, data1), 0u);
  EXPECT_EQ(offsetof(guid, data2), 4u);
  EXPECT_EQ(offsetof(guid, data3), 6u);
  EXPECT_EQ(offsetof(guid, data4), 8u);
  EXPECT_TRUE(std::is_trivially_copyable_v<guid>);
  EXPECT_TRUE(std::is_standard_layout_v<guid>);
}

// to_bytes() is the wire image on every host: the first three fields
// little-endian, data4 as written (what Windows and the Linux hv_sock
// transport's guid_t read).  In memory the fields are in host byte order, as in
// the Windows GUID: the same image on a little-endian host (every host Hyper-V
// runs on), the three integer fields reversed on a big-endian one (s390x).
TEST(Guid, MemoryImageIsHostOrderAndToBytesIsLittleEndian) {
  const guid g = guid::parse(sample);
  const std::array<std::uint8_t, 16> wire = {0xd2, 0x04, 0x00, 0x00, 0xcb, 0xfa, 0xe6, 0x11,
                                             0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3};
  const std::array<std::uint8_t, 16> big = {0x00, 0x00, 0x04, 0xd2, 0xfa, 0xcb, 0x11, 0xe6,
                                            0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3};
  EXPECT_EQ(g.to_bytes(), wire);
  EXPECT_EQ(guid::from_bytes(wire), g);
  unsigned char raw[16];
  std::memcpy(raw, &g, sizeof raw);
  const auto& expected = vmsock_test::host_is_little_endian() ? wire : big;
  EXPECT_EQ(0, std::memcmp(raw, expected.data(), 16));
  for (int i = 0; i < 200; ++i) {
    const guid r = random_guid();
    std::memcpy(raw, &r, sizeof raw);
    const auto image = vmsock_test::guid_host_image(r.to_bytes());
    EXPECT_EQ(0, std::memcmp(raw, image.data(), 16)) << r.to_string();
    guid copy;
    std::memcpy(&copy, image.data(), 16);
    EXPECT_EQ(copy, r);
  }
}

TEST(Guid, PrintsLowerCaseWithoutBraces) {
  EXPECT_EQ(guid::parse("{000004D2-FACB-11E6-BD58-64006A7986D3}").to_string(), sample);
  EXPECT_EQ(guid{}.to_string(), "00000000-0000-0000-0000-000000000000");
  const guid ff{0xffffffffu, 0xffff, 0xffff, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  EXPECT_EQ(ff.to_string(), "ffffffff-ffff-ffff-ffff-ffffffffffff");
  // Each field lands where the text puts it.
  const guid fields{0x01234567u, 0x89ab, 0xcdef, {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}};
  EXPECT_EQ(fields.to_string(), "01234567-89ab-cdef-0123-456789abcdef");
}

TEST(Guid, ParsesEverySpellingOfRandomValues) {
  for (int i = 0; i < 500; ++i) {
    const guid g = random_guid();
    const std::string lower = g.to_string();
    std::string upper = lower;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 32) : c; });
    for (const std::string& text : {lower, upper, "{" + lower + "}", "{" + upper + "}"}) {
      vmsock_test::expect_parses_to(text, g);
    }
    EXPECT_EQ(guid::from_bytes(g.to_bytes()), g);
  }
}

TEST(Guid, OrderFollowsTheTextAndHashSeparates) {
  std::vector<guid> values;
  for (int i = 0; i < 300; ++i) values.push_back(random_guid());
  // Values that differ in one field only, so every field decides some pairs.
  const guid base = guid::parse(sample);
  for (int byte = 0; byte < 16; ++byte) {
    auto b = base.to_bytes();
    b[static_cast<std::size_t>(byte)] ^= 0x80;
    values.push_back(guid::from_bytes(b));
  }
  values.push_back(base);
  for (const guid& a : values) {
    for (const guid& b : {values[0], values[7], values[301], values[310], base}) {
      EXPECT_EQ(a < b, a.to_string() < b.to_string()) << a.to_string() << " vs " << b.to_string();
      EXPECT_EQ(a == b, a.to_string() == b.to_string());
      EXPECT_EQ(a != b, !(a == b));
      EXPECT_EQ(a > b, b < a);
      EXPECT_EQ(a <= b, !(b < a));
      EXPECT_EQ(a >= b, !(a < b));
      if (a == b) {
        EXPECT_EQ(std::hash<guid>{}(a), std::hash<guid>{}(b));
      }
    }
  }
  std::set<guid> ordered(values.begin(), values.end());
  std::unordered_set<guid> hashed(values.begin(), values.end());
  EXPECT_EQ(ordered.size(), values.size());
  EXPECT_EQ(hashed.size(), values.size());
  std::set<std::size_t> hashes;
  for (const guid& g : values) hashes.insert(std::hash<guid>{}(g));
  EXPECT_EQ(hashes.size(), values.size());
}

// Replacing any one character of a valid GUID with any byte: accepted exactly
// when a dash stays a dash and a digit stays a hex digit; never a crash.
TEST(Guid, EverySingleCharacterSubstitution) {
  const std::string valid(sample);
  for (std::size_t pos = 0; pos < valid.size(); ++pos) {
    const bool dash = pos == 8 || pos == 13 || pos == 18 || pos == 23;
    for (int byte = 0; byte < 256; ++byte) {
      std::string text = valid;
      text[pos] = static_cast<char>(byte);
      const char c = text[pos];
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      const bool ok = dash ? c == '-' : hex;
      EXPECT_EQ(guid::try_parse(text).has_value(), ok) << "pos " << pos << " byte " << byte;
      if (!ok) {
        // A brace at either end opens or closes a pair that is not there.
        const bool brace = (pos == 0 && c == '{') || (pos + 1 == valid.size() && c == '}');
        const std::string reason = brace      ? std::string("unbalanced brace")
                                   : dash     ? "expected '-' at offset " + std::to_string(pos)
                                   : c == '-' ? "misplaced '-' at offset " + std::to_string(pos)
                                              : "bad hex digit at offset " + std::to_string(pos);
        expect_parse_error<guid>(text, "GUID", reason);
      }
    }
  }
}

TEST(Guid, ParseErrors) {
  const std::string valid(sample);
  vmsock_test::expect_parse_errors<guid>(
      "GUID",
      {
          {"", "empty string"},
          {"0", "too short"},
          {valid.substr(0, 35), "too short: a GUID has 36 characters (38 in braces) at offset 35"},
          {valid + "0", "unexpected characters after the GUID at offset 36"},
          {valid + " ", "unexpected characters after the GUID"},
          {valid + valid, "unexpected characters after the GUID"},
          {"x" + valid.substr(1), "bad hex digit at offset 0"},
          {" " + valid, "bad hex digit at offset 0"},
      });
  // A dash one place early, a dash missing, a dash doubled.
  vmsock_test::expect_parse_errors<guid>(
      "GUID", {
                  {"0000004d2-facb-11e6-bd58-64006a7986d3", "expected '-' at offset 8"},
                  {"000004d-2facb-11e6-bd58-64006a7986d3", "misplaced '-' at offset 7"},
                  {"000004d2facb11e6bd5864006a7986d3", "expected '-' at offset 8"},
                  {"000004d2--facb-11e6-bd58-64006a7986d3", "misplaced '-' at offset 9"},
              });
  // Braces: missing either one, doubled, empty, alone.
  vmsock_test::expect_parse_errors<guid>("GUID",
                                         {
                                             {"{" + valid, "unbalanced brace"},
                                             {valid + "}", "unbalanced brace"},
                                             {"{", "unbalanced brace"},
                                             {"}", "unbalanced brace"},
                                             {"{}", "too short"},
                                             {"{{" + valid + "}}", "bad hex digit at offset 1"},
                                             {"{" + valid + "} ", "unbalanced brace"},
                                             {"(" + valid + ")", "bad hex digit at offset 0"},
                                         });
  // Offsets inside braces count the brace.
  expect_parse_error<guid>("{000004d2-facb-11e6-bd58-64006a7986dx}", "GUID",
                           "bad hex digit at offset 36");
}

// A NUL byte anywhere, in place of or beside a character, is refused and shown
// in the message as \x00 (the message is not cut short at the NUL).
TEST(Guid, EmbeddedNul) {
  const std::string valid(sample);
  for (std::size_t pos = 0; pos <= valid.size(); ++pos) {
    std::string replaced = valid;
    if (pos < valid.size()) {
      replaced[pos] = '\0';
      expect_parse_error<guid>(replaced, "GUID", "at offset " + std::to_string(pos));
    }
    std::string inserted = valid;
    inserted.insert(pos, 1, '\0');
    EXPECT_FALSE(guid::try_parse(inserted).has_value()) << pos;
    try {
      (void)guid::parse(inserted);
      ADD_FAILURE() << pos;
    } catch (const vmsock::parse_error& e) {
      EXPECT_NE(std::string(e.what()).find("\\x00"), std::string::npos) << e.what();
    }
  }
}

// Every prefix of a valid GUID (with and without braces) is refused, the full
// text accepted.
TEST(Guid, EveryPrefix) {
  const std::string valid(sample);
  for (const std::string& text : {valid, "{" + valid + "}"}) {
    for (std::size_t len = 0; len < text.size(); ++len)
      EXPECT_FALSE(guid::try_parse(std::string_view(text).substr(0, len)).has_value()) << len;
    EXPECT_TRUE(guid::try_parse(text).has_value());
  }
}

}  // namespace
