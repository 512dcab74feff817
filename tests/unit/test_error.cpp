// error.hpp: vmsock::errc, its category, the portable conditions, parse_error
// and the throw helpers.
#include <vmsock/error.hpp>

#include "unit_support.hpp"

#include <vmsock/detail/win_error.hpp>

#include <set>
#include <string>
#include <system_error>
#include <type_traits>

namespace {

using vmsock::errc;

// The enumerators run from no_mapping to the last one without gaps.
constexpr errc first = errc::no_mapping;
constexpr errc last = errc::invalid_option_value;

static_assert(std::is_error_code_enum<errc>::value);
static_assert(!std::is_error_condition_enum<errc>::value);
static_assert(std::is_convertible_v<errc, std::error_code>);
static_assert(std::is_base_of_v<std::invalid_argument, vmsock::parse_error>);

// OS error codes as the policies report them (make_os_error): errno values on
// POSIX, WSAGetLastError() values on Windows.
#if VMSOCK_WINDOWS
constexpr int os_timed_out = WSAETIMEDOUT;
constexpr int os_connection_refused = WSAECONNREFUSED;
#else
constexpr int os_timed_out = ETIMEDOUT;
constexpr int os_connection_refused = ECONNREFUSED;
#endif
using vmsock::detail::make_os_error;

TEST(Error, EveryCodeHasItsOwnMessage) {
  std::set<std::string> messages;
  for (int v = static_cast<int>(first); v <= static_cast<int>(last); ++v) {
    const std::error_code ec = static_cast<errc>(v);
    EXPECT_TRUE(ec) << v;
    EXPECT_EQ(&ec.category(), &vmsock::error_category());
    EXPECT_EQ(ec.value(), v);
    const std::string msg = ec.message();
    EXPECT_FALSE(msg.empty()) << v;
    EXPECT_EQ(msg.find("unknown"), std::string::npos) << v << ": " << msg;
    messages.insert(msg);
  }
  EXPECT_EQ(messages.size(),
            static_cast<std::size_t>(static_cast<int>(last) - static_cast<int>(first) + 1));
  EXPECT_EQ(vmsock::error_category().message(0), "unknown vmsock error 0");
  EXPECT_EQ(vmsock::error_category().message(9999), "unknown vmsock error 9999");
  EXPECT_STREQ(vmsock::error_category().name(), "vmsock");
  // Named messages users will see.
  EXPECT_NE(std::error_code(errc::no_mapping).message().find("Hyper-V"), std::string::npos);
  EXPECT_NE(std::error_code(errc::not_a_template_service_id)
                .message()
                .find("facb-11e6-bd58-64006a7986d3"),
            std::string::npos);
}

// receive_exact's clean end (no byte of the next message) is an end of stream
// too: the enum compares as a condition, the error_codes stay exact.
TEST(Error, CleanEndOfStreamIsAnEndOfStream) {
  const std::error_code clean = errc::clean_end_of_stream;
  const std::error_code cut = errc::end_of_stream;
  EXPECT_TRUE(clean == errc::clean_end_of_stream);
  EXPECT_TRUE(clean == errc::end_of_stream);
  EXPECT_TRUE(errc::end_of_stream == clean);
  EXPECT_FALSE(clean != errc::end_of_stream);
  EXPECT_FALSE(errc::end_of_stream != clean);
  EXPECT_TRUE(cut == errc::end_of_stream);
  EXPECT_FALSE(cut == errc::clean_end_of_stream) << "a message cut short is no clean end";
  EXPECT_TRUE(cut != errc::clean_end_of_stream);
  EXPECT_TRUE(errc::clean_end_of_stream != cut);
  EXPECT_NE(clean, cut) << "two error_codes compare exactly";
  EXPECT_EQ(clean.default_error_condition(), vmsock::make_error_condition(errc::end_of_stream));
  EXPECT_EQ(clean, vmsock::make_error_condition(errc::end_of_stream));
  EXPECT_NE(cut, vmsock::make_error_condition(errc::clean_end_of_stream));
  EXPECT_EQ(clean.message(),
            "peer closed the stream before the first byte (a clean end between messages)");
  EXPECT_EQ(cut.message(), "peer closed the stream before all bytes arrived");
  // No other code of vmsock's or of the OS's becomes an end of stream.
  for (int v = static_cast<int>(first); v <= static_cast<int>(errc::hybrid_vsock_bad_answer); ++v) {
    if (v == static_cast<int>(errc::end_of_stream)) continue;
    EXPECT_FALSE(std::error_code(static_cast<errc>(v)) == errc::end_of_stream) << v;
    EXPECT_FALSE(std::error_code(static_cast<errc>(v)) == errc::clean_end_of_stream) << v;
  }
  EXPECT_FALSE(std::error_code(static_cast<int>(errc::end_of_stream), std::system_category()) ==
               errc::end_of_stream);
  EXPECT_FALSE(std::make_error_code(std::errc::timed_out) == errc::timed_out)
      << "an OS timeout is not vmsock's own (it equals std::errc::timed_out)";
}

TEST(Error, PortableConditions) {
  EXPECT_EQ(std::error_code(errc::timed_out), std::errc::timed_out);
  EXPECT_EQ(std::error_code(errc::unsupported_on_platform), std::errc::not_supported);
  EXPECT_EQ(std::error_code(errc::address_family_mismatch),
            std::errc::address_family_not_supported);
  EXPECT_EQ(std::error_code(errc::message_truncated), std::errc::message_size);
  EXPECT_EQ(std::error_code(errc::invalid_option_value), std::errc::invalid_argument);
  // Codes with no portable meaning match themselves and nothing of std::errc.
  for (errc e : {errc::no_mapping, errc::not_a_template_service_id, errc::end_of_stream}) {
    const std::error_code ec = e;
    EXPECT_EQ(ec, e);
    EXPECT_EQ(ec.default_error_condition(), vmsock::make_error_condition(e));
    for (std::errc s : {std::errc::timed_out, std::errc::not_supported, std::errc::invalid_argument,
                        std::errc::address_family_not_supported, std::errc::message_size,
                        std::errc::connection_reset, std::errc::no_such_device})
      EXPECT_NE(ec, s) << ec.message();
  }
  // Each code equals only itself among vmsock's codes.
  for (int a = static_cast<int>(first); a <= static_cast<int>(last); ++a)
    for (int b = static_cast<int>(first); b <= static_cast<int>(last); ++b)
      EXPECT_EQ(std::error_code(static_cast<errc>(a)) == static_cast<errc>(b), a == b);
  // A system error with the same number is not a vmsock error.
  EXPECT_NE(std::error_code(1, std::system_category()), errc::no_mapping);
  EXPECT_NE(make_os_error(1), errc::no_mapping);
  EXPECT_NE(std::error_code(errc::timed_out), make_os_error(os_timed_out));
  EXPECT_EQ(make_os_error(os_timed_out), std::errc::timed_out);
}

TEST(Error, QuoteEscapesControlBytesAndQuotes) {
  using vmsock::detail::quote;
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("abc"), "\"abc\"");
  EXPECT_EQ(quote(vmsock_test::bytes("a\0b")), "\"a\\x00b\"");
  EXPECT_EQ(quote("tab\there\n"), "\"tab\\x09here\\x0a\"");
  EXPECT_EQ(quote("\x7f\x1f"), "\"\\x7f\\x1f\"");
  EXPECT_EQ(quote("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(quote("\xc3\xa9"), "\"\xc3\xa9\"");  // UTF-8 stays as it is
}

TEST(Error, ThrowHelpers) {
  try {
    vmsock::detail::throw_parse_error("widget", vmsock_test::bytes("x\0y"), "too square");
    ADD_FAILURE() << "did not throw";
  } catch (const vmsock::parse_error& e) {
    EXPECT_STREQ(e.what(), "widget \"x\\x00y\": too square");
  }
  try {
    vmsock::detail::throw_error(errc::no_mapping, "connect to", "hvsock://children/5");
    ADD_FAILURE() << "did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::no_mapping);
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("connect to hvsock://children/5", 0), 0u) << what;
    EXPECT_NE(what.find(std::error_code(errc::no_mapping).message()), std::string::npos) << what;
  }
  try {
    vmsock::detail::throw_error(make_os_error(os_connection_refused), "connect");
    ADD_FAILURE() << "did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::connection_refused);
    EXPECT_EQ(std::string(e.what()).rfind("connect: ", 0), 0u) << e.what();
  }
}

}  // namespace
