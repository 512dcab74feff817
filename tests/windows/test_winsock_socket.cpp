// winsock_policy for real, through vmsock's API: what only Windows has.  Runs
// under Wine in CI (the windows presets), or on a Windows host.
//
//   handles      no handle leaks over 2,000 open/close and connect/accept/close
//                cycles; no socket is inheritable, and a real child process
//                started with bInheritHandles=TRUE holds none of them
//   start-up     WSAStartup/WSACleanup reference counting, seen from outside:
//                raw Winsock calls by the test work while any vmsock socket
//                lives and get WSANOTINITIALISED once the last one closed
//   AF_HYPERV    hv_endpoint and vsock_endpoint (which travels as AF_HYPERV
//                here) sockets fail with Wine's WSAEAFNOSUPPORT, the message
//                naming the endpoint; over HV_GUID_LOOPBACK on a real host
//   port reservations (SIO_*_PORT_RESERVATION), vsock::local_cid()
//
// The portable cases of the same issue run from tests/socket in this build,
// under Wine too: TCP and UDP loopback echo (StreamTest/tcp4, tcp6 and
// DatagramTest/*), half-close, the 64 MiB checksummed transfer, connect
// timeout on a full backlog, connection refused == std::errc::
// connection_refused (SocketErrors.*), and a vsock_endpoint without a Hyper-V
// form failing with errc::no_mapping before any system call
// (SocketErrors.EndpointWithoutMappingFailsBeforeAnySystemCall).
//
// Test names say where they run: Wine* assert Wine's answer and skip
// elsewhere; RealWindows* need a Windows host with Hyper-V sockets and run
// only with VMSOCK_REAL_WINDOWS=1; the others run anywhere.
#include <vmsock/any/connect_first.hpp>
#include <vmsock/socket/aliases.hpp>
#include <vmsock/host/local_cid.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace vmsock;
using namespace std::chrono_literals;
using vmsock_test::wine_version;

bool real_windows() {
  const char* v = std::getenv("VMSOCK_REAL_WINDOWS");
  return v != nullptr && std::string(v) == "1";
}

#define VMSOCK_TEST_REQUIRE_REAL_WINDOWS()                                                \
  do {                                                                                    \
    if (!real_windows())                                                                  \
      GTEST_SKIP() << "needs a Windows host with Hyper-V sockets (Wine has no AF_HYPERV " \
                      "and no port reservations): set VMSOCK_REAL_WINDOWS=1 there";       \
  } while (0)

// A function of ntdll, or nullptr.
template <class F> F ntdll_function(const char* name) {
  const FARPROC p = ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), name);
  F f = nullptr;
  static_assert(sizeof f == sizeof p);
  if (p != nullptr) std::memcpy(&f, &p, sizeof f);
  return f;
}

// The handles this process holds, counted in the system's handle table
// (NtQuerySystemInformation(SystemExtendedHandleInformation)).  Wine keeps
// that table, while its GetProcessHandleCount answers 0 whatever is open.
long own_handles() {
  struct entry {
    void* object;
    ULONG_PTR process_id;
    ULONG_PTR handle;
    ULONG access;
    USHORT back_trace;
    USHORT type;
    ULONG attributes;
    ULONG reserved;
  };
  struct table {
    ULONG_PTR count;
    ULONG_PTR reserved;
    entry entries[1];
  };
  using query_fn = LONG(NTAPI*)(ULONG, void*, ULONG, ULONG*);
  static const auto query = ntdll_function<query_fn>("NtQuerySystemInformation");
  if (query == nullptr) return -1;
  constexpr ULONG system_extended_handle_information = 64;
  constexpr LONG status_info_length_mismatch = static_cast<LONG>(0xC0000004L);
  std::vector<ULONG_PTR> buf(1 << 14);  // aligned for the table
  LONG status = 0;
  for (;;) {
    ULONG needed = 0;
    status = query(system_extended_handle_information, buf.data(),
                   static_cast<ULONG>(buf.size() * sizeof buf[0]), &needed);
    if (status != status_info_length_mismatch) break;
    buf.resize(buf.size() * 2);
  }
  if (status != 0) return -1;
  const auto* t = reinterpret_cast<const table*>(buf.data());
  const ULONG_PTR me = ::GetCurrentProcessId();
  long n = 0;
  for (ULONG_PTR i = 0; i < t->count; ++i)
    if (t->entries[i].process_id == me) ++n;
  return n;
}

// GetProcessHandleCount's answer.
DWORD process_handle_count() {
  DWORD n = 0;
  EXPECT_TRUE(::GetProcessHandleCount(::GetCurrentProcess(), &n)) << ::GetLastError();
  return n;
}

// A raw Winsock call made by the test, outside vmsock: 0 when it works (Winsock
// is started in this process), else WSAGetLastError().
int raw_socket_error() {
  const SOCKET s = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET) return ::WSAGetLastError();
  ::closesocket(s);
  return 0;
}

bool inheritable(SOCKET s) {
  DWORD flags = 0;
  EXPECT_TRUE(::GetHandleInformation(reinterpret_cast<HANDLE>(s), &flags)) << ::GetLastError();
  return (flags & HANDLE_FLAG_INHERIT) != 0;
}

// Echoes one message over a fresh TCP connection to `l`: the listener works.
void expect_echo(tcp4_listener& l) {
  auto c = tcp4_socket::connect(l.local_endpoint(), 5s);
  auto a = l.accept(5s);
  c.send_all(std::string("ping"));
  std::string got(4, '\0');
  a.receive_exact(got);
  a.send_all(got);
  std::string back(4, '\0');
  c.receive_exact(back);
  EXPECT_EQ(back, "ping");
}

// ---- handles ----------------------------------------------------------------------

TEST(WinsockHandles, TheCountersSeeSockets) {
  const long before = own_handles();
  ASSERT_GE(before, 0) << "NtQuerySystemInformation(SystemExtendedHandleInformation) failed";
  const DWORD reported = process_handle_count();
  std::vector<udp4_socket> open;
  for (int i = 0; i < 10; ++i) open.push_back(udp4_socket::open());
  EXPECT_GE(own_handles(), before + 10) << "every Winsock socket is a handle";
  if (wine_version() != nullptr) {
    // Wine 8's GetProcessHandleCount succeeds and answers 0, always.
    EXPECT_EQ(reported, 0u) << "Wine's answer changed";
    EXPECT_EQ(process_handle_count(), 0u) << "Wine's answer changed";
  } else {
    EXPECT_GE(process_handle_count(), reported + 10);
  }
}

// Each cycle with no other socket alive starts and cleans up Winsock too.
TEST(WinsockHandles, TwoThousandOpenCloseCyclesLeaveTheCountUnchanged) {
  for (int i = 0; i < 10; ++i) udp4_socket::open();  // Winsock's first start has its own handles
  const long before = own_handles();
  const DWORD reported = process_handle_count();
  for (int i = 0; i < 2000; ++i) {
    auto t = basic_socket<inet4_endpoint>::open(socket_type::stream);
    auto u = udp6_socket::open();
    ASSERT_TRUE(t.is_open() && u.is_open());
  }
  EXPECT_EQ(own_handles(), before);
  EXPECT_EQ(process_handle_count(), reported);

  // And with a socket alive throughout, so that Winsock stays started.
  auto keep = udp4_socket::open();
  const long with_one = own_handles();
  for (int i = 0; i < 2000; ++i) {
    auto t = basic_socket<inet6_endpoint>::open(socket_type::stream);
    ASSERT_TRUE(t.is_open());
  }
  EXPECT_EQ(own_handles(), with_one);
}

TEST(WinsockHandles, TwoThousandConnectAcceptCloseCyclesLeaveTheCountUnchanged) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const auto where = l.local_endpoint();
  for (int i = 0; i < 10; ++i) expect_echo(l);
  const long before = own_handles();
  const DWORD reported = process_handle_count();
  for (int i = 0; i < 2000; ++i) {
    auto c = tcp4_socket::connect(where);
    auto a = l.accept();
    ASSERT_TRUE(c.is_open() && a.is_open());
  }
  EXPECT_EQ(own_handles(), before);
  EXPECT_EQ(process_handle_count(), reported);
}

TEST(WinsockHandles, NoSocketIsInheritable) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto c = tcp4_socket::connect(l.local_endpoint());
  auto timed = tcp4_socket::connect(l.local_endpoint(), 5s);
  auto a = l.accept();
  auto a2 = l.accept(5s);
  auto u = udp6_socket::open(inet6_endpoint::loopback(0));
  EXPECT_FALSE(inheritable(l.native_handle())) << "listener";
  EXPECT_FALSE(inheritable(c.native_handle())) << "connected";
  EXPECT_FALSE(inheritable(timed.native_handle())) << "connected with a timeout";
  EXPECT_FALSE(inheritable(a.native_handle())) << "accepted";
  EXPECT_FALSE(inheritable(a2.native_handle())) << "accepted with a timeout";
  EXPECT_FALSE(inheritable(u.native_handle())) << "datagram";

  // What the check would see otherwise: a socket made without
  // WSA_FLAG_NO_HANDLE_INHERIT is inheritable, under Wine as on Windows.
  const SOCKET raw = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  ASSERT_NE(raw, INVALID_SOCKET);
  EXPECT_TRUE(inheritable(raw));
  ::closesocket(raw);
}

// The child side of AChildProcessInheritsNoVmsockSocket.  Started with
// VMSOCK_TEST_INHERIT_CHECK=<handle>:<port>,... it looks for each of its
// parent's sockets under the same handle value (inheritance keeps the value)
// and exits with 0x100 | a bit per socket it holds, before GoogleTest's main.
// A handle counts only as a socket bound to that very port.
struct inherit_check_child {
  inherit_check_child() {
    char spec[1024];
    const DWORD n = ::GetEnvironmentVariableA("VMSOCK_TEST_INHERIT_CHECK", spec, sizeof spec);
    if (n == 0 || n >= sizeof spec) return;
    WSADATA data;
    if (::WSAStartup(MAKEWORD(2, 2), &data) != 0) ::ExitProcess(1);
    UINT found = 0;
    unsigned bit = 0;
    for (char* p = spec; *p != '\0'; ++bit) {
      char* end = nullptr;
      const auto h = static_cast<SOCKET>(std::strtoull(p, &end, 10));
      const auto port = static_cast<unsigned>(std::strtoul(end + 1, &end, 10));
      sockaddr_in sa{};
      int len = sizeof sa;
      if (::getsockname(h, reinterpret_cast<sockaddr*>(&sa), &len) == 0 &&
          sa.sin_family == AF_INET && ::ntohs(sa.sin_port) == port)
        found |= 1u << bit;
      p = *end == ',' ? end + 1 : end;
    }
    ::ExitProcess(0x100u | found);
  }
};
const inherit_check_child run_as_inherit_check_child;

TEST(WinsockHandles, AChildProcessInheritsNoVmsockSocket) {
  // Bits 1 to 4: vmsock's sockets, which the child must not hold.  Bit 0: a
  // raw socket left inheritable, which it must hold, or this test shows
  // nothing (made while vmsock's sockets keep Winsock started).
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto c = tcp4_socket::connect(l.local_endpoint());
  auto a = l.accept();
  auto u = udp4_socket::open(inet4_endpoint::loopback(0));
  const SOCKET raw = ::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(raw, INVALID_SOCKET);
  const auto raw_ep = inet4_endpoint::loopback(0).to_native();
  ASSERT_EQ(::bind(raw, reinterpret_cast<const sockaddr*>(&raw_ep), sizeof raw_ep), 0);
  sockaddr_in raw_local{};
  int len = sizeof raw_local;
  ASSERT_EQ(::getsockname(raw, reinterpret_cast<sockaddr*>(&raw_local), &len), 0);

  std::string spec;
  const auto add = [&](SOCKET h, unsigned port) {
    if (!spec.empty()) spec += ',';
    spec += std::to_string(static_cast<unsigned long long>(h)) + ":" + std::to_string(port);
  };
  add(raw, ::ntohs(raw_local.sin_port));
  add(l.native_handle(), l.local_endpoint().port);
  add(c.native_handle(), c.local_endpoint().port);
  add(a.native_handle(), a.local_endpoint().port);
  add(u.native_handle(), u.local_endpoint().port);

  wchar_t exe[MAX_PATH];
  const DWORD n = ::GetModuleFileNameW(nullptr, exe, MAX_PATH);
  ASSERT_TRUE(n > 0 && n < MAX_PATH);
  std::wstring command = L"\"" + std::wstring(exe) + L"\"";
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  ASSERT_TRUE(::SetEnvironmentVariableA("VMSOCK_TEST_INHERIT_CHECK", spec.c_str()));
  const BOOL started = ::CreateProcessW(exe, &command[0], nullptr, nullptr,
                                        /*bInheritHandles=*/TRUE, 0, nullptr, nullptr, &si, &pi);
  const DWORD create_error = ::GetLastError();
  ::SetEnvironmentVariableA("VMSOCK_TEST_INHERIT_CHECK", nullptr);
  ::closesocket(raw);
  ASSERT_TRUE(started) << "CreateProcessW: " << create_error;
  EXPECT_EQ(::WaitForSingleObject(pi.hProcess, 60000), WAIT_OBJECT_0);
  DWORD code = 0;
  EXPECT_TRUE(::GetExitCodeProcess(pi.hProcess, &code));
  ::CloseHandle(pi.hThread);
  ::CloseHandle(pi.hProcess);
  ASSERT_EQ(code & ~0xffu, 0x100u) << "the child did not run its check (exit code " << code << ")";
  EXPECT_EQ(code & 1u, 1u) << "the child did not inherit even the inheritable raw socket";
  EXPECT_EQ(code & 0x1eu, 0u) << "the child holds vmsock sockets: listener 0x2, connected 0x4, "
                                 "accepted 0x8, datagram 0x10";
}

// ---- WSAStartup / WSACleanup reference counting -------------------------------------

// The test's own raw calls show whether Winsock is started.  Each ctest case is
// a process of its own, so nothing has started it before.
class WinsockStartup : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(raw_socket_error(), WSANOTINITIALISED)
        << "Winsock was started before this test: run it in a process of its own";
  }
};

TEST_F(WinsockStartup, NoCleanupWhileAnySocketLivesWhateverTheCloseOrder) {
  for (const bool datagram_first : {true, false}) {
    auto u = udp4_socket::open(inet4_endpoint::loopback(0));
    auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
    EXPECT_EQ(raw_socket_error(), 0);
    if (datagram_first) {
      u.close();
      EXPECT_EQ(raw_socket_error(), 0) << "the listener lives: Winsock must be started";
      expect_echo(l);
      l.close();
    } else {
      l.close();
      EXPECT_EQ(raw_socket_error(), 0) << "the datagram socket lives: Winsock must be started";
      u.send_to(std::string("self"), u.local_endpoint());
      std::string got(4, '\0');
      inet4_endpoint from{};
      EXPECT_EQ(u.receive_from(buffer(got), from), 4u);
      EXPECT_EQ(got, "self");
      u.close();
    }
    // The last socket's close was the last WSACleanup; Wine says so as Windows does.
    EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED) << "close order " << datagram_first;
  }
  // vmsock starts Winsock again for the next socket.
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  expect_echo(l);
}

TEST_F(WinsockStartup, AcceptedAdoptedAndReleasedSocketsCarryTheirReference) {
  tcp4_socket accepted;
  {
    auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
    auto c = tcp4_socket::connect(l.local_endpoint());
    accepted = l.accept();
    c.send_all(std::string("x"));
  }
  EXPECT_EQ(raw_socket_error(), 0) << "the accepted socket lives";
  char ch = 0;
  EXPECT_EQ(accepted.receive(&ch, 1), 1u);
  EXPECT_EQ(accepted.receive(&ch, 1), 0u) << "the peer closed";
  accepted.close();
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED);

  // A handle the user made (with their own WSAStartup) and handed to vmsock:
  // the user's WSACleanup leaves it working, vmsock's close ends Winsock.
  WSADATA data;
  ASSERT_EQ(::WSAStartup(MAKEWORD(2, 2), &data), 0);
  const SOCKET raw = ::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                                  WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  ASSERT_NE(raw, INVALID_SOCKET);
  tcp4_socket adopted(raw);
  ::WSACleanup();
  EXPECT_EQ(raw_socket_error(), 0) << "the adopted socket holds a reference";
  adopted.bind(inet4_endpoint::loopback(0));
  EXPECT_NE(adopted.local_endpoint().port, 0);
  adopted.close();
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED);

  // release() hands over the handle with its reference: the caller closes the
  // one and gives back the other with WSACleanup().
  auto released = udp4_socket::open();
  const SOCKET h = released.release();
  EXPECT_EQ(raw_socket_error(), 0) << "the released handle keeps Winsock started";
  EXPECT_EQ(::closesocket(h), 0);
  EXPECT_EQ(raw_socket_error(), 0) << "its reference is the caller's";
  ::WSACleanup();
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED);
}

TEST_F(WinsockStartup, AFailedOpenLeavesNoReference) {
  std::error_code ec;
  auto s = hv_stream_socket::connect(hv_endpoint::for_port(hv::vm_id::loopback, 5000), 1s, ec);
  if (!ec) GTEST_SKIP() << "AF_HYPERV connected here";
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED) << ec.message();
  auto refused = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const auto where = refused.local_endpoint();
  refused.close();
  tcp4_socket::connect(where, ec);
  EXPECT_EQ(ec, std::errc::connection_refused);
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED) << "the refused socket was closed";
}

// ---- AF_HYPERV ------------------------------------------------------------------------

// On Windows a vsock_endpoint travels as AF_HYPERV (34), HV_PROTOCOL_RAW (1).
static_assert(hv_stream_socket::native_family == 34 && hv_stream_socket::native_protocol == 1);
static_assert(vsock_stream_socket::native_family == 34 &&
              vsock_stream_socket::native_protocol == 1);
static_assert(vsock_listener::native_family == 34 && hv_listener::native_family == 34);

// Wine 8 has no AF_HYPERV: WSAEAFNOSUPPORT (== address_family_not_supported),
// with no system text, so the message names the code.
void expect_wine_no_hyperv(const std::error_code& ec, const char* what) {
  EXPECT_EQ(ec.value(), WSAEAFNOSUPPORT) << what << ": " << ec.message();
  EXPECT_EQ(ec, std::errc::address_family_not_supported) << what;
  EXPECT_EQ(ec.message(), "Windows error 10047 (WSAEAFNOSUPPORT)") << what;
}

std::string message_of(void (*f)()) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(WineHyperV, HvSocketsFailWithAddressFamilyNotSupportedNamingTheEndpoint) {
  VMSOCK_TEST_REQUIRE_WINE();
  std::error_code ec;
  auto s = hv_stream_socket::connect(hv_endpoint::for_port(hv::vm_id::loopback, 5000), ec);
  EXPECT_FALSE(s.is_open());
  expect_wine_no_hyperv(ec, "connect");
  auto t = hv_stream_socket::connect(hv_endpoint::for_port(hv::vm_id::parent, 5000), 1s, ec);
  expect_wine_no_hyperv(ec, "timed connect");
  auto l = hv_listener::listen(hv_endpoint::for_port(hv::vm_id::wildcard, 5000), ec);
  EXPECT_FALSE(l.is_open());
  expect_wine_no_hyperv(ec, "listen");

  EXPECT_EQ(message_of([] {
              hv_stream_socket::connect(hv_endpoint::for_port(hv::vm_id::loopback, 5000));
            }),
            "connect to hvsock://loopback/5000: Windows error 10047 (WSAEAFNOSUPPORT)");
  EXPECT_EQ(message_of([] {
              hv_listener::listen(hv_endpoint{hv::vm_id::wildcard,
                                              guid::parse("11111111-2222-3333-4444-555555555555")});
            }),
            "listen on hvsock://wildcard/11111111-2222-3333-4444-555555555555: "
            "Windows error 10047 (WSAEAFNOSUPPORT)");
}

TEST(WineHyperV, AVsockEndpointTravelsAsAfHyperVAndFailsTheSameWay) {
  VMSOCK_TEST_REQUIRE_WINE();
  std::error_code ec;
  // vsock://1 (local) is HV_GUID_LOOPBACK, 2 (host) HV_GUID_PARENT, any HV_GUID_WILDCARD.
  auto s = vsock_stream_socket::connect(vsock_endpoint{vsock::cid::local, 5000}, ec);
  EXPECT_FALSE(s.is_open());
  expect_wine_no_hyperv(ec, "connect");
  auto l = vsock_listener::listen(vsock_endpoint{vsock::cid::any, 5000}, ec);
  expect_wine_no_hyperv(ec, "listen");
  EXPECT_EQ(message_of([] {
              vsock_stream_socket::connect(vsock_endpoint{vsock::cid::host, 5000});
            }),
            "connect to vsock://2:5000: Windows error 10047 (WSAEAFNOSUPPORT)");
  // A CID with no Hyper-V VM id never reaches the OS (see
  // SocketErrors.EndpointWithoutMappingFailsBeforeAnySystemCall).
  vsock_stream_socket::connect(vsock_endpoint{99, 5000}, ec);
  EXPECT_EQ(ec, errc::no_mapping);
}

// A Windows host with Hyper-V sockets: a stream over HV_GUID_LOOPBACK, with the
// Hyper-V options set on the way.
TEST(RealWindows, HyperVStreamOverLoopback) {
  VMSOCK_TEST_REQUIRE_REAL_WINDOWS();
  // A VSOCK-template service id whose port is this process's own.
  const std::uint32_t port = 0x30000000u + static_cast<std::uint32_t>(::GetCurrentProcessId());
  auto l = hv_listener::listen(hv_endpoint::for_port(hv::vm_id::wildcard, port));
  auto c = hv_stream_socket::connect(hv_endpoint::for_port(hv::vm_id::loopback, port), 10s);
  auto a = l.accept(10s);
  c.set_option(hv_connected_suspend{true});
  EXPECT_TRUE(c.get_option<hv_connected_suspend>().value);
  const std::string msg(100000, 'h');
  c.send_all(msg);
  c.shutdown(shutdown_type::send);
  std::string got(msg.size(), '\0');
  a.receive_exact(got);
  EXPECT_EQ(got, msg);
  char ch = 0;
  EXPECT_EQ(a.receive(&ch, 1), 0u);
  // The same through a vsock_endpoint: vsock://1 is the loopback VM.
  auto v = vsock_stream_socket::connect(vsock_endpoint{vsock::cid::local, port}, 10s);
  auto va = l.accept(10s);
  EXPECT_TRUE(va.is_open());
  EXPECT_FALSE(inheritable(v.native_handle()));
}

// A handle adopted while WSAStartup failed holds no reference, and its close
// must give none back (it used to: one WSACleanup too many).  A policy stands
// in for the failing WSAStartup.
struct failing_startup_policy : winsock_policy {
  static bool adopt(handle h) noexcept {
    std::error_code ignored;
    set_nonblocking(h, true, ignored);
    return false;  // as winsock_policy::adopt answers when WSAStartup fails
  }
};

TEST_F(WinsockStartup, AnAdoptionWithoutAReferenceGivesNoneBack) {
  WSADATA data;
  ASSERT_EQ(::WSAStartup(MAKEWORD(2, 2), &data), 0);  // the test's own reference
  const SOCKET raw = ::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                                  WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  ASSERT_NE(raw, INVALID_SOCKET);
  {
    basic_socket<inet4_endpoint, failing_startup_policy> s(raw);
    s.bind(inet4_endpoint::loopback(0));
    s.close();
  }
  EXPECT_EQ(raw_socket_error(), 0) << "vmsock gave back a reference it never took";
  ::WSACleanup();
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED);
}

// connect_first holds one reference across its attempts: Winsock is not
// stopped and started again between them.
struct watching_policy : winsock_policy {
  static int& stopped_between() {
    static int n = 0;
    return n;
  }
  static void close(handle h, std::error_code& ec) noexcept {
    winsock_policy::close(h, ec);
    if (raw_socket_error() == WSANOTINITIALISED) ++stopped_between();
  }
};

TEST_F(WinsockStartup, ConnectFirstHoldsAReferenceAcrossItsAttempts) {
  std::vector<any_endpoint> dead;
  for (int i = 0; i < 3; ++i) {
    auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
    dead.push_back(any_endpoint(l.local_endpoint()));
  }
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED);
  std::error_code ec;
  auto s = connect_first<watching_policy>(dead, std::chrono::seconds(5), ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
  EXPECT_EQ(watching_policy::stopped_between(), 0)
      << "Winsock was stopped after an attempt and started again for the next";
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED) << "and given back at the end";
}

// ---- port reservations ------------------------------------------------------------

// Wine 8 has no port reservations: every SIO_*_PORT_RESERVATION call is
// WSAEOPNOTSUPP (== operation_not_supported), and the socket stays usable.
TEST(WinePortReservation, EveryCallIsOperationNotSupported) {
  VMSOCK_TEST_REQUIRE_WINE();
  auto s = basic_socket<inet4_endpoint>::open(socket_type::stream);
  std::error_code ec;
  const auto expect_wine = [&](const char* what) {
    EXPECT_EQ(ec.value(), WSAEOPNOTSUPP) << what << ": " << ec.message();
    EXPECT_EQ(ec, std::errc::operation_not_supported) << what;
  };
  EXPECT_EQ(s.acquire_port_reservation(0, 8, ec).token, 0u);
  expect_wine("acquire");
  EXPECT_EQ(s.acquire_port_reservation(50000, 16, ec).token, 0u);
  expect_wine("acquire from a given port");
  s.associate_port_reservation(0x1234, ec);
  expect_wine("associate");
  s.release_port_reservation(0x1234, ec);
  expect_wine("release");
  auto u = udp6_socket::open();
  u.acquire_port_reservation(0, 1, ec);
  expect_wine("acquire on UDP/IPv6");
  try {
    s.acquire_port_reservation(0, 8);
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "acquire_port_reservation on socket " +
                  std::to_string(static_cast<unsigned long long>(s.native_handle())) +
                  ": Windows error 10045 (WSAEOPNOTSUPP)");
  }
  s.bind(inet4_endpoint::loopback(0));
  EXPECT_NE(s.local_endpoint().port, 0);
}

TEST(RealWindows, PortReservationRoundTrip) {
  VMSOCK_TEST_REQUIRE_REAL_WINDOWS();
  auto holder = basic_socket<inet4_endpoint>::open(socket_type::stream);
  const port_reservation r = holder.acquire_port_reservation(0, 16);
  EXPECT_NE(r.token, 0u);
  EXPECT_EQ(r.count, 16u);
  EXPECT_NE(r.start_port, 0u) << "a request from port 0 says which ports it got";
  auto s = basic_socket<inet4_endpoint>::open(socket_type::stream);
  s.associate_port_reservation(r.token);
  s.bind(inet4_endpoint::loopback(0));
  const auto port = s.local_endpoint().port;
  EXPECT_GE(port, r.start_port);
  EXPECT_LT(port, r.start_port + r.count);
  s.close();
  // A reserved TCP port through the one-call listen and connect.
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0),
                                 vmsock::associate_port_reservation{r.token});
  EXPECT_GE(l.local_endpoint().port, r.start_port);
  EXPECT_LT(l.local_endpoint().port, r.start_port + r.count);
  auto c =
      tcp4_socket::connect(l.local_endpoint(), 10s, vmsock::associate_port_reservation{r.token});
  EXPECT_GE(c.local_endpoint().port, r.start_port);
  holder.release_port_reservation(r.token);
}

// What Wine cannot show: a real VM connecting to a VSOCK listener is accepted
// (its GUID reads as cid::any), UDP after an ICMP unreachable is no error, and
// an AF_HYPERV connect with a deadline times out by HVSOCKET_CONNECT_TIMEOUT.
// VMSOCK_REAL_WINDOWS_VM_PORT names a port a running guest connects to.
TEST(RealWindows, AcceptFromAVmThroughAVsockListener) {
  VMSOCK_TEST_REQUIRE_REAL_WINDOWS();
  const char* port = std::getenv("VMSOCK_REAL_WINDOWS_VM_PORT");
  if (port == nullptr)
    GTEST_SKIP() << "set VMSOCK_REAL_WINDOWS_VM_PORT to a port a guest connects to";
  auto l = vsock_listener::listen({vsock::cid::any, static_cast<std::uint32_t>(std::atoi(port))});
  vsock_endpoint peer;
  auto s = l.accept(std::chrono::seconds(120), peer);
  EXPECT_TRUE(s.is_open());
  EXPECT_EQ(peer.cid, vsock::cid::any);
  EXPECT_NE(s.peer_hv_endpoint().vm_id, hv::vm_id::wildcard);
}

// A connect that no one answers ends by its deadline, and cancel() ends one
// early.  A VM id that does not exist fails at once (no timeout is tested by
// it), so this needs a VM that exists and does not answer: a paused one.  On
// the host: create a VM, start it, Suspend-VM it, and set
// VMSOCK_REAL_WINDOWS_PAUSED_VM to its id ((Get-VM -Name guest).Id).
TEST(RealWindows, AHyperVConnectTimesOutByItsDeadline) {
  VMSOCK_TEST_REQUIRE_REAL_WINDOWS();
  const char* vm = std::getenv("VMSOCK_REAL_WINDOWS_PAUSED_VM");
  if (vm == nullptr)
    GTEST_SKIP() << "set VMSOCK_REAL_WINDOWS_PAUSED_VM to the id of a paused VM (Suspend-VM)";
  const auto ep = hv_endpoint::for_port(guid::parse(vm), 5000);
  auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  (void)hv_stream_socket::connect(ep, std::chrono::seconds(2), ec);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_GE(took, std::chrono::milliseconds(1900)) << "it waited for its deadline";
  EXPECT_LT(took, std::chrono::seconds(10));

  // cancel() from another thread ends a connect with a long deadline at once.
  auto c = connector<hv_stream_socket>::open();
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    c.cancel();
  });
  t0 = std::chrono::steady_clock::now();
  (void)c.connect(ep, std::chrono::seconds(60), ec);
  took = std::chrono::steady_clock::now() - t0;
  canceller.join();
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_LT(took, std::chrono::seconds(5));
}

// ---- vsock::local_cid -------------------------------------------------------------

TEST(WinsockVsock, LocalCidIsUnsupportedOnPlatform) {
  std::error_code ec;
  EXPECT_EQ(vsock::local_cid(ec), vsock::cid::any);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
  EXPECT_EQ(ec, std::errc::not_supported);
  EXPECT_EQ(message_of([] { (void)vsock::local_cid(); }),
            "local_cid: " + make_error_code(errc::unsupported_on_platform).message());
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED) << "no system call was made";
}

}  // namespace
