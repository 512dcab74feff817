// libFuzzer target: unix_endpoint::parse, from_native, path() and abstract().
#include <vmsock/endpoint/unix.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using vmsock::unix_endpoint;
  const std::string_view text = vmsock_fuzz::as_text(data, size);
  const auto ep = vmsock_fuzz::check_parse<unix_endpoint>(text);
  if (ep) {
    vmsock_fuzz::check_native_round_trip(*ep);
    VMSOCK_FUZZ_CHECK(ep->name().size() <= unix_endpoint::max_path);
    // Text always names a socket ("unix://" is refused): never an unnamed one.
    VMSOCK_FUZZ_CHECK(!ep->is_unnamed());
  }
  // The raw bytes as a path and as an abstract name: accepted exactly when
  // the rules say, never truncated, and the text form brings them back.
  const bool path_ok = !text.empty() && text.size() <= unix_endpoint::max_path &&
                       text.find('\0') == std::string_view::npos;
  try {
    const auto p = unix_endpoint::path(text);
    VMSOCK_FUZZ_CHECK(path_ok);
    VMSOCK_FUZZ_CHECK(p.name() == text);
    VMSOCK_FUZZ_CHECK(unix_endpoint::try_parse(p.to_string()) == p);
    vmsock_fuzz::check_native_round_trip(p);
  } catch (const vmsock::parse_error&) {
    VMSOCK_FUZZ_CHECK(!path_ok);
  }
  const bool abstract_ok = !text.empty() && text.size() <= unix_endpoint::max_path;
  try {
    const auto a = unix_endpoint::abstract(text);
    VMSOCK_FUZZ_CHECK(abstract_ok);
    VMSOCK_FUZZ_CHECK(a.name() == text);
    VMSOCK_FUZZ_CHECK(unix_endpoint::try_parse(a.to_string()) == a);
    vmsock_fuzz::check_native_round_trip(a);
  } catch (const vmsock::parse_error&) {
    VMSOCK_FUZZ_CHECK(!abstract_ok);
  }
  vmsock_fuzz::check_from_native<unix_endpoint>(data, size);
  return 0;
}
