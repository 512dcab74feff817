// Hyper-V sockets: the well-known VM ids, the VSOCK-template service ids that
// carry a port, hv_endpoint with its native SOCKADDR_HV, and the pure mapping
// between hv_endpoint and vsock_endpoint.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/fwd.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/endpoint/detail/os_address.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

VMSOCK_BEGIN_NAMESPACE
namespace hv {

// AF_HYPERV.  MinGW's headers do not define it; the value is Windows' own.
inline constexpr int address_family = 34;
inline constexpr int protocol_raw = 1;  // HV_PROTOCOL_RAW

// The registry key under which Microsoft's Hyper-V sockets guide has a host
// register each service id it serves, as Windows spells it in messages
// (host/hv_registry.hpp writes and reads it).
inline constexpr std::string_view services_key =
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\"
    "GuestCommunicationServices";

// Well-known VM ids (HV_GUID_* of hvsocket.h).
namespace vm_id {
inline constexpr guid wildcard{};  // HV_GUID_WILDCARD: bind to every partition
inline constexpr guid zero{};      // HV_GUID_ZERO, the same value
inline constexpr guid broadcast{
    0xffffffffu, 0xffff, 0xffff, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
inline constexpr guid children{
    0x90db8b89u, 0x0d35, 0x4f79, {0x8c, 0xe9, 0x49, 0xea, 0x0a, 0xc8, 0xb7, 0xcd}};
inline constexpr guid loopback{
    0xe0e16197u, 0xdd56, 0x4a10, {0x91, 0x95, 0x5e, 0xe7, 0xa1, 0x55, 0xa8, 0x38}};
inline constexpr guid parent{
    0xa42e7cdau, 0xd03f, 0x480c, {0x9c, 0xc2, 0xa4, 0xde, 0x20, 0xab, 0xb8, 0x78}};
inline constexpr guid silo_host{
    0x36bd0c5cu, 0x7276, 0x4223, {0x88, 0xba, 0x7d, 0x03, 0xb6, 0x54, 0xc5, 0x68}};
}  // namespace vm_id

// Service ids of this form carry a VSOCK port in data1; the Linux hv_sock
// transport and Windows' VSOCK emulation agree on it.
inline constexpr guid vsock_template{
    0x00000000u, 0xfacb, 0x11e6, {0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3}};

// The SDK's valid port range: 0 .. 0x7FFFFFFF, so VMADDR_PORT_ANY never becomes a GUID.
inline constexpr std::uint32_t max_port = 0x7FFFFFFFu;

// HVSOCKET_* socket options (level HV_PROTOCOL_RAW).
inline constexpr int option_connect_timeout = 0x01;     // HVSOCKET_CONNECT_TIMEOUT
inline constexpr int option_container_passthru = 0x02;  // HVSOCKET_CONTAINER_PASSTHRU
inline constexpr int option_connected_suspend = 0x04;   // HVSOCKET_CONNECTED_SUSPEND
inline constexpr int option_high_vtl = 0x08;            // HVSOCKET_HIGH_VTL
// (connect_timeout_max_ms, HVSOCKET_CONNECT_TIMEOUT_MAX, is in endpoint/fwd.hpp.)

constexpr std::optional<guid> service_id_from_port(std::uint32_t port) noexcept {
  if (port > max_port) return std::nullopt;
  guid g = vsock_template;
  g.data1 = port;
  return g;
}

constexpr std::optional<std::uint32_t> port_from_service_id(const guid& id) noexcept {
  guid rest = id;
  rest.data1 = 0;
  if (rest != vsock_template || id.data1 > max_port) return std::nullopt;
  return id.data1;
}

// SOCKADDR_HV.  vmsock uses this mirror on every platform instead of including
// hvsocket.h, which pulls initguid.h into the user's translation unit and changes
// what every later DEFINE_GUID there means.  The Windows tests check it against
// the SDK's struct.
struct native_sockaddr {
  std::uint16_t Family = 0;
  std::uint16_t Reserved = 0;
  guid VmId;
  guid ServiceId;
};
static_assert(sizeof(native_sockaddr) == 36, "SOCKADDR_HV is 36 bytes");
static_assert(offsetof(native_sockaddr, VmId) == 4 && offsetof(native_sockaddr, ServiceId) == 20,
              "SOCKADDR_HV field offsets");

}  // namespace hv

struct hv_endpoint {
  guid vm_id{};       // a partition (VM) id or one of hv::vm_id
  guid service_id{};  // the service; a template GUID for a VSOCK port

  static constexpr int family = hv::address_family;
  static constexpr int protocol = hv::protocol_raw;
  using native_type = hv::native_sockaddr;

  // The endpoint of VSOCK port `port` on `vm`.  Above hv::max_port (the
  // template cannot carry it) for_port throws vmsock::parse_error naming the
  // port, as the parsers do ("Hyper-V service port \"2147483648\": port out
  // of range ..."); try_for_port gives nullopt.
  static constexpr std::optional<hv_endpoint> try_for_port(const guid& vm,
                                                           std::uint32_t port) noexcept {
    const auto id = hv::service_id_from_port(port);
    if (!id) return std::nullopt;
    return hv_endpoint{vm, *id};
  }
  static constexpr hv_endpoint for_port(const guid& vm, std::uint32_t port) {
    const auto ep = try_for_port(vm, port);
    if (!ep) port_out_of_range(port);
    return *ep;
  }

  // The VSOCK port carried by service_id, if it is a template GUID.
  constexpr std::optional<std::uint32_t> port() const noexcept {
    return hv::port_from_service_id(service_id);
  }

  constexpr native_type to_native() const noexcept {
    return native_type{static_cast<std::uint16_t>(family), 0, vm_id, service_id};
  }
  static constexpr std::size_t native_size() noexcept { return sizeof(native_type); }

  static std::optional<hv_endpoint> from_native(const void* sa, std::size_t len) noexcept {
    int f = 0;
    if (!detail::native_family(sa, len, f) || f != family || len < sizeof(native_type))
      return std::nullopt;
    native_type n;
    std::memcpy(&n, sa, sizeof n);
    return hv_endpoint{n.VmId, n.ServiceId};
  }

  // "hvsock://<vm>/<service>": the VM as a name (wildcard, broadcast, children,
  // loopback, parent, silohost) or a GUID, the service as a port when it is a
  // template GUID, else a GUID.
  VMSOCK_NOINLINE std::string to_string() const {
    std::string s = "hvsock://";
    const std::string_view name = vm_name(vm_id);
    if (!name.empty())
      s += name;
    else
      s += vm_id.to_string();
    s += '/';
    if (const auto p = port())
      detail::append_decimal(s, *p);
    else
      s += service_id.to_string();
    return s;
  }

  static constexpr std::optional<hv_endpoint> try_parse(std::string_view text) noexcept {
    const auto r = parse_detail(text);
    if (!r) return std::nullopt;
    return r.value;
  }
  static constexpr hv_endpoint parse(std::string_view text) {
    const auto r = parse_detail(text);
    if (!r) detail::throw_parse_error("hvsock endpoint", text, r.error, r.position);
    return r.value;
  }

  // The parser behind parse/try_parse: its reason, and where in `s` it is (in
  // a GUID that looks like one, the character that breaks it).
  static constexpr detail::parsed<hv_endpoint> parse_detail(std::string_view s) noexcept {
    using detail::offset_in;
    detail::uri_parts u;
    if (!detail::split_scheme(s, u)) return {{}, "expected hvsock://VM/SERVICE", 0};
    if (!detail::equals_nocase(u.scheme, "hvsock"))
      return {{}, "unknown scheme, expected hvsock://", 0};
    const auto slash = u.rest.find('/');
    if (slash == std::string_view::npos)
      return {{}, "missing '/' between VM and service", s.size()};
    const auto vm_text = u.rest.substr(0, slash);
    const auto svc_text = u.rest.substr(slash + 1);
    if (vm_text.empty()) return {{}, "empty VM id", offset_in(s, vm_text)};
    if (svc_text.empty()) return {{}, "empty service id", offset_in(s, svc_text)};
    hv_endpoint ep;
    if (const auto named = vm_by_name(vm_text)) {
      ep.vm_id = *named;
    } else {
      const auto g = guid::parse_detail(vm_text);
      if (!g)
        return {{},
                "VM is neither a GUID nor one of wildcard, broadcast, children, loopback, parent, "
                "silohost",
                offset_in(s, vm_text) + guid_error_at(vm_text, g)};
      ep.vm_id = g.value;
    }
    if (detail::all_digits(svc_text)) {
      const auto p = detail::parse_decimal(
          svc_text, hv::max_port, "port out of range for a Hyper-V service id (max 2147483647)");
      if (!p) return detail::failed_in<hv_endpoint>(s, svc_text, p);
      ep.service_id = *hv::service_id_from_port(static_cast<std::uint32_t>(p.value));
    } else {
      const auto g = guid::parse_detail(svc_text);
      if (!g)
        return {{},
                "service is neither a port number nor a GUID",
                offset_in(s, svc_text) + guid_error_at(svc_text, g)};
      ep.service_id = g.value;
    }
    return {ep, nullptr};
  }

  friend constexpr bool operator==(const hv_endpoint& a, const hv_endpoint& b) noexcept {
    return a.vm_id == b.vm_id && a.service_id == b.service_id;
  }
  friend constexpr bool operator!=(const hv_endpoint& a, const hv_endpoint& b) noexcept {
    return !(a == b);
  }

  // "parent" for hv::vm_id::parent, and so on; empty for any other GUID.
  static constexpr std::string_view vm_name(const guid& g) noexcept {
    if (g == hv::vm_id::wildcard) return "wildcard";
    if (g == hv::vm_id::broadcast) return "broadcast";
    if (g == hv::vm_id::children) return "children";
    if (g == hv::vm_id::loopback) return "loopback";
    if (g == hv::vm_id::parent) return "parent";
    if (g == hv::vm_id::silo_host) return "silohost";
    return {};
  }

  static constexpr std::optional<guid> vm_by_name(std::string_view n) noexcept {
    using detail::equals_nocase;
    if (equals_nocase(n, "wildcard") || equals_nocase(n, "zero")) return hv::vm_id::wildcard;
    if (equals_nocase(n, "broadcast")) return hv::vm_id::broadcast;
    if (equals_nocase(n, "children")) return hv::vm_id::children;
    if (equals_nocase(n, "loopback")) return hv::vm_id::loopback;
    if (equals_nocase(n, "parent")) return hv::vm_id::parent;
    if (equals_nocase(n, "silohost") || equals_nocase(n, "silo_host")) return hv::vm_id::silo_host;
    return std::nullopt;
  }

 private:
  // Where a text that is not a GUID goes wrong: for one that looks like a
  // GUID (it has a '-' or a brace), the GUID parser's position; for a word
  // (a misspelt name), its start.
  static constexpr std::size_t guid_error_at(std::string_view text,
                                             const detail::parsed<guid>& g) noexcept {
    const bool looks_like_guid =
        text.find('-') != std::string_view::npos || text.find('{') != std::string_view::npos;
    return looks_like_guid && g.position != std::string_view::npos ? g.position : 0;
  }

  [[noreturn]] VMSOCK_NOINLINE static void port_out_of_range(std::uint32_t port) {
    std::string text;
    detail::append_decimal(text, port);
    detail::throw_parse_error("Hyper-V service port", text,
                              "port out of range for a Hyper-V service id (max 2147483647)");
  }
};

// ---- Mapping between the two VM socket families -------------------------------
// VM ids:  wildcard <-> cid::any,  parent <-> cid::host,  loopback <-> cid::local.
// Services: a VSOCK-template GUID <-> its port (0 .. hv::max_port).
// Anything else has no mapping: no guess is ever made.

namespace detail {
// The reason travels with the result so that the socket layer can report
// not_a_template_service_id apart from no_mapping.
// The VM-id table, the one place it is written: each well-known VM id and
// the CID that means the same.
struct vm_cid_pair {
  guid vm;
  std::uint32_t cid;
};
inline constexpr vm_cid_pair vm_cid_table[] = {
    {hv::vm_id::wildcard, vsock::cid::any},
    {hv::vm_id::parent, vsock::cid::host},
    {hv::vm_id::loopback, vsock::cid::local},
};
constexpr bool cid_of(const guid& vm, std::uint32_t& cid) noexcept {
  for (const auto& p : vm_cid_table) {
    if (p.vm == vm) {
      cid = p.cid;
      return true;
    }
  }
  return false;
}
constexpr bool vm_of(std::uint32_t cid, guid& vm) noexcept {
  for (const auto& p : vm_cid_table) {
    if (p.cid == cid) {
      vm = p.vm;
      return true;
    }
  }
  return false;
}

constexpr errc map_to_vsock(const hv_endpoint& ep, vsock_endpoint& out) noexcept {
  std::uint32_t cid = 0;
  if (!cid_of(ep.vm_id, cid)) return errc::no_mapping;
  const auto port = hv::port_from_service_id(ep.service_id);
  if (!port) return errc::not_a_template_service_id;
  out = vsock_endpoint{cid, *port, false};
  return errc{};
}

// Names the kernel reports (a socket's own or its peer's address) may carry any
// 32-bit VSOCK port: the kernel picks ephemeral ports anywhere above 1024.  In
// that direction, and only there, the template carries the whole 32-bit port
// in data1 (port_any is no name).  Used by both crossovers below.
constexpr errc name_to_hyperv(const vsock_endpoint& os, hv_endpoint& out) noexcept {
  guid vm;
  if (os.to_host || os.port == vsock::port_any || !vm_of(os.cid, vm)) return errc::no_mapping;
  guid service = hv::vsock_template;
  service.data1 = os.port;
  out = hv_endpoint{vm, service};
  return errc{};
}
constexpr errc name_to_vsock(const hv_endpoint& os, vsock_endpoint& out) noexcept {
  std::uint32_t cid = 0;
  if (!cid_of(os.vm_id, cid)) return errc::no_mapping;
  guid rest = os.service_id;
  rest.data1 = 0;
  if (rest != hv::vsock_template) return errc::not_a_template_service_id;
  if (os.service_id.data1 == vsock::port_any) return errc::no_mapping;
  out = vsock_endpoint{cid, os.service_id.data1, false};
  return errc{};
}
}  // namespace detail

constexpr std::optional<vsock_endpoint> to_vsock(const hv_endpoint& ep) noexcept {
  vsock_endpoint out;
  if (detail::map_to_vsock(ep, out) != errc{}) return std::nullopt;
  return out;
}

// nullopt for CIDs other than any/host/local, ports above hv::max_port (port_any
// included) and endpoints with the to_host flag, which Hyper-V has no form for.
constexpr std::optional<hv_endpoint> to_hyperv(const vsock_endpoint& ep) noexcept {
  guid vm;
  if (ep.to_host || !detail::vm_of(ep.cid, vm)) return std::nullopt;
  const auto service = hv::service_id_from_port(ep.port);
  if (!service) return std::nullopt;
  return hv_endpoint{vm, *service};
}

// For a named VM: the CID is replaced by `vm_id`.  Throws vmsock::parse_error
// (naming the port) when the port is above hv::max_port.
constexpr hv_endpoint to_hyperv(const vsock_endpoint& ep, const guid& vm_id) {
  return hv_endpoint::for_port(vm_id, ep.port);
}

// ---- Which family carries which endpoint, per policy ----------------------------
// The policies apply the mapping: on Linux an hv_endpoint travels as AF_VSOCK
// (the hv_sock transport), on Windows a vsock_endpoint travels as AF_HYPERV.
// The policies are only named here, so this stays pure and testable anywhere.
struct posix_policy;
struct winsock_policy;

namespace detail {
template <> struct os_address<posix_policy, hv_endpoint, void> {
  using type = vsock_endpoint;
  static constexpr errc to_os(const hv_endpoint& ep, type& out) noexcept {
    return map_to_vsock(ep, out);
  }
  // Names the kernel reports keep whatever port it chose (name_to_hyperv).
  static constexpr errc from_os(const type& os, hv_endpoint& out) noexcept {
    return name_to_hyperv(os, out);
  }
};

template <> struct os_address<winsock_policy, vsock_endpoint, void> {
  using type = hv_endpoint;
  static constexpr errc to_os(const vsock_endpoint& ep, type& out) noexcept {
    const auto hv = to_hyperv(ep);
    if (!hv) return errc::no_mapping;
    out = *hv;
    return errc{};
  }
  // Names Windows reports keep whatever port they carry (name_to_vsock).
  static constexpr errc from_os(const type& os, vsock_endpoint& out) noexcept {
    return name_to_vsock(os, out);
  }
  // An accepted peer's name that has no CID (a VM by its own GUID): cid::any,
  // with the port its service id carries (port_any if none).
  static constexpr vsock_endpoint peer_name_of(const type& os) noexcept {
    guid rest = os.service_id;
    rest.data1 = 0;
    const std::uint32_t port = rest == hv::vsock_template ? os.service_id.data1 : vsock::port_any;
    return vsock_endpoint{vsock::cid::any, port, false};
  }
};
}  // namespace detail

VMSOCK_END_NAMESPACE
