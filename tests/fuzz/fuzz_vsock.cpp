// libFuzzer target: vsock_endpoint::parse, from_native, and the map to Hyper-V.
#include <vmsock/endpoint/hyperv.hpp>  // to_hyperv / to_vsock
#include <vmsock/endpoint/vsock.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using vmsock::vsock_endpoint;
  const auto ep = vmsock_fuzz::check_parse<vsock_endpoint>(vmsock_fuzz::as_text(data, size));
  if (ep) {
    vmsock_fuzz::check_native_round_trip(*ep);
    if (const auto h = vmsock::to_hyperv(*ep)) VMSOCK_FUZZ_CHECK(vmsock::to_vsock(*h) == ep);
  }
  vmsock_fuzz::check_from_native<vsock_endpoint>(data, size);
  return 0;
}
