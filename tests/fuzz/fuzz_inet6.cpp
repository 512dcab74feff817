// libFuzzer target: inet6_endpoint::parse and from_native; the address text
// is also checked against the C library's inet_pton and inet_ntop.
#include <vmsock/endpoint/inet.hpp>

#include "fuzz_support.hpp"

#include <arpa/inet.h>

namespace {
// detail::parse_ipv6 accepts exactly what inet_pton(AF_INET6) accepts, with
// the same bytes; what it prints parses back to them.
void check_against_libc(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return;
  const std::string c_text(text);
  in6_addr oracle{};
  const bool libc_ok = ::inet_pton(AF_INET6, c_text.c_str(), &oracle) == 1;
  const auto ours = vmsock::detail::parse_ipv6(text);
  VMSOCK_FUZZ_CHECK(static_cast<bool>(ours) == libc_ok);
  if (!libc_ok) return;
  VMSOCK_FUZZ_CHECK(std::memcmp(&oracle, ours.value.data(), 16) == 0);
  std::string printed;
  vmsock::detail::append_ipv6(printed, ours.value);
  in6_addr again{};
  VMSOCK_FUZZ_CHECK(::inet_pton(AF_INET6, printed.c_str(), &again) == 1);
  VMSOCK_FUZZ_CHECK(std::memcmp(&again, &oracle, 16) == 0);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using vmsock::inet6_endpoint;
  const std::string_view text = vmsock_fuzz::as_text(data, size);
  const auto ep = vmsock_fuzz::check_parse<inet6_endpoint>(text);
  if (ep) vmsock_fuzz::check_native_round_trip(*ep);
  check_against_libc(text);
  // The part in brackets, without a scope.
  const auto open = text.find('[');
  if (open != std::string_view::npos) {
    auto inside = text.substr(open + 1);
    inside = inside.substr(0, std::min(inside.find(']'), inside.find('%')));
    check_against_libc(inside);
  }
  vmsock_fuzz::check_from_native<inet6_endpoint>(data, size);
  return 0;
}
