// libFuzzer target: hybrid_vsock_endpoint::parse, the constructor, the two
// Unix addresses it names, and any_endpoint's view of the same text.
#include <vmsock/endpoint/hybrid_vsock.hpp>

#include <vmsock/endpoint/any_endpoint.hpp>

#include "fuzz_support.hpp"

#include <string>

namespace {

std::size_t digits(std::uint32_t v) { return std::to_string(v).size(); }

// What every accepted endpoint keeps: a non-empty path without NUL that
// leaves room in sun_path for "_<port>", and the Unix addresses it names are
// that path and that path with the suffix, whole.
void check_endpoint(const vmsock::hybrid_vsock_endpoint& ep) {
  using vmsock::unix_endpoint;
  const std::string_view p = ep.path();
  VMSOCK_FUZZ_CHECK(!ep.empty());
  VMSOCK_FUZZ_CHECK(!p.empty());
  VMSOCK_FUZZ_CHECK(p.find('\0') == std::string_view::npos);
  VMSOCK_FUZZ_CHECK(p.size() + 1 + digits(ep.port()) <= vmsock::hybrid_vsock_endpoint::max_path);
  const unix_endpoint uds = ep.uds();
  VMSOCK_FUZZ_CHECK(uds.type() == unix_endpoint::kind::path);
  VMSOCK_FUZZ_CHECK(uds.name() == p);
  const unix_endpoint listen_at = ep.listen_uds();
  VMSOCK_FUZZ_CHECK(listen_at.type() == unix_endpoint::kind::path);
  VMSOCK_FUZZ_CHECK(listen_at.name() == std::string(p) + "_" + std::to_string(ep.port()));
  vmsock_fuzz::check_native_round_trip(uds);
  vmsock_fuzz::check_native_round_trip(listen_at);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using vmsock::hybrid_vsock_endpoint;
  const std::string_view text = vmsock_fuzz::as_text(data, size);
  // Never crashes; a success prints a text that parses back to it.
  const auto ep = vmsock_fuzz::check_parse<hybrid_vsock_endpoint>(text);
  const auto detailed = hybrid_vsock_endpoint::parse_detail(text);
  if (ep) {
    check_endpoint(*ep);
    VMSOCK_FUZZ_CHECK(detailed.position == std::string_view::npos);
  } else {
    // Every refusal says where, within the input.
    VMSOCK_FUZZ_CHECK(detailed.position <= text.size());
  }
  // any_endpoint reads a hybrid-vsock:// URI as the hybrid parser does.
  const auto any = vmsock::any_endpoint::try_parse(text);
  if (ep) {
    VMSOCK_FUZZ_CHECK(any.has_value());
    VMSOCK_FUZZ_CHECK(any->scheme() == vmsock::uri_scheme::hybrid_vsock);
    VMSOCK_FUZZ_CHECK(*any->get_if<hybrid_vsock_endpoint>() == *ep);
    VMSOCK_FUZZ_CHECK(any->to_string() == ep->to_string());
  } else if (any) {
    VMSOCK_FUZZ_CHECK(any->scheme() != vmsock::uri_scheme::hybrid_vsock);
  }
  // The raw bytes as a path, with a port from the first bytes: accepted
  // exactly when the rules say, never cut, and the text form brings it back.
  std::uint32_t port = 0;
  for (std::size_t i = 0; i < size && i < 4; ++i) port = (port << 8) | data[i];
  const bool path_ok = !text.empty() && text.find('\0') == std::string_view::npos &&
                       text.size() + 1 + digits(port) <= hybrid_vsock_endpoint::max_path;
  try {
    const hybrid_vsock_endpoint made{text, port};
    VMSOCK_FUZZ_CHECK(path_ok);
    VMSOCK_FUZZ_CHECK(made.path() == text);
    VMSOCK_FUZZ_CHECK(made.port() == port);
    check_endpoint(made);
    VMSOCK_FUZZ_CHECK(hybrid_vsock_endpoint::try_parse(made.to_string()) == made);
  } catch (const vmsock::parse_error&) {
    VMSOCK_FUZZ_CHECK(!path_ok);
  }
  return 0;
}
