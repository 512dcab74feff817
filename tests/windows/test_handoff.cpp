// Socket hand-off on Windows (handoff.hpp), under Wine in CI: a TCP
// connection accepted here is duplicated into a second process
// (WSADuplicateSocketW for its process id; the WSAPROTOCOL_INFOW travels over
// a vmsock TCP channel in vmsock's frame) which opens it
// (WSASocketW(FROM_PROTOCOL_INFO)) and serves it; frames that are not
// hand-offs, or of the wrong size, are refused before anything is opened;
// a duplicate of the wrong type is refused and closed; the WSAStartup
// reference of a received socket is its own.
#include <vmsock/host/handoff.hpp>
#include <vmsock/host/systemd.hpp>

#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include "handoff_support.hpp"

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#ifndef VMSOCK_HANDOFF_WORKER
#  error "VMSOCK_HANDOFF_WORKER: the file name of vmsock_windows_handoff_worker"
#endif

namespace {

using namespace std::chrono_literals;
using namespace vmsock;

using vmsock_handoff::make_tcp;

// The worker, next to this executable.
std::wstring worker_path() {
  wchar_t exe[MAX_PATH];
  const DWORD n = ::GetModuleFileNameW(nullptr, exe, MAX_PATH);
  std::wstring dir(exe, n);
  dir = dir.substr(0, dir.find_last_of(L"\\/") + 1);
  const std::string name = VMSOCK_HANDOFF_WORKER;
  return dir + std::wstring(name.begin(), name.end());
}

std::string read_line(tcp4_socket& s) { return vmsock_handoff::read_line(s, 20s); }

TEST(WindowsHandoff, TcpConnectionDuplicatedIntoASecondProcessThatServesIt) {
  auto supervisor = tcp4_listener::listen(inet4_endpoint::loopback(0));
  const std::wstring exe = worker_path();
  std::wstring command =
      L"\"" + exe + L"\" " + std::to_wstring(supervisor.local_endpoint().port) + L" 30";
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  ASSERT_TRUE(::CreateProcessW(exe.c_str(), &command[0], nullptr, nullptr, FALSE, 0, nullptr,
                               nullptr, &si, &pi))
      << "CreateProcessW: " << ::GetLastError();
  struct closer {
    PROCESS_INFORMATION& pi;
    ~closer() {
      if (::WaitForSingleObject(pi.hProcess, 0) != WAIT_OBJECT_0)
        ::TerminateProcess(pi.hProcess, 99);
      ::CloseHandle(pi.hThread);
      ::CloseHandle(pi.hProcess);
    }
  } close_it{pi};
  auto channel = supervisor.accept(30s);

  auto service = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto client = tcp4_socket::connect(service.local_endpoint(), 10s);
  auto conn = service.accept(10s);
  send_socket(channel, conn, static_cast<std::int64_t>(pi.dwProcessId), 10s);
  conn.close();  // the worker's duplicate lives on

  EXPECT_EQ(read_line(client), "worker " + std::to_string(pi.dwProcessId));
  const std::string data(50000, 'w');
  client.send_all(data, 20s);
  client.shutdown(shutdown_type::send);
  std::string back(data.size(), '\0');
  client.receive_exact(back, 20s);
  EXPECT_EQ(back, data);
  char c = 0;
  EXPECT_EQ(client.receive(mutable_buffer{&c, 1}, 20s), 0u) << "the worker closed it";
  ASSERT_EQ(::WaitForSingleObject(pi.hProcess, 30000), WAIT_OBJECT_0);
  DWORD code = 1;
  ::GetExitCodeProcess(pi.hProcess, &code);
  EXPECT_EQ(code, 0u);
}

// Whether Winsock is started, told by a raw socket() (0: it is).
int raw_socket_error() {
  const SOCKET s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s == INVALID_SOCKET) return ::WSAGetLastError();
  ::closesocket(s);
  return 0;
}

// Within one process (a duplicate for itself): the bytes, their checks, and
// the start-up references: once every socket is closed Winsock is stopped
// again (each ctest case is a process of its own).
TEST(WindowsHandoff, SharedBytesOpenOnceCheckedAgainstTheType) {
  {
    auto t = make_tcp();
    const auto self = static_cast<std::int64_t>(::GetCurrentProcessId());
    auto bytes = share_socket(t.server, self);
    EXPECT_EQ(bytes.size(), sizeof(WSAPROTOCOL_INFOW));
    auto dup = open_shared_socket<tcp4_socket>(bytes.data(), bytes.size());
    ASSERT_TRUE(dup.is_open());
    EXPECT_NE(dup.native_handle(), t.server.native_handle());
    EXPECT_EQ(dup.peer_endpoint(), t.client.local_endpoint());
    t.server.close();
    dup.send_all(std::string_view("dup"), 10s);
    std::string three(3, '\0');
    t.client.receive_exact(three, 10s);
    EXPECT_EQ(three, "dup");

    // The wrong size: refused before anything is opened.
    std::error_code ec;
    open_shared_socket<tcp4_socket>(bytes.data(), bytes.size() - 1, ec);
    EXPECT_EQ(ec, std::errc::invalid_argument);
    try {
      open_shared_socket<tcp4_socket>(bytes.data(), 10);
      FAIL();
    } catch (const std::system_error& e) {
      EXPECT_NE(
          std::string(e.what()).find("open_shared_socket: 10 bytes, a WSAPROTOCOL_INFOW has " +
                                     std::to_string(sizeof(WSAPROTOCOL_INFOW))),
          std::string::npos)
          << e.what();
    }
    // The wrong type: opened, refused, closed.
    auto u = udp4_socket::open(inet4_endpoint::loopback(0));
    auto ubytes = share_socket(u, self);
    try {
      open_shared_socket<tcp4_socket>(ubytes.data(), ubytes.size());
      FAIL();
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::wrong_protocol_type);
      EXPECT_NE(
          std::string(e.what()).find("received an IPv4 datagram socket, expected a connected IPv4 "
                                     "stream socket (it was closed)"),
          std::string::npos)
          << e.what();
    }
    share_socket(u, 0, ec);
    EXPECT_EQ(ec, std::errc::invalid_argument) << "no process 0";
  }
  EXPECT_EQ(raw_socket_error(), WSANOTINITIALISED)
      << "a received socket holds one start-up reference, given back by its close";
}

TEST(WindowsHandoff, FramesThatAreNotHandOffsAreRefused) {
  auto ch = make_tcp();
  // Not the magic.
  ch.client.send_all(std::string_view("GET / HTTP/1.0\r\n"), 10s);
  try {
    receive_socket<tcp4_socket>(ch.server, 10s);
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::bad_message);
    EXPECT_NE(std::string(e.what()).find("not a vmsock hand-off frame"), std::string::npos)
        << e.what();
  }
  // The magic, and a size that is not a WSAPROTOCOL_INFOW's.
  auto ch2 = make_tcp();
  const unsigned char frame[8] = {'v', 'm', 's', 'h', 5, 0, 0, 0};
  ch2.client.send_all(const_buffer{frame, sizeof frame}, 10s);
  try {
    receive_socket<tcp4_socket>(ch2.server, 10s);
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::bad_message);
    EXPECT_NE(
        std::string(e.what()).find("the hand-off frame carries 5 bytes, a WSAPROTOCOL_INFOW has " +
                                   std::to_string(sizeof(WSAPROTOCOL_INFOW))),
        std::string::npos)
        << e.what();
  }
  // The stream ends halfway.
  auto ch3 = make_tcp();
  const unsigned char half[6] = {'v', 'm', 's', 'h', 0x74, 0x02};
  ch3.client.send_all(const_buffer{half, sizeof half}, 10s);
  ch3.client.shutdown(shutdown_type::send);
  std::error_code ec;
  receive_socket<tcp4_socket>(ch3.server, 10s, ec);
  EXPECT_EQ(ec, errc::end_of_stream);
  // A deadline, and cancel().
  auto ch4 = make_tcp();
  receive_socket<tcp4_socket>(ch4.server, 200ms, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    ch4.server.cancel();
  });
  receive_socket<tcp4_socket>(ch4.server, 30s, ec);
  canceller.join();
  EXPECT_EQ(ec, std::errc::operation_canceled);
}

// Socket activation is a POSIX protocol: on Windows it says so.
TEST(WindowsHandoff, SocketActivationIsUnsupportedHere) {
  std::error_code ec;
  std::string why;
  auto all = systemd_listeners(ec, &why);
  EXPECT_EQ(ec, errc::unsupported_on_platform);
  EXPECT_EQ(why, "systemd socket activation is a POSIX (Linux) protocol");
  EXPECT_TRUE(all.empty());
  try {
    systemd_sockets::from_environment();
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::unsupported_on_platform);
  }
}

}  // namespace
