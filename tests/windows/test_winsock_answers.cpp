// What Winsock itself answers (under Wine, or on Windows) in the cases the
// Windows policy reports, called raw, without vmsock's policy.  The answers go
// through make_os_error, so each test also shows that a real WSAGetLastError()
// value compares equal to the portable condition.  Where Wine and Windows differ
// (AF_HYPERV, port reservations), the test says which one answered.
#include <vmsock/detail/win_error.hpp>
#include <vmsock/endpoint/hyperv.hpp>

#include <mstcpip.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <system_error>

namespace {

using vmsock::detail::make_os_error;

// Running under Wine?  ntdll exports wine_get_version there.
bool under_wine() {
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

class WinsockAnswers : public ::testing::Test {
 protected:
  void SetUp() override {
    WSADATA data;
    ASSERT_EQ(::WSAStartup(MAKEWORD(2, 2), &data), 0);
  }
  void TearDown() override { ::WSACleanup(); }

  static SOCKET tcp_socket() {
    return ::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  }
};

// Before WSAStartup, and after the last WSACleanup, Winsock says so.
TEST(WinsockStartup, NotInitialisedIsUnmapped) {
  const SOCKET s = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(s, INVALID_SOCKET);
  const auto ec = make_os_error(::WSAGetLastError());
  EXPECT_EQ(ec.value(), WSANOTINITIALISED);
  EXPECT_TRUE(ec.default_error_condition().category() == ec.category());
  std::printf("  before WSAStartup: %s\n", ec.message().c_str());
}

TEST_F(WinsockAnswers, ConnectionRefused) {
  // A port that was just free: bind to port 0, read it back, close.
  SOCKET probe = tcp_socket();
  ASSERT_NE(probe, INVALID_SOCKET);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  int len = sizeof sa;
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  ::closesocket(probe);

  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  const int r = ::connect(s, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  const int wsa = ::WSAGetLastError();
  ::closesocket(s);
  ASSERT_EQ(r, SOCKET_ERROR);
  const auto ec = make_os_error(wsa);
  EXPECT_EQ(wsa, WSAECONNREFUSED);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
}

TEST_F(WinsockAnswers, AddressInUse) {
  SOCKET a = tcp_socket();
  SOCKET b = tcp_socket();
  ASSERT_NE(a, INVALID_SOCKET);
  ASSERT_NE(b, INVALID_SOCKET);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(a, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  int len = sizeof sa;
  ASSERT_EQ(::getsockname(a, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  ASSERT_EQ(::listen(a, 1), 0);
  const int r = ::bind(b, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  const int wsa = ::WSAGetLastError();
  ::closesocket(a);
  ::closesocket(b);
  ASSERT_EQ(r, SOCKET_ERROR);
  EXPECT_EQ(make_os_error(wsa), std::errc::address_in_use) << make_os_error(wsa).message();
}

// A non-blocking connect reports WSAEWOULDBLOCK (not WSAEINPROGRESS as POSIX's
// EINPROGRESS would suggest): the policy must read it as "in progress".
TEST_F(WinsockAnswers, NonBlockingConnectSaysWouldBlock) {
  SOCKET l = tcp_socket();
  ASSERT_NE(l, INVALID_SOCKET);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  int len = sizeof sa;
  ASSERT_EQ(::getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  ASSERT_EQ(::listen(l, 1), 0);
  SOCKET s = tcp_socket();
  u_long on = 1;
  ASSERT_EQ(::ioctlsocket(s, static_cast<long>(FIONBIO), &on), 0);
  const int r = ::connect(s, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  const int wsa = r == 0 ? 0 : ::WSAGetLastError();
  ::closesocket(s);
  ::closesocket(l);
  if (r == 0) GTEST_SKIP() << "loopback connect completed at once";
  EXPECT_EQ(wsa, WSAEWOULDBLOCK);
  EXPECT_EQ(make_os_error(wsa), std::errc::operation_would_block);
  EXPECT_NE(make_os_error(wsa), std::errc::operation_in_progress);
}

// AF_HYPERV (34): Wine has no such family and answers WSAEAFNOSUPPORT; a
// Windows host with Hyper-V sockets opens it.
TEST_F(WinsockAnswers, HyperVFamily) {
  const SOCKET s = ::WSASocketW(vmsock::hv::address_family, SOCK_STREAM, vmsock::hv::protocol_raw,
                                nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s != INVALID_SOCKET) {
    ::closesocket(s);
    EXPECT_FALSE(under_wine()) << "Wine opened an AF_HYPERV socket";
    GTEST_SKIP() << "AF_HYPERV opens here: a Windows host with Hyper-V sockets";
  }
  const auto ec = make_os_error(::WSAGetLastError());
  std::printf("  AF_HYPERV socket: %d, %s\n", ec.value(), ec.message().c_str());
  if (under_wine()) {
    EXPECT_EQ(ec.value(), WSAEAFNOSUPPORT);
  }
  EXPECT_EQ(ec, std::errc::address_family_not_supported);
}

// AF_VSOCK's Linux number means nothing to Winsock.
TEST_F(WinsockAnswers, LinuxVsockFamily) {
  const SOCKET s = ::socket(40, SOCK_STREAM, 0);
  if (s != INVALID_SOCKET) {
    ::closesocket(s);
    FAIL() << "family 40 opened a socket";
  }
  const auto ec = make_os_error(::WSAGetLastError());
  std::printf("  family 40 socket: %d, %s\n", ec.value(), ec.message().c_str());
  EXPECT_EQ(ec, std::errc::address_family_not_supported);
}

// SIO_ACQUIRE_PORT_RESERVATION: what this Winsock answers, for the policy's
// tests to assert.  Never a crash.
TEST_F(WinsockAnswers, PortReservation) {
  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  INET_PORT_RANGE range{};
  range.StartPort = htons(0);
  range.NumberOfPorts = 8;
  INET_PORT_RESERVATION_INSTANCE instance{};
  DWORD bytes = 0;
  const int r = ::WSAIoctl(s, SIO_ACQUIRE_PORT_RESERVATION, &range, sizeof range, &instance,
                           sizeof instance, &bytes, nullptr, nullptr);
  const int wsa = r == 0 ? 0 : ::WSAGetLastError();
  if (r == 0) {
    std::printf("  SIO_ACQUIRE_PORT_RESERVATION: ports %u+%u, token %llu\n",
                static_cast<unsigned>(ntohs(instance.Reservation.StartPort)),
                static_cast<unsigned>(instance.Reservation.NumberOfPorts),
                static_cast<unsigned long long>(instance.Token.Token));
    INET_PORT_RESERVATION_TOKEN token = instance.Token;
    EXPECT_EQ(::WSAIoctl(s, SIO_RELEASE_PORT_RESERVATION, &token, sizeof token, nullptr, 0, &bytes,
                         nullptr, nullptr),
              0);
  } else {
    const auto ec = make_os_error(wsa);
    std::printf("  SIO_ACQUIRE_PORT_RESERVATION: %d, %s\n", wsa, ec.message().c_str());
    RecordProperty("acquire_port_reservation_error", wsa);
    EXPECT_FALSE(ec.message().empty());
    if (under_wine()) {
      // Wine 8.0 has no port reservations.
      EXPECT_EQ(wsa, WSAEOPNOTSUPP) << "Wine's answer changed";
      EXPECT_EQ(ec, std::errc::operation_not_supported);
    }
  }
  ::closesocket(s);
}

// AF_UNIX (afunix.h, Windows 10 1803+): Wine 8.0 answers WSAEAFNOSUPPORT, so
// the policy's Unix-socket tests must skip there.  Informational.
TEST_F(WinsockAnswers, UnixFamily) {
  const SOCKET s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (s == INVALID_SOCKET) {
    const auto ec = make_os_error(::WSAGetLastError());
    std::printf("  AF_UNIX socket: %d, %s\n", ec.value(), ec.message().c_str());
    GTEST_SKIP() << "no AF_UNIX here: " << ec.message();
  }
  std::printf("  AF_UNIX socket: opened\n");
  ::closesocket(s);
}

}  // namespace
