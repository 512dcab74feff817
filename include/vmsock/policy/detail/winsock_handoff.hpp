// winsock_handoff: handing sockets to another process on Windows, a part of
// winsock_policy (policy/winsock.hpp) for host/handoff.hpp: WSADuplicateSocketW
// and the socket it lets the other process open, and what an inherited socket
// is (family, type, listening).  Policy is winsock_policy: the duplicate is
// opened as its open() opens a socket, with its start-up reference.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS

#  include <vmsock/detail/native.hpp>
#  include <vmsock/policy/detail/winsock_calls.hpp>
#  include <vmsock/socket_types.hpp>

#  include <cstddef>
#  include <cstdint>
#  include <cstring>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Policy> struct winsock_handoff : winsock_calls {
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
    if (!Policy::startup(ec)) return invalid_handle;
    WSAPROTOCOL_INFOW pi;
    std::memcpy(&pi, info, sizeof pi);
    return Policy::made(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &pi, ec);
  }

  // What an open socket is: its family and type (SO_PROTOCOL_INFOW) and
  // whether it listens (SO_ACCEPTCONN).
  static void socket_identity(handle h, int& family, socket_type& type, bool& listening,
                              std::error_code& ec) noexcept {
    WSAPROTOCOL_INFOW info{};
    int l = sizeof info;
    if (!check(::getsockopt(h, SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&info), &l),
               ec))
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
    if (!check(::getsockopt(h, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&on), &l), ec))
      return;
    listening = on != FALSE;
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_WINDOWS
