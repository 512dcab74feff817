// hv_registry.hpp: what needs no registry.  The name check, the messages'
// pieces and the WSAEACCES hint's text on every platform; on POSIX, every call
// is unsupported_on_platform and says why.  (The registry itself is tested
// under Wine, in tests/windows/test_hv_registry.cpp; this program never
// touches it, also when it runs under Wine.)
#include <vmsock/host/hv_registry.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/socket/detail/hv_access_hint.hpp>

#include "unit_support.hpp"

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

namespace hv = vmsock::hv;
using hv::detail::check_element_name;
using hv::detail::name_problem;
using vmsock::guid;
using vmsock::inet4_endpoint;
using vmsock::vsock_endpoint;
namespace vsock = vmsock::vsock;

// The ec forms are noexcept, the throwing ones are not.  (The name is passed
// as a string_view: a call with "x" would also ask whether string_view's
// constructor from const char* is noexcept, which libc++ does not declare.)
[[maybe_unused]] void noexcept_forms(std::error_code& ec, std::vector<std::string>* skipped,
                                     std::string_view name) {
  static_assert(noexcept(hv::register_service(guid{}, name, ec)));
  static_assert(noexcept(hv::register_service(std::uint32_t{1}, name, ec)));
  static_assert(noexcept(hv::unregister_service(guid{}, ec)));
  static_assert(noexcept(hv::is_service_registered(guid{}, ec)));
  static_assert(noexcept(hv::registered_services(ec)));
  static_assert(noexcept(hv::registered_services(skipped, ec)));
  static_assert(!noexcept(hv::register_service(guid{}, "x")));
  static_assert(!noexcept(hv::registered_services()));
}

// The check runs at compile time too.
static_assert(check_element_name("agent").problem == name_problem::none);
static_assert(check_element_name("agent").utf16_units == 5);
static_assert(check_element_name("").problem == name_problem::empty);
static_assert(check_element_name("\xf0\x9d\x84\x9e").utf16_units == 2);
static_assert(check_element_name("\xc0\xaf").problem == name_problem::invalid_utf8);

TEST(HvRegistry, Constants) {
  EXPECT_EQ(hv::services_key,
            "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\"
            "GuestCommunicationServices");
  // 1 MiB of UTF-16 with its NUL.
  EXPECT_EQ((hv::max_element_name_units + 1) * 2, 1024u * 1024u);
  EXPECT_EQ(hv::service_key(*hv::service_id_from_port(2761)),
            std::string(hv::services_key) + "\\00000ac9-facb-11e6-bd58-64006a7986d3");
  // Lower case, no braces, whatever the text it was parsed from.
  EXPECT_EQ(hv::service_key(guid::parse("{999E53D4-3D5C-4C3E-8779-BED06EC056E1}")),
            std::string(hv::services_key) + "\\999e53d4-3d5c-4c3e-8779-bed06ec056e1");
}

TEST(HvRegistry, NameCheck) {
  struct name_case {
    std::string name;
    name_problem problem;
    std::size_t offset;  // for embedded_nul and invalid_utf8
    std::size_t units;   // for none and too_long
  };
  const std::vector<name_case> rows = {
      {"a", name_problem::none, 0, 1},
      {"D\xc3\xa9mo \xe2\x98\x83", name_problem::none, 0, 6},
      {"\xf0\x9d\x84\x9e\xf4\x8f\xbf\xbf", name_problem::none, 0, 4},
      {"", name_problem::empty, 0, 0},
      {std::string("ab\0c", 4), name_problem::embedded_nul, 2, 0},
      {std::string("\0", 1), name_problem::embedded_nul, 0, 0},
      {"ab\x80", name_problem::invalid_utf8, 2, 0},
      {"\xc1\xbf", name_problem::invalid_utf8, 0, 0},          // overlong
      {"a\xe0\x9f\xbf", name_problem::invalid_utf8, 1, 0},     // overlong
      {"\xf0\x8f\xbf\xbf", name_problem::invalid_utf8, 0, 0},  // overlong
      {"\xed\xa0\x80", name_problem::invalid_utf8, 0, 0},      // surrogate
      {"\xf4\x90\x80\x80", name_problem::invalid_utf8, 0, 0},  // above U+10FFFF
      {"\xf5\x80\x80\x80", name_problem::invalid_utf8, 0, 0},
      {"abc\xe2\x82", name_problem::invalid_utf8, 3, 0},  // cut short
      {"\xe2\x82"
       "a",
       name_problem::invalid_utf8, 0, 0},  // not a continuation
      // The first problem wins: a NUL before bad UTF-8, and the other way round.
      {std::string("a\0\xff", 3), name_problem::embedded_nul, 1, 0},
      {std::string("\xff\0", 2), name_problem::invalid_utf8, 0, 0},
      // The limit is in UTF-16 units, not bytes of UTF-8.
      {std::string(hv::max_element_name_units, 'x'), name_problem::none, 0,
       hv::max_element_name_units},
      {std::string(hv::max_element_name_units + 1, 'x'), name_problem::too_long, 0,
       hv::max_element_name_units + 1},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(testing::PrintToString(r.name.substr(0, 16)));
    const auto c = check_element_name(r.name);
    EXPECT_EQ(c.problem, r.problem);
    if (r.problem == name_problem::embedded_nul || r.problem == name_problem::invalid_utf8) {
      EXPECT_EQ(c.offset, r.offset);
    }
    if (r.problem == name_problem::none || r.problem == name_problem::too_long) {
      EXPECT_EQ(c.utf16_units, r.units);
    }
  }

  // 3-byte characters: 1.5 MiB of UTF-8 fits; 4-byte ones count twice.
  std::string cjk;
  for (std::size_t i = 0; i < hv::max_element_name_units; ++i) cjk += "\xe4\xb8\xad";
  EXPECT_EQ(check_element_name(cjk).problem, name_problem::none);
  std::string astral;
  for (std::size_t i = 0; i < (hv::max_element_name_units + 1) / 2; ++i)
    astral += "\xf0\x9d\x84\x9e";
  EXPECT_EQ(astral.size(), 1024u * 1024u);
  EXPECT_EQ(check_element_name(astral).problem, name_problem::too_long);
  EXPECT_EQ(check_element_name(astral).utf16_units, hv::max_element_name_units + 1);
}

TEST(HvRegistry, NameErrorsAndTheirText) {
  using hv::detail::describe_name_problem;
  using hv::detail::name_error;
  EXPECT_FALSE(name_error(name_problem::none));
  EXPECT_EQ(name_error(name_problem::empty), std::errc::invalid_argument);
  EXPECT_EQ(name_error(name_problem::embedded_nul), std::errc::invalid_argument);
  EXPECT_EQ(name_error(name_problem::invalid_utf8), std::errc::illegal_byte_sequence);
  EXPECT_EQ(name_error(name_problem::too_long), std::errc::value_too_large);

  const auto text = [](std::string_view name) {
    return describe_name_problem(name, check_element_name(name));
  };
  EXPECT_EQ(text(""), "the element name is empty");
  EXPECT_EQ(text(std::string_view("ab\0", 3)),
            "the element name has a NUL byte at offset 2 (REG_SZ text would end there)");
  EXPECT_EQ(text("D\xe9mo"), "the element name is not valid UTF-8 at byte offset 1 (byte 0xe9)");
  EXPECT_EQ(text(std::string(hv::max_element_name_units + 1, 'x')),
            "the element name is 524288 UTF-16 units long; a registry value holds at most 524287 "
            "(1 MiB with its terminating NUL)");
}

TEST(HvRegistry, MessagesQuoteNamesShortAndWhole) {
  using hv::detail::quote_name;
  EXPECT_EQ(quote_name("agent"), "\"agent\"");
  EXPECT_EQ(quote_name(std::string_view("a\0b", 3)), "\"a\\x00b\"");
  EXPECT_EQ(quote_name("D\xe9mo"), "(not UTF-8)");
  EXPECT_EQ(quote_name(std::string(100, 'x')), "\"" + std::string(64, 'x') + "\"...");
  // Never cut inside a character: 63 ASCII, then a 2-byte one across byte 64.
  EXPECT_EQ(quote_name(std::string(63, 'x') + "\xc3\xa9zzz"),
            "\"" + std::string(63, 'x') + "\"...");
}

TEST(HvRegistry, AccessDeniedHintText) {
  using state = hv::detail::registration_state;
  const guid id = *hv::service_id_from_port(5000);
  const std::string key = hv::service_key(id);

  EXPECT_EQ(hv::detail::access_denied_hint(id, state::not_registered),
            "Hyper-V service 00001388-facb-11e6-bd58-64006a7986d3 is not registered on this "
            "machine (no key " +
                key +
                "): Microsoft's guide has a host register each service id "
                "it serves, and a host may refuse one that is not (add it once, as administrator: "
                "vmsock::hv::register_service)");
  EXPECT_EQ(hv::detail::access_denied_hint(id, state::unknown, "Access denied"),
            "whether Hyper-V service 00001388-facb-11e6-bd58-64006a7986d3 is registered on this "
            "machine (" +
                key + ") could not be read: Access denied");
  EXPECT_EQ(hv::detail::access_denied_hint(id, state::registered),
            "Hyper-V service 00001388-facb-11e6-bd58-64006a7986d3 is registered on this machine (" +
                key +
                "), so a missing registration is not the cause here; Windows also denies a "
                "user access to a VM it may not use");
}

// The static hint of a Hyper-V socket's access denial (the socket layer's):
// the causes and the service id; none for the parent partition, whose
// registration is not this machine's step.
TEST(HvRegistry, SocketHintIsStaticAndOnlyOnTheHostSide) {
  const auto id = *hv::service_id_from_port(5000);
  const std::string hint = vmsock::detail::hv_access_denied_hint({hv::vm_id::wildcard, id});
  EXPECT_EQ(
      hint,
      " (hint: Windows denied access: the user may not be allowed to use that VM, or, on a "
      "host, Hyper-V service 00001388-facb-11e6-bd58-64006a7986d3 may need registering under " +
          std::string(hv::services_key) +
          " (vmsock::hv::register_service, as administrator; vmsock::hv::access_denied_hint "
          "says what this machine's registry holds))");
  EXPECT_EQ(vmsock::detail::hv_access_denied_hint({hv::vm_id::children, id}), hint);
  EXPECT_EQ(vmsock::detail::hv_access_denied_hint({hv::vm_id::parent, id}), "");
  // A vsock_endpoint is its Hyper-V address on Windows.
  const auto as_hv = vmsock::detail::hyperv_address_of(vsock_endpoint{vsock::cid::host, 5000});
  ASSERT_TRUE(as_hv.has_value());
  EXPECT_EQ(as_hv->vm_id, hv::vm_id::parent);
  EXPECT_FALSE(vmsock::detail::hyperv_address_of(inet4_endpoint::loopback(5000)).has_value());
}

#if VMSOCK_POSIX

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

const guid some_id = guid::parse("999e53d4-3d5c-4c3e-8779-bed06ec056e1");

void expect_unsupported_message(const std::system_error& e, std::string_view operation) {
  const std::string what = e.what();
  EXPECT_EQ(e.code(), vmsock::errc::unsupported_on_platform) << what;
  EXPECT_TRUE(contains(what, operation)) << what;
  EXPECT_TRUE(contains(what, "a step on a Windows Hyper-V host")) << what;
  EXPECT_TRUE(contains(what, "a Linux host needs none")) << what;
}

TEST(HvRegistryPosix, EveryCallIsUnsupported) {
  std::error_code ec;
  hv::register_service(some_id, "agent", ec);
  EXPECT_EQ(ec, vmsock::errc::unsupported_on_platform);
  EXPECT_EQ(ec, std::errc::not_supported);
  ec.clear();
  hv::register_service(std::uint32_t{2761}, "agent", ec);
  EXPECT_EQ(ec, vmsock::errc::unsupported_on_platform);
  ec.clear();
  // Before the name is looked at: the platform is the first answer.
  hv::register_service(some_id, "", ec);
  EXPECT_EQ(ec, vmsock::errc::unsupported_on_platform);
  ec.clear();
  EXPECT_FALSE(hv::unregister_service(some_id, ec));
  EXPECT_EQ(ec, vmsock::errc::unsupported_on_platform);
  ec.clear();
  EXPECT_FALSE(hv::is_service_registered(some_id, ec));
  EXPECT_EQ(ec, vmsock::errc::unsupported_on_platform);
  ec.clear();
  std::vector<std::string> skipped{"stale"};
  EXPECT_TRUE(hv::registered_services(&skipped, ec).empty());
  EXPECT_EQ(ec, vmsock::errc::unsupported_on_platform);
  EXPECT_TRUE(skipped.empty());
  ec.clear();
  EXPECT_TRUE(hv::registered_services(ec).empty());
  EXPECT_EQ(ec, vmsock::errc::unsupported_on_platform);
}

TEST(HvRegistryPosix, TheThrowingFormsSayWhy) {
  const std::string key = hv::service_key(some_id);
  try {
    hv::register_service(some_id, "agent");
    ADD_FAILURE() << "nothing thrown";
  } catch (const std::system_error& e) {
    expect_unsupported_message(e, "register Hyper-V service " + some_id.to_string());
    EXPECT_TRUE(contains(e.what(), key)) << e.what();
    std::printf("  %s\n", e.what());
  }
  try {
    hv::register_service(std::uint32_t{2761}, "agent");
    ADD_FAILURE() << "nothing thrown";
  } catch (const std::system_error& e) {
    expect_unsupported_message(e, "register Hyper-V service 00000ac9-facb-11e6-bd58-64006a7986d3");
  }
  try {  // no service id for this port, but the platform answers first
    hv::register_service(std::uint32_t{0xFFFFFFFFu}, "agent");
    ADD_FAILURE() << "nothing thrown";
  } catch (const std::system_error& e) {
    expect_unsupported_message(e, "register Hyper-V service for VSOCK port 4294967295");
  }
  try {
    hv::unregister_service(some_id);
    ADD_FAILURE() << "nothing thrown";
  } catch (const std::system_error& e) {
    expect_unsupported_message(e, "unregister Hyper-V service " + some_id.to_string());
    EXPECT_TRUE(contains(e.what(), key)) << e.what();
  }
  try {
    (void)hv::is_service_registered(some_id);
    ADD_FAILURE() << "nothing thrown";
  } catch (const std::system_error& e) {
    expect_unsupported_message(e, "check Hyper-V service " + some_id.to_string());
  }
  try {
    (void)hv::registered_services();
    ADD_FAILURE() << "nothing thrown";
  } catch (const std::system_error& e) {
    expect_unsupported_message(e, "list Hyper-V services: " + std::string(hv::services_key));
  }
}

// No registry, no hint: a POSIX EACCES is never about a registration.
TEST(HvRegistryPosix, NoAccessDeniedHint) {
  EXPECT_EQ(hv::access_denied_hint(some_id), "");
  std::string what = "listen on vsock://any:80";
  vmsock::detail::append_hv_access_hint(what, vsock_endpoint{vsock::cid::any, 80},
                                        std::make_error_code(std::errc::permission_denied));
  EXPECT_EQ(what, "listen on vsock://any:80");
}

#endif  // VMSOCK_POSIX

}  // namespace
