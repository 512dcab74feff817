// unix.hpp: paths, Linux abstract names, unnamed sockets, sockaddr_un.
#include <vmsock/endpoint/unix.hpp>

#include "unit_support.hpp"

#include <cstring>
#include <string>

namespace {

using vmsock::unix_endpoint;
using vmsock_test::expect_parse_error;
using vmsock_test::random_int;

constexpr std::size_t path_offset = offsetof(sockaddr_un, sun_path);

TEST(Unix, Capacity) {
  EXPECT_EQ(unix_endpoint::family, AF_UNIX);
  EXPECT_EQ(unix_endpoint::protocol, 0);
  EXPECT_EQ(unix_endpoint::capacity, sizeof(sockaddr_un{}.sun_path));
  EXPECT_EQ(unix_endpoint::capacity, 108u);
  EXPECT_EQ(unix_endpoint::max_path, 107u);
  const unix_endpoint none;
  EXPECT_TRUE(none.is_unnamed());
  EXPECT_EQ(none.type(), unix_endpoint::kind::unnamed);
  EXPECT_EQ(none.name(), "");
  EXPECT_EQ(none.to_string(), "unix:(unnamed)");
}

// Paths of every length 1..107 are kept whole; 108 and more are refused,
// never cut to fit.
TEST(Unix, PathLengths) {
  for (std::size_t len = 1; len <= 107; ++len) {
    const std::string p = "/" + std::string(len - 1, 'p');
    const auto ep = unix_endpoint::path(p);
    EXPECT_EQ(ep.name(), p);
    EXPECT_EQ(ep.type(), unix_endpoint::kind::path);
    EXPECT_EQ(ep.native_size(), path_offset + len + 1);
    const auto sa = ep.to_native();
    EXPECT_EQ(sa.sun_family, AF_UNIX);
    EXPECT_EQ(std::string_view(sa.sun_path, len), p);
    EXPECT_EQ(sa.sun_path[len], '\0');
    EXPECT_EQ(std::strlen(sa.sun_path), len);
    vmsock_test::expect_native_round_trip(ep);
    vmsock_test::expect_text_round_trip<unix_endpoint>("unix://" + p);
  }
  for (std::size_t len : {108u, 109u, 200u, 4096u}) {
    const std::string p(len, 'q');
    try {
      (void)unix_endpoint::path(p);
      ADD_FAILURE() << len;
    } catch (const vmsock::parse_error& e) {
      EXPECT_NE(std::string(e.what()).find("path longer than 107 bytes"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("Unix socket path"), std::string::npos) << e.what();
    }
    expect_parse_error<unix_endpoint>("unix://" + p, "Unix endpoint", "path longer than 107 bytes");
    try {
      (void)unix_endpoint::abstract(p);
      ADD_FAILURE() << len;
    } catch (const vmsock::parse_error& e) {
      EXPECT_NE(std::string(e.what()).find("abstract name longer than 107 bytes"),
                std::string::npos);
    }
    expect_parse_error<unix_endpoint>("unix://@" + p, "Unix endpoint",
                                      "abstract name longer than 107");
  }
  // The limit counts decoded bytes: 107 escapes fit, 108 do not.
  std::string escaped;
  for (int i = 0; i < 107; ++i) escaped += "%41";
  EXPECT_EQ(unix_endpoint::parse("unix://" + escaped).name(), std::string(107, 'A'));
  expect_parse_error<unix_endpoint>("unix://" + escaped + "%41", "Unix endpoint",
                                    "path longer than 107");
}

TEST(Unix, NulInPathIsRefused) {
  for (std::size_t pos : {0u, 1u, 5u, 9u}) {
    std::string p = "/tmp/sock!";
    p[pos] = '\0';
    EXPECT_THROW((void)unix_endpoint::path(p), vmsock::parse_error) << pos;
    try {
      (void)unix_endpoint::path(p);
    } catch (const vmsock::parse_error& e) {
      EXPECT_NE(std::string(e.what()).find("path contains a NUL byte"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("\\x00"), std::string::npos) << e.what();
    }
    // In text: raw, or as the escape %00.
    expect_parse_error<unix_endpoint>("unix://" + p, "Unix endpoint", "path contains a NUL byte");
    std::string escaped = "/tmp/sock!";
    escaped.replace(pos, 1, "%00");
    expect_parse_error<unix_endpoint>("unix://" + escaped, "Unix endpoint",
                                      "path contains a NUL byte");
  }
  // An abstract name may hold NUL bytes anywhere.
  const auto ep = unix_endpoint::abstract(vmsock_test::bytes("a\0b\0"));
  EXPECT_EQ(ep.name(), vmsock_test::bytes("a\0b\0"));
  EXPECT_EQ(ep.to_string(), "unix://@a%00b%00");
  vmsock_test::expect_native_round_trip(ep);
}

TEST(Unix, AbstractNames) {
  const auto ep = unix_endpoint::abstract("vmsock-test");
  EXPECT_TRUE(ep.is_abstract());
  EXPECT_EQ(ep.name(), "vmsock-test");
  EXPECT_EQ(ep.to_string(), "unix://@vmsock-test");
  EXPECT_EQ(ep.native_size(), path_offset + 1 + 11);
  const auto sa = ep.to_native();
  EXPECT_EQ(sa.sun_path[0], '\0');
  EXPECT_EQ(std::string_view(sa.sun_path + 1, 11), "vmsock-test");
  vmsock_test::expect_parses_to("unix://@vmsock-test", ep);
  vmsock_test::expect_parses_to("UNIX://@vmsock-test", ep);
  // A path and an abstract name with the same bytes are different endpoints.
  EXPECT_NE(unix_endpoint::path("x"), unix_endpoint::abstract("x"));
  EXPECT_NE(unix_endpoint::path("x"), unix_endpoint{});
  // The longest abstract name fills sun_path exactly.
  const auto longest = unix_endpoint::abstract(std::string(107, 'n'));
  EXPECT_EQ(longest.native_size(), sizeof(sockaddr_un));
  vmsock_test::expect_native_round_trip(longest);
}

// Every byte value, in names of every length, survives the %XX text form and
// the native struct.
TEST(Unix, AbstractNamesWithArbitraryBytesRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t start = 0; start < 256; start += 100) {
    const auto ep = unix_endpoint::abstract(all.substr(start, 107));
    vmsock_test::expect_text_round_trip<unix_endpoint>(ep.to_string());
    EXPECT_EQ(unix_endpoint::parse(ep.to_string()).name(), all.substr(start, 107));
  }
  for (int i = 0; i < 2000; ++i) {
    const std::string name = vmsock_test::random_bytes(random_int<std::size_t>(1, 107));
    const auto ep = unix_endpoint::abstract(name);
    const std::string text = ep.to_string();
    // The text is printable: no control byte, and every '%' starts an escape.
    for (char c : text) {
      const auto u = static_cast<unsigned char>(c);
      EXPECT_TRUE(u >= 0x20 && u != 0x7f) << text;
    }
    EXPECT_EQ(ep.native_size(), path_offset + 1 + name.size());
    vmsock_test::expect_text_round_trip<unix_endpoint>(text);
    EXPECT_EQ(unix_endpoint::parse(text).name(), name);
  }
}

// Paths with every byte but NUL: '%', control bytes and a leading '@' are
// escaped so that the text parses back to a path, never an abstract name.
TEST(Unix, PathsWithUnusualBytesRoundTrip) {
  EXPECT_EQ(unix_endpoint::path("@notabstract").to_string(), "unix://%40notabstract");
  EXPECT_EQ(unix_endpoint::path("100%").to_string(), "unix://100%25");
  EXPECT_EQ(unix_endpoint::path("a\nb").to_string(), "unix://a%0ab");
  EXPECT_EQ(unix_endpoint::path("/a@b").to_string(), "unix:///a@b");
  EXPECT_EQ(unix_endpoint::parse("unix://%2Ftmp%2fx").name(), "/tmp/x");
  for (int i = 0; i < 2000; ++i) {
    std::string p = vmsock_test::random_bytes(random_int<std::size_t>(1, 107));
    for (auto& c : p)
      if (c == '\0') c = '@';
    const auto ep = unix_endpoint::path(p);
    EXPECT_EQ(unix_endpoint::parse(ep.to_string()), ep);
    vmsock_test::expect_text_round_trip<unix_endpoint>(ep.to_string());
  }
}

// After "unix://" comes the path itself: a third slash makes it absolute,
// anything else is relative (there is no host part: "unix://localhost/x" is
// the relative path "localhost/x").  Both print as they were written.
TEST(Unix, TextForms) {
  vmsock_test::expect_parses_to("unix:///run/vmsock.sock", unix_endpoint::path("/run/vmsock.sock"));
  vmsock_test::expect_parses_to("unix://relative/x.sock", unix_endpoint::path("relative/x.sock"));
  vmsock_test::expect_parses_to("unix://x.sock", unix_endpoint::path("x.sock"));
  vmsock_test::expect_parses_to("unix://localhost/x", unix_endpoint::path("localhost/x"));
  vmsock_test::expect_text_round_trip<unix_endpoint>("unix://relative/x.sock");
  vmsock_test::expect_text_round_trip<unix_endpoint>("unix:///run/vmsock.sock");
}

TEST(Unix, FromNative) {
  const auto ep = unix_endpoint::path("/tmp/x");
  const auto sa = ep.to_native();
  // Null, shorter than the family, other families.
  vmsock_test::expect_from_native_rejects(ep, path_offset);
  // Exactly the family: an unnamed socket, as getsockname reports one.
  const auto unnamed = unix_endpoint::from_native(&sa, path_offset);
  ASSERT_TRUE(unnamed.has_value());
  EXPECT_TRUE(unnamed->is_unnamed());
  EXPECT_EQ(*unnamed, unix_endpoint{});
  // The family and a lone NUL: some systems report an unnamed socket so.
  sockaddr_un lone{};
  lone.sun_family = AF_UNIX;
  EXPECT_EQ(unix_endpoint::from_native(&lone, path_offset + 1), unix_endpoint{});
  // A path without its NUL (the length says where it ends) and with it.
  EXPECT_EQ(unix_endpoint::from_native(&sa, path_offset + 6), ep);
  EXPECT_EQ(unix_endpoint::from_native(&sa, path_offset + 7), ep);
  EXPECT_EQ(unix_endpoint::from_native(&sa, path_offset + 3), unix_endpoint::path("/tm"));
  // Bytes after the NUL are not part of the path.
  sockaddr_un junk = sa;
  std::memcpy(junk.sun_path + 7, "garbage", 7);
  EXPECT_EQ(unix_endpoint::from_native(&junk, sizeof junk), ep);
  // An abstract name is length-delimited: trailing zeros belong to it.
  const auto abs = unix_endpoint::abstract("ab");
  const auto asa = abs.to_native();
  EXPECT_EQ(unix_endpoint::from_native(&asa, abs.native_size()), abs);
  EXPECT_EQ(unix_endpoint::from_native(&asa, abs.native_size() + 2),
            unix_endpoint::abstract(vmsock_test::bytes("ab\0\0")));
  // A path filling all 108 bytes of sun_path with no NUL: Linux can report
  // one (bound by another program), vmsock refuses it rather than cut it.
  sockaddr_un full{};
  full.sun_family = AF_UNIX;
  std::memset(full.sun_path, 'f', sizeof full.sun_path);
  EXPECT_FALSE(unix_endpoint::from_native(&full, sizeof full).has_value());
  EXPECT_EQ(unix_endpoint::from_native(&full, sizeof full - 1),
            unix_endpoint::path(std::string(107, 'f')));
  // More bytes than a sockaddr_un (a sockaddr_storage) read the same.
  union {
    sockaddr_un un;
    unsigned char raw[sizeof(sockaddr_un) + 64];
  } big{};
  big.un = sa;
  EXPECT_EQ(unix_endpoint::from_native(&big, sizeof big), ep);
}

// An unnamed endpoint has no address to connect or bind to: its text says so
// to a reader and never parses (neither as an unnamed endpoint nor as a path).
TEST(Unix, UnnamedPrintsButNeverParses) {
  const unix_endpoint none;
  EXPECT_EQ(none.native_size(), path_offset);
  vmsock_test::expect_native_round_trip(none);
  EXPECT_EQ(none.to_string(), "unix:(unnamed)");
  expect_parse_error<unix_endpoint>(none.to_string(), "Unix endpoint", "expected unix://PATH");
  // What getsockname reports for an unbound socket prints the same.
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const auto from_os = unix_endpoint::from_native(&sa, path_offset);
  ASSERT_TRUE(from_os.has_value());
  EXPECT_EQ(from_os->to_string(), "unix:(unnamed)");
}

// "unix://" names no socket: a parse error, as "unix://@" is, rather than an
// unnamed endpoint that the OS refuses at connect with EINVAL.
TEST(Unix, EmptyUriIsAParseError) {
  expect_parse_error<unix_endpoint>("unix://", "Unix endpoint", "empty path");
  expect_parse_error<unix_endpoint>("UNIX://", "Unix endpoint", "empty path");
  expect_parse_error<unix_endpoint>("unix://@", "Unix endpoint", "empty abstract name");
}

// Every error says where it is, as an offset into the text: the %-escape,
// the byte that decodes to NUL or makes the name too long, the end of an
// empty one.
TEST(Unix, ParseErrorPositions) {
  vmsock_test::expect_errors_at<unix_endpoint>({
      {"unix:/tmp/x", "expected unix://", 0},
      {"file:///tmp/x", "unknown scheme", 0},
      {"unix://", "empty path", 7},
      {"unix://@", "empty abstract name", 8},
      {"unix:///tmp/%zz", "bad %-escape", 12},
      {"unix:///tmp/%4", "truncated %-escape", 12},
      {vmsock_test::bytes("unix:///tmp/a%00b"), "NUL byte", 13},
      {vmsock_test::bytes("unix:///tmp/a\0b"), "NUL byte", 13},
  });
  const std::string long_path = "unix://" + std::string(108, 'p');
  const std::string long_escaped = "unix://@" + std::string(106, 'n') + "%41%42";
  vmsock_test::expect_errors_at<unix_endpoint>({
      {long_path, "path longer than 107", 114},
      {long_escaped, "abstract name longer than 107", 117},
  });
}

TEST(Unix, ParseErrors) {
  const std::string kind = "Unix endpoint";
  vmsock_test::expect_parse_errors<unix_endpoint>(
      kind, {
                {"", "expected unix://PATH or unix://@NAME"},
                {"/tmp/x", "expected unix://PATH"},
                {"unix:/tmp/x", "expected unix://PATH"},
                {"file:///tmp/x", "unknown scheme"},
                {"unixx:///tmp/x", "unknown scheme"},
                {"unix://%", "truncated %-escape"},
                {"unix://%4", "truncated %-escape"},
                {"unix://a%4", "truncated %-escape"},
                {"unix://%zz", "bad %-escape"},
                {"unix://%4g", "bad %-escape"},
                {"unix://@%", "truncated %-escape"},
                {"unix://@", "empty abstract name"},
                {vmsock_test::bytes("unix:///tmp/\0x"), "path contains a NUL byte"},
                {vmsock_test::bytes("unix\0:///tmp/x"), "unknown scheme"},
            });
  // Factory errors name the kind of name.
  try {
    (void)unix_endpoint::path("");
    ADD_FAILURE();
  } catch (const vmsock::parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("empty path"), std::string::npos) << e.what();
  }
  try {
    (void)unix_endpoint::abstract("");
    ADD_FAILURE();
  } catch (const vmsock::parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("empty abstract name"), std::string::npos) << e.what();
  }
}

}  // namespace
