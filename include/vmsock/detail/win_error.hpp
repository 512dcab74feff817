// Errors from the operating system as std::error_code values that compare
// equal to the portable std::errc conditions on every standard library.
//
// POSIX: errno values in std::system_category(), which maps them already.
//
// Windows: WSAGetLastError() values.  MSVC's standard library maps the WSA codes
// in std::system_category(); MinGW's libstdc++ does not (its system_category
// turns 10061 into no std::errc at all), so there vmsock reports them in
// winsock_category(): named "winsock", FormatMessage text, and this file's
// table as its default_error_condition.  `ec == std::errc::connection_refused`
// then holds with either library.
//
// The table is exact: a WSA code maps to the std::errc of the same meaning or
// to nothing (WSAEALREADY is connection_already_in_progress, never
// already_connected; WSAEHOSTDOWN has no std::errc and gets none).
#pragma once

#include <vmsock/config.hpp>

#include <system_error>

#if VMSOCK_WINDOWS
#  include <vmsock/detail/native.hpp>  // winsock2.h, and windows.h through it

#  include <cstddef>
#  include <string>

// 1 when std::system_category() already maps WSA codes to std::errc (MSVC's
// STL, which clang-cl uses too; GCC 12's libstdc++ maps none of them, libc++ is
// not trusted to): vmsock's own category is used otherwise.  A build may set it.
#  if !defined(VMSOCK_STDLIB_MAPS_WSA)
#    if defined(_MSVC_STL_VERSION)
#      define VMSOCK_STDLIB_MAPS_WSA 1
#    else
#      define VMSOCK_STDLIB_MAPS_WSA 0
#    endif
#  endif
#endif

VMSOCK_BEGIN_NAMESPACE
namespace detail {

#if VMSOCK_WINDOWS

struct wsa_error_info {
  int code;
  const char* name;     // "WSAECONNREFUSED"
  bool mapped;          // false: no std::errc has this meaning
  std::errc condition;  // valid when mapped
  bool in_msvc_table;   // MSVC's system_category maps it the same way
};

// Every Winsock error code WSAGetLastError() documents, with its condition.
// Codes the BSD errno set has no std::errc for (ESOCKTNOSUPPORT, EPFNOSUPPORT,
// ETOOMANYREFS, EHOSTDOWN, EPROCLIM, EUSERS, EDQUOT, ESTALE, EREMOTE) stay
// unmapped rather than borrow a neighbour's meaning.
inline constexpr wsa_error_info wsa_errors[] = {
    // The BSD errno codes, WSABASEERR + errno.
    {WSAEINTR, "WSAEINTR", true, std::errc::interrupted, true},
    {WSAEBADF, "WSAEBADF", true, std::errc::bad_file_descriptor, true},
    {WSAEACCES, "WSAEACCES", true, std::errc::permission_denied, true},
    {WSAEFAULT, "WSAEFAULT", true, std::errc::bad_address, true},
    {WSAEINVAL, "WSAEINVAL", true, std::errc::invalid_argument, true},
    {WSAEMFILE, "WSAEMFILE", true, std::errc::too_many_files_open, true},
    // On MinGW EWOULDBLOCK (140) and EAGAIN (11) differ, unlike on Linux: test
    // operation_would_block, which holds on both.
    {WSAEWOULDBLOCK, "WSAEWOULDBLOCK", true, std::errc::operation_would_block, true},
    // Winsock's "a blocking call is in progress"; a non-blocking connect()
    // reports WSAEWOULDBLOCK instead, which the policy must treat as EINPROGRESS.
    {WSAEINPROGRESS, "WSAEINPROGRESS", true, std::errc::operation_in_progress, true},
    {WSAEALREADY, "WSAEALREADY", true, std::errc::connection_already_in_progress, true},
    {WSAENOTSOCK, "WSAENOTSOCK", true, std::errc::not_a_socket, true},
    {WSAEDESTADDRREQ, "WSAEDESTADDRREQ", true, std::errc::destination_address_required, true},
    {WSAEMSGSIZE, "WSAEMSGSIZE", true, std::errc::message_size, true},
    {WSAEPROTOTYPE, "WSAEPROTOTYPE", true, std::errc::wrong_protocol_type, true},
    {WSAENOPROTOOPT, "WSAENOPROTOOPT", true, std::errc::no_protocol_option, true},
    {WSAEPROTONOSUPPORT, "WSAEPROTONOSUPPORT", true, std::errc::protocol_not_supported, true},
    {WSAESOCKTNOSUPPORT, "WSAESOCKTNOSUPPORT", false, std::errc{}, false},
    {WSAEOPNOTSUPP, "WSAEOPNOTSUPP", true, std::errc::operation_not_supported, true},
    {WSAEPFNOSUPPORT, "WSAEPFNOSUPPORT", false, std::errc{}, false},
    {WSAEAFNOSUPPORT, "WSAEAFNOSUPPORT", true, std::errc::address_family_not_supported, true},
    {WSAEADDRINUSE, "WSAEADDRINUSE", true, std::errc::address_in_use, true},
    {WSAEADDRNOTAVAIL, "WSAEADDRNOTAVAIL", true, std::errc::address_not_available, true},
    {WSAENETDOWN, "WSAENETDOWN", true, std::errc::network_down, true},
    {WSAENETUNREACH, "WSAENETUNREACH", true, std::errc::network_unreachable, true},
    {WSAENETRESET, "WSAENETRESET", true, std::errc::network_reset, true},
    {WSAECONNABORTED, "WSAECONNABORTED", true, std::errc::connection_aborted, true},
    {WSAECONNRESET, "WSAECONNRESET", true, std::errc::connection_reset, true},
    {WSAENOBUFS, "WSAENOBUFS", true, std::errc::no_buffer_space, true},
    {WSAEISCONN, "WSAEISCONN", true, std::errc::already_connected, true},
    {WSAENOTCONN, "WSAENOTCONN", true, std::errc::not_connected, true},
    // send() after shutdown(SD_SEND).  POSIX reports that case as EPIPE, so the
    // portable condition is broken_pipe (std::errc has no ESHUTDOWN).
    {WSAESHUTDOWN, "WSAESHUTDOWN", true, std::errc::broken_pipe, false},
    {WSAETOOMANYREFS, "WSAETOOMANYREFS", false, std::errc{}, false},
    {WSAETIMEDOUT, "WSAETIMEDOUT", true, std::errc::timed_out, true},
    {WSAECONNREFUSED, "WSAECONNREFUSED", true, std::errc::connection_refused, true},
    {WSAELOOP, "WSAELOOP", true, std::errc::too_many_symbolic_link_levels, false},
    {WSAENAMETOOLONG, "WSAENAMETOOLONG", true, std::errc::filename_too_long, true},
    {WSAEHOSTDOWN, "WSAEHOSTDOWN", false, std::errc{}, false},
    {WSAEHOSTUNREACH, "WSAEHOSTUNREACH", true, std::errc::host_unreachable, true},
    {WSAENOTEMPTY, "WSAENOTEMPTY", true, std::errc::directory_not_empty, false},
    {WSAEPROCLIM, "WSAEPROCLIM", false, std::errc{}, false},
    {WSAEUSERS, "WSAEUSERS", false, std::errc{}, false},
    {WSAEDQUOT, "WSAEDQUOT", false, std::errc{}, false},
    {WSAESTALE, "WSAESTALE", false, std::errc{}, false},
    {WSAEREMOTE, "WSAEREMOTE", false, std::errc{}, false},
    // Winsock's own.
    {WSASYSNOTREADY, "WSASYSNOTREADY", false, std::errc{}, false},
    {WSAVERNOTSUPPORTED, "WSAVERNOTSUPPORTED", false, std::errc{}, false},
    {WSANOTINITIALISED, "WSANOTINITIALISED", false, std::errc{}, false},
    {WSAEDISCON, "WSAEDISCON", false, std::errc{}, false},
    {WSAENOMORE, "WSAENOMORE", false, std::errc{}, false},
    {WSAECANCELLED, "WSAECANCELLED", true, std::errc::operation_canceled, false},
    {WSAEINVALIDPROCTABLE, "WSAEINVALIDPROCTABLE", false, std::errc{}, false},
    {WSAEINVALIDPROVIDER, "WSAEINVALIDPROVIDER", false, std::errc{}, false},
    {WSAEPROVIDERFAILEDINIT, "WSAEPROVIDERFAILEDINIT", false, std::errc{}, false},
    {WSASYSCALLFAILURE, "WSASYSCALLFAILURE", false, std::errc{}, false},
    {WSASERVICE_NOT_FOUND, "WSASERVICE_NOT_FOUND", false, std::errc{}, false},
    {WSATYPE_NOT_FOUND, "WSATYPE_NOT_FOUND", false, std::errc{}, false},
    {WSA_E_NO_MORE, "WSA_E_NO_MORE", false, std::errc{}, false},
    {WSA_E_CANCELLED, "WSA_E_CANCELLED", true, std::errc::operation_canceled, false},
    {WSAEREFUSED, "WSAEREFUSED", false, std::errc{}, false},
    // Name resolution (h_errno-like; getaddrinfo has its own EAI_* codes).
    {WSAHOST_NOT_FOUND, "WSAHOST_NOT_FOUND", false, std::errc{}, false},
    {WSATRY_AGAIN, "WSATRY_AGAIN", false, std::errc{}, false},
    {WSANO_RECOVERY, "WSANO_RECOVERY", false, std::errc{}, false},
    {WSANO_DATA, "WSANO_DATA", false, std::errc{}, false},
    // Overlapped I/O reports these Win32 codes through WSAGetLastError(); mapped
    // as MSVC's system_category maps the Win32 codes they are.
    {WSA_IO_PENDING, "WSA_IO_PENDING", false, std::errc{}, false},
    {WSA_IO_INCOMPLETE, "WSA_IO_INCOMPLETE", false, std::errc{}, false},
    {WSA_INVALID_HANDLE, "WSA_INVALID_HANDLE", true, std::errc::invalid_argument, true},
    {WSA_INVALID_PARAMETER, "WSA_INVALID_PARAMETER", true, std::errc::invalid_argument, true},
    {WSA_NOT_ENOUGH_MEMORY, "WSA_NOT_ENOUGH_MEMORY", true, std::errc::not_enough_memory, true},
    {WSA_OPERATION_ABORTED, "WSA_OPERATION_ABORTED", true, std::errc::operation_canceled, true},
};

// The table's row for `code`, or nullptr.
inline const wsa_error_info* find_wsa_error(int code) noexcept {
  for (const auto& e : wsa_errors)
    if (e.code == code) return &e;
  return nullptr;
}

class winsock_category_impl final : public std::error_category {
 public:
  // Not constexpr: MSVC's std::error_category constructor is not (its
  // <system_error> keeps it so for ABI reasons), and clang-cl refuses a
  // constexpr constructor that calls it.
  winsock_category_impl() noexcept = default;

  // Printed as "winsock:10061": a category of its own, so not named "system"
  // like std::system_category() (a code of each would print alike and compare
  // unequal).
  const char* name() const noexcept override { return "winsock"; }

  // The system's text (UTF-8, trailing whitespace removed); the code's name
  // where the system has none (Wine lacks text for several WSA codes).
  std::string message(int code) const override {
    wchar_t wide[512];
    DWORD n = ::FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                               static_cast<DWORD>(code), 0, wide,
                               static_cast<DWORD>(sizeof wide / sizeof wide[0]), nullptr);
    while (n > 0 && (wide[n - 1] == L' ' || wide[n - 1] == L'\r' || wide[n - 1] == L'\n' ||
                     wide[n - 1] == L'\t'))
      --n;
    if (n > 0) {
      const int len = ::WideCharToMultiByte(CP_UTF8, 0, wide, static_cast<int>(n), nullptr, 0,
                                            nullptr, nullptr);
      if (len > 0) {
        std::string text(static_cast<std::size_t>(len), '\0');
        ::WideCharToMultiByte(CP_UTF8, 0, wide, static_cast<int>(n), &text[0], len, nullptr,
                              nullptr);
        return text;
      }
    }
    std::string text = "Windows error " + std::to_string(code);
    if (const auto* e = find_wsa_error(code)) {
      text += " (";
      text += e->name;
      text += ')';
    }
    return text;
  }

  std::error_condition default_error_condition(int code) const noexcept override {
    if (const auto* e = find_wsa_error(code); e != nullptr && e->mapped)
      return std::make_error_condition(e->condition);
    return {code, *this};
  }
};

// vmsock's category for Winsock codes, whatever the standard library does.
inline const std::error_category& winsock_category() noexcept {
  static const winsock_category_impl instance;  // made on first use, thread-safe
  return instance;
}

// The category OS error codes are reported in on this platform.
inline const std::error_category& os_error_category() noexcept {
#  if VMSOCK_STDLIB_MAPS_WSA
  return std::system_category();
#  else
  return winsock_category();
#  endif
}

#else  // POSIX

// errno values: std::system_category() maps them to std::errc already.
inline const std::error_category& os_error_category() noexcept { return std::system_category(); }

#endif

// An OS error code (a WSAGetLastError() value on Windows, an errno value
// elsewhere) as the std::error_code vmsock reports.
inline std::error_code make_os_error(int code) noexcept { return {code, os_error_category()}; }

}  // namespace detail
VMSOCK_END_NAMESPACE
