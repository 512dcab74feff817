// any_endpoint: an endpoint of any family, chosen at run time from a URI:
// vsock://, hvsock://, hybrid-vsock://, tcp://, udp://, unix://.  A pure value, like the
// endpoint types it holds.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/socket_types.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// std::visit for variants that are never valueless (every alternative vmsock
// puts in one moves without throwing): no bad_variant_access path, so it can
// be used in noexcept functions.
template <std::size_t I = 0, class F, class V>
constexpr decltype(auto) visit_nothrow(F&& f, V&& v) noexcept(
    noexcept(std::forward<F>(f)(*std::get_if<I>(&v)))) {
  if constexpr (I + 1 < std::variant_size_v<std::remove_reference_t<V>>) {
    if (v.index() != I) return visit_nothrow<I + 1>(std::forward<F>(f), std::forward<V>(v));
  }
  return std::forward<F>(f)(*std::get_if<I>(&v));
}

}  // namespace detail

// The transport a URI names.  (Not "unix": GCC defines that as a macro.)
enum class uri_scheme { vsock, hvsock, tcp, udp, unix_domain, hybrid_vsock };

constexpr std::string_view to_string(uri_scheme s) noexcept {
  switch (s) {
  case uri_scheme::vsock: return "vsock";
  case uri_scheme::hvsock: return "hvsock";
  case uri_scheme::tcp: return "tcp";
  case uri_scheme::udp: return "udp";
  case uri_scheme::unix_domain: return "unix";
  case uri_scheme::hybrid_vsock: return "hybrid-vsock";
  }
  return "?";
}

class any_endpoint {
 public:
  using variant_type = std::variant<vsock_endpoint, hv_endpoint, inet4_endpoint, inet6_endpoint,
                                    unix_endpoint, hybrid_vsock_endpoint>;

  any_endpoint() noexcept : value_(vsock_endpoint{}), scheme_(uri_scheme::vsock) {}
  any_endpoint(const vsock_endpoint& ep) noexcept : value_(ep), scheme_(uri_scheme::vsock) {}
  any_endpoint(const hv_endpoint& ep) noexcept : value_(ep), scheme_(uri_scheme::hvsock) {}
  any_endpoint(const unix_endpoint& ep) noexcept : value_(ep), scheme_(uri_scheme::unix_domain) {}
  any_endpoint(const hybrid_vsock_endpoint& ep) noexcept
      : value_(ep), scheme_(uri_scheme::hybrid_vsock) {}
  // IP endpoints are TCP unless said otherwise.
  any_endpoint(const inet4_endpoint& ep, uri_scheme s = uri_scheme::tcp) noexcept
      : value_(ep), scheme_(s == uri_scheme::udp ? s : uri_scheme::tcp) {}
  any_endpoint(const inet6_endpoint& ep, uri_scheme s = uri_scheme::tcp) noexcept
      : value_(ep), scheme_(s == uri_scheme::udp ? s : uri_scheme::tcp) {}

  uri_scheme scheme() const noexcept { return scheme_; }
  // Stream for every scheme but udp.
  socket_type type() const noexcept {
    return scheme_ == uri_scheme::udp ? socket_type::datagram : socket_type::stream;
  }
  const variant_type& value() const noexcept { return value_; }

  template <class E> bool holds() const noexcept { return std::holds_alternative<E>(value_); }
  template <class E> const E* get_if() const noexcept { return std::get_if<E>(&value_); }

  // "tcp://127.0.0.1:80", "udp://[::1]:53", "vsock://2:5000", "hvsock://parent/5000",
  // "unix:///run/agent.sock".
  VMSOCK_NOINLINE std::string to_string() const {
    return detail::visit_nothrow(
        [this](const auto& ep) -> std::string {
          using E = std::decay_t<decltype(ep)>;
          if constexpr (std::is_same_v<E, inet4_endpoint> || std::is_same_v<E, inet6_endpoint>) {
            std::string s(vmsock::to_string(scheme_));
            s += "://";
            s += ep.to_string();
            return s;
          } else {
            return ep.to_string();
          }
        },
        value_);
  }

  static std::optional<any_endpoint> try_parse(std::string_view text) noexcept {
    const auto r = parse_detail(text);
    if (!r) return std::nullopt;
    return r.value;
  }
  static any_endpoint parse(std::string_view text) {
    const auto r = parse_detail(text);
    if (!r) detail::throw_parse_error("endpoint URI", text, r.error, r.position);
    return r.value;
  }
  // The parser behind parse/try_parse, with its reason and where in `text` it
  // is (as the endpoint types' parse_detail give theirs: each is given the
  // whole URI, so their offsets are offsets into `text`).
  static detail::parsed<any_endpoint> parse_detail(std::string_view text) noexcept {
    any_endpoint ep;
    std::size_t at = std::string_view::npos;
    const char* why = ep.parse_into(text, at);
    return {ep, why, why != nullptr ? at : std::string_view::npos};
  }

  friend bool operator==(const any_endpoint& a, const any_endpoint& b) noexcept {
    if (a.scheme_ != b.scheme_ || a.value_.index() != b.value_.index()) return false;
    return detail::visit_nothrow(
        [&b](const auto& x) {
          using E = std::decay_t<decltype(x)>;
          return x == *std::get_if<E>(&b.value_);
        },
        a.value_);
  }
  friend bool operator!=(const any_endpoint& a, const any_endpoint& b) noexcept {
    return !(a == b);
  }

 private:
  // Each family's parser sees the whole URI: its error and position are the
  // answer.
  template <class E>
  const char* parse_as(std::string_view s, std::size_t& at, uri_scheme sch) noexcept {
    const auto r = E::parse_detail(s);
    at = r.position;
    if (!r) return r.error;
    if constexpr (std::is_same_v<E, inet4_endpoint> || std::is_same_v<E, inet6_endpoint>)
      *this = any_endpoint(r.value, sch);
    else
      *this = any_endpoint(r.value);
    return nullptr;
  }

  const char* parse_into(std::string_view s, std::size_t& at) noexcept {
    detail::uri_parts u;
    at = 0;
    if (!detail::split_scheme(s, u))
      return "not a URI: expected vsock://, hvsock://, hybrid-vsock://, tcp://, udp:// or unix://";
    if (detail::equals_nocase(u.scheme, "vsock"))
      return parse_as<vsock_endpoint>(s, at, uri_scheme::vsock);
    if (detail::equals_nocase(u.scheme, "hvsock"))
      return parse_as<hv_endpoint>(s, at, uri_scheme::hvsock);
    if (detail::equals_nocase(u.scheme, "tcp") || detail::equals_nocase(u.scheme, "udp")) {
      const uri_scheme sch =
          detail::equals_nocase(u.scheme, "udp") ? uri_scheme::udp : uri_scheme::tcp;
      if (!u.rest.empty() && u.rest[0] == '[') return parse_as<inet6_endpoint>(s, at, sch);
      if (!u.rest.empty() && !detail::is_digit(u.rest[0])) {
        at = detail::offset_in(s, u.rest);
        return "host names are not resolved: give an IPv4 literal or [IPv6]";
      }
      return parse_as<inet4_endpoint>(s, at, sch);
    }
    if (detail::equals_nocase(u.scheme, "unix"))
      return parse_as<unix_endpoint>(s, at, uri_scheme::unix_domain);
    if (detail::equals_nocase(u.scheme, "hybrid-vsock"))
      return parse_as<hybrid_vsock_endpoint>(s, at, uri_scheme::hybrid_vsock);
    return "unknown scheme, expected vsock, hvsock, hybrid-vsock, tcp, udp or unix";
  }

  variant_type value_;
  uri_scheme scheme_;
};

VMSOCK_END_NAMESPACE
