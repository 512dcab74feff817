// The hint a Hyper-V socket's failed bind, listen or connect carries when
// Windows denied it access (WSAEACCES): what may cause it, as far as is known
// without looking anything up.  The socket layer reads no registry; what the
// registry holds for the service on this machine is a call of
// host/hv_registry.hpp (vmsock::hv::access_denied_hint).
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <optional>
#include <string>
#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// The Hyper-V address of an endpoint that travels as AF_HYPERV on Windows (an
// hv_endpoint, or a vsock_endpoint mapped to one), or nothing.
template <class E> constexpr std::optional<hv_endpoint> hyperv_address_of(const E& ep) noexcept {
  if constexpr (std::is_same_v<E, hv_endpoint>) {
    return ep;
  } else if constexpr (std::is_same_v<E, vsock_endpoint>) {
    return to_hyperv(ep);
  } else {
    (void)ep;
    return std::nullopt;
  }
}

// What is known of WSAEACCES on AF_HYPERV: Windows denies a user a VM that it
// may not use, and Microsoft's guide has a host register each service id it
// serves (under hv::services_key), which a host may enforce; a loopback
// listen on an unregistered id has been seen to work, so it is a "may".  A
// socket addressed to the parent partition is a guest's (or a container's):
// registering is the host's step there, not this machine's, so it gets no
// hint.  Empty where no hint applies.
inline std::string hv_access_denied_hint(const hv_endpoint& ep) {
  if (ep.vm_id == hv::vm_id::parent) return {};
  std::string s =
      " (hint: Windows denied access: the user may not be allowed to use that VM, or, "
      "on a host, Hyper-V service ";
  s += ep.service_id.to_string();
  s += " may need registering under ";
  s += hv::services_key;
  s += " (vmsock::hv::register_service, as administrator; vmsock::hv::access_denied_hint says "
       "what this machine's registry holds))";
  return s;
}

// Appends the hint to a failure's message when Windows said WSAEACCES on an
// AF_HYPERV socket; nothing anywhere else.
template <class E>
void append_hv_access_hint(std::string& what, const E& ep, const std::error_code& ec) {
  if (!VMSOCK_WINDOWS || ec != std::errc::permission_denied) return;
  if (const auto hv = hyperv_address_of(ep)) what += hv_access_denied_hint(*hv);
}

}  // namespace detail
VMSOCK_END_NAMESPACE
