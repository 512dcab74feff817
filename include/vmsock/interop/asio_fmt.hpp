// fmt::formatter (and std::formatter where <format> exists) for the endpoints
// of vmsock/asio.hpp and vmsock/boost_asio.hpp, both flavours:
//   fmt::print("peer {}\n", endpoint);   // vsock://1:5000, hvsock://parent/5000,
//                                         // hybrid-vsock:///run/fc.vsock:5000
// Needs {fmt}; include it beside either adapter header.  Formats
// endpoint.to_string(); width, fill and alignment apply to the whole text.
#pragma once

#include <vmsock/interop/detail/asio_endpoint.hpp>
#include <vmsock/interop/detail/asio_hybrid.hpp>
#include <vmsock/interop/fmt.hpp>

namespace fmt {
template <class Lib, class Kind>
struct formatter<vmsock::detail::asio_endpoint<Lib, Kind>>
    : vmsock::detail::fmt_formatter<vmsock::detail::asio_endpoint<Lib, Kind>> {};
template <class Lib>
struct formatter<vmsock::detail::asio_hybrid_endpoint<Lib>>
    : vmsock::detail::fmt_formatter<vmsock::detail::asio_hybrid_endpoint<Lib>> {};
}  // namespace fmt

#if VMSOCK_HAS_STD_FORMAT
namespace std {
template <class Lib, class Kind>
struct formatter<vmsock::detail::asio_endpoint<Lib, Kind>>
    : vmsock::detail::std_formatter<vmsock::detail::asio_endpoint<Lib, Kind>> {};
template <class Lib>
struct formatter<vmsock::detail::asio_hybrid_endpoint<Lib>>
    : vmsock::detail::std_formatter<vmsock::detail::asio_hybrid_endpoint<Lib>> {};
}  // namespace std
#endif
