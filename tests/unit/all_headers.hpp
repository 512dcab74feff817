// Every public vmsock header (fmt.hpp included; asio.hpp is not, it needs asio).
// Two translation units include this list, in opposite orders, and are linked
// into one program: a function or variable defined in a header without
// `inline` is then defined twice and the link fails, and a header that needs
// another one included before it fails to compile in one of the orders.
#pragma once

#if defined(VMSOCK_TEST_REVERSED_ORDER)
#  if __has_include(<vmsock/uri.hpp>)
#    include <vmsock/uri.hpp>
#  endif
#  include <vmsock/fmt.hpp>
#  include <vmsock/vmsock.hpp>
#  include <vmsock/policy/posix.hpp>
#  include <vmsock/policy/default.hpp>
#  include <vmsock/socket.hpp>
#  include <vmsock/socket_base.hpp>
#  include <vmsock/options.hpp>
#  include <vmsock/buffer.hpp>
#  include <vmsock/unix.hpp>
#  include <vmsock/inet.hpp>
#  include <vmsock/vsock.hpp>
#  include <vmsock/hyperv.hpp>
#  include <vmsock/guid.hpp>
#  include <vmsock/error.hpp>
#  include <vmsock/config.hpp>
#else
#  include <vmsock/vmsock.hpp>
#  include <vmsock/config.hpp>
#  include <vmsock/error.hpp>
#  include <vmsock/guid.hpp>
#  include <vmsock/hyperv.hpp>
#  include <vmsock/vsock.hpp>
#  include <vmsock/inet.hpp>
#  include <vmsock/unix.hpp>
#  include <vmsock/buffer.hpp>
#  include <vmsock/options.hpp>
#  include <vmsock/socket_base.hpp>
#  include <vmsock/socket.hpp>
#  include <vmsock/policy/default.hpp>
#  include <vmsock/policy/posix.hpp>
#  include <vmsock/fmt.hpp>
#  if __has_include(<vmsock/uri.hpp>)
#    include <vmsock/uri.hpp>
#  endif
#endif

#include <string>
#include <system_error>

namespace vmsock_test {
// What each translation unit sees of the library's one-per-program objects.
struct tu_view {
  const std::error_category* category;
  std::size_t guid_hash;
  std::string formatted;
};
tu_view view_from_forward_tu();
tu_view view_from_reversed_tu();

inline tu_view make_view() {
  const auto ep = vmsock::hv_endpoint::parse("hvsock://parent/5000");
  return {&vmsock::error_category(), std::hash<vmsock::guid>{}(ep.service_id),
          fmt::format("{} {} {} {} {}", ep, vmsock::vsock_endpoint{2, 5000, false},
                      vmsock::inet4_endpoint::loopback(1), vmsock::inet6_endpoint::loopback(1),
                      vmsock::unix_endpoint::abstract("x"))};
}
}  // namespace vmsock_test
