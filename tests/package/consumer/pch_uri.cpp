// The second file of the precompiled-header consumer (see pch_main.cpp).
#include <vmsock/vmsock.hpp>

#include <string>
#include <string_view>

// `uri` parsed and printed again, or "" when it is not a URI vmsock reads.
std::string pch_consumer_uri_round_trip(std::string_view uri) {
  const auto ep = vmsock::any_endpoint::try_parse(uri);
  return ep ? ep->to_string() : std::string();
}
