// winsock_policy: vmsock's sockets on Winsock 2.  The only code that calls the
// OS on Windows.
//
// Defaults it applies: every socket is created with WSASocketW and
// WSA_FLAG_OVERLAPPED (SO_RCVTIMEO/SO_SNDTIMEO work only on overlapped sockets)
// | WSA_FLAG_NO_HANDLE_INHERIT (child processes never inherit it).  Winsock is
// started and stopped by the policy, never by the user and never by a static
// initialiser: every socket the policy opens or accepts holds one WSAStartup
// reference, released by its close, so WSACleanup can never run while a vmsock
// socket lives.  The reference goes with the handle both ways: a handle given
// to a socket object takes one (adopt), and one taken with release() carries
// its own, which the caller gives back with WSACleanup() after closesocket()
// (or keeps, and Winsock stays started).  Errors are WSAGetLastError() codes
// that compare equal to the portable std::errc conditions
// (detail/win_error.hpp).  It never throws.
//
// Every socket is non-blocking in Winsock (FIONBIO) from the moment it is
// opened, accepted or adopted: a call that must wait waits in select(), beside
// the socket's wake-up socket, so that cancel() can end it with documented
// calls only (Winsock has no way to end a blocking call in another thread but
// closesocket, which would race with the handle's reuse).  A socket's
// SO_RCVTIMEO/SO_SNDTIMEO is read when a call is about to wait and bounds that
// wait, so the options mean what they mean on a blocking socket.  A handle
// taken out with release() is made blocking again unless the user asked for a
// non-blocking socket.
//
// Its parts are bases, each a header in policy/detail: winsock_calls (the
// handle types, the errors, check), winsock_wakeup (the wake-ups of cancel()),
// winsock_waits (select), winsock_options (the option table), winsock_handoff
// (WSADuplicateSocketW, what a socket is) and win_connect (the Hyper-V
// connect).
#pragma once

#include <vmsock/config.hpp>

#if !VMSOCK_WINDOWS
#  error "vmsock/policy/winsock.hpp is for Windows; include vmsock/policy/default.hpp"
#endif

#include <vmsock/buffer.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/policy/detail/win_connect.hpp>
#include <vmsock/policy/detail/winsock_calls.hpp>
#include <vmsock/policy/detail/winsock_handoff.hpp>
#include <vmsock/policy/detail/winsock_options.hpp>
#include <vmsock/policy/detail/winsock_wakeup.hpp>
#include <vmsock/policy/detail/winsock_waits.hpp>
#include <vmsock/detail/win_error.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/policy/types.hpp>

#include <mstcpip.h>

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE

// The Hyper-V connect (overlapped ConnectEx) comes from win_overlapped_connect.
struct winsock_policy : detail::win_overlapped_connect,
                        detail::winsock_wakeup<winsock_policy>,
                        detail::winsock_waits,
                        detail::winsock_options,
                        detail::winsock_handoff<winsock_policy> {
  static constexpr int max_backlog = SOMAXCONN;
  // On Windows SO_REUSEADDR lets another socket steal a bound port, so
  // listeners do not get it.
  static constexpr bool listener_reuse_address = false;
  static constexpr std::uint32_t any_cid = 0xFFFFFFFFu;
  // No call waits inside Winsock: see the top of this file.
  static constexpr bool kernel_waits = false;

  // ---- Winsock start-up, one reference per live socket ------------------------
  static bool startup(std::error_code& ec) noexcept {
    WSADATA data;
    const int r = ::WSAStartup(MAKEWORD(2, 2), &data);
    if (r != 0) {
      ec = os_error(r);
      return false;
    }
    return true;
  }
  static void cleanup() noexcept { ::WSACleanup(); }

  // A handle the user hands to a socket object: it gets its own reference,
  // which its close releases.
  // false when WSAStartup failed: the socket then holds no reference, and is
  // closed with close_unreferenced, which gives none back.
  static bool adopt(handle h) noexcept {
    std::error_code ignored;
    const bool referenced = startup(ignored);
    set_nonblocking(h, true, ignored);
    return referenced;
  }
  static void close_unreferenced(handle h, std::error_code& ec) noexcept {
    if (::closesocket(h) != 0)
      ec = last_error();
    else
      ec.clear();
  }

  static handle open(int family, socket_type type, int protocol, std::error_code& ec) noexcept {
    if (!startup(ec)) return invalid_handle;
    int t = SOCK_STREAM;
    switch (type) {
    case socket_type::stream: t = SOCK_STREAM; break;
    case socket_type::datagram: t = SOCK_DGRAM; break;
    case socket_type::seqpacket: t = SOCK_SEQPACKET; break;
    }
    return made(family, t, protocol, nullptr, ec);
  }

  static void close(handle h, std::error_code& ec) noexcept {
    if (::closesocket(h) != 0)
      ec = last_error();
    else
      ec.clear();
    cleanup();
  }

  static void bind(handle h, const void* sa, std::size_t len, std::error_code& ec) noexcept {
    check(::bind(h, static_cast<const sockaddr*>(sa), static_cast<int>(len)), ec);
  }

  static void listen(handle h, int backlog, std::error_code& ec) noexcept {
    check(::listen(h, backlog), ec);
  }

  static handle accept(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    if (!startup(ec)) return invalid_handle;
    for (;;) {
      int l = static_cast<int>(len);
      const SOCKET c = ::accept(h, static_cast<sockaddr*>(sa), sa ? &l : nullptr);
      if (c != INVALID_SOCKET) {
        // Accepted sockets take the listener's attributes; make sure a child
        // process never inherits one.
        ::SetHandleInformation(reinterpret_cast<HANDLE>(c), HANDLE_FLAG_INHERIT, 0);
        len = sa ? static_cast<std::size_t>(l) : 0;
        set_nonblocking(c, true, ec);
        if (ec) {
          ::closesocket(c);
          cleanup();
          return invalid_handle;
        }
        return c;
      }
      const int e = ::WSAGetLastError();
      if (e == WSAECONNRESET || e == WSAEINTR) continue;  // a client gave up before we took it
      ec = os_error(e);
      cleanup();
      return invalid_handle;
    }
  }

  // A non-blocking connect that has started reports WSAEWOULDBLOCK on Windows;
  // it is reported as in progress, as POSIX's EINPROGRESS.
  static void connect(handle h, const void* sa, std::size_t len, std::error_code& ec) noexcept {
    if (::connect(h, static_cast<const sockaddr*>(sa), static_cast<int>(len)) == 0) {
      ec.clear();
      return;
    }
    const int e = ::WSAGetLastError();
    ec = os_error(e == WSAEWOULDBLOCK ? WSAEINPROGRESS : e);
  }

  static void pending_error(handle h, std::error_code& ec) noexcept {
    int err = 0;
    int l = sizeof err;
    if (::getsockopt(h, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &l) != 0)
      ec = last_error();
    else if (err != 0)
      ec = os_error(err);
    else
      ec.clear();
  }

  static std::size_t send(handle h, const const_buffer* bufs, std::size_t count,
                          message_flags flags, std::error_code& ec) noexcept {
    return send_to(h, bufs, count, flags, nullptr, 0, ec);
  }

  static std::size_t send_to(handle h, const const_buffer* bufs, std::size_t count,
                             message_flags flags, const void* sa, std::size_t len,
                             std::error_code& ec) noexcept {
    WSABUF wb[max_buffers];
    const DWORD n = fill(wb, bufs, count);
    DWORD sent = 0;
    const int r = ::WSASendTo(h, wb, n, &sent, static_cast<DWORD>(native_flags(flags)),
                              static_cast<const sockaddr*>(sa), sa ? static_cast<int>(len) : 0,
                              nullptr, nullptr);
    if (r != 0) {
      ec = last_error();
      return 0;
    }
    ec.clear();
    return sent;
  }

  static std::size_t receive(handle h, const mutable_buffer* bufs, std::size_t count,
                             message_flags flags, std::error_code& ec) noexcept {
    std::size_t none = 0;
    return receive_from(h, bufs, count, flags, nullptr, none, ec);
  }

  // Windows cannot report a truncated message's full length: with
  // report_full_length a truncated message is errc::message_truncated and the
  // result is the bytes that were stored.
  static std::size_t receive_from(handle h, const mutable_buffer* bufs, std::size_t count,
                                  message_flags flags, void* sa, std::size_t& len,
                                  std::error_code& ec) noexcept {
    WSABUF wb[max_buffers];
    const DWORD n = fill(wb, bufs, count);
    DWORD got = 0;
    DWORD f = static_cast<DWORD>(native_flags(flags));
    int l = static_cast<int>(len);
    const int r = ::WSARecvFrom(h, wb, n, &got, &f, static_cast<sockaddr*>(sa), sa ? &l : nullptr,
                                nullptr, nullptr);
    if (r != 0) {
      const int e = ::WSAGetLastError();
      if (e == WSAEMSGSIZE && has_flag(flags, message_flags::report_full_length)) {
        if (sa) len = static_cast<std::size_t>(l);
        ec = make_error_code(errc::message_truncated);
        return total_size(bufs, count < max_buffers ? count : max_buffers);
      }
      ec = os_error(e);
      return 0;
    }
    if (sa) len = static_cast<std::size_t>(l);
    ec.clear();
    return got;
  }

  static void shutdown(handle h, shutdown_type how, std::error_code& ec) noexcept {
    const int w = how == shutdown_type::receive ? SD_RECEIVE
                  : how == shutdown_type::send  ? SD_SEND
                                                : SD_BOTH;
    check(::shutdown(h, w), ec);
  }

  // WSAIoctl with input and output buffers; returns the bytes written to `out`.
  static std::size_t ioctl(handle h, DWORD code, const void* in, std::size_t in_len, void* out,
                           std::size_t out_len, std::error_code& ec) noexcept {
    DWORD returned = 0;
    const int r = ::WSAIoctl(h, code, const_cast<void*>(in), static_cast<DWORD>(in_len), out,
                             static_cast<DWORD>(out_len), &returned, nullptr, nullptr);
    if (!check(r, ec)) return 0;
    return returned;
  }

  static void local_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    int l = static_cast<int>(len);
    if (check(::getsockname(h, static_cast<sockaddr*>(sa), &l), ec))
      len = static_cast<std::size_t>(l);
  }

  static void peer_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    int l = static_cast<int>(len);
    if (check(::getpeername(h, static_cast<sockaddr*>(sa), &l), ec))
      len = static_cast<std::size_t>(l);
  }

  static void set_nonblocking(handle h, bool on, std::error_code& ec) noexcept {
    u_long mode = on ? 1 : 0;
    check(::ioctlsocket(h, static_cast<long>(FIONBIO), &mode), ec);
  }
  // Winsock cannot tell whether a handle is non-blocking.
  static bool is_nonblocking(handle) noexcept { return false; }

  // SO_RCVTIMEO (readable) or SO_SNDTIMEO (writable): how long a call on a
  // blocking socket may wait; no_timeout when none is set.
  static timeout blocking_timeout(handle h, wait_type what) noexcept {
    DWORD ms = 0;
    int l = sizeof ms;
    if (::getsockopt(h, SOL_SOCKET, what == wait_type::readable ? SO_RCVTIMEO : SO_SNDTIMEO,
                     reinterpret_cast<char*>(&ms), &l) != 0 ||
        ms == 0)
      return no_timeout;
    return timeout{static_cast<timeout::rep>(ms)};
  }

  // Nothing to prepare for a connect that waits in select().
  static void prepare_connect(handle, int, const deadline&, std::error_code& ec) noexcept {
    ec.clear();
  }

  // ---- Unix socket files (Windows 10 1803+) -----------------------------------
  // An AF_UNIX socket file is a reparse point tagged IO_REPARSE_TAG_AF_UNIX.
  // Windows gives no cheap identity for it, so every one compares equal.
  struct file_id {
    friend bool operator==(const file_id&, const file_id&) noexcept { return true; }
  };
  static bool socket_file(const char* path, file_id&) noexcept {
    wchar_t wide[MAX_PATH + 1];
    if (!widen(path, wide)) return false;
    WIN32_FIND_DATAW found;
    const HANDLE f = ::FindFirstFileW(wide, &found);
    if (f == INVALID_HANDLE_VALUE) return false;
    ::FindClose(f);
    constexpr DWORD af_unix_tag = 0x80000023;  // IO_REPARSE_TAG_AF_UNIX
    return (found.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0 &&
           found.dwReserved0 == af_unix_tag;
  }
  static void remove_file(const char* path, std::error_code& ec) noexcept {
    wchar_t wide[MAX_PATH + 1];
    if (!widen(path, wide)) {
      ec = os_error(ERROR_INVALID_NAME);
      return;
    }
    if (::DeleteFileW(wide) == 0)
      ec = os_error(static_cast<int>(::GetLastError()));
    else
      ec.clear();
  }

  static constexpr bool udp_icmp_errors = true;
  // Whether a UDP socket's receive reports what an earlier send drew: an ICMP
  // port-unreachable as WSAECONNRESET (SIO_UDP_CONNRESET) and a time-exceeded
  // as WSAENETRESET (SIO_UDP_NETRESET); Windows' default is both on.  A
  // Windows without SIO_UDP_NETRESET (Wine answers WSAEOPNOTSUPP) has no such
  // report to turn off.
  static void set_udp_icmp_errors(handle h, bool on, std::error_code& ec) noexcept {
#if !defined(SIO_UDP_CONNRESET)
    constexpr DWORD SIO_UDP_CONNRESET = _WSAIOW(IOC_VENDOR, 12);
#endif
#if !defined(SIO_UDP_NETRESET)
    constexpr DWORD SIO_UDP_NETRESET = _WSAIOW(IOC_VENDOR, 15);
#endif
    const BOOL value = on ? TRUE : FALSE;
    ioctl(h, SIO_UDP_CONNRESET, &value, sizeof value, nullptr, 0, ec);
    if (ec) return;
    ioctl(h, SIO_UDP_NETRESET, &value, sizeof value, nullptr, 0, ec);
    if (ec == std::errc::operation_not_supported || ec == std::errc::invalid_argument) ec.clear();
  }

  // Windows has no SO_PEERCRED for its AF_UNIX sockets.
  static credentials peer_credentials(handle, std::error_code& ec) noexcept {
    ec = make_error_code(errc::unsupported_on_platform);
    return {};
  }

  static std::uint32_t local_vsock_cid(std::error_code& ec) noexcept {
    ec = make_error_code(errc::unsupported_on_platform);
    return any_cid;
  }

  static std::int64_t current_process_id() noexcept {
    return static_cast<std::int64_t>(::GetCurrentProcessId());
  }

  // SIO_ACQUIRE_PORT_RESERVATION: a runtime reservation of `count` ports from
  // `start` (0: the system chooses), for as long as this socket lives.
  static port_reservation acquire_port_reservation(handle h, std::uint16_t start,
                                                   std::uint16_t count,
                                                   std::error_code& ec) noexcept {
    INET_PORT_RANGE range{};
    range.StartPort = ::htons(start);  // network order, as sin_port
    range.NumberOfPorts = count;
    INET_PORT_RESERVATION_INSTANCE instance{};
    ioctl(h, SIO_ACQUIRE_PORT_RESERVATION, &range, sizeof range, &instance, sizeof instance, ec);
    if (ec) return {};
    return {::ntohs(instance.Reservation.StartPort), instance.Reservation.NumberOfPorts,
            instance.Token.Token};
  }
  // SIO_ASSOCIATE_PORT_RESERVATION: bind() then takes its port from the reservation.
  static void associate_port_reservation(handle h, std::uint64_t token,
                                         std::error_code& ec) noexcept {
    const ULONG64 t = token;
    ioctl(h, SIO_ASSOCIATE_PORT_RESERVATION, &t, sizeof t, nullptr, 0, ec);
  }
  static void release_port_reservation(handle h, std::uint64_t token,
                                       std::error_code& ec) noexcept {
    INET_PORT_RESERVATION_TOKEN t{};
    t.Token = token;
    ioctl(h, SIO_RELEASE_PORT_RESERVATION, &t, sizeof t, nullptr, 0, ec);
  }

 private:
  // winsock_handoff opens a duplicate with made().
  friend struct detail::winsock_handoff<winsock_policy>;

  // WSASocketW with vmsock's flags, made non-blocking; on failure the
  // start-up reference the caller took is given back.
  static handle made(int family, int type, int protocol, WSAPROTOCOL_INFOW* info,
                     std::error_code& ec) noexcept {
    const SOCKET s = ::WSASocketW(family, type, protocol, info, 0,
                                  WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
      ec = last_error();
      cleanup();
      return invalid_handle;
    }
    set_nonblocking(s, true, ec);
    if (ec) {
      ::closesocket(s);
      cleanup();
      return invalid_handle;
    }
    return s;
  }

  // UTF-8 to UTF-16 for the file functions; false if it does not fit or is not UTF-8.
  static bool widen(const char* path, wchar_t (&out)[MAX_PATH + 1]) noexcept {
    const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, out, MAX_PATH + 1);
    return n > 0;
  }

  static int native_flags(message_flags f) noexcept {
    int n = 0;
    if (has_flag(f, message_flags::peek)) n |= MSG_PEEK;
    if (has_flag(f, message_flags::out_of_band)) n |= MSG_OOB;
    return n;  // report_full_length: see receive_from
  }

  // WSABUF lengths are ULONG: a buffer above 4 GiB is sent in parts.
  template <class Buffer>
  static DWORD fill(WSABUF* wb, const Buffer* bufs, std::size_t count) noexcept {
    const std::size_t n = count < max_buffers ? count : max_buffers;
    for (std::size_t i = 0; i < n; ++i) {
      wb[i].buf = static_cast<char*>(const_cast<void*>(static_cast<const void*>(bufs[i].data)));
      wb[i].len = bufs[i].size > ULONG_MAX ? ULONG_MAX : static_cast<ULONG>(bufs[i].size);
    }
    return static_cast<DWORD>(n);
  }
};

VMSOCK_END_NAMESPACE
