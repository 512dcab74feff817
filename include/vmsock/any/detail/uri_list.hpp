// Lists of URIs, as connect_first and listen_all take them: any range of
// strings, every entry parsed before anything is tried, stream endpoints only,
// an error naming the entry; and which failures mean a transport is missing.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// A transport this platform (or this kernel) does not have: skipped, not failed.
inline bool transport_unavailable(const std::error_code& ec) noexcept {
  return ec == errc::no_mapping || ec == errc::not_a_template_service_id ||
         ec == errc::unsupported_on_platform || ec == std::errc::address_family_not_supported ||
         ec == std::errc::protocol_not_supported;
}

[[noreturn]] VMSOCK_NOINLINE inline void throw_entry_error(const char* who, std::size_t i,
                                                           std::size_t n, const std::string& why) {
  raise(parse_error(entry_of(who, i, n) + ": " + why));
}

// Stream endpoints only: udp:// in a list of connect_first or listen_all is a
// mistake in the list, refused before anything is tried.
inline void check_stream_entries(const char* who, const std::vector<any_endpoint>& eps) {
  for (std::size_t i = 0; i < eps.size(); ++i) {
    if (eps[i].type() != socket_type::stream)
      throw_entry_error(who, i, eps.size(),
                        eps[i].to_string() + " is a datagram endpoint; " + who +
                            " takes stream endpoints (tcp, unix, vsock, hvsock)");
  }
}
inline bool stream_entries(const std::vector<any_endpoint>& eps, std::error_code& ec) noexcept {
  for (const auto& ep : eps) {
    if (ep.type() != socket_type::stream) {
      ec = std::make_error_code(std::errc::wrong_protocol_type);
      return false;
    }
  }
  return true;
}

// A list of URIs: any range of things that convert to std::string_view
// (std::string, std::string_view, const char*, and argv's char*), so that
// connect_first(std::vector<std::string>(argv + 1, argv + argc), ...) works.
// Not a string itself, which is a range of chars.
// (Member begin()/end() or a C array, as a range-for sees them; without
// <iterator>, which buffer.hpp keeps out for its compile time.)
template <class R, class = void> struct uri_range_entry { using type = void; };
template <class R>
struct uri_range_entry<
    R, std::void_t<decltype(std::declval<const R&>().begin() != std::declval<const R&>().end())>> {
  using type = decltype(*std::declval<const R&>().begin());
};
template <class T, std::size_t N> struct uri_range_entry<T[N], void> { using type = const T&; };
template <class R>
inline constexpr bool is_uri_range_v =
    !std::is_void_v<typename uri_range_entry<R>::type> &&
    std::is_convertible_v<typename uri_range_entry<R>::type, std::string_view> &&
    !std::is_convertible_v<const R&, std::string_view>;

// One entry's text; a null char* (an argv read one past its end) is "".
template <class T> std::string_view uri_text(const T& entry) noexcept {
  if constexpr (std::is_pointer_v<T>)
    return entry != nullptr ? std::string_view(entry) : std::string_view();
  else
    return std::string_view(entry);
}

// Every URI of a list parsed before anything is done with any of them; a bad
// one is a parse_error naming the entry: "<who>: entry 2 of 3: endpoint URI ...".
template <class R> std::vector<any_endpoint> parse_uri_list(const char* who, const R& uris) {
  std::vector<std::string_view> texts;
  for (const auto& entry : uris) texts.push_back(uri_text(entry));
  std::vector<any_endpoint> eps;
  eps.reserve(texts.size());
  for (const std::string_view uri : texts) {
    const auto r = any_endpoint::parse_detail(uri);
    if (!r) {
      std::string why = "endpoint URI " + quote(uri) + ": " + r.error;
      if (r.position != std::string_view::npos)
        why += " (at offset " + std::to_string(r.position) + ')';
      throw_entry_error(who, eps.size(), texts.size(), why);
    }
    eps.push_back(r.value);
  }
  check_stream_entries(who, eps);
  return eps;
}

}  // namespace detail
VMSOCK_END_NAMESPACE
