// vsock.hpp with Linux UAPI headers from before 5.11 (tests/unit/old_uapi: no
// svm_flags, no VMADDR_FLAG_TO_HOST): it builds, and the to_host flag still
// travels in the byte svm_flags took over.
#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include <sys/socket.h>

#if defined(VMADDR_FLAG_TO_HOST)
#  error "this test must see the old header (tests/unit/old_uapi) first"
#endif

TEST(OldKernelHeaders, TheToHostFlagIsTheFirstByteOfSvmZero) {
  const auto sa = vmsock::vsock_endpoint{2, 5000, true}.to_native();
  unsigned char bytes[sizeof sa];
  std::memcpy(bytes, &sa, sizeof sa);
  EXPECT_EQ(bytes[12], vmsock::vsock::flag_to_host);
  EXPECT_EQ(sa.svm_zero[0], vmsock::vsock::flag_to_host);
  const auto back = vmsock::vsock_endpoint::from_native(&sa, sizeof sa);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->to_host);
  EXPECT_EQ(back->port, 5000u);
  EXPECT_FALSE((vmsock::vsock_endpoint{2, 1, false}).to_native().svm_zero[0]);
}

// What the OS answers to setsockopt(-1, AF_VSOCK, name) made raw: EBADF from
// Linux, which looks at the handle first; qemu-user (the arm64 and s390x
// suites) answers ENOPROTOOPT itself, for an option level it does not translate.
int raw_vsock_option_errno(int name) {
  const unsigned long long value = 65536;
  errno = 0;
  const int rc = ::setsockopt(-1, AF_VSOCK, name, &value, sizeof value);
  return rc == 0 ? 0 : errno;
}

TEST(OldKernelHeaders, TheVsockOptionsAreThere) {
  // On a closed socket the option is looked up and the OS answers (EBADF): had
  // the old header lacked its constant, it would be unsupported_on_platform.
  vmsock::vsock_stream_socket s;
  static_assert(vmsock::vsock_stream_socket::native_family == AF_VSOCK);
  std::error_code ec;
  for (const int name : {SO_VM_SOCKETS_BUFFER_SIZE, SO_VM_SOCKETS_CONNECT_TIMEOUT}) {
    const int raw = raw_vsock_option_errno(name);
    if (raw != ENOPROTOOPT) {
      EXPECT_EQ(raw, EBADF) << std::strerror(raw);
    }
    if (name == SO_VM_SOCKETS_BUFFER_SIZE) {
      s.set_option(vmsock::vsock_buffer_size{65536}, ec);
    } else {
      s.set_option(vmsock::vsock_connect_timeout{std::chrono::seconds(1)}, ec);
    }
    EXPECT_EQ(ec, std::error_code(raw, std::system_category())) << ec.message();
    EXPECT_NE(ec, vmsock::errc::unsupported_on_platform);
  }
}
