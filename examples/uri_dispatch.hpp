// The examples' own URI dispatch: the scheme of an endpoint URI picks the
// endpoint type, and the caller's function is instantiated for that type.
// Deliberately small and local; the library's any_endpoint (uri.hpp) comes later.
#pragma once

#include <vmsock/hyperv.hpp>
#include <vmsock/inet.hpp>
#include <vmsock/unix.hpp>
#include <vmsock/vsock.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace examples {

// A command line the user has to fix: exit code 2, not 1.
class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

inline constexpr std::string_view stream_uri_forms =
    "tcp://127.0.0.1:PORT, tcp://[::1]:PORT, unix:///PATH, unix://@ABSTRACT, "
    "vsock://CID:PORT, hvsock://VM/SERVICE";

// The scheme of `uri`, lower-cased, without "://"; empty when there is none.
inline std::string scheme_of(std::string_view uri) {
  const auto sep = uri.find("://");
  if (sep == std::string_view::npos) return {};
  std::string s(uri.substr(0, sep));
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// Calls f(endpoint) with the endpoint `uri` names: inet4_endpoint or
// inet6_endpoint for tcp://, unix_endpoint, vsock_endpoint, hv_endpoint.  f must
// return the same type for each.  Throws usage_error for a scheme that is not a
// byte stream, and vmsock::parse_error (the library's message) for a bad address.
template <class F>
decltype(auto) visit_stream_endpoint(std::string_view uri, F&& f) {
  const std::string scheme = scheme_of(uri);
  if (scheme == "tcp") {
    const std::string_view rest = uri.substr(scheme.size() + 3);
    if (!rest.empty() && rest.front() == '[') return f(vmsock::inet6_endpoint::parse(uri));
    return f(vmsock::inet4_endpoint::parse(uri));
  }
  if (scheme == "unix") return f(vmsock::unix_endpoint::parse(uri));
  if (scheme == "vsock") return f(vmsock::vsock_endpoint::parse(uri));
  if (scheme == "hvsock") return f(vmsock::hv_endpoint::parse(uri));
  std::string msg = "\"";
  msg += uri;
  if (scheme == "udp")
    msg += "\": udp:// is a datagram transport; the echo examples need a byte stream: ";
  else if (scheme.empty())
    msg += "\": not an endpoint URI; expected one of ";
  else
    msg += "\": unknown scheme \"" + scheme + "\"; expected one of ";
  msg += stream_uri_forms;
  throw usage_error(msg);
}

// The URI of an endpoint as a stream socket sees it: IP endpoints print without
// a scheme (they serve TCP and UDP alike), so tcp:// is added here.
template <class Endpoint>
std::string stream_uri(const Endpoint& ep) {
  if constexpr (std::is_same_v<Endpoint, vmsock::inet4_endpoint> ||
                std::is_same_v<Endpoint, vmsock::inet6_endpoint>)
    return "tcp://" + ep.to_string();
  else
    return ep.to_string();
}

}  // namespace examples
