// hybrid_vsock.hpp: a guest port behind a VMM's Unix socket, as a pure value:
// construction, the hybrid-vsock:// text form, the sun_path limit with the
// listener's "_<port>" suffix, the two Unix addresses it names.
#include <vmsock/endpoint/hybrid_vsock.hpp>

#include <vmsock/endpoint/any_endpoint.hpp>

#include "unit_support.hpp"

#include <cstdint>
#include <string>
#include <type_traits>

namespace {

using vmsock::hybrid_vsock_endpoint;
using vmsock::unix_endpoint;
using vmsock_test::expect_parse_error;
using vmsock_test::expect_parses_to;
using vmsock_test::random_int;

constexpr std::string_view kind = "hybrid vsock endpoint";

std::string uri(std::string_view path, std::string_view port) {
  return "hybrid-vsock://" + std::string(path) + ":" + std::string(port);
}

// The message of the parse_error that `text` gives, or "" when it parses.
std::string error_of(std::string_view text) {
  try {
    (void)hybrid_vsock_endpoint::parse(text);
  } catch (const vmsock::parse_error& e) {
    return e.what();
  }
  return {};
}

// The length of the decimal form of `port`.
std::size_t digits(std::uint32_t port) { return std::to_string(port).size(); }

TEST(HybridVsock, Construction) {
  const hybrid_vsock_endpoint ep{"/run/fc.vsock", 5000};
  EXPECT_EQ(ep.path(), "/run/fc.vsock");
  EXPECT_EQ(ep.port(), 5000u);
  EXPECT_FALSE(ep.empty());
  EXPECT_EQ(ep.to_string(), "hybrid-vsock:///run/fc.vsock:5000");
  EXPECT_EQ(hybrid_vsock_endpoint::family, AF_UNIX);
  EXPECT_EQ(hybrid_vsock_endpoint::protocol, 0);

  // Brace-initialised where an endpoint is expected, as connect({path, port}) is.
  const auto take = [](const hybrid_vsock_endpoint& e) { return e.port(); };
  EXPECT_EQ(take({"/run/fc.vsock", 52}), 52u);

  const hybrid_vsock_endpoint none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.path(), "");
  EXPECT_EQ(none.port(), 0u);
  EXPECT_EQ(none.to_string(), "hybrid-vsock://");
  EXPECT_TRUE(none.uds().is_unnamed());
  EXPECT_TRUE(none.listen_uds().is_unnamed());
  // The empty endpoint's text is not a hybrid endpoint: nothing to connect to.
  EXPECT_FALSE(hybrid_vsock_endpoint::try_parse(none.to_string()).has_value());
}

TEST(HybridVsock, ConstructorErrors) {
  const auto expect_refused = [](std::string_view path, std::uint32_t port,
                                 std::string_view reason) {
    SCOPED_TRACE(::testing::Message() << vmsock::detail::quote(path) << " port " << port);
    try {
      const hybrid_vsock_endpoint ep{path, port};
      ADD_FAILURE() << "accepted: " << ep.to_string();
    } catch (const vmsock::parse_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("hybrid vsock path"), std::string::npos) << what;
      EXPECT_NE(what.find(reason), std::string::npos) << what;
      EXPECT_NE(what.find(vmsock::detail::quote(path)), std::string::npos) << what;
    }
  };
  expect_refused("", 5000, "empty path");
  expect_refused(vmsock_test::bytes("/run/fc\0.vsock"), 5000, "path contains a NUL byte");
  expect_refused(vmsock_test::bytes("\0"), 1, "path contains a NUL byte");
  expect_refused(std::string(103, 'p'), 5000, "path too long");
  expect_refused(std::string(200, 'p'), 0, "path too long");
}

TEST(HybridVsock, TextRoundTrip) {
  for (const char* text : {"hybrid-vsock:///run/fc.vsock:5000", "hybrid-vsock://relative.sock:1",
                           "hybrid-vsock:///v.sock:0", "hybrid-vsock:///v.sock:4294967295",
                           "hybrid-vsock:///a b/c:52"}) {
    SCOPED_TRACE(text);
    const auto ep = hybrid_vsock_endpoint::parse(text);
    EXPECT_EQ(ep.to_string(), text);
    expect_parses_to(text, ep);
  }
  expect_parses_to("hybrid-vsock:///run/fc.vsock:5000",
                   hybrid_vsock_endpoint{"/run/fc.vsock", 5000});
  expect_parses_to("hybrid-vsock://fc.vsock:5000", hybrid_vsock_endpoint{"fc.vsock", 5000});
  // The scheme in any case; printed in lower case.
  expect_parses_to("HYBRID-VSOCK:///run/fc.vsock:5000",
                   hybrid_vsock_endpoint{"/run/fc.vsock", 5000});
  expect_parses_to("Hybrid-Vsock:///x:1", hybrid_vsock_endpoint{"/x", 1});
  EXPECT_EQ(hybrid_vsock_endpoint::parse("HYBRID-VSOCK:///x:1").to_string(), "hybrid-vsock:///x:1");
  // Random paths (every byte but NUL) and ports survive the text form.
  for (int i = 0; i < 2000; ++i) {
    const auto port = random_int<std::uint32_t>(0, 0xFFFFFFFFu);
    std::string p = vmsock_test::random_bytes(
        random_int<std::size_t>(1, hybrid_vsock_endpoint::max_path - 1 - digits(port)));
    for (auto& c : p)
      if (c == '\0') c = ':';
    const hybrid_vsock_endpoint ep{p, port};
    const std::string text = ep.to_string();
    for (char c : text) {
      const auto u = static_cast<unsigned char>(c);
      EXPECT_TRUE(u >= 0x20 && u != 0x7f) << text;
    }
    const auto back = hybrid_vsock_endpoint::try_parse(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, ep) << text;
    EXPECT_EQ(back->to_string(), text);
  }
}

TEST(HybridVsock, PercentEscapes) {
  // Control bytes, DEL and '%' are escaped; everything else is written as is.
  EXPECT_EQ((hybrid_vsock_endpoint{"/run/100%", 1}).to_string(), "hybrid-vsock:///run/100%25:1");
  EXPECT_EQ((hybrid_vsock_endpoint{"/a\nb\x7f", 2}).to_string(), "hybrid-vsock:///a%0ab%7f:2");
  EXPECT_EQ((hybrid_vsock_endpoint{"/caf\xc3\xa9", 3}).to_string(),
            "hybrid-vsock:///caf\xc3\xa9:3");
  // Escapes decode in either case, escaped or not where no escape is needed.
  expect_parses_to("hybrid-vsock://%2Frun%2ffc.vsock:5000",
                   hybrid_vsock_endpoint{"/run/fc.vsock", 5000});
  expect_parses_to("hybrid-vsock:///a%0Ab:1", hybrid_vsock_endpoint{"/a\nb", 1});
  expect_parses_to("hybrid-vsock:///100%25:1", hybrid_vsock_endpoint{"/100%", 1});
  // An escaped colon is part of the path, never the port's separator.
  expect_parses_to("hybrid-vsock:///a%3A5:6", hybrid_vsock_endpoint{"/a:5", 6});
  expect_parse_error<hybrid_vsock_endpoint>("hybrid-vsock:///a%3A5", kind, "missing :PORT");
  // Bad escapes, with where they are.
  expect_parse_error<hybrid_vsock_endpoint>("hybrid-vsock:///a%4:1", kind,
                                            "truncated %-escape (expected %XX) (at offset 17)");
  expect_parse_error<hybrid_vsock_endpoint>("hybrid-vsock:///a%:1", kind, "truncated %-escape");
  expect_parse_error<hybrid_vsock_endpoint>(
      "hybrid-vsock:///a%zz:1", kind,
      "bad %-escape (expected %XX with two hex digits) (at offset 17)");
  // The port is never decoded.
  expect_parse_error<hybrid_vsock_endpoint>("hybrid-vsock:///a:%35", kind, "not a decimal number");
}

// The port follows the LAST colon: a path may hold colons.
TEST(HybridVsock, PathsWithColons) {
  const auto ep = hybrid_vsock_endpoint::parse("hybrid-vsock:///run/vm:1/fc.vsock:5000");
  EXPECT_EQ(ep.path(), "/run/vm:1/fc.vsock");
  EXPECT_EQ(ep.port(), 5000u);
  EXPECT_EQ(ep.to_string(), "hybrid-vsock:///run/vm:1/fc.vsock:5000");
  expect_parses_to("hybrid-vsock://a::1", hybrid_vsock_endpoint{"a:", 1});
  expect_parses_to("hybrid-vsock://:::2", hybrid_vsock_endpoint{"::", 2});
  expect_parses_to("hybrid-vsock://x://y:3", hybrid_vsock_endpoint{"x://y", 3});
  // A path ending in a colon, or made of colons, prints and parses back.
  for (const char* p : {"/a:", ":", "::", "/x:5:"}) {
    const hybrid_vsock_endpoint e{p, 7};
    EXPECT_EQ(hybrid_vsock_endpoint::parse(e.to_string()), e) << p;
  }
  // "…:5000:" has an empty port: the last colon decides, not the last number.
  expect_parse_error<hybrid_vsock_endpoint>("hybrid-vsock:///run/fc.vsock:5000:", kind,
                                            "missing port after the last colon");
}

TEST(HybridVsock, PortRange) {
  for (std::uint32_t port : {0u, 1u, 9u, 10u, 1023u, 1024u, 5000u, 65535u, 65536u, 1u << 30,
                             0x7FFFFFFFu, 0xFFFFFFFEu, 0xFFFFFFFFu}) {
    const std::string text = uri("/v.sock", std::to_string(port));
    expect_parses_to(text, hybrid_vsock_endpoint{"/v.sock", port});
    EXPECT_EQ(hybrid_vsock_endpoint::parse(text).to_string(), text);
  }
  expect_parse_error<hybrid_vsock_endpoint>(uri("/v.sock", "4294967296"), kind,
                                            "port above 4294967295");
  expect_parse_error<hybrid_vsock_endpoint>(uri("/v.sock", "99999999999999999999999"), kind,
                                            "port above 4294967295");
}

TEST(HybridVsock, Errors) {
  vmsock_test::expect_parse_errors<hybrid_vsock_endpoint>(
      kind,
      {
          {"", "expected hybrid-vsock://PATH:PORT"},
          {"/run/fc.vsock:5000", "expected hybrid-vsock://PATH:PORT"},
          {"unix:///run/fc.vsock:5000", "unknown scheme, expected hybrid-vsock://"},
          {"hybrid-vsock:/run/fc.vsock:5000", "expected hybrid-vsock://PATH:PORT"},
          {"hybrid-vsock://", "empty path and port"},
          {"hybrid-vsock://:5000", "empty path"},
          {"hybrid-vsock:///run/fc.vsock", "missing :PORT after the path"},
          {"hybrid-vsock:///run/fc.vsock:", "missing port after the last colon (at offset 29)"},
          {"hybrid-vsock:///run/fc.vsock:05000", "leading zeros are not allowed (at offset 29)"},
          {"hybrid-vsock:///run/fc.vsock:00", "leading zeros are not allowed"},
          {"hybrid-vsock:///run/fc.vsock:-1", "not a decimal number"},
          {"hybrid-vsock:///run/fc.vsock:+1", "not a decimal number"},
          {"hybrid-vsock:///run/fc.vsock: 1", "not a decimal number"},
          {"hybrid-vsock:///run/fc.vsock:1 ", "not a decimal number"},
          {"hybrid-vsock:///run/fc.vsock:0x10", "leading zeros are not allowed"},
          {"hybrid-vsock:///run/fc.vsock:5x", "not a decimal number"},
          {"hybrid-vsock:///run/fc.vsock:4294967296", "port above 4294967295 (at offset 29)"},
      });
  EXPECT_NE(error_of("hybrid-vsock://").find("(at offset 15)"), std::string::npos);
  // "0" itself is a port.
  EXPECT_EQ(hybrid_vsock_endpoint::parse("hybrid-vsock:///run/fc.vsock:0").port(), 0u);
}

TEST(HybridVsock, NulByte) {
  expect_parse_error<hybrid_vsock_endpoint>("hybrid-vsock:///run/fc%00.vsock:5000", kind,
                                            "path contains a NUL byte");
  expect_parse_error<hybrid_vsock_endpoint>(
      vmsock_test::bytes("hybrid-vsock:///run/fc\0.vsock:5000"), kind, "path contains a NUL byte");
  expect_parse_error<hybrid_vsock_endpoint>("hybrid-vsock://%00:1", kind,
                                            "path contains a NUL byte");
  // A NUL in the port is not a digit.
  expect_parse_error<hybrid_vsock_endpoint>(vmsock_test::bytes("hybrid-vsock:///v:5\0"), kind,
                                            "not a decimal number");
}

// sun_path holds 108 bytes: the listener's "<path>_<port>" and its NUL must
// fit, so the longest path is 107 - 1 - digits(port) bytes, checked against
// the actual port, in both the constructor and the parser, on decoded bytes.
TEST(HybridVsock, PathLimitLeavesRoomForThePortSuffix) {
  EXPECT_EQ(hybrid_vsock_endpoint::max_path, 107u);
  for (std::uint32_t port : {0u, 7u, 52u, 5000u, 65535u, 1u << 30, 0xFFFFFFFFu}) {
    SCOPED_TRACE(::testing::Message() << "port " << port);
    const std::size_t limit = hybrid_vsock_endpoint::max_path - 1 - digits(port);
    const std::string at_limit = "/" + std::string(limit - 1, 'p');
    const std::string over = at_limit + "q";
    const hybrid_vsock_endpoint ep{at_limit, port};
    EXPECT_EQ(ep.path(), at_limit);
    // Both Unix addresses are whole: nothing cut to fit.
    EXPECT_EQ(ep.uds(), unix_endpoint::path(at_limit));
    const unix_endpoint listen_at = ep.listen_uds();
    EXPECT_EQ(listen_at, unix_endpoint::path(at_limit + "_" + std::to_string(port)));
    EXPECT_EQ(listen_at.name().size(), unix_endpoint::max_path);
    EXPECT_EQ(listen_at.native_size(), sizeof(sockaddr_un));
    vmsock_test::expect_native_round_trip(listen_at);
    EXPECT_EQ(hybrid_vsock_endpoint::parse(ep.to_string()), ep);

    EXPECT_THROW((hybrid_vsock_endpoint{over, port}), vmsock::parse_error);
    const std::string text = uri(over, std::to_string(port));
    expect_parse_error<hybrid_vsock_endpoint>(text, kind, "path too long");
    expect_parse_error<hybrid_vsock_endpoint>(text, kind, "\"_<port>\" suffix");
    EXPECT_NE(error_of(text).find("(at offset 15)"), std::string::npos) << error_of(text);

    // Counted on decoded bytes: the path written all in escapes fits the
    // same, and one byte more does not.
    std::string escaped;
    for (std::size_t i = 0; i < limit; ++i) escaped += "%41";
    EXPECT_EQ(hybrid_vsock_endpoint::parse(uri(escaped, std::to_string(port))).path(),
              std::string(limit, 'A'));
    expect_parse_error<hybrid_vsock_endpoint>(uri(escaped + "%41", std::to_string(port)), kind,
                                              "path too long");
  }
  // A path that would fit with a short port does not with a long one.
  const std::string p(100, 'x');
  EXPECT_NO_THROW((hybrid_vsock_endpoint{p, 52}));
  EXPECT_THROW((hybrid_vsock_endpoint{p, 1u << 30}), vmsock::parse_error);
  // Far over the limit: refused while decoding, with the offset where.
  const std::string huge = uri("/" + std::string(300, 'z'), "1");
  expect_parse_error<hybrid_vsock_endpoint>(huge, kind, "path too long");
  EXPECT_NE(error_of(huge).find("(at offset "), std::string::npos) << error_of(huge);
}

// Every error names where the parser stopped.
TEST(HybridVsock, ErrorTextHasAnOffset) {
  for (const char* text :
       {"hybrid-vsock://", "hybrid-vsock://:5000", "hybrid-vsock:///run/fc.vsock",
        "hybrid-vsock:///run/fc.vsock:", "hybrid-vsock:///run/fc.vsock:x", "hybrid-vsock:///a%zz:1",
        "hybrid-vsock:///a%00:1", "unix:///a:1", "nothing"}) {
    const std::string what = error_of(text);
    EXPECT_NE(what.find("(at offset "), std::string::npos) << text << ": " << what;
    const auto d = hybrid_vsock_endpoint::parse_detail(text);
    EXPECT_FALSE(d);
    EXPECT_NE(d.position, std::string_view::npos) << text;
    EXPECT_LE(d.position, std::string_view(text).size()) << text;
  }
  const auto ok = hybrid_vsock_endpoint::parse_detail("hybrid-vsock:///x:1");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.position, std::string_view::npos);
  EXPECT_EQ(ok.value, (hybrid_vsock_endpoint{"/x", 1}));
  EXPECT_NE(error_of("hybrid-vsock:///run/fc.vsock:x").find("not a decimal number (at offset 29)"),
            std::string::npos);
}

TEST(HybridVsock, UnixAddresses) {
  const hybrid_vsock_endpoint ep{"/run/fc.vsock", 5000};
  EXPECT_EQ(ep.uds(), unix_endpoint::path("/run/fc.vsock"));
  EXPECT_EQ(ep.uds().to_string(), "unix:///run/fc.vsock");
  EXPECT_EQ(ep.listen_uds(), unix_endpoint::path("/run/fc.vsock_5000"));
  EXPECT_EQ(ep.listen_uds().to_string(), "unix:///run/fc.vsock_5000");
  EXPECT_EQ((hybrid_vsock_endpoint{"v.sock", 0}).listen_uds(), unix_endpoint::path("v.sock_0"));
  EXPECT_EQ((hybrid_vsock_endpoint{"v.sock", 0xFFFFFFFFu}).listen_uds(),
            unix_endpoint::path("v.sock_4294967295"));
  // A path that starts with '@' is a path, never a Linux abstract name.
  const hybrid_vsock_endpoint at{"@not-abstract", 1};
  EXPECT_EQ(at.uds().type(), unix_endpoint::kind::path);
  EXPECT_EQ(at.uds().name(), "@not-abstract");
  EXPECT_EQ(at.listen_uds().type(), unix_endpoint::kind::path);
  EXPECT_EQ(at.listen_uds().name(), "@not-abstract_1");
  EXPECT_EQ(hybrid_vsock_endpoint::parse(at.to_string()), at);
}

TEST(HybridVsock, Equality) {
  const hybrid_vsock_endpoint a{"/run/fc.vsock", 5000};
  EXPECT_EQ(a, (hybrid_vsock_endpoint{"/run/fc.vsock", 5000}));
  EXPECT_FALSE(a != (hybrid_vsock_endpoint{"/run/fc.vsock", 5000}));
  EXPECT_NE(a, (hybrid_vsock_endpoint{"/run/fc.vsock", 5001}));
  EXPECT_NE(a, (hybrid_vsock_endpoint{"/run/fc.vsoc", 5000}));
  EXPECT_NE(a, (hybrid_vsock_endpoint{"/run/fc.vsock2", 5000}));
  EXPECT_NE(a, hybrid_vsock_endpoint{});
  EXPECT_EQ(hybrid_vsock_endpoint{}, hybrid_vsock_endpoint{});
  // Copies are equal and independent.
  hybrid_vsock_endpoint b = a;
  EXPECT_EQ(a, b);
  b = hybrid_vsock_endpoint{"/other", 1};
  EXPECT_EQ(a.path(), "/run/fc.vsock");
  static_assert(std::is_trivially_copyable_v<hybrid_vsock_endpoint>);
  static_assert(std::is_nothrow_default_constructible_v<hybrid_vsock_endpoint>);
}

TEST(HybridVsock, AnyEndpoint) {
  using vmsock::any_endpoint;
  using vmsock::uri_scheme;
  const auto any = any_endpoint::parse("hybrid-vsock:///run/fc.vsock:5000");
  EXPECT_EQ(any.scheme(), uri_scheme::hybrid_vsock);
  EXPECT_EQ(vmsock::to_string(any.scheme()), "hybrid-vsock");
  EXPECT_EQ(any.type(), vmsock::socket_type::stream);
  ASSERT_TRUE(any.holds<hybrid_vsock_endpoint>());
  EXPECT_EQ(*any.get_if<hybrid_vsock_endpoint>(), (hybrid_vsock_endpoint{"/run/fc.vsock", 5000}));
  EXPECT_EQ(any.to_string(), "hybrid-vsock:///run/fc.vsock:5000");
  EXPECT_EQ(any, any_endpoint(hybrid_vsock_endpoint{"/run/fc.vsock", 5000}));
  EXPECT_NE(any, any_endpoint(unix_endpoint::path("/run/fc.vsock")));
  EXPECT_EQ(any_endpoint::parse("HYBRID-VSOCK:///x:1").scheme(), uri_scheme::hybrid_vsock);
  // The hybrid parser's reasons come through.
  const auto bad = any_endpoint::parse_detail("hybrid-vsock:///run/fc.vsock:05000");
  EXPECT_FALSE(bad);
  EXPECT_NE(std::string(bad.error).find("leading zeros"), std::string::npos) << bad.error;
  expect_parse_error<any_endpoint>("hybrid-vsock:///run/fc.vsock", "endpoint URI", "missing :PORT");
  // The scheme list in the errors names it.
  expect_parse_error<any_endpoint>("nope://x", "endpoint URI", "hybrid-vsock");
  expect_parse_error<any_endpoint>("no uri", "endpoint URI", "hybrid-vsock://");
}

}  // namespace
