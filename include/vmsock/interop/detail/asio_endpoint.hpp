// The asio adapters' endpoint (asio_endpoint<Lib, Kind>) and the three kinds
// it is made for (VSOCK stream and seqpacket, Hyper-V stream): what asio's
// Endpoint requirements need, over the native sockaddr the OS sees, and the
// conversions to and from vmsock's endpoint types.  The protocol and socket
// types that use it, and what `Lib` is: asio_protocols.hpp.
//
// An endpoint always holds an address the OS can take.  The mapping is made
// when a vmsock endpoint becomes an asio one: where there is none (a VSOCK
// CID other than any/host/local on Windows, a Hyper-V VM id other than
// wildcard/parent/loopback on Linux) that conversion fails, with
// errc::no_mapping (or not_a_template_service_id), before any socket exists.
// The implicit conversion throws std::system_error; endpoint::from(value, ec)
// is the noexcept form.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/endpoint/detail/os_address.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/seqpacket_socket.hpp>
#include <vmsock/socket/stream_socket.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// ---- the three protocols ---------------------------------------------------------

// What each carries: its vmsock endpoint type, socket type, and the vmsock
// socket and listener its handles are handed over from and to.
template <class E, socket_type Type> struct asio_kind {
  using value_type = E;
  static constexpr socket_type type = Type;
  template <class P>
  using vmsock_socket =
      std::conditional_t<Type == socket_type::stream, stream_socket<E, P>, seqpacket_socket<E, P>>;
  template <class P> using vmsock_listener = listener<E, P, vmsock_socket<P>>;
};
using asio_vsock_stream_kind = asio_kind<vsock_endpoint, socket_type::stream>;
using asio_vsock_seqpacket_kind = asio_kind<vsock_endpoint, socket_type::seqpacket>;
using asio_hv_stream_kind = asio_kind<hv_endpoint, socket_type::stream>;

// What the OS sees for a kind's endpoints (the synchronous layer's mapping).
template <class Kind> using asio_os_address = os_address<default_policy, typename Kind::value_type>;

template <class Lib, class Kind> class asio_protocol;
template <class Lib, class Kind> class asio_endpoint;
template <class Lib, class Base> class asio_socket;
template <class Lib, class Base> class asio_acceptor;

template <class T> inline constexpr bool asio_always_false = false;

// Endpoints of other families, refused at compile time with a reason: vmsock's
// own endpoint types and any type with a nested protocol_type (asio's ip,
// local and generic endpoints, the other protocols here).
template <class T, class = void> struct has_protocol_type : std::false_type {};
template <class T>
struct has_protocol_type<T, std::void_t<typename T::protocol_type>> : std::true_type {};

template <class T, class Own>
inline constexpr bool is_foreign_endpoint =
    !std::is_same_v<T, Own> && !std::is_same_v<T, typename Own::value_type> &&
    (has_protocol_type<T>::value || std::is_same_v<T, vsock_endpoint> ||
     std::is_same_v<T, hv_endpoint> || std::is_same_v<T, inet4_endpoint> ||
     std::is_same_v<T, inet6_endpoint> || std::is_same_v<T, unix_endpoint> ||
     std::is_same_v<T, any_endpoint>);

// ---- the endpoint ------------------------------------------------------------------

// asio's Endpoint for one of the protocols: the native sockaddr the OS sees
// (sockaddr_vm or SOCKADDR_HV), converting to and from vmsock's endpoint type
// (value_type) implicitly.  Every 32-bit VSOCK port and the to_host flag are
// kept.  See the top of this file for endpoints without a mapping.
template <class Lib, class Kind> class asio_endpoint {
  using os = asio_os_address<Kind>;
  using os_value = typename os::type;                // vsock_endpoint or hv_endpoint
  using os_native = typename os_value::native_type;  // sockaddr_vm or SOCKADDR_HV

 public:
  using protocol_type = asio_protocol<Lib, Kind>;
  using value_type = typename Kind::value_type;
  using data_type = ::sockaddr;

  // The OS family's own "any" address: vsock://any:any where the OS family is
  // AF_VSOCK, hvsock://wildcard/00000000-0000-0000-0000-000000000000 where it
  // is AF_HYPERV.  What accept() and receive_from() write over.
  asio_endpoint() noexcept { store(os_value{}); }

  // Implicit by design (as asio's ip endpoints take an address): throws
  // std::system_error with errc::no_mapping or not_a_template_service_id,
  // naming the endpoint, when the OS family has no form for it.
  asio_endpoint(const value_type& v) {  // NOLINT(google-explicit-constructor)
    std::error_code ec;
    if (!assign(v, ec)) throw_error(ec, "asio endpoint from", v.to_string());
  }

  // VSOCK: a CID and a port (the whole 32 bits of each), and VMADDR_FLAG_TO_HOST.
  template <class V = value_type, std::enable_if_t<std::is_same_v<V, vsock_endpoint>, int> = 0>
  asio_endpoint(std::uint32_t cid, std::uint32_t port, bool to_host = false)
      : asio_endpoint(vsock_endpoint{cid, port, to_host}) {}
  // Hyper-V: a VM id and a service id, or a VM id and a VSOCK-template port.
  template <class V = value_type, std::enable_if_t<std::is_same_v<V, hv_endpoint>, int> = 0>
  asio_endpoint(const guid& vm_id, const guid& service_id)
      : asio_endpoint(hv_endpoint{vm_id, service_id}) {}
  template <class V = value_type, std::enable_if_t<std::is_same_v<V, hv_endpoint>, int> = 0>
  asio_endpoint(const guid& vm_id, std::uint32_t port)
      : asio_endpoint(hv_endpoint::for_port(vm_id, port)) {}

  // An endpoint of another family (an IP or Unix endpoint, a VSOCK endpoint
  // given to hv_stream, ...) does not compile, and says why.
  template <class Other, std::enable_if_t<is_foreign_endpoint<Other, asio_endpoint>, int> = 0>
  asio_endpoint(const Other&) {  // NOLINT(google-explicit-constructor)
    if constexpr (std::is_same_v<value_type, hv_endpoint>)
      static_assert(asio_always_false<Other>,
                    "vmsock: hv_stream takes Hyper-V endpoints (vmsock::hv_endpoint, "
                    "hv_stream::endpoint), not an endpoint of another family");
    else
      static_assert(asio_always_false<Other>,
                    "vmsock: vsock_stream and vsock_seqpacket take VSOCK endpoints "
                    "(vmsock::vsock_endpoint, vsock_stream::endpoint), not an endpoint of "
                    "another family");
  }

  // The noexcept form of the conversion: ec is no_mapping (or
  // not_a_template_service_id) and the result the default endpoint when the
  // OS family has no form for `v`.
  static asio_endpoint from(const value_type& v, std::error_code& ec) noexcept {
    asio_endpoint ep;
    ep.assign(v, ec);
    return ep;
  }
  // The endpoint's text form (vsock://CID:PORT, hvsock://VM/SERVICE).
  static asio_endpoint parse(std::string_view text) {
    return asio_endpoint(value_type::parse(text));
  }

  // ---- asio's Endpoint requirements ----
  protocol_type protocol() const noexcept { return protocol_type{}; }
  data_type* data() noexcept { return &data_.base; }
  const data_type* data() const noexcept { return &data_.base; }
  std::size_t size() const noexcept { return sizeof(os_native); }
  std::size_t capacity() const noexcept { return sizeof(os_native); }
  // After the OS wrote an address into data(): exactly the native struct's
  // size and the OS family's, else (another length, another family, which
  // would mean the socket is not what its type says) the endpoint goes back to
  // the default and asio's system_error is thrown: std::errc::invalid_argument
  // for the length, errc::address_family_mismatch for the family.
  void resize(std::size_t new_size) {
    int family = 0;
    std::error_code ec;
    if (new_size != sizeof(os_native))
      ec = std::make_error_code(std::errc::invalid_argument);
    else if (!native_family(&data_, new_size, family) || family != os_value::family)
      ec = make_error_code(errc::address_family_mismatch);
    if (!ec) return;
    store(os_value{});
    Lib::throw_error(Lib::from_std(ec), "vmsock: endpoint resize");
  }

  // ---- back to vmsock ----
  // The vmsock endpoint.  A name the kernel reported may have no form in
  // value_type (a VSOCK CID other than any/host/local on an hv_stream socket
  // on Linux): no_mapping, and value() throws std::system_error.
  value_type value(std::error_code& ec) const noexcept {
    value_type out{};
    const errc e = os::from_os(os_endpoint(), out);
    if (e != errc{}) {
      ec = make_error_code(e);
      return value_type{};
    }
    ec.clear();
    return out;
  }
  value_type value() const {
    std::error_code ec;
    const value_type v = value(ec);
    if (ec) throw_error(ec, "vmsock endpoint from", os_endpoint().to_string());
    return v;
  }
  operator value_type() const { return value(); }  // NOLINT(google-explicit-constructor)

  // The address as the OS sees it (a vsock_endpoint for hv_stream on Linux,
  // an hv_endpoint for vsock_stream on Windows; value() elsewhere).
  os_value os_endpoint() const noexcept {
    os_native n;
    std::memcpy(static_cast<void*>(&n), &data_, sizeof n);
    if (const auto v = os_value::from_native(&n, sizeof n)) return *v;
    return os_value{};
  }

  // value().to_string(), or the OS form's text where value() has none.
  std::string to_string() const {
    std::error_code ec;
    const value_type v = value(ec);
    return ec ? os_endpoint().to_string() : v.to_string();
  }

  friend bool operator==(const asio_endpoint& a, const asio_endpoint& b) noexcept {
    return a.os_endpoint() == b.os_endpoint();
  }
  friend bool operator!=(const asio_endpoint& a, const asio_endpoint& b) noexcept {
    return !(a == b);
  }
  // Mixed comparisons, which both conversions would otherwise make ambiguous;
  // a value with no OS form equals no endpoint.
  friend bool operator==(const asio_endpoint& a, const value_type& b) noexcept {
    std::error_code ec;
    const asio_endpoint other = from(b, ec);
    return !ec && a == other;
  }
  friend bool operator==(const value_type& a, const asio_endpoint& b) noexcept { return b == a; }
  friend bool operator!=(const asio_endpoint& a, const value_type& b) noexcept { return !(a == b); }
  friend bool operator!=(const value_type& a, const asio_endpoint& b) noexcept { return !(b == a); }
  // An order for maps and sets: by the OS form's fields.
  friend bool operator<(const asio_endpoint& a, const asio_endpoint& b) noexcept {
    return less(a.os_endpoint(), b.os_endpoint());
  }
  friend bool operator>(const asio_endpoint& a, const asio_endpoint& b) noexcept { return b < a; }
  friend bool operator<=(const asio_endpoint& a, const asio_endpoint& b) noexcept {
    return !(b < a);
  }
  friend bool operator>=(const asio_endpoint& a, const asio_endpoint& b) noexcept {
    return !(a < b);
  }

  template <class Elem, class Traits>
  friend std::basic_ostream<Elem, Traits>& operator<<(std::basic_ostream<Elem, Traits>& out,
                                                      const asio_endpoint& ep) {
    return out << ep.to_string().c_str();
  }

 private:
  bool assign(const value_type& v, std::error_code& ec) noexcept {
    os_value native{};
    const errc e = os::to_os(v, native);
    if (e != errc{}) {
      ec = make_error_code(e);
      return false;
    }
    store(native);
    ec.clear();
    return true;
  }
  void store(const os_value& v) noexcept {
    const os_native n = v.to_native();
    std::memcpy(static_cast<void*>(&data_), &n, sizeof n);
  }
  static bool less(const vsock_endpoint& a, const vsock_endpoint& b) noexcept {
    if (a.cid != b.cid) return a.cid < b.cid;
    if (a.port != b.port) return a.port < b.port;
    return a.to_host < b.to_host;
  }
  static bool less(const hv_endpoint& a, const hv_endpoint& b) noexcept {
    if (a.vm_id != b.vm_id) return a.vm_id < b.vm_id;
    return a.service_id < b.service_id;
  }

  // The sockaddr asio passes to the OS, as asio's own endpoints keep it.
  union storage {
    ::sockaddr base;
    os_native native;
  } data_{};
};

}  // namespace detail
VMSOCK_END_NAMESPACE
