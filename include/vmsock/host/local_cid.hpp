// vsock::local_cid(): this machine's VSOCK context id, asked of the OS
// (IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock).  Apart from vsock.hpp, which
// holds pure values only.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/default.hpp>

#include <cstdint>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace vsock {

// In a Hyper-V guest using the hv_sock transport it reads as cid::any.  On
// Windows the error is errc::unsupported_on_platform.
template <class Policy = default_policy> std::uint32_t local_cid(std::error_code& ec) noexcept {
  return Policy::local_vsock_cid(ec);
}

template <class Policy = default_policy> std::uint32_t local_cid() {
  std::error_code ec;
  const std::uint32_t cid = local_cid<Policy>(ec);
  // /dev/vsock is what POSIX asks; Windows has nothing to ask.
  if (ec) detail::throw_error(ec, "local_cid", VMSOCK_WINDOWS ? "" : "(/dev/vsock)");
  return cid;
}

}  // namespace vsock
VMSOCK_END_NAMESPACE
