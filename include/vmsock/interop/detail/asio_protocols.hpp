// The asio adapters' one implementation: protocol, endpoint and socket types
// for VSOCK and Hyper-V sockets, and the hand-over between vmsock's sockets
// and asio's, written once for standalone asio (vmsock/asio.hpp) and
// Boost.Asio (vmsock/boost_asio.hpp).
//
// Nothing here names asio.  Every template takes a `Lib`, a struct the two
// public headers define, that says where asio's names are:
//
//   error_code, executor                  asio::error_code, any_io_executor
//   stream_socket<P, E>, seq_packet_socket<P, E>, socket_acceptor<P, E>
//   default_token<E>                      default_completion_token_t<E>
//   tcp, generic_stream, [local_stream]   the protocols vmsock's other sockets become
//   compose<Sig>(impl, token, io)         async_compose
//   from_std(std::error_code), to_std(error_code), is_connection_reset(error_code)
//   throw_error(error_code, what)         asio's system_error
//
// So the two flavours are different types (vmsock::asio::vsock_stream is
// asio_protocol<standalone_asio, ...>, vmsock::boost_asio::vsock_stream is
// asio_protocol<boost_asio, ...>): no entity is defined twice with different
// meanings, whichever headers a program's translation units include.
//
// The shape is asio's own local::stream_protocol with local::basic_endpoint:
// the protocol is an empty value with family()/type()/protocol(); the
// endpoint holds the native sockaddr the OS sees and checks what the OS wrote
// into it in resize().  The family is the synchronous layer's: an hv_stream
// endpoint is AF_VSOCK on Linux (the hv_sock transport), a VSOCK endpoint is
// AF_HYPERV on Windows (detail::os_address of the default policy).
//
// An endpoint always holds an address the OS can take.  The mapping is made
// when a vmsock endpoint becomes an asio one: where there is none (a VSOCK
// CID other than any/host/local on Windows, a Hyper-V VM id other than
// wildcard/parent/loopback on Linux) that conversion fails, with
// errc::no_mapping (or not_a_template_service_id), before any socket exists.
// The implicit conversion throws std::system_error; endpoint::from(value, ec)
// is the noexcept form.
#pragma once

#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/any/connect_first.hpp>
#include <vmsock/config.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/endpoint/detail/os_address.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/socket/aliases.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// ---- the three protocols ---------------------------------------------------------

// What each carries: its vmsock endpoint type, socket type, and the vmsock
// socket and listener its handles are handed over from and to.
template <class E, socket_type Type>
struct asio_kind {
  using value_type = E;
  static constexpr socket_type type = Type;
  template <class P>
  using vmsock_socket = std::conditional_t<Type == socket_type::stream, stream_socket<E, P>,
                                           seqpacket_socket<E, P>>;
  template <class P>
  using vmsock_listener = listener<E, P, vmsock_socket<P>>;
};
using asio_vsock_stream_kind = asio_kind<vsock_endpoint, socket_type::stream>;
using asio_vsock_seqpacket_kind = asio_kind<vsock_endpoint, socket_type::seqpacket>;
using asio_hv_stream_kind = asio_kind<hv_endpoint, socket_type::stream>;

// What the OS sees for a kind's endpoints (the synchronous layer's mapping).
template <class Kind>
using asio_os_address = os_address<default_policy, typename Kind::value_type>;

template <class Lib, class Kind>
class asio_protocol;
template <class Lib, class Kind>
class asio_endpoint;
template <class Lib, class Base>
class asio_socket;

template <class T>
inline constexpr bool asio_always_false = false;

// Endpoints of other families, refused at compile time with a reason: vmsock's
// own endpoint types and any type with a nested protocol_type (asio's ip,
// local and generic endpoints, the other protocols here).
template <class T, class = void>
struct has_protocol_type : std::false_type {};
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
template <class Lib, class Kind>
class asio_endpoint {
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
  static asio_endpoint parse(std::string_view text) { return asio_endpoint(value_type::parse(text)); }

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

// ---- the protocol ------------------------------------------------------------------

// asio's Protocol and AcceptableProtocol: an empty value whose family is the
// OS family of the kind's endpoints.
template <class Lib, class Kind>
class asio_protocol {
  using os_value = typename asio_os_address<Kind>::type;
  static constexpr bool is_stream = Kind::type == socket_type::stream;

 public:
  using endpoint = asio_endpoint<Lib, Kind>;
  using socket = asio_socket<
      Lib, std::conditional_t<
               is_stream, typename Lib::template stream_socket<asio_protocol, typename Lib::executor>,
               typename Lib::template seq_packet_socket<asio_protocol, typename Lib::executor>>>;
  using acceptor = typename Lib::template socket_acceptor<asio_protocol, typename Lib::executor>;
  using kind = Kind;

  // AF_VSOCK or AF_HYPERV, as the OS sees this kind's endpoints.
  static constexpr int native_family = os_value::family;

  int family() const noexcept { return native_family; }
  int type() const noexcept { return is_stream ? SOCK_STREAM : SOCK_SEQPACKET; }
  int protocol() const noexcept { return os_value::protocol; }

  friend bool operator==(const asio_protocol&, const asio_protocol&) noexcept { return true; }
  friend bool operator!=(const asio_protocol&, const asio_protocol&) noexcept { return false; }
};

// ---- the socket --------------------------------------------------------------------

// asio's basic_stream_socket or basic_seq_packet_socket (Base), with connect
// and async_connect that report what the synchronous layer reports: Linux
// VSOCK answers a port nobody listens on with ECONNRESET, which becomes
// errc::vsock_connection_refused (== std::errc::connection_refused).  They
// hide Base's (not virtual): asio's range connect (asio::connect and
// asio::async_connect over several endpoints) calls Base's and sees the plain
// ECONNRESET.  Everything else is Base's.
// Whether a protocol is AF_VSOCK in the OS (the protocols here say so in
// native_family; asio's own are not).
template <class P, class = void>
struct is_vsock_family : std::false_type {};
template <class P>
struct is_vsock_family<P, std::void_t<decltype(P::native_family)>>
    : std::bool_constant<P::native_family == vsock::address_family> {};

// An endpoint's text for a message: to_string(), else what operator<< writes
// (asio's ip endpoints, when asio_socket wraps their sockets).
template <class E, class = void>
struct has_to_string : std::false_type {};
template <class E>
struct has_to_string<E, std::void_t<decltype(std::declval<const E&>().to_string())>>
    : std::true_type {};
template <class E>
std::string text_of(const E& ep) {
  if constexpr (has_to_string<E>::value) {
    return ep.to_string();
  } else {
    std::ostringstream out;
    out << ep;
    return out.str();
  }
}

template <class Lib, class Base>
class asio_socket : public Base {
 public:
  using typename Base::endpoint_type;
  using typename Base::executor_type;
  using typename Base::protocol_type;
  using error_code = typename Lib::error_code;

  template <class Executor1>
  struct rebind_executor {
    using other = asio_socket<Lib, typename Base::template rebind_executor<Executor1>::other>;
  };

  using Base::Base;
  // From the plain asio socket of the same protocol (asio::basic_stream_socket<vsock_stream>).
  explicit asio_socket(Base&& plain) noexcept : Base(std::move(plain)) {}
  // From this socket type with another executor.
  template <class Base1, std::enable_if_t<!std::is_same_v<Base1, Base> &&
                                              std::is_constructible_v<Base, Base1&&>,
                                          int> = 0>
  asio_socket(asio_socket<Lib, Base1>&& other) : Base(static_cast<Base1&&>(other)) {}

  // Throws asio's system_error naming the peer: "connect to vsock://1:5000: ...".
  void connect(const endpoint_type& peer) {
    error_code ec;
    connect(peer, ec);
    if (ec) Lib::throw_error(ec, "connect to " + text_of(peer));
  }
  void connect(const endpoint_type& peer, error_code& ec) {
    Base::connect(peer, ec);
    map_connect_error(ec);
  }

  // Base's async_connect with the same error mapping (an async_compose, so the
  // handler's executor, allocator and cancellation slot are kept).
  template <class Token = typename Lib::template default_token<executor_type>>
  auto async_connect(const endpoint_type& peer,
                     Token&& token = typename Lib::template default_token<executor_type>()) {
    return Lib::template compose<void(error_code), Token>(connect_op{this, peer}, token, *this);
  }

  // ECONNRESET from a VSOCK connect: nothing listens there.
  static void map_connect_error(error_code& ec) noexcept {
    if constexpr (is_vsock_family<protocol_type>::value) {
      if (ec && Lib::is_connection_reset(ec))
        ec = Lib::from_std(make_error_code(errc::vsock_connection_refused));
    } else {
      (void)ec;
    }
  }

 private:
  struct connect_op {
    asio_socket* socket;
    endpoint_type peer;
    bool started = false;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
      if (!started) {
        started = true;
        const endpoint_type to = peer;  // `self`, and this object in it, moves below
        socket->Base::async_connect(to, std::move(self));
        return;
      }
      map_connect_error(ec);
      self.complete(ec);
    }
  };
};

// ---- hand-over between vmsock's sockets and asio's ----------------------------------

// The protocol kind whose vmsock socket or listener V is (void: none).
template <class V, class Kind>
inline constexpr bool asio_is_vmsock_of =
    std::is_same_v<V, typename Kind::template vmsock_socket<default_policy>> ||
    std::is_same_v<V, typename Kind::template vmsock_listener<default_policy>>;
template <class V>
using asio_kind_for = std::conditional_t<
    asio_is_vmsock_of<V, asio_vsock_stream_kind>, asio_vsock_stream_kind,
    std::conditional_t<asio_is_vmsock_of<V, asio_vsock_seqpacket_kind>, asio_vsock_seqpacket_kind,
                       std::conditional_t<asio_is_vmsock_of<V, asio_hv_stream_kind>,
                                          asio_hv_stream_kind, void>>>;

// Which asio object a vmsock socket becomes (`type`), and the protocol value
// its handle is assigned with.  No specialisation: to_asio does not compile.
template <class Lib, class V, class = void>
struct asio_counterpart {};

// VSOCK and Hyper-V sockets and listeners: this file's protocols.
template <class Lib, class V>
struct asio_counterpart<Lib, V, std::enable_if_t<!std::is_void_v<asio_kind_for<V>>>> {
  using kind = asio_kind_for<V>;
  using protocol_type = asio_protocol<Lib, kind>;
  using type = std::conditional_t<
      std::is_same_v<V, typename kind::template vmsock_listener<default_policy>>,
      typename protocol_type::acceptor, typename protocol_type::socket>;
  static protocol_type protocol(const V&) noexcept { return protocol_type{}; }
};

// A stream socket or a stream listener of endpoint type E.
template <class V, class E>
inline constexpr bool asio_is_stream_of =
    std::is_same_v<V, stream_socket<E, default_policy>> ||
    std::is_same_v<V, listener<E, default_policy>>;

// IP stream sockets and listeners become asio::ip::tcp's.
template <class Lib, class V>
struct asio_counterpart<Lib, V, std::enable_if_t<asio_is_stream_of<V, inet4_endpoint> ||
                                                 asio_is_stream_of<V, inet6_endpoint>>> {
  static constexpr bool is_listener =
      std::is_same_v<V, listener<typename V::endpoint_type, default_policy>>;
  using type =
      std::conditional_t<is_listener, typename Lib::tcp::acceptor, typename Lib::tcp::socket>;
  static typename Lib::tcp protocol(const V&) noexcept {
    if constexpr (std::is_same_v<typename V::endpoint_type, inet4_endpoint>)
      return Lib::tcp::v4();
    else
      return Lib::tcp::v6();
  }
};

// Unix stream sockets and listeners become asio::local::stream_protocol's
// (where asio has local sockets).
template <class Lib, class V>
struct asio_counterpart<Lib, V, std::enable_if_t<asio_is_stream_of<V, unix_endpoint> &&
                                                 std::is_class_v<typename Lib::local_stream>>> {
  using type = std::conditional_t<std::is_same_v<V, listener<unix_endpoint, default_policy>>,
                                  typename Lib::local_stream::acceptor,
                                  typename Lib::local_stream::socket>;
  static typename Lib::local_stream protocol(const V&) noexcept { return {}; }
};

// A connection of any family (connect_first's) becomes asio's generic stream
// socket, of the family that won.
template <class Lib>
struct asio_counterpart<Lib, any_stream_socket> {
  using type = typename Lib::generic_stream::socket;
  static typename Lib::generic_stream protocol(const any_stream_socket& s) noexcept {
    return std::visit(
        [](const auto& alternative) {
          using S = std::decay_t<decltype(alternative)>;
          return typename Lib::generic_stream(S::native_family, S::native_protocol);
        },
        s.value());
  }
};

// And back: the vmsock socket or listener an asio object of this file's
// protocols becomes (asio_socket, the plain asio socket of the protocol, or
// its acceptor).
template <class Lib, class Object, class = void>
struct asio_vmsock_counterpart {};
template <class Lib, class Object>
struct asio_vmsock_counterpart<
    Lib, Object,
    std::enable_if_t<std::is_same_v<typename Object::protocol_type,
                                    asio_protocol<Lib, typename Object::protocol_type::kind>> &&
                     std::is_class_v<typename Object::executor_type>>> {
  using kind = typename Object::protocol_type::kind;
  static constexpr bool is_acceptor =
      std::is_same_v<Object, typename Lib::template socket_acceptor<typename Object::protocol_type,
                                                                     typename Object::executor_type>>;
  using type = std::conditional_t<is_acceptor, typename kind::template vmsock_listener<default_policy>,
                                  typename kind::template vmsock_socket<default_policy>>;
};

// On Windows a handle vmsock gives away carries one WSAStartup reference
// (policy/winsock.hpp).  asio holds its own for as long as the program runs
// (its winsock_init object, in every translation unit that includes asio), so
// once asio has the handle vmsock's reference is given back.
inline void asio_return_startup_reference() noexcept {
#if VMSOCK_WINDOWS
  default_policy::cleanup();
#endif
}

// What a vmsock object carries besides its handle (a hybrid vsock socket's
// answer, a hybrid listener's endpoint): a counterpart with
// state(const V&) has it read before the handle is released and given to
// restore(object, state) once asio holds the handle.
template <class C, class V, class = void>
struct asio_carries_state : std::false_type {};
template <class C, class V>
struct asio_carries_state<C, V, std::void_t<decltype(C::state(std::declval<const V&>()))>>
    : std::true_type {};
template <class C, class V>
auto asio_state_of(const V& s) noexcept {
  if constexpr (asio_carries_state<C, V>::value)
    return C::state(s);
  else
    return nullptr;
}

// vmsock -> asio: to_asio(context or executor, std::move(vmsock_socket)[, ec]).
// The handle moves into the asio object of its protocol and the vmsock socket
// is left closed; a closed vmsock socket gives a closed asio object.  If asio
// refuses the handle (assign fails) the handle is closed and ec says why.
template <class Lib>
struct asio_to_asio_fn {
  template <class Ctx, class V, class C = asio_counterpart<Lib, std::decay_t<V>>,
            class Object = typename C::type,
            std::enable_if_t<!std::is_lvalue_reference_v<V>, int> = 0>
  Object operator()(Ctx&& context, V&& s, typename Lib::error_code& ec) const {
    Object object(context);
    ec = {};
    if (!s.is_open()) return object;
    const auto protocol = C::protocol(s);
    [[maybe_unused]] const auto state = asio_state_of<C>(s);
    const auto h = s.release();
    object.assign(protocol, h, ec);
    if (ec) {
      std::error_code ignored;
      default_policy::close(h, ignored);  // gives back the WSAStartup reference too
      return object;
    }
    asio_return_startup_reference();
    if constexpr (asio_carries_state<C, std::decay_t<V>>::value) C::restore(object, state);
    return object;
  }
  template <class Ctx, class V, class C = asio_counterpart<Lib, std::decay_t<V>>,
            class Object = typename C::type,
            std::enable_if_t<!std::is_lvalue_reference_v<V>, int> = 0>
  Object operator()(Ctx&& context, V&& s) const {
    typename Lib::error_code ec;
    Object object = (*this)(context, std::move(s), ec);
    if (ec) Lib::throw_error(ec, "vmsock: hand-over to asio");
    return object;
  }
};

// asio -> vmsock: to_vmsock(std::move(asio_object)[, ec]).  The handle leaves
// the asio object (release(): on Windows that needs Windows 8.1 or later, else
// asio reports operation_not_supported and keeps it), in the blocking mode
// the asio object's non_blocking() says (asio may have made it non-blocking
// for itself), and the vmsock socket adopts it (on Windows with a WSAStartup
// reference of its own).
template <class Lib>
struct asio_to_vmsock_fn {
  template <class Object, class V = typename asio_vmsock_counterpart<Lib, std::decay_t<Object>>::type,
            std::enable_if_t<!std::is_lvalue_reference_v<Object>, int> = 0>
  V operator()(Object&& object, std::error_code& ec) const {
    if (!object.is_open()) {
      ec = default_policy::closed_error();
      return V{};
    }
    const bool user_non_blocking = object.non_blocking();
    typename Lib::error_code lec;
    const auto h = object.release(lec);
    if (lec) {
      ec = Lib::to_std(lec);
      return V{};
    }
    std::error_code ignored;
    default_policy::set_nonblocking(h, user_non_blocking, ignored);
    ec.clear();
    return V(h);
  }
  template <class Object, class V = typename asio_vmsock_counterpart<Lib, std::decay_t<Object>>::type,
            std::enable_if_t<!std::is_lvalue_reference_v<Object>, int> = 0>
  V operator()(Object&& object) const {
    std::error_code ec;
    V v = (*this)(std::move(object), ec);
    if (ec) throw_error(ec, "vmsock: hand-over from asio");
    return v;
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE
