// A consumer of vmsock, built by tests/package/run_consumer.cmake in each of
// the three ways vmsock can be consumed.  It uses the library for real: every
// check below exercises parsing, the native forms and the pure mappings, and
// main() returns nonzero when any of them fails.
#include <vmsock/vmsock.hpp>

#include "checks.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

// The consumer's own CMakeLists asks for C++14; vmsock::vmsock must raise it to
// C++17 through its cxx_std_17 compile feature.  _MSVC_LANG because MSVC
// misreports __cplusplus without /Zc:__cplusplus.
#if defined(_MSVC_LANG)
#  define CONSUMER_CPLUSPLUS _MSVC_LANG
#else
#  define CONSUMER_CPLUSPLUS __cplusplus
#endif
static_assert(CONSUMER_CPLUSPLUS >= 201703L,
              "vmsock::vmsock did not give its consumer C++17 (cxx_std_17)");

#if !defined(VMSOCK_CONSUMER_EXPECTED_VERSION)
#  error "the consumer's CMakeLists passes the package version it found"
#endif

namespace {

using consumer::check;

// The two bytes of a network-order port field as they sit in memory.
template <typename Field>
bool port_bytes_are(const Field& field, std::uint8_t hi, std::uint8_t lo) {
  static_assert(sizeof(Field) == 2, "a port field is two bytes");
  std::uint8_t b[2];
  std::memcpy(b, &field, 2);
  return b[0] == hi && b[1] == lo;
}

}  // namespace

int main() {
  // The header's version is the package's version (CMake's idea of it).
  const std::string header_version = std::to_string(VMSOCK_VERSION_MAJOR) + "." +
                                     std::to_string(VMSOCK_VERSION_MINOR) + "." +
                                     std::to_string(VMSOCK_VERSION_PATCH);
  check(header_version == VMSOCK_CONSUMER_EXPECTED_VERSION,
        "VMSOCK_VERSION_* in config.hpp match the CMake package version");

  // Compile-time: the pure Hyper-V <-> VSOCK port mapping.
  static_assert(vmsock::hv::service_id_from_port(1234).has_value(), "port 1234 has a GUID");
  static_assert(!vmsock::hv::service_id_from_port(0x80000000u).has_value(),
                "no GUID above hv::max_port");

  // VSOCK: text -> endpoint -> sockaddr_vm.
  const auto v = vmsock::vsock_endpoint::parse("vsock://2:5000");
  const auto vn = v.to_native();
  check(v.cid == vmsock::vsock::cid::host && v.port == 5000, "vsock://2:5000 parses");
  check(static_cast<int>(vn.svm_family) == vmsock::vsock_endpoint::family && vn.svm_cid == 2 &&
            vn.svm_port == 5000 && sizeof vn == 16,
        "vsock native form is a 16-byte sockaddr_vm with cid 2, port 5000");
  const auto vback = vmsock::vsock_endpoint::from_native(&vn, sizeof vn);
  check(vback && *vback == v && vback->to_string() == "vsock://2:5000",
        "sockaddr_vm -> vsock_endpoint -> text round trip");
  check(!vmsock::vsock_endpoint::try_parse("vsock://2:").has_value(), "a missing port is rejected");

  // Hyper-V: service id of a port, the SOCKADDR_HV, and the VSOCK mapping.
  check(
      vmsock::hv::service_id_from_port(1234)->to_string() == "000004d2-facb-11e6-bd58-64006a7986d3",
      "service_id_from_port(1234) is the VSOCK template with data1 = 0x4d2");
  const auto h = vmsock::hv_endpoint::parse("hvsock://parent/5000");
  const auto hn = h.to_native();
  check(h.vm_id == vmsock::hv::vm_id::parent && h.port() == 5000u,
        "hvsock://parent/5000 parses to the parent VM, port 5000");
  check(sizeof hn == 36 && static_cast<int>(hn.Family) == vmsock::hv_endpoint::family,
        "hv native form is a 36-byte SOCKADDR_HV");
  const auto mapped = vmsock::to_vsock(h);
  check(mapped && mapped->cid == vmsock::vsock::cid::host && mapped->port == 5000,
        "to_vsock(hvsock://parent/5000) is vsock://2:5000");

  // IPv4: the port is stored in network order in sockaddr_in.
  const auto t = vmsock::inet4_endpoint::parse("tcp://127.0.0.1:8080");
  const auto tn = t.to_native();
  check(t == vmsock::inet4_endpoint::loopback(8080), "tcp://127.0.0.1:8080 is loopback:8080");
  check(port_bytes_are(tn.sin_port, 0x1f, 0x90), "sin_port holds 8080 in network order");

  // A parse error is an exception derived from std::invalid_argument.
  bool threw = false;
  try {
    (void)vmsock::guid::parse("not-a-guid");
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw, "guid::parse throws std::invalid_argument on bad text");

  return consumer::report();
}
