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
#pragma once

#include <vmsock/config.hpp>

#if !VMSOCK_WINDOWS
#  error "vmsock/policy/winsock.hpp is for Windows; include vmsock/policy/default.hpp"
#endif

#include <vmsock/buffer.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/policy/detail/win_connect.hpp>
#include <vmsock/detail/win_error.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/policy/types.hpp>

#include <mstcpip.h>

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE

// The Hyper-V connect (overlapped ConnectEx) comes from win_overlapped_connect.
struct winsock_policy : detail::win_overlapped_connect {
  using handle = SOCKET;
  static constexpr handle invalid_handle = INVALID_SOCKET;
  static constexpr std::size_t max_buffers = 64;
  static constexpr int max_backlog = SOMAXCONN;
  // On Windows SO_REUSEADDR lets another socket steal a bound port, so
  // listeners do not get it.
  static constexpr bool listener_reuse_address = false;
  static constexpr std::uint32_t any_cid = 0xFFFFFFFFu;
  // No call waits inside Winsock: see the top of this file.
  static constexpr bool kernel_waits = false;

  static std::error_code os_error(int code) noexcept { return detail::make_os_error(code); }
  static std::error_code last_error() noexcept { return os_error(::WSAGetLastError()); }
  static std::error_code closed_error() noexcept { return os_error(WSAENOTSOCK); }

  // ---- wake-ups for cancel() ------------------------------------------------
  // A UDP socket on 127.0.0.1 connected to itself: select() sees it readable
  // once signal_wake has sent it a byte, and for good (nobody reads it).  It
  // holds its own WSAStartup reference.
  using wake_handle = SOCKET;
  static constexpr wake_handle invalid_wake = INVALID_SOCKET;

  static wake_handle open_wake(std::error_code& ec) noexcept {
    const SOCKET w = open(AF_INET, socket_type::datagram, 0, ec);
    if (ec) return invalid_wake;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = ::htonl(INADDR_LOOPBACK);
    int l = sizeof sa;
    if (::bind(w, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::getsockname(w, reinterpret_cast<sockaddr*>(&sa), &l) != 0 ||
        ::connect(w, reinterpret_cast<sockaddr*>(&sa), l) != 0) {
      ec = last_error();
      std::error_code ignored;
      close(w, ignored);
      return invalid_wake;
    }
    return w;
  }
  static void signal_wake(wake_handle w) noexcept {
    const char one = 1;
    ::send(w, &one, 1, 0);
  }
  static void close_wake(wake_handle w) noexcept {
    std::error_code ignored;
    close(w, ignored);
  }
  static void yield() noexcept { ::SwitchToThread(); }
  // Nothing waits inside Winsock (the wake-up ends every wait) but a Hyper-V
  // connect's ConnectEx, which CancelIoEx ends (it cancels only overlapped
  // operations, and vmsock starts no other); cancel() shuts the socket down
  // all the same, so that the peer sees what it sees on POSIX.
  static void interrupt(handle h) noexcept {
    ::CancelIoEx(reinterpret_cast<HANDLE>(h), nullptr);
    ::shutdown(h, SD_BOTH);
  }

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

  static void set_option(handle h, option_id id, const option_value& v, std::error_code& ec) noexcept {
    native_option o;
    if (!lookup(id, o, ec)) return;
    // A VSOCK connect timeout is HVSOCKET_CONNECT_TIMEOUT here: its limit too.
    if ((id == option_id::vsock_connect_timeout || id == option_id::hv_connect_timeout) &&
        v.value > static_cast<std::int64_t>(hv::connect_timeout_max_ms) * 1000) {
      ec = make_error_code(errc::invalid_option_value);
      return;
    }
    switch (o.kind) {
      case value_kind::boolean:
      case value_kind::integer:
      case value_kind::duration_ms: {
        DWORD x = 0;
        if (o.kind == value_kind::boolean)
          x = v.on ? 1 : 0;
        else if (o.kind == value_kind::integer)
          x = static_cast<DWORD>(v.value);
        else  // microseconds -> milliseconds, rounded up so a tiny timeout is not "none"
          x = static_cast<DWORD>((v.value + 999) / 1000);
        check(::setsockopt(h, o.level, o.name, reinterpret_cast<const char*>(&x), sizeof x), ec);
        return;
      }
      case value_kind::linger: {
        ::linger l{};
        l.l_onoff = static_cast<u_short>(v.on ? 1 : 0);
        l.l_linger = static_cast<u_short>(v.value);
        check(::setsockopt(h, o.level, o.name, reinterpret_cast<const char*>(&l), sizeof l), ec);
        return;
      }
    }
  }

  static void get_option(handle h, option_id id, option_value& v, std::error_code& ec) noexcept {
    native_option o;
    if (!lookup(id, o, ec)) return;
    v = option_value{};
    switch (o.kind) {
      case value_kind::boolean:
      case value_kind::integer:
      case value_kind::duration_ms: {
        DWORD x = 0;
        int l = sizeof x;
        if (!check(::getsockopt(h, o.level, o.name, reinterpret_cast<char*>(&x), &l), ec)) return;
        v.on = x != 0;
        v.value = o.kind == value_kind::duration_ms ? static_cast<std::int64_t>(x) * 1000
                                                    : static_cast<std::int64_t>(x);
        return;
      }
      case value_kind::linger: {
        ::linger lg{};
        int l = sizeof lg;
        if (!check(::getsockopt(h, o.level, o.name, reinterpret_cast<char*>(&lg), &l), ec)) return;
        v.on = lg.l_onoff != 0;
        v.value = lg.l_linger;
        return;
      }
    }
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

  // select() rather than WSAPoll: WSAPoll did not report a failed connect
  // before Windows 10 2004.  Two sockets at most (and the wake-up), so
  // FD_SETSIZE is no limit.
  static wait_result poll(handle h, wait_type what, wake_handle wake, const deadline& when,
                          std::error_code& ec) noexcept {
    fd_set main_set;
    fd_set read_set;
    fd_set except_set;
    FD_ZERO(&main_set);
    FD_ZERO(&read_set);
    FD_ZERO(&except_set);
    fd_set* readable = &read_set;
    fd_set* writable = nullptr;
    fd_set* failed = nullptr;
    const wait_interest in = interest_of(what);  // which sets, and why (policy/types.hpp)
    if (in.readable) FD_SET(h, &read_set);
    if (in.writable) {
      FD_SET(h, &main_set);
      writable = &main_set;
    }
    if (in.exceptional) {
      FD_SET(h, &except_set);
      failed = &except_set;
    }
    if (wake != invalid_wake) FD_SET(wake, &read_set);
    const int r = wait(readable, writable, failed, when, ec);
    if (r < 0) return wait_result::ready;  // ec says why
    if (wake != invalid_wake && FD_ISSET(wake, &read_set)) return wait_result::woken;
    return r > 0 ? wait_result::ready : wait_result::timed_out;
  }

  // Waits until one of `count` handles is readable; see posix_policy::poll_any.
  static wait_result poll_any(const handle* hs, std::size_t count, std::size_t start,
                              wake_handle wake, const deadline& when, std::size_t& ready,
                              std::error_code& ec) noexcept {
    if (count == 0 || count > max_buffers || count + 1 > FD_SETSIZE) {
      ec = os_error(WSAEINVAL);
      return wait_result::ready;
    }
    fd_set set;
    FD_ZERO(&set);
    for (std::size_t i = 0; i < count; ++i) FD_SET(hs[i], &set);
    if (wake != invalid_wake) FD_SET(wake, &set);
    const int r = wait(&set, nullptr, nullptr, when, ec);
    if (r < 0) return wait_result::ready;
    if (r == 0) return wait_result::timed_out;
    if (wake != invalid_wake && FD_ISSET(wake, &set)) return wait_result::woken;
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t i = (start + k) % count;
      if (FD_ISSET(hs[i], &set)) {
        ready = i;
        return wait_result::ready;
      }
    }
    return wait_result::timed_out;  // not reached: select counted a ready socket
  }

  static void local_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    int l = static_cast<int>(len);
    if (check(::getsockname(h, static_cast<sockaddr*>(sa), &l), ec)) len = static_cast<std::size_t>(l);
  }

  static void peer_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    int l = static_cast<int>(len);
    if (check(::getpeername(h, static_cast<sockaddr*>(sa), &l), ec)) len = static_cast<std::size_t>(l);
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
                     reinterpret_cast<char*>(&ms), &l) != 0 || ms == 0)
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

  // SIO_UDP_CONNRESET: whether a UDP socket's receive reports an earlier
  // send's ICMP port-unreachable as WSAECONNRESET (Windows' default: on).
  static void set_udp_connreset(handle h, bool on, std::error_code& ec) noexcept {
#if !defined(SIO_UDP_CONNRESET)
    constexpr DWORD SIO_UDP_CONNRESET = _WSAIOW(IOC_VENDOR, 12);
#endif
    const BOOL value = on ? TRUE : FALSE;
    ioctl(h, SIO_UDP_CONNRESET, &value, sizeof value, nullptr, 0, ec);
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

  // ---- handing sockets to another process (handoff.hpp) --------------------
  // Microsoft's lpProtocolInfo path: WSADuplicateSocketW fills a
  // WSAPROTOCOL_INFOW for one target process, whose bytes travel to it over
  // any channel, and there WSASocketW(FROM_PROTOCOL_INFO, ...) opens the
  // duplicate.  Each WSAPROTOCOL_INFOW opens one socket, once.
  static constexpr std::size_t protocol_info_size = sizeof(WSAPROTOCOL_INFOW);

  // Fills `out` (protocol_info_size bytes) so that process `target_pid` can
  // open a duplicate of `h`.
  static void duplicate_handle(handle h, std::uint32_t target_pid, void* out, std::size_t size,
                               std::error_code& ec) noexcept {
    if (size != protocol_info_size) {
      ec = os_error(WSAEINVAL);
      return;
    }
    WSAPROTOCOL_INFOW info{};
    if (::WSADuplicateSocketW(h, static_cast<DWORD>(target_pid), &info) != 0) {
      ec = last_error();
      return;
    }
    std::memcpy(out, &info, sizeof info);
    ec.clear();
  }

  // Opens the socket another process duplicated for this one.  `size` must
  // be protocol_info_size (else WSAEINVAL, nothing opened).  The handle is
  // made as open() makes one: overlapped, not inherited, non-blocking in
  // Winsock, holding one start-up reference.
  static handle open_duplicate(const void* info, std::size_t size, std::error_code& ec) noexcept {
    if (info == nullptr || size != protocol_info_size) {
      ec = os_error(WSAEINVAL);
      return invalid_handle;
    }
    if (!startup(ec)) return invalid_handle;
    WSAPROTOCOL_INFOW pi;
    std::memcpy(&pi, info, sizeof pi);
    return made(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &pi, ec);
  }

  // What an open socket is: its family and type (SO_PROTOCOL_INFOW) and
  // whether it listens (SO_ACCEPTCONN).
  static void socket_identity(handle h, int& family, socket_type& type, bool& listening,
                              std::error_code& ec) noexcept {
    WSAPROTOCOL_INFOW info{};
    int l = sizeof info;
    if (!check(::getsockopt(h, SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&info), &l), ec))
      return;
    family = info.iAddressFamily;
    switch (info.iSocketType) {
      case SOCK_STREAM: type = socket_type::stream; break;
      case SOCK_DGRAM: type = socket_type::datagram; break;
      case SOCK_SEQPACKET: type = socket_type::seqpacket; break;
      default: ec = os_error(WSAEPROTOTYPE); return;
    }
    BOOL on = FALSE;
    l = sizeof on;
    if (!check(::getsockopt(h, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&on), &l), ec)) return;
    listening = on != FALSE;
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
  static void associate_port_reservation(handle h, std::uint64_t token, std::error_code& ec) noexcept {
    const ULONG64 t = token;
    ioctl(h, SIO_ASSOCIATE_PORT_RESERVATION, &t, sizeof t, nullptr, 0, ec);
  }
  static void release_port_reservation(handle h, std::uint64_t token, std::error_code& ec) noexcept {
    INET_PORT_RESERVATION_TOKEN t{};
    t.Token = token;
    ioctl(h, SIO_RELEASE_PORT_RESERVATION, &t, sizeof t, nullptr, 0, ec);
  }

 private:
  // WSASocketW with vmsock's flags, made non-blocking; on failure the
  // start-up reference the caller took is given back.
  static handle made(int family, int type, int protocol, WSAPROTOCOL_INFOW* info,
                     std::error_code& ec) noexcept {
    const SOCKET s =
        ::WSASocketW(family, type, protocol, info, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
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

  // select() until something is ready or `when` passes.  The count of ready
  // sockets, 0 on timeout, -1 on error.
  static int wait(fd_set* readable, fd_set* writable, fd_set* failed, const deadline& when,
                  std::error_code& ec) noexcept {
    // select() changes the sets; a wait that is cut into day-long slices
    // restores them for the next slice.
    const fd_set r0 = readable ? *readable : fd_set{};
    const fd_set w0 = writable ? *writable : fd_set{};
    const fd_set f0 = failed ? *failed : fd_set{};
    constexpr long slice_ms = 24L * 3600 * 1000;
    for (;;) {
      const timeout left = when.remaining();
      timeval tv{};
      timeval* ptv = nullptr;
      bool sliced = left < timeout::zero();
      long ms = slice_ms;
      if (!sliced) {
        sliced = left.count() > slice_ms;
        if (!sliced) ms = static_cast<long>(left.count());
      }
      tv.tv_sec = ms / 1000;
      tv.tv_usec = (ms % 1000) * 1000;
      ptv = &tv;
      const int r = ::select(0, readable, writable, failed, ptv);
      if (r == SOCKET_ERROR) {
        ec = last_error();
        return -1;
      }
      if (r > 0 || !sliced) {
        ec.clear();
        return r;
      }
      if (readable) *readable = r0;
      if (writable) *writable = w0;
      if (failed) *failed = f0;
    }
  }

  // UTF-8 to UTF-16 for the file functions; false if it does not fit or is not UTF-8.
  static bool widen(const char* path, wchar_t (&out)[MAX_PATH + 1]) noexcept {
    const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, out, MAX_PATH + 1);
    return n > 0;
  }

  static bool check(int r, std::error_code& ec) noexcept {
    if (r == SOCKET_ERROR) {
      ec = last_error();
      return false;
    }
    ec.clear();
    return true;
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

  enum class value_kind { boolean, integer, duration_ms, linger };
  struct native_option {
    int level = 0;
    int name = 0;
    value_kind kind = value_kind::integer;
  };

  // HV_PROTOCOL_RAW and the HVSOCKET_* names, as hyperv.hpp defines them.
  static constexpr int hv_level = 1;

  static bool lookup(option_id id, native_option& o, std::error_code& ec) noexcept {
    switch (id) {
      case option_id::reuse_address: o = {SOL_SOCKET, SO_REUSEADDR, value_kind::boolean}; return true;
      case option_id::keep_alive: o = {SOL_SOCKET, SO_KEEPALIVE, value_kind::boolean}; return true;
      case option_id::linger: o = {SOL_SOCKET, SO_LINGER, value_kind::linger}; return true;
      case option_id::receive_buffer_size: o = {SOL_SOCKET, SO_RCVBUF, value_kind::integer}; return true;
      case option_id::send_buffer_size: o = {SOL_SOCKET, SO_SNDBUF, value_kind::integer}; return true;
      case option_id::receive_timeout: o = {SOL_SOCKET, SO_RCVTIMEO, value_kind::duration_ms}; return true;
      case option_id::send_timeout: o = {SOL_SOCKET, SO_SNDTIMEO, value_kind::duration_ms}; return true;
      case option_id::tcp_no_delay: o = {IPPROTO_TCP, TCP_NODELAY, value_kind::boolean}; return true;
      case option_id::socket_error: o = {SOL_SOCKET, SO_ERROR, value_kind::integer}; return true;
      case option_id::v6_only: o = {IPPROTO_IPV6, IPV6_V6ONLY, value_kind::boolean}; return true;
      // A VSOCK socket on Windows is an AF_HYPERV socket: its connect timeout is
      // HVSOCKET_CONNECT_TIMEOUT.
      case option_id::vsock_connect_timeout:
      case option_id::hv_connect_timeout: o = {hv_level, 0x01, value_kind::duration_ms}; return true;
      case option_id::hv_container_passthru: o = {hv_level, 0x02, value_kind::boolean}; return true;
      case option_id::hv_connected_suspend: o = {hv_level, 0x04, value_kind::boolean}; return true;
      case option_id::hv_high_vtl: o = {hv_level, 0x08, value_kind::boolean}; return true;
      default:
        ec = make_error_code(errc::unsupported_on_platform);
        return false;
    }
  }
};

VMSOCK_END_NAMESPACE
