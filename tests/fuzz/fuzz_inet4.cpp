// libFuzzer target: inet4_endpoint::parse and from_native; the address text
// is also checked against the C library's inet_pton.
#include <vmsock/endpoint/inet.hpp>

#include "fuzz_support.hpp"

#include <arpa/inet.h>

namespace {
// detail::parse_ipv4 accepts exactly what inet_pton(AF_INET) accepts, with
// the same bytes.  (Inputs with a NUL are cut short by inet_pton: skipped.)
void check_against_libc(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return;
  const std::string c_text(text);
  in_addr oracle{};
  const bool libc_ok = ::inet_pton(AF_INET, c_text.c_str(), &oracle) == 1;
  const auto ours = vmsock::detail::parse_ipv4(text);
  VMSOCK_FUZZ_CHECK(static_cast<bool>(ours) == libc_ok);
  if (libc_ok) VMSOCK_FUZZ_CHECK(std::memcmp(&oracle, ours.value.data(), 4) == 0);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using vmsock::inet4_endpoint;
  const std::string_view text = vmsock_fuzz::as_text(data, size);
  const auto ep = vmsock_fuzz::check_parse<inet4_endpoint>(text);
  if (ep) vmsock_fuzz::check_native_round_trip(*ep);
  check_against_libc(text);
  check_against_libc(text.substr(0, text.rfind(':')));
  vmsock_fuzz::check_from_native<inet4_endpoint>(data, size);
  return 0;
}
