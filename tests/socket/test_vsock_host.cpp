// AF_VSOCK on this machine, without traffic: open, bind, listen, local
// endpoints and local_cid().  Connecting is never done here: this machine's
// VSOCK peer is its host, which is not ours.  Real VSOCK traffic is tested
// inside the test guest (tests/vm).
#include <vmsock/host/local_cid.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace vmsock;

// Why AF_VSOCK is unusable here, or empty when it is usable.
std::string vsock_unavailable() {
  const int fd = ::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("this machine has no AF_VSOCK: ") + std::strerror(errno);
  ::close(fd);
  return {};
}

#define REQUIRE_VSOCK()                          \
  do {                                           \
    const std::string why = vsock_unavailable(); \
    if (!why.empty()) GTEST_SKIP() << why;       \
  } while (0)

// The CID as the kernel reports it, asked directly: the reference for
// local_cid().  `err` is the ioctl's errno when it fails, else 0.
std::uint32_t kernel_cid(int& err) {
  err = 0;
  const int fd = ::open("/dev/vsock", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    return VMADDR_CID_ANY;
  }
  unsigned int cid = VMADDR_CID_ANY;
  if (::ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) != 0) {
    err = errno;
    cid = VMADDR_CID_ANY;
  }
  ::close(fd);
  return cid;
}

// Why VSOCK socket options cannot reach the kernel here, or empty when they
// can: set SO_VM_SOCKETS_BUFFER_SIZE on a raw AF_VSOCK socket.  Every Linux
// with AF_VSOCK takes it; qemu-user (the arm64 and s390x suites) answers
// ENOPROTOOPT itself, for a socket-option level it does not translate.
std::string vsock_options_unavailable() {
  const int fd = ::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("no AF_VSOCK socket: ") + std::strerror(errno);
  const unsigned long long size = 128u * 1024;
  const int rc = ::setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof size);
  const int err = rc == 0 ? 0 : errno;
  ::close(fd);
  if (rc == 0) return {};
  return std::string("a raw setsockopt(AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE) fails too (") +
         std::strerror(err) +
         "): this environment does not pass VSOCK options to the kernel (qemu-user does not "
         "translate that option level)";
}

// vmsock reports what the raw call reported, then the case skips.
#define SKIP_UNLESS_VSOCK_OPTIONS(ec)                               \
  do {                                                              \
    const std::string why = vsock_options_unavailable();            \
    if (!why.empty()) {                                             \
      EXPECT_EQ(ec, std::errc::no_protocol_option) << ec.message(); \
      GTEST_SKIP() << why;                                          \
    }                                                               \
  } while (0)

// A VSOCK port nothing here uses, found by letting the kernel pick one.
std::uint32_t free_vsock_port() {
  auto probe = vsock_listener::listen(vsock_endpoint{vsock::cid::any, vsock::port_any});
  return probe.local_endpoint().port;
}

// A free port a Hyper-V service id can carry (<= hv::max_port): the kernel
// picks ephemeral VSOCK ports from the whole 32-bit range, so probe our own.
std::uint32_t free_hv_port() {
  std::uint32_t port = 0x20000000u + static_cast<std::uint32_t>(::getpid()) * 7919u % 0x10000000u;
  for (int i = 0; i < 1000; ++i, ++port) {
    std::error_code ec;
    auto l = vsock_listener::listen(vsock_endpoint{vsock::cid::any, port}, ec);
    if (!ec) return port;
  }
  ADD_FAILURE() << "no free VSOCK port found below 0x7fffffff";
  return 0;
}

TEST(VsockHost, LocalCidMatchesTheKernel) {
  REQUIRE_VSOCK();
  std::error_code ec;
  const auto cid = vsock::local_cid(ec);
  if (::access("/dev/vsock", F_OK) != 0) {
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
    GTEST_SKIP() << "no /dev/vsock on this machine";
  }
  int err = 0;
  const auto reference = kernel_cid(err);
  if (err == ENOSYS || err == ENOTTY) {
    // qemu-user passes no ioctl it does not know (this one) to the kernel.
    EXPECT_EQ(ec, std::error_code(err, std::system_category())) << ec.message();
    GTEST_SKIP() << "IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock fails when made raw too ("
                 << std::strerror(err)
                 << "): this environment does not pass the ioctl to the kernel (qemu-user)";
  }
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(cid, reference);
  EXPECT_NE(cid, vsock::cid::any);
  EXPECT_EQ(vsock::local_cid(), cid);
}

TEST(VsockHost, StreamListenerBindsToAnyCidAndGetsAPort) {
  REQUIRE_VSOCK();
  auto l = vsock_listener::listen(vsock_endpoint{vsock::cid::any, vsock::port_any});
  ASSERT_TRUE(l.is_open());
  const auto ep = l.local_endpoint();
  EXPECT_NE(ep.port, vsock::port_any) << "the kernel picked a port";
  EXPECT_TRUE(ep.cid == vsock::cid::any || ep.cid == vsock::local_cid()) << ep.to_string();

  // A second listener on the same port: address in use.
  std::error_code ec;
  auto second = vsock_listener::listen(vsock_endpoint{vsock::cid::any, ep.port}, ec);
  EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
  EXPECT_FALSE(second.is_open());

  // accept with a timeout: nobody connects here.
  auto s = l.accept(std::chrono::milliseconds(20), ec);
  EXPECT_EQ(ec, std::errc::timed_out);
}

TEST(VsockHost, ExplicitPortAndSeqpacketListener) {
  REQUIRE_VSOCK();
  std::error_code ec;
  // Find a free port by asking the kernel, then bind it explicitly.
  const std::uint32_t port = free_vsock_port();
  auto l = vsock_listener::listen(vsock_endpoint{vsock::cid::any, port});
  EXPECT_EQ(l.local_endpoint().port, port);

  auto sp = vsock_seqpacket_listener::listen(vsock_endpoint{vsock::cid::any, vsock::port_any}, ec);
  if (ec == std::errc::not_supported || ec == std::errc::operation_not_supported ||
      ec == std::errc::protocol_not_supported || ec == std::errc::wrong_protocol_type) {
    GTEST_SKIP() << "this kernel has no VSOCK SOCK_SEQPACKET: " << ec.message();
  }
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_NE(sp.local_endpoint().port, vsock::port_any);
}

TEST(VsockHost, HvEndpointListensThroughTheHvSockMapping) {
  REQUIRE_VSOCK();
  // hvsock://wildcard/P becomes vsock://any:P on Linux, and back.
  const std::uint32_t port = free_hv_port();
  const hv_endpoint ep{hv::vm_id::wildcard, *hv::service_id_from_port(port)};
  auto l = hv_listener::listen(ep);
  EXPECT_EQ(l.native_family, AF_VSOCK);
  const auto local = l.local_endpoint();
  EXPECT_EQ(local.service_id, ep.service_id);
  EXPECT_EQ(local.port(), port);
}

TEST(VsockHost, VsockOptionsSetAndReadBack) {
  REQUIRE_VSOCK();
  auto l = vsock_listener::listen(vsock_endpoint{vsock::cid::any, vsock::port_any});
  std::error_code ec;
  l.set_option(vsock_buffer_max_size{1u << 20}, ec);
  SKIP_UNLESS_VSOCK_OPTIONS(ec);
  ASSERT_FALSE(ec) << ec.message();
  l.set_option(vsock_buffer_size{128u * 1024});
  EXPECT_EQ(l.get_option<vsock_buffer_size>().value, 128u * 1024);
  EXPECT_EQ(l.get_option<vsock_buffer_max_size>().value, 1u << 20);
  l.set_option(vsock_buffer_min_size{4096});
  EXPECT_EQ(l.get_option<vsock_buffer_min_size>().value, 4096u);
  l.set_option(vsock_connect_timeout{std::chrono::milliseconds(1500)});
  EXPECT_EQ(l.get_option<vsock_connect_timeout>().value, std::chrono::milliseconds(1500));
}

TEST(VsockHost, HyperVOnlyOptionsAreUnsupportedOnLinux) {
  REQUIRE_VSOCK();
  const std::uint32_t port = free_hv_port();
  auto l = hv_listener::listen(hv_endpoint{hv::vm_id::wildcard, *hv::service_id_from_port(port)});
  std::error_code ec;
  l.set_option(hv_connected_suspend{true}, ec);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
  l.set_option(hv_container_passthru{true}, ec);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
  l.set_option(hv_high_vtl{true}, ec);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
  // Above Hyper-V's limit: refused before any system call.
  l.set_option(hv_connect_timeout{std::chrono::milliseconds(300001)}, ec);
  EXPECT_EQ(ec, errc::invalid_option_value);
  // A vsock_endpoint socket takes the Hyper-V options too (it is AF_HYPERV on
  // Windows); on Linux the same unsupported_on_platform.
  auto v = vsock_listener::listen(vsock_endpoint{vsock::cid::any, vsock::port_any});
  v.set_option(hv_connected_suspend{true}, ec);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
  v.set_option(hv_high_vtl{true}, ec);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
  // The connect timeout exists on both: on Linux it is the VSOCK one.
  l.set_option(hv_connect_timeout{std::chrono::milliseconds(2500)}, ec);
  SKIP_UNLESS_VSOCK_OPTIONS(ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(l.get_option<hv_connect_timeout>().value, std::chrono::milliseconds(2500));
}

}  // namespace
