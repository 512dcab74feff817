// any_stream_socket's and any_listener's options: set and read on each socket
// it holds, and errc::option_not_applicable (never a silent no-op) for an
// option that does not apply to its family (a VSOCK option on a TCP connection).
#pragma once

#include <vmsock/any/detail/stream_of.hpp>
#include <vmsock/config.hpp>
#include <vmsock/error.hpp>

#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Option, class Variant>
void any_set_option(Variant& v, const Option& opt, std::error_code& ec) noexcept {
  visit_nothrow(
      [&](auto& s) {
        using E = typename std::decay_t<decltype(s)>::endpoint_type;
        if constexpr (Option::template applies_to<E>)
          s.set_option(opt, ec);
        else
          ec = make_error_code(errc::option_not_applicable);
      },
      v);
}

template <class Option, class Variant>
Option any_get_option(const Variant& v, std::error_code& ec) noexcept {
  return visit_nothrow(
      [&](const auto& s) -> Option {
        using E = typename std::decay_t<decltype(s)>::endpoint_type;
        if constexpr (Option::template applies_to<E>) {
          return s.template get_option<Option>(ec);
        } else {
          ec = make_error_code(errc::option_not_applicable);
          return Option{};
        }
      },
      v);
}

}  // namespace detail
VMSOCK_END_NAMESPACE
