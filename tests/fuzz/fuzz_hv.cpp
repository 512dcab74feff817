// libFuzzer target: hv_endpoint::parse, from_native, and the map to VSOCK.
#include <vmsock/endpoint/hyperv.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using vmsock::hv_endpoint;
  const auto ep = vmsock_fuzz::check_parse<hv_endpoint>(vmsock_fuzz::as_text(data, size));
  if (ep) {
    vmsock_fuzz::check_native_round_trip(*ep);
    // Where the VSOCK form exists, it maps back to this endpoint.
    if (const auto v = vmsock::to_vsock(*ep)) VMSOCK_FUZZ_CHECK(vmsock::to_hyperv(*v) == ep);
    VMSOCK_FUZZ_CHECK(ep->port() == vmsock::hv::port_from_service_id(ep->service_id));
  }
  vmsock_fuzz::check_from_native<hv_endpoint>(data, size);
  return 0;
}
