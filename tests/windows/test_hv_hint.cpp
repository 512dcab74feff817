// A Hyper-V socket that Windows refuses with WSAEACCES (the user may not use
// the VM, or a host's service id is not registered) names the likely causes
// and the service id in its message, on a host's side (not for the parent
// partition, a guest's peer).  Wine has no AF_HYPERV, so a policy stands in
// for the host: it opens real IPv4 sockets and answers bind and connect with
// WSAEACCES, as Hyper-V does.
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <system_error>

namespace {

using namespace std::chrono_literals;

template <int Code> struct refusing_policy : vmsock::winsock_policy {
  using base_policy = vmsock::winsock_policy;
  static handle open(int, vmsock::socket_type type, int, std::error_code& ec) noexcept {
    return winsock_policy::open(AF_INET, type, 0, ec);
  }
  static void bind(handle, const void*, std::size_t, std::error_code& ec) noexcept {
    ec = vmsock::detail::make_os_error(Code);
  }
  static void connect(handle, const void*, std::size_t, std::error_code& ec) noexcept {
    ec = vmsock::detail::make_os_error(Code);
  }
  // A Hyper-V connect is an overlapped ConnectEx: Hyper-V refuses it as it starts.
  static bool start_connect(handle, const void*, std::size_t, pending_connect&,
                            std::error_code& ec) noexcept {
    ec = vmsock::detail::make_os_error(Code);
    return false;
  }
  // A timed AF_HYPERV connect first sets HVSOCKET_CONNECT_TIMEOUT, which a
  // Hyper-V socket takes and the stand-in IPv4 socket would refuse.
  static void set_option(handle h, vmsock::option_id id, const vmsock::option_value& v,
                         std::error_code& ec) noexcept {
    if (id == vmsock::option_id::hv_connect_timeout) {
      ec.clear();
      return;
    }
    winsock_policy::set_option(h, id, v, ec);
  }
};
using denying = refusing_policy<WSAEACCES>;

std::string what_of(void (*f)(), std::error_code& code) {
  try {
    f();
  } catch (const std::system_error& e) {
    code = e.code();
    return e.what();
  }
  return "(nothing thrown)";
}

TEST(HyperVAccessDenied, ListenConnectAndBindHintAtTheCauses) {
  const auto id = *vmsock::hv::service_id_from_port(5000);
  // The hint is static text: no registry is read to word it.
  const std::string hint = vmsock::detail::hv_access_denied_hint(
      vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, 5000));
  EXPECT_NE(hint.find("00001388-facb-11e6-bd58-64006a7986d3"), std::string::npos) << hint;
  EXPECT_NE(hint.find("may not be allowed to use that VM"), std::string::npos) << hint;
  EXPECT_NE(hint.find("vmsock::hv::register_service"), std::string::npos) << hint;
  EXPECT_EQ(vmsock::detail::hv_access_denied_hint({vmsock::hv::vm_id::loopback, id}), hint);
  const std::string denied = vmsock::detail::make_os_error(WSAEACCES).message();
  std::error_code code;

  EXPECT_EQ(what_of(
                [] {
                  vmsock::listener<vmsock::hv_endpoint, denying>::listen(
                      vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, 5000));
                },
                code),
            "listen on hvsock://wildcard/5000" + hint + ": " + denied);
  EXPECT_EQ(code, std::errc::permission_denied);
  // A vsock_endpoint travels as AF_HYPERV on Windows: the same hint.
  EXPECT_EQ(what_of(
                [] {
                  vmsock::listener<vmsock::vsock_endpoint, denying>::listen(
                      {vmsock::vsock::cid::any, 5000});
                },
                code),
            "listen on vsock://any:5000" + hint + ": " + denied);
  // A host's connect to a VM.
  EXPECT_EQ(what_of(
                [] {
                  (void)vmsock::stream_socket<vmsock::hv_endpoint, denying>::connect(
                      vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::loopback, 5000), 2s);
                },
                code),
            "connect to hvsock://loopback/5000" + hint + ": " + denied);
  // A guest's connect to its host: registering is not this machine's step.
  EXPECT_EQ(what_of(
                [] {
                  (void)vmsock::stream_socket<vmsock::hv_endpoint, denying>::connect(
                      vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::parent, 5000), 2s);
                },
                code),
            "connect to hvsock://parent/5000: " + denied);
  EXPECT_EQ(code, std::errc::permission_denied);
  EXPECT_EQ(what_of(
                [] {
                  auto s = vmsock::basic_socket<vmsock::hv_endpoint, denying>::open(
                      vmsock::socket_type::stream);
                  s.bind(vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, 5000));
                },
                code),
            "bind to hvsock://wildcard/5000" + hint + ": " + denied);
  // The error_code form has the code (an error_code carries no text).
  std::error_code ec;
  vmsock::listener<vmsock::hv_endpoint, denying>::listen(
      vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, 5000), ec);
  EXPECT_EQ(ec, std::errc::permission_denied);
}

TEST(HyperVAccessDenied, OtherErrorsAndOtherFamiliesGetNoHint) {
  std::error_code code;
  EXPECT_EQ(what_of(
                [] {
                  vmsock::listener<vmsock::hv_endpoint, refusing_policy<WSAEADDRINUSE>>::listen(
                      vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, 5000));
                },
                code),
            "listen on hvsock://wildcard/5000: " +
                vmsock::detail::make_os_error(WSAEADDRINUSE).message());
  EXPECT_EQ(
      what_of(
          [] {
            vmsock::listener<vmsock::inet4_endpoint, denying>::listen(
                vmsock::inet4_endpoint::loopback(5000));
          },
          code),
      "listen on tcp://127.0.0.1:5000: " + vmsock::detail::make_os_error(WSAEACCES).message());
}

}  // namespace
