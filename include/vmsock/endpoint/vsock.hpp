// vsock_endpoint: a Linux VSOCK address (context id + port), its constants and
// its native form sockaddr_vm.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/fwd.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace vsock {

// Well-known context ids (VMADDR_CID_*).
namespace cid {
inline constexpr std::uint32_t any = 0xFFFFFFFFu;  // bind: every local CID
inline constexpr std::uint32_t hypervisor = 0;     // reserved for the hypervisor
inline constexpr std::uint32_t local = 1;          // loopback (vsock_loopback)
inline constexpr std::uint32_t host = 2;           // the host, seen from a guest
}  // namespace cid

inline constexpr std::uint32_t port_any = 0xFFFFFFFFu;  // bind: kernel picks a port

// VMADDR_FLAG_TO_HOST: route to the host even when the CID looks local (nested VMs).
inline constexpr std::uint8_t flag_to_host = 0x01;

#if VMSOCK_LINUX
static_assert(address_family == AF_VSOCK, "endpoint/fwd.hpp spells AF_VSOCK as Linux does");
using native_sockaddr = ::sockaddr_vm;
// Kernel headers before Linux 5.11 have no svm_flags: its byte is the first of
// svm_zero there (the layout is the same), and vmsock uses that.
#  if defined(VMADDR_FLAG_TO_HOST)
#    define VMSOCK_SVM_FLAGS svm_flags
#  else
#    define VMSOCK_SVM_FLAGS svm_zero[0]
#  endif
#else
// Other systems have no VSOCK family: the mirror of sockaddr_vm lets the
// endpoint exist (and map to Hyper-V) everywhere.
struct native_sockaddr {
  std::uint16_t svm_family;
  std::uint16_t svm_reserved1;
  std::uint32_t svm_port;
  std::uint32_t svm_cid;
  std::uint8_t svm_flags;
  std::uint8_t svm_zero[3];
};
#  define VMSOCK_SVM_FLAGS svm_flags
#endif
static_assert(sizeof(native_sockaddr) == 16, "sockaddr_vm is 16 bytes");

}  // namespace vsock

struct vsock_endpoint {
  std::uint32_t cid = vsock::cid::any;
  std::uint32_t port = vsock::port_any;
  bool to_host = false;  // VMADDR_FLAG_TO_HOST

  static constexpr int family = vsock::address_family;
  static constexpr int protocol = 0;
  using native_type = vsock::native_sockaddr;

  constexpr native_type to_native() const noexcept {
    native_type sa{};
    sa.svm_family = static_cast<decltype(sa.svm_family)>(family);
    sa.svm_port = port;
    sa.svm_cid = cid;
    sa.VMSOCK_SVM_FLAGS = to_host ? vsock::flag_to_host : 0;
    return sa;
  }
  static constexpr std::size_t native_size() noexcept { return sizeof(native_type); }

  // nullopt for a null pointer, another family, or fewer bytes than a sockaddr_vm.
  static std::optional<vsock_endpoint> from_native(const void* sa, std::size_t len) noexcept {
    int f = 0;
    if (!detail::native_family(sa, len, f) || f != family || len < sizeof(native_type))
      return std::nullopt;
    native_type n;
    std::memcpy(&n, sa, sizeof n);
    return vsock_endpoint{n.svm_cid, n.svm_port, (n.VMSOCK_SVM_FLAGS & vsock::flag_to_host) != 0};
  }

  // "vsock://<cid>:<port>[?to_host]"; the any values print as "any".
  VMSOCK_NOINLINE std::string to_string() const {
    std::string s = "vsock://";
    append_number(s, cid);
    s += ':';
    append_number(s, port);
    if (to_host) s += "?to_host";
    return s;
  }

  // Accepts "vsock://CID:PORT[?to_host]" where CID is a number up to 4294967295 or
  // one of any, hypervisor, local, host, and PORT a number or any.
  static constexpr std::optional<vsock_endpoint> try_parse(std::string_view text) noexcept {
    const auto r = parse_detail(text);
    if (!r) return std::nullopt;
    return r.value;
  }
  static constexpr vsock_endpoint parse(std::string_view text) {
    const auto r = parse_detail(text);
    if (!r) detail::throw_parse_error("vsock endpoint", text, r.error, r.position);
    return r.value;
  }

  // The parser behind parse/try_parse: its reason, and where in `s` it is.
  static constexpr detail::parsed<vsock_endpoint> parse_detail(std::string_view s) noexcept {
    using detail::failed_in;
    using detail::offset_in;
    detail::uri_parts u;
    if (!detail::split_scheme(s, u)) return {{}, "expected vsock://CID:PORT", 0};
    if (!detail::equals_nocase(u.scheme, "vsock"))
      return {{}, "unknown scheme, expected vsock://", 0};
    std::string_view rest = u.rest;
    bool host_flag = false;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
      if (rest.substr(q + 1) != "to_host")
        return {{}, "unknown option, only ?to_host is known", offset_in(s, rest) + q + 1};
      host_flag = true;
      rest = rest.substr(0, q);
    }
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos)
      return {{}, "missing ':' between CID and port", offset_in(s, rest) + rest.size()};
    const auto cid_text = rest.substr(0, colon);
    const auto c = parse_cid(cid_text);
    if (!c) return failed_in<vsock_endpoint>(s, cid_text, c);
    const auto port_text = rest.substr(colon + 1);
    const auto p = parse_port(port_text);
    if (!p) return failed_in<vsock_endpoint>(s, port_text, p);
    return {vsock_endpoint{c.value, p.value, host_flag}, nullptr};
  }

  friend constexpr bool operator==(const vsock_endpoint& a, const vsock_endpoint& b) noexcept {
    return a.cid == b.cid && a.port == b.port && a.to_host == b.to_host;
  }
  friend constexpr bool operator!=(const vsock_endpoint& a, const vsock_endpoint& b) noexcept {
    return !(a == b);
  }

 private:
  static void append_number(std::string& s, std::uint32_t v) {
    if (v == 0xFFFFFFFFu)
      s += "any";
    else
      detail::append_decimal(s, v);
  }
  // A name or a number; a failure's position is relative to `s`: in a number,
  // the first character that is not a digit; a word (a misspelt name) is
  // wrong as a whole, at its start.
  static constexpr detail::parsed<std::uint32_t> parse_cid(std::string_view s) noexcept {
    if (s.empty()) return {0, "empty CID", 0};
    if (detail::equals_nocase(s, "any")) return {vsock::cid::any, nullptr};
    if (detail::equals_nocase(s, "hypervisor")) return {vsock::cid::hypervisor, nullptr};
    if (detail::equals_nocase(s, "local")) return {vsock::cid::local, nullptr};
    if (detail::equals_nocase(s, "host")) return {vsock::cid::host, nullptr};
    if (!detail::all_digits(s))
      return {0, "CID is neither a number nor one of any, hypervisor, local, host",
              detail::is_digit(s[0]) ? detail::first_non_digit(s) : 0};
    const auto v = detail::parse_decimal(s, 0xFFFFFFFFu, "CID out of range (max 4294967295)");
    if (!v) return {0, v.error, v.position};
    return {static_cast<std::uint32_t>(v.value), nullptr};
  }
  static constexpr detail::parsed<std::uint32_t> parse_port(std::string_view s) noexcept {
    if (s.empty()) return {0, "empty port", 0};
    if (detail::equals_nocase(s, "any")) return {vsock::port_any, nullptr};
    if (!detail::all_digits(s))
      return {0, "port is neither a number nor any",
              detail::is_digit(s[0]) ? detail::first_non_digit(s) : 0};
    const auto v = detail::parse_decimal(s, 0xFFFFFFFFu, "port out of range (max 4294967295)");
    if (!v) return {0, v.error, v.position};
    return {static_cast<std::uint32_t>(v.value), nullptr};
  }
};

VMSOCK_END_NAMESPACE
