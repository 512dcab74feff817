// fmt::formatter (and std::formatter where <format> exists) for vmsock::guid and
// every endpoint type, any_endpoint included.  Needs {fmt}; not included by vmsock.hpp.
#pragma once

#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/config.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <fmt/format.h>

#include <string_view>

#if VMSOCK_HAS_STD_FORMAT
#  include <format>
#endif

VMSOCK_BEGIN_NAMESPACE
namespace detail {
// Formats a value as its to_string(); width, fill and alignment apply to the
// whole text: fmt::format("{:>40}", endpoint).
template <class T> struct fmt_formatter : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const T& value, FormatContext& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(value.to_string(), ctx);
  }
};

#if VMSOCK_HAS_STD_FORMAT
template <class T> struct std_formatter : std::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const T& value, FormatContext& ctx) const -> decltype(ctx.out()) {
    return std::formatter<std::string_view>::format(value.to_string(), ctx);
  }
};
#endif
}  // namespace detail
VMSOCK_END_NAMESPACE

namespace fmt {
template <> struct formatter<vmsock::guid> : vmsock::detail::fmt_formatter<vmsock::guid> {};
template <>
struct formatter<vmsock::hv_endpoint> : vmsock::detail::fmt_formatter<vmsock::hv_endpoint> {};
template <>
struct formatter<vmsock::vsock_endpoint> : vmsock::detail::fmt_formatter<vmsock::vsock_endpoint> {};
template <>
struct formatter<vmsock::inet4_endpoint> : vmsock::detail::fmt_formatter<vmsock::inet4_endpoint> {};
template <>
struct formatter<vmsock::inet6_endpoint> : vmsock::detail::fmt_formatter<vmsock::inet6_endpoint> {};
template <>
struct formatter<vmsock::unix_endpoint> : vmsock::detail::fmt_formatter<vmsock::unix_endpoint> {};
template <>
struct formatter<vmsock::hybrid_vsock_endpoint>
    : vmsock::detail::fmt_formatter<vmsock::hybrid_vsock_endpoint> {};
template <>
struct formatter<vmsock::any_endpoint> : vmsock::detail::fmt_formatter<vmsock::any_endpoint> {};
}  // namespace fmt

#if VMSOCK_HAS_STD_FORMAT
namespace std {
template <> struct formatter<vmsock::guid> : vmsock::detail::std_formatter<vmsock::guid> {};
template <>
struct formatter<vmsock::hv_endpoint> : vmsock::detail::std_formatter<vmsock::hv_endpoint> {};
template <>
struct formatter<vmsock::vsock_endpoint> : vmsock::detail::std_formatter<vmsock::vsock_endpoint> {};
template <>
struct formatter<vmsock::inet4_endpoint> : vmsock::detail::std_formatter<vmsock::inet4_endpoint> {};
template <>
struct formatter<vmsock::inet6_endpoint> : vmsock::detail::std_formatter<vmsock::inet6_endpoint> {};
template <>
struct formatter<vmsock::unix_endpoint> : vmsock::detail::std_formatter<vmsock::unix_endpoint> {};
template <>
struct formatter<vmsock::hybrid_vsock_endpoint>
    : vmsock::detail::std_formatter<vmsock::hybrid_vsock_endpoint> {};
template <>
struct formatter<vmsock::any_endpoint> : vmsock::detail::std_formatter<vmsock::any_endpoint> {};
}  // namespace std
#endif
