// The registry step of Microsoft's Hyper-V sockets guide ("Make your own
// integration services"): before a Windows Hyper-V host lets a socket use a
// service id, the service must be registered under
//
//   HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization
//     \GuestCommunicationServices\<service GUID>
//
// with a REG_SZ value ElementName, its friendly name.  This header registers,
// lists and removes those keys.  It sits beside the sockets, not above them:
// it includes no socket or policy header.  Writing HKEY_LOCAL_MACHINE needs
// administrator rights; reading it does not.
//
// On POSIX every call fails with vmsock::errc::unsupported_on_platform: the
// registration is a Windows host step, and a Linux host needs none.
//
// Every call comes twice: one throws std::system_error, whose what() names the
// operation and the key; the other takes std::error_code& and is noexcept.
// The codes: OS failures are Win32 codes that compare equal to the portable
// conditions (ERROR_ACCESS_DENIED == std::errc::permission_denied, an absent
// key == std::errc::no_such_file_or_directory); bad names are
// std::errc::invalid_argument (empty, embedded NUL),
// std::errc::illegal_byte_sequence (not UTF-8) and std::errc::value_too_large.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/hyperv.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace hv {

// services_key, the key every service is registered under, is declared with
// the service ids themselves (endpoint/hyperv.hpp).

// The longest ElementName, in UTF-16 code units (what the registry stores):
// a registry value holds at most 1 MiB in the standard hive format (Microsoft's
// "Registry element size limits"; the newer format allows more, but no
// friendly name needs it), and the count includes the terminating NUL.  So
// 524,287 ASCII or other BMP characters, or half as many beyond the BMP; the
// UTF-8 length does not decide it.
inline constexpr std::size_t max_element_name_units = (1024 * 1024) / 2 - 1;

// One key under services_key whose name is a GUID.
struct registered_service {
  guid service_id;           // parsed from the key's name
  std::string element_name;  // UTF-8; empty when the key has no ElementName text
                             // (REG_SZ, or REG_EXPAND_SZ as it is, unexpanded)
  std::string key_name;      // the key's name as it is (any case, braces or not)

  friend bool operator==(const registered_service& a, const registered_service& b) {
    return a.service_id == b.service_id && a.element_name == b.element_name &&
           a.key_name == b.key_name;
  }
  friend bool operator!=(const registered_service& a, const registered_service& b) {
    return !(a == b);
  }
};

// services_key + '\' + the lower-case GUID: the key register_service writes.
inline std::string service_key(const guid& service_id) {
  std::string key(services_key);
  key += '\\';
  key += service_id.to_string();
  return key;
}

// ---- The calls --------------------------------------------------------------
// Defined per platform at the end of this file.

// Creates or updates the key of `service_id` (its name: the lower-case GUID,
// no braces) with ElementName = `element_name` (UTF-8, converted to UTF-16).
// Registering again updates the name.  A bad name changes nothing.  A key of
// the same GUID in braces, written by another tool, is left as it is (the
// registry ignores case, so an upper-case key without braces is this key).
inline void register_service(const guid& service_id, std::string_view element_name,
                             std::error_code& ec) noexcept;
// The service id of VSOCK port `port` (hv::service_id_from_port): what a
// Linux guest's AF_VSOCK connect to that port reaches.  A port above
// hv::max_port has no service id: vmsock::errc::no_mapping.
inline void register_service(std::uint32_t port, std::string_view element_name,
                             std::error_code& ec) noexcept;

// Removes the key of `service_id` (without braces and in braces, any case) and
// whatever it holds.  Returns whether a key was there and was removed.  A
// service that was not registered is std::errc::no_such_file_or_directory, in
// this form as in the throwing one (an uninstaller that does not mind tests
// for that code).
inline bool unregister_service(const guid& service_id, std::error_code& ec) noexcept;

// Whether a key of `service_id` exists, in any case, with or without braces.
inline bool is_service_registered(const guid& service_id, std::error_code& ec) noexcept;

// Every key under services_key whose name is a GUID, in the registry's order.
// Keys whose names are not GUIDs are skipped and, when `skipped` is given,
// their names are put there (it is cleared first).  No key at all is an empty
// list, no error.  A GUID with a key in braces and one without is listed
// twice (key_name tells them apart); a key added or removed while the list is
// read may be missed, as with any registry enumeration.
inline std::vector<registered_service> registered_services(std::vector<std::string>* skipped,
                                                           std::error_code& ec) noexcept;
inline std::vector<registered_service> registered_services(std::error_code& ec) noexcept {
  return registered_services(nullptr, ec);
}

namespace detail {
// registered_services, and when it fails on one service's key and
// `failed_key` is given, that key's name there (for the message).
inline std::vector<registered_service> list_services(std::vector<std::string>* skipped,
                                                     std::string* failed_key,
                                                     std::error_code& ec) noexcept;
}  // namespace detail

inline std::vector<registered_service> registered_services(std::vector<std::string>* skipped,
                                                           std::error_code& ec) noexcept {
  return detail::list_services(skipped, nullptr, ec);
}

// ---- Pure helpers (every platform) -------------------------------------------
namespace detail {

enum class name_problem { none, empty, embedded_nul, invalid_utf8, too_long };

struct name_check {
  name_problem problem = name_problem::none;
  std::size_t offset = 0;       // where (embedded_nul, invalid_utf8)
  std::size_t utf16_units = 0;  // the length in UTF-16 (complete when none or too_long)
};

// Checks an ElementName as the registry will store it: not empty, no NUL,
// well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF; what MultiByteToWideChar with MB_ERR_INVALID_CHARS accepts), at
// most max_element_name_units UTF-16 units.  The first problem in the text wins.
constexpr name_check check_element_name(std::string_view s) noexcept {
  if (s.empty()) return {name_problem::empty, 0, 0};
  std::size_t units = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return {name_problem::embedded_nul, i, units};
    if (c < 0x80) {
      ++units;
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t lowest = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1Fu, lowest = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0Fu, lowest = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07u, lowest = 0x10000;
    } else {
      return {name_problem::invalid_utf8, i, units};
    }
    if (s.size() - i < len) return {name_problem::invalid_utf8, i, units};
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0u) != 0x80u) return {name_problem::invalid_utf8, i, units};
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < lowest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return {name_problem::invalid_utf8, i, units};
    units += cp >= 0x10000 ? 2 : 1;
    i += len;
  }
  if (units > max_element_name_units) return {name_problem::too_long, 0, units};
  return {name_problem::none, 0, units};
}

inline std::error_code name_error(name_problem p) noexcept {
  switch (p) {
  case name_problem::none: return {};
  case name_problem::empty:
  case name_problem::embedded_nul: return std::make_error_code(std::errc::invalid_argument);
  case name_problem::invalid_utf8: return std::make_error_code(std::errc::illegal_byte_sequence);
  case name_problem::too_long: return std::make_error_code(std::errc::value_too_large);
  }
  return std::make_error_code(std::errc::invalid_argument);
}

// What is wrong with the name, for a message.
inline std::string describe_name_problem(std::string_view name, const name_check& c) {
  std::string s;
  switch (c.problem) {
  case name_problem::none: break;
  case name_problem::empty: s = "the element name is empty"; break;
  case name_problem::embedded_nul:
    s = "the element name has a NUL byte at offset " + std::to_string(c.offset) +
        " (REG_SZ text would end there)";
    break;
  case name_problem::invalid_utf8: {
    static constexpr char hex[] = "0123456789abcdef";
    const auto b = static_cast<unsigned char>(name[c.offset]);
    s = "the element name is not valid UTF-8 at byte offset " + std::to_string(c.offset) +
        " (byte 0x";
    s += hex[b >> 4];
    s += hex[b & 0xF];
    s += ')';
    break;
  }
  case name_problem::too_long:
    s = "the element name is " + std::to_string(c.utf16_units) +
        " UTF-16 units long; a registry value holds at most " +
        std::to_string(max_element_name_units) + " (1 MiB with its terminating NUL)";
    break;
  }
  return s;
}

// The name as a message quotes it: at most 64 bytes, cut at a character.
inline std::string quote_name(std::string_view name) {
  if (check_element_name(name).problem == name_problem::invalid_utf8) return "(not UTF-8)";
  std::size_t n = name.size() < 64 ? name.size() : 64;
  while (n < name.size() && n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0u) == 0x80u) --n;
  std::string q = vmsock::detail::quote(name.substr(0, n));
  if (n < name.size()) q += "...";
  return q;
}

// What an error message adds to a code, by code.
inline void append_reason(std::string& msg, const std::error_code& ec, bool writes) {
  if (ec == errc::unsupported_on_platform) {
    msg +=
        ": registering a Hyper-V service is a step on a Windows Hyper-V host; a Linux host "
        "needs none (its AF_VSOCK listeners, vsock://any:PORT, accept hv_sock guests as they "
        "are)";
  } else if (ec == std::errc::permission_denied) {
    msg += writes ? ": administrator rights are needed to change this key (run elevated)"
                  : ": reading this key was denied (administrator rights may be needed)";
  } else if (ec == std::errc::no_such_file_or_directory) {
    msg += ": not registered (no such key)";
  }
}

[[noreturn]] VMSOCK_NOINLINE inline void throw_registry_error(const std::error_code& ec,
                                                              const std::string& what) {
  ::vmsock::detail::raise(std::system_error(ec, what));
}

// "<operation> <guid>: <key>"
inline std::string operation_on(std::string_view operation, const guid& service_id) {
  std::string msg(operation);
  msg += ' ';
  msg += service_id.to_string();
  return msg;
}

}  // namespace detail

// ---- The throwing forms ---------------------------------------------------------

inline void register_service(const guid& service_id, std::string_view element_name) {
  std::error_code ec;
  register_service(service_id, element_name, ec);
  if (!ec) return;
  std::string msg = detail::operation_on("register Hyper-V service", service_id);
  msg += " (element name ";
  msg += detail::quote_name(element_name);
  msg += "): ";
  msg += service_key(service_id);
  const auto check = detail::check_element_name(element_name);
  if (check.problem != detail::name_problem::none && ec != errc::unsupported_on_platform) {
    msg += ": ";
    msg += detail::describe_name_problem(element_name, check);
    msg += "; nothing was written";
  } else {
    detail::append_reason(msg, ec, true);
  }
  detail::throw_registry_error(ec, msg);
}

inline void register_service(std::uint32_t port, std::string_view element_name) {
  const auto id = service_id_from_port(port);
  if (!id) {
    std::error_code ec;
    register_service(port, element_name, ec);  // unsupported_on_platform on POSIX
    std::string msg = "register Hyper-V service for VSOCK port " + std::to_string(port);
    if (ec == errc::unsupported_on_platform) {
      detail::append_reason(msg, ec, true);
    } else {
      msg += ": the port is above hv::max_port (2147483647), so no service id carries it";
    }
    detail::throw_registry_error(ec, msg);
  }
  register_service(*id, element_name);
}

// Throws std::system_error with std::errc::no_such_file_or_directory when the
// service was not registered.
inline void unregister_service(const guid& service_id) {
  std::error_code ec;
  if (unregister_service(service_id, ec)) return;
  std::string msg = detail::operation_on("unregister Hyper-V service", service_id);
  msg += ": ";
  msg += service_key(service_id);
  detail::append_reason(msg, ec, true);
  detail::throw_registry_error(ec, msg);
}

inline bool is_service_registered(const guid& service_id) {
  std::error_code ec;
  const bool found = is_service_registered(service_id, ec);
  if (!ec) return found;
  std::string msg = detail::operation_on("check Hyper-V service", service_id);
  msg += ": ";
  msg += service_key(service_id);
  detail::append_reason(msg, ec, false);
  detail::throw_registry_error(ec, msg);
}

inline std::vector<registered_service> registered_services(
    std::vector<std::string>* skipped = nullptr) {
  std::error_code ec;
  std::string failed_key;
  auto list = detail::list_services(skipped, &failed_key, ec);
  if (!ec) return list;
  std::string msg = "list Hyper-V services: ";
  msg += services_key;
  if (!failed_key.empty()) {
    msg += '\\';
    msg += failed_key;
  }
  detail::append_reason(msg, ec, false);
  detail::throw_registry_error(ec, msg);
}

// ---- After an access denial: what this machine's registry says ------------------
// A Hyper-V socket that Windows refused with WSAEACCES says in its message
// what may cause it, without looking anything up (the socket layer reads no
// registry).  Whether the service's registration is one of those causes here
// is this call's answer.
namespace detail {

enum class registration_state { not_registered, registered, unknown };

// The answer for each state (`reason`: why the registry could not be read,
// for unknown).  Pure, so every platform can test it.
inline std::string access_denied_hint(const guid& service_id, registration_state state,
                                      std::string_view reason = {}) {
  const std::string id = service_id.to_string();
  const std::string key = service_key(service_id);
  std::string s;
  switch (state) {
  case registration_state::not_registered:
    s = "Hyper-V service " + id + " is not registered on this machine (no key " + key +
        "): Microsoft's guide has a host register each service id it serves, and a host may "
        "refuse one that is not (add it once, as administrator: vmsock::hv::register_service)";
    break;
  case registration_state::unknown:
    s = "whether Hyper-V service " + id + " is registered on this machine (" + key +
        ") could not be read";
    if (!reason.empty()) {
      s += ": ";
      s += reason;
    }
    break;
  case registration_state::registered:
    s = "Hyper-V service " + id + " is registered on this machine (" + key +
        "), so a missing registration is not the cause here; Windows also denies a user "
        "access to a VM it may not use";
    break;
  }
  return s;
}

}  // namespace detail

// Whether a missing registration of `service_id` on this machine can explain
// an access denial of a Hyper-V socket, in a sentence for a message or a log.
// Empty on POSIX, where nothing is registered.
inline std::string access_denied_hint(const guid& service_id) {
  if (!VMSOCK_WINDOWS) return {};
  std::error_code ec;
  const bool found = is_service_registered(service_id, ec);
  if (ec)
    return detail::access_denied_hint(service_id, detail::registration_state::unknown,
                                      ec.message());
  return detail::access_denied_hint(service_id, found ? detail::registration_state::registered
                                                      : detail::registration_state::not_registered);
}

}  // namespace hv
VMSOCK_END_NAMESPACE

// ---- The calls, per platform --------------------------------------------------
#if VMSOCK_WINDOWS
#  include <vmsock/host/detail/hv_registry_win.hpp>
#else
VMSOCK_BEGIN_NAMESPACE
namespace hv {

inline void register_service(const guid&, std::string_view, std::error_code& ec) noexcept {
  ec = errc::unsupported_on_platform;
}
inline void register_service(std::uint32_t, std::string_view, std::error_code& ec) noexcept {
  ec = errc::unsupported_on_platform;
}
inline bool unregister_service(const guid&, std::error_code& ec) noexcept {
  ec = errc::unsupported_on_platform;
  return false;
}
inline bool is_service_registered(const guid&, std::error_code& ec) noexcept {
  ec = errc::unsupported_on_platform;
  return false;
}
namespace detail {
inline std::vector<registered_service> list_services(std::vector<std::string>* skipped,
                                                     std::string*, std::error_code& ec) noexcept {
  if (skipped != nullptr) skipped->clear();
  ec = errc::unsupported_on_platform;
  return {};
}
}  // namespace detail

}  // namespace hv
VMSOCK_END_NAMESPACE
#endif
