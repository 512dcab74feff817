// Windows side of hv_registry.hpp: the wide registry API (RegCreateKeyExW,
// RegSetValueExW, RegEnumKeyExW, RegDeleteTreeW + RegDeleteKeyExW), always in
// the 64-bit view of HKEY_LOCAL_MACHINE (KEY_WOW64_64KEY: HKLM\SOFTWARE is
// redirected for 32-bit processes, and Hyper-V reads the 64-bit keys).
//
// Each call is noexcept: key paths are built in fixed buffers, and what must
// allocate (the UTF-16 name, the list) catches std::bad_alloc and reports
// std::errc::not_enough_memory.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/host/hv_registry.hpp>

#if VMSOCK_WINDOWS

// winsock2.h before windows.h (native.hpp), and neither NOMINMAX nor
// WIN32_LEAN_AND_MEAN: the user's choice stands.  win_error.hpp for the
// FormatMessage text; no socket or policy header.
#  include <vmsock/detail/native.hpp>
#  include <vmsock/detail/win_error.hpp>

#  include <windows.h>

#  include <cstddef>
#  include <cstdint>
#  include <new>
#  include <string>
#  include <string_view>
#  include <system_error>
#  include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace hv {
namespace detail {

// ---- Win32 error codes as std::error_code ---------------------------------------
// MSVC's std::system_category() maps Win32 codes to std::errc; MinGW's
// libstdc++ (GCC 12) reads them as errno values (ERROR_ACCESS_DENIED, 5, would
// be EIO), and vmsock's winsock_category maps only WSA codes.  There this
// category does it: the mapping of the codes the registry returns, as MSVC
// maps them.
#  if defined(_MSVC_STL_VERSION)
inline const std::error_category& win32_category() noexcept { return std::system_category(); }
#  else
class win32_category_impl final : public std::error_category {
 public:
  constexpr win32_category_impl() noexcept = default;

  // Not "system": std::system_category() is another category.
  const char* name() const noexcept override { return "win32"; }

  // FormatMessage's text, as for the WSA codes.
  std::string message(int code) const override {
    return vmsock::detail::winsock_category().message(code);
  }

  std::error_condition default_error_condition(int code) const noexcept override {
    switch (code) {
    case ERROR_ACCESS_DENIED: return std::make_error_condition(std::errc::permission_denied);
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return std::make_error_condition(std::errc::no_such_file_or_directory);
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: return std::make_error_condition(std::errc::not_enough_memory);
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_HANDLE: return std::make_error_condition(std::errc::invalid_argument);
    case ERROR_CANTOPEN:
    case ERROR_CANTREAD:
    case ERROR_CANTWRITE: return std::make_error_condition(std::errc::io_error);
    default: return {code, *this};
    }
  }
};

inline const std::error_category& win32_category() noexcept {
  static const win32_category_impl instance;  // constant-initialised
  return instance;
}
#  endif

inline std::error_code make_win32_error(LONG code) noexcept {
  return {static_cast<int>(code), win32_category()};
}

// ---- Key paths, without allocating -----------------------------------------------

inline constexpr wchar_t services_subkey[] =
    L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices";
inline constexpr std::size_t services_subkey_length =
    sizeof services_subkey / sizeof services_subkey[0] - 1;

// services_subkey '\' then the GUID in lower case, optionally in braces.
struct service_path {
  wchar_t text[services_subkey_length + 1 + 38 + 1] = {};
};

inline service_path make_service_path(const guid& id, bool braces) noexcept {
  static constexpr wchar_t hex[] = L"0123456789abcdef";
  service_path p;
  std::size_t n = 0;
  for (std::size_t i = 0; i < services_subkey_length; ++i) p.text[n++] = services_subkey[i];
  p.text[n++] = L'\\';
  if (braces) p.text[n++] = L'{';
  const auto put = [&](std::uint32_t v, int digits) {
    for (int d = digits - 1; d >= 0; --d) p.text[n++] = hex[(v >> (4 * d)) & 0xF];
  };
  put(id.data1, 8);
  p.text[n++] = L'-';
  put(id.data2, 4);
  p.text[n++] = L'-';
  put(id.data3, 4);
  p.text[n++] = L'-';
  put(id.data4[0], 2);
  put(id.data4[1], 2);
  p.text[n++] = L'-';
  for (int i = 2; i < 8; ++i) put(id.data4[i], 2);
  if (braces) p.text[n++] = L'}';
  p.text[n] = L'\0';
  return p;
}

// Owns an HKEY.
class registry_key {
 public:
  registry_key() noexcept = default;
  registry_key(const registry_key&) = delete;
  registry_key& operator=(const registry_key&) = delete;
  ~registry_key() { reset(); }

  HKEY get() const noexcept { return key_; }
  HKEY* out() noexcept {
    reset();
    return &key_;
  }
  void reset() noexcept {
    if (key_ != nullptr) ::RegCloseKey(key_);
    key_ = nullptr;
  }

 private:
  HKEY key_ = nullptr;
};

inline constexpr REGSAM view = KEY_WOW64_64KEY;
inline constexpr wchar_t element_name_value[] = L"ElementName";

// UTF-16 from the registry to UTF-8 (an unpaired surrogate becomes U+FFFD).
inline std::string to_utf8(const wchar_t* text, std::size_t units) {
  std::string out;
  if (units == 0) return out;
  const int n = static_cast<int>(units);
  const int len = ::WideCharToMultiByte(CP_UTF8, 0, text, n, nullptr, 0, nullptr, nullptr);
  if (len <= 0) return out;
  out.resize(static_cast<std::size_t>(len));
  ::WideCharToMultiByte(CP_UTF8, 0, text, n, &out[0], len, nullptr, nullptr);
  return out;
}

// The ElementName of an open key, UTF-8; empty when there is none or it is
// not text.  Retries when the value grows between the two queries.
inline LONG read_element_name(HKEY key, std::string& out) {
  out.clear();
  std::vector<wchar_t> buffer;
  for (int attempt = 0; attempt < 8; ++attempt) {
    DWORD type = 0;
    DWORD size = 0;
    LONG r = ::RegQueryValueExW(key, element_name_value, nullptr, &type, nullptr, &size);
    if (r == ERROR_FILE_NOT_FOUND) return ERROR_SUCCESS;
    if (r != ERROR_SUCCESS) return r;
    if (type != REG_SZ && type != REG_EXPAND_SZ) return ERROR_SUCCESS;
    buffer.assign(size / sizeof(wchar_t) + 1, L'\0');
    DWORD got = static_cast<DWORD>(buffer.size() * sizeof(wchar_t));
    r = ::RegQueryValueExW(key, element_name_value, nullptr, &type,
                           reinterpret_cast<BYTE*>(buffer.data()), &got);
    if (r == ERROR_MORE_DATA) continue;
    if (r == ERROR_FILE_NOT_FOUND) return ERROR_SUCCESS;
    if (r != ERROR_SUCCESS) return r;
    if (type != REG_SZ && type != REG_EXPAND_SZ) return ERROR_SUCCESS;
    // REG_SZ data may or may not end in a NUL; the text ends at the first one.
    std::size_t units = got / sizeof(wchar_t);
    for (std::size_t i = 0; i < units; ++i) {
      if (buffer[i] == L'\0') {
        units = i;
        break;
      }
    }
    out = to_utf8(buffer.data(), units);
    return ERROR_SUCCESS;
  }
  return ERROR_MORE_DATA;
}

// Whether a registry answer means the key is not there (or went away).
inline bool gone(LONG r) noexcept { return r == ERROR_FILE_NOT_FOUND || r == ERROR_KEY_DELETED; }

}  // namespace detail
}  // namespace hv
VMSOCK_END_NAMESPACE

VMSOCK_BEGIN_NAMESPACE
namespace hv {

inline void register_service(const guid& service_id, std::string_view element_name,
                             std::error_code& ec) noexcept {
  ec.clear();
  const auto check = detail::check_element_name(element_name);
  if (check.problem != detail::name_problem::none) {
    ec = detail::name_error(check.problem);
    return;
  }
  VMSOCK_TRY {
    // check_element_name bounds the length: it fits an int, and the bytes a DWORD.
    std::wstring wide(check.utf16_units, L'\0');
    const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, element_name.data(),
                                        static_cast<int>(element_name.size()), &wide[0],
                                        static_cast<int>(wide.size()));
    if (n <= 0 || static_cast<std::size_t>(n) != wide.size()) {
      ec = std::make_error_code(std::errc::illegal_byte_sequence);
      return;
    }
    // Creates Virtualization\GuestCommunicationServices too where they are
    // missing (a machine without Hyper-V); those stay.
    const auto path = detail::make_service_path(service_id, false);
    detail::registry_key key;
    DWORD disposition = 0;
    LONG r = ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, path.text, 0, nullptr, REG_OPTION_NON_VOLATILE,
                               KEY_SET_VALUE | detail::view, nullptr, key.out(), &disposition);
    if (r != ERROR_SUCCESS) {
      ec = detail::make_win32_error(r);
      return;
    }
    r = ::RegSetValueExW(key.get(), detail::element_name_value, 0, REG_SZ,
                         reinterpret_cast<const BYTE*>(wide.c_str()),
                         static_cast<DWORD>((wide.size() + 1) * sizeof(wchar_t)));
    if (r != ERROR_SUCCESS) {
      ec = detail::make_win32_error(r);
      // Leave nothing half done: a key made just now goes again.
      key.reset();
      if (disposition == REG_CREATED_NEW_KEY)
        ::RegDeleteKeyExW(HKEY_LOCAL_MACHINE, path.text, detail::view, 0);
    }
  }
  VMSOCK_CATCH(const std::bad_alloc&) { ec = std::make_error_code(std::errc::not_enough_memory); }
}

inline void register_service(std::uint32_t port, std::string_view element_name,
                             std::error_code& ec) noexcept {
  const auto id = service_id_from_port(port);
  if (!id) {
    ec = errc::no_mapping;
    return;
  }
  register_service(*id, element_name, ec);
}

inline bool unregister_service(const guid& service_id, std::error_code& ec) noexcept {
  ec.clear();
  bool removed = false;
  for (const bool braces : {false, true}) {
    const auto path = detail::make_service_path(service_id, braces);
    detail::registry_key key;
    LONG r = ::RegOpenKeyExW(
        HKEY_LOCAL_MACHINE, path.text, 0,
        DELETE | KEY_ENUMERATE_SUB_KEYS | KEY_QUERY_VALUE | KEY_SET_VALUE | detail::view,
        key.out());
    if (detail::gone(r)) continue;
    if (r != ERROR_SUCCESS) {
      ec = detail::make_win32_error(r);
      return removed;
    }
    // A key with subkeys cannot be deleted (Windows says access denied, which
    // would read as a rights problem): empty it first.
    r = ::RegDeleteTreeW(key.get(), nullptr);
    key.reset();
    if (detail::gone(r)) continue;
    if (r != ERROR_SUCCESS) {
      ec = detail::make_win32_error(r);
      return removed;
    }
    r = ::RegDeleteKeyExW(HKEY_LOCAL_MACHINE, path.text, detail::view, 0);
    if (detail::gone(r)) continue;  // removed meanwhile by someone else
    if (r != ERROR_SUCCESS) {
      ec = detail::make_win32_error(r);
      return removed;
    }
    removed = true;
  }
  if (!removed) ec = std::make_error_code(std::errc::no_such_file_or_directory);
  return removed;
}

inline bool is_service_registered(const guid& service_id, std::error_code& ec) noexcept {
  ec.clear();
  for (const bool braces : {false, true}) {
    const auto path = detail::make_service_path(service_id, braces);
    detail::registry_key key;
    const LONG r = ::RegOpenKeyExW(HKEY_LOCAL_MACHINE, path.text, 0, KEY_QUERY_VALUE | detail::view,
                                   key.out());
    if (r == ERROR_SUCCESS) return true;
    if (detail::gone(r)) continue;
    ec = detail::make_win32_error(r);
    return false;
  }
  return false;
}

namespace detail {
inline std::vector<registered_service> list_services(std::vector<std::string>* skipped,
                                                     std::string* failed_key,
                                                     std::error_code& ec) noexcept {
  ec.clear();
  VMSOCK_TRY {
    if (skipped != nullptr) skipped->clear();
    std::vector<registered_service> list;
    detail::registry_key parent;
    LONG r = ::RegOpenKeyExW(HKEY_LOCAL_MACHINE, detail::services_subkey, 0,
                             KEY_ENUMERATE_SUB_KEYS | KEY_QUERY_VALUE | detail::view, parent.out());
    if (detail::gone(r)) return list;
    if (r != ERROR_SUCCESS) {
      ec = detail::make_win32_error(r);
      return {};
    }
    DWORD longest = 0;
    r = ::RegQueryInfoKeyW(parent.get(), nullptr, nullptr, nullptr, nullptr, &longest, nullptr,
                           nullptr, nullptr, nullptr, nullptr, nullptr);
    if (r != ERROR_SUCCESS) longest = 0;
    std::vector<wchar_t> name(longest < 255 ? 256 : std::size_t{longest} + 1);
    for (DWORD index = 0;;) {
      DWORD length = static_cast<DWORD>(name.size());
      r = ::RegEnumKeyExW(parent.get(), index, name.data(), &length, nullptr, nullptr, nullptr,
                          nullptr);
      if (r == ERROR_NO_MORE_ITEMS) break;
      if (r == ERROR_MORE_DATA && name.size() < 65536) {  // a longer name arrived meanwhile
        name.resize(name.size() * 2);
        continue;
      }
      if (r != ERROR_SUCCESS) {
        ec = detail::make_win32_error(r);
        return {};
      }
      ++index;
      registered_service entry;
      entry.key_name = detail::to_utf8(name.data(), length);
      const auto id = guid::try_parse(entry.key_name);
      if (!id) {
        if (skipped != nullptr) skipped->push_back(std::move(entry.key_name));
        continue;
      }
      entry.service_id = *id;
      detail::registry_key key;
      r = ::RegOpenKeyExW(parent.get(), name.data(), 0, KEY_QUERY_VALUE | detail::view, key.out());
      if (detail::gone(r)) continue;  // removed since it was listed
      if (r == ERROR_SUCCESS) r = detail::read_element_name(key.get(), entry.element_name);
      if (detail::gone(r)) continue;
      if (r != ERROR_SUCCESS) {
        ec = detail::make_win32_error(r);
        if (failed_key != nullptr) *failed_key = std::move(entry.key_name);
        return {};
      }
      list.push_back(std::move(entry));
    }
    return list;
  }
  VMSOCK_CATCH(const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return {};
  }
}
}  // namespace detail

}  // namespace hv
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_WINDOWS
