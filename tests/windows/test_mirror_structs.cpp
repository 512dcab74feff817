// vmsock's mirror structs against the real ones from MinGW-w64's headers:
// SOCKADDR_HV and GUID from <hvsocket.h>, the HVSOCKET_* option names and the
// HV_GUID_* constants.  vmsock does not include hvsocket.h itself (it pulls in
// initguid.h, which changes what DEFINE_GUID means in the user's file), so this
// file is where the two are held side by side.
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <hvsocket.h>  // after vmsock: initguid.h defines the HV_GUID_* here

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace {

using vmsock::guid;
namespace hv = vmsock::hv;
using mirror = hv::native_sockaddr;

// ---- SOCKADDR_HV ----------------------------------------------------------
static_assert(sizeof(mirror) == sizeof(SOCKADDR_HV), "SOCKADDR_HV size");
static_assert(alignof(mirror) == alignof(SOCKADDR_HV), "SOCKADDR_HV alignment");
static_assert(offsetof(mirror, Family) == offsetof(SOCKADDR_HV, Family), "Family offset");
static_assert(offsetof(mirror, Reserved) == offsetof(SOCKADDR_HV, Reserved), "Reserved offset");
static_assert(offsetof(mirror, VmId) == offsetof(SOCKADDR_HV, VmId), "VmId offset");
static_assert(offsetof(mirror, ServiceId) == offsetof(SOCKADDR_HV, ServiceId), "ServiceId offset");
static_assert(sizeof(mirror::Family) == sizeof(SOCKADDR_HV::Family), "Family size");
static_assert(sizeof(mirror::Reserved) == sizeof(SOCKADDR_HV::Reserved), "Reserved size");
static_assert(std::is_trivially_copyable_v<mirror>, "memcpy-able");

// ---- GUID -----------------------------------------------------------------
static_assert(sizeof(guid) == sizeof(GUID), "GUID size");
static_assert(alignof(guid) == alignof(GUID), "GUID alignment");
static_assert(offsetof(guid, data1) == offsetof(GUID, Data1), "Data1 offset");
static_assert(offsetof(guid, data2) == offsetof(GUID, Data2), "Data2 offset");
static_assert(offsetof(guid, data3) == offsetof(GUID, Data3), "Data3 offset");
static_assert(offsetof(guid, data4) == offsetof(GUID, Data4), "Data4 offset");
static_assert(sizeof(guid::data1) == sizeof(GUID::Data1), "Data1 size");
static_assert(sizeof(guid::data4) == sizeof(GUID::Data4), "Data4 size");

// ---- Constants ------------------------------------------------------------
static_assert(hv::protocol_raw == HV_PROTOCOL_RAW, "HV_PROTOCOL_RAW");
static_assert(hv::option_connect_timeout == HVSOCKET_CONNECT_TIMEOUT, "HVSOCKET_CONNECT_TIMEOUT");
static_assert(hv::option_container_passthru == HVSOCKET_CONTAINER_PASSTHRU,
              "HVSOCKET_CONTAINER_PASSTHRU");
static_assert(hv::option_connected_suspend == HVSOCKET_CONNECTED_SUSPEND,
              "HVSOCKET_CONNECTED_SUSPEND");
static_assert(hv::connect_timeout_max_ms == HVSOCKET_CONNECT_TIMEOUT_MAX,
              "HVSOCKET_CONNECT_TIMEOUT_MAX");
// MinGW-w64 10 lacks these two; the Windows SDK has them (AF_HYPERV in
// ws2def.h, HVSOCKET_HIGH_VTL = 8 in hvsocket.h).  Checked where present.
#if defined(HVSOCKET_HIGH_VTL)
static_assert(hv::option_high_vtl == HVSOCKET_HIGH_VTL, "HVSOCKET_HIGH_VTL");
#endif
#if defined(AF_HYPERV)
static_assert(hv::address_family == AF_HYPERV, "AF_HYPERV");
#endif
static_assert(hv::address_family == 34, "AF_HYPERV is 34");
static_assert(vmsock::hv_endpoint::family == 34, "hv_endpoint::family");
static_assert(vmsock::hv_endpoint::protocol == HV_PROTOCOL_RAW, "hv_endpoint::protocol");

// ---- sockaddr_vm mirror (no Windows header has it; Linux's layout) ---------
using vm_mirror = vmsock::vsock::native_sockaddr;
static_assert(sizeof(vm_mirror) == 16, "sockaddr_vm is 16 bytes");
static_assert(offsetof(vm_mirror, svm_family) == 0, "svm_family");
static_assert(offsetof(vm_mirror, svm_reserved1) == 2, "svm_reserved1");
static_assert(offsetof(vm_mirror, svm_port) == 4, "svm_port");
static_assert(offsetof(vm_mirror, svm_cid) == 8, "svm_cid");
static_assert(offsetof(vm_mirror, svm_flags) == 12, "svm_flags");
static_assert(offsetof(vm_mirror, svm_zero) == 13, "svm_zero");
static_assert(vmsock::vsock_endpoint::family == 40, "AF_VSOCK is Linux's 40");

bool same_bytes(const guid& a, const GUID& b) { return std::memcmp(&a, &b, sizeof b) == 0; }

TEST(MirrorStructs, WellKnownVmIdsMatchHvsocketH) {
  EXPECT_TRUE(same_bytes(hv::vm_id::wildcard, HV_GUID_WILDCARD));
  EXPECT_TRUE(same_bytes(hv::vm_id::zero, HV_GUID_ZERO));
  EXPECT_TRUE(same_bytes(hv::vm_id::broadcast, HV_GUID_BROADCAST));
  EXPECT_TRUE(same_bytes(hv::vm_id::children, HV_GUID_CHILDREN));
  EXPECT_TRUE(same_bytes(hv::vm_id::loopback, HV_GUID_LOOPBACK));
  EXPECT_TRUE(same_bytes(hv::vm_id::parent, HV_GUID_PARENT));
  EXPECT_TRUE(same_bytes(hv::vm_id::silo_host, HV_GUID_SILOHOST));
  EXPECT_TRUE(same_bytes(hv::vsock_template, HV_GUID_VSOCK_TEMPLATE));
}

// to_native() read back through the SDK's own struct.
TEST(MirrorStructs, ToNativeIsASockaddrHv) {
  const auto ep = vmsock::hv_endpoint::for_port(hv::vm_id::loopback, 5000);
  const mirror m = ep.to_native();
  SOCKADDR_HV sa;
  static_assert(sizeof sa == sizeof m);
  std::memcpy(&sa, &m, sizeof sa);
  EXPECT_EQ(sa.Family, 34);
  EXPECT_EQ(sa.Reserved, 0);
  EXPECT_TRUE(IsEqualGUID(sa.VmId, HV_GUID_LOOPBACK));
  GUID service = HV_GUID_VSOCK_TEMPLATE;
  service.Data1 = 5000;
  EXPECT_TRUE(IsEqualGUID(sa.ServiceId, service));

  // And the other way: an SDK struct filled by hand parses as the endpoint.
  SOCKADDR_HV in{};
  in.Family = 34;
  in.VmId = HV_GUID_PARENT;
  in.ServiceId = service;
  const auto back = vmsock::hv_endpoint::from_native(&in, sizeof in);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->vm_id == hv::vm_id::parent);
  EXPECT_EQ(back->port(), 5000u);
  EXPECT_FALSE(vmsock::hv_endpoint::from_native(&in, sizeof in - 1).has_value());
}

}  // namespace
