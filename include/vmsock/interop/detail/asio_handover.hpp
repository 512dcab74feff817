// The hand-over between vmsock's sockets and asio's: which asio object a
// vmsock socket or listener becomes (and back), and to_asio / to_vmsock, which
// move the OS handle from one to the other.  Written once over a `Lib` (see
// asio_protocols.hpp), for standalone asio and Boost.Asio.
#pragma once

#include <vmsock/any/connect_first.hpp>
#include <vmsock/config.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/error.hpp>
#include <vmsock/interop/detail/asio_endpoint.hpp>
#include <vmsock/interop/detail/asio_protocols.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/socket/aliases.hpp>

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// The protocol kind whose vmsock socket or listener V is (void: none).
template <class V, class Kind>
inline constexpr bool asio_is_vmsock_of =
    std::is_same_v<V, typename Kind::template vmsock_socket<default_policy>> ||
    std::is_same_v<V, typename Kind::template vmsock_listener<default_policy>>;
template <class V>
using asio_kind_for = std::conditional_t<
    asio_is_vmsock_of<V, asio_vsock_stream_kind>, asio_vsock_stream_kind,
    std::conditional_t<
        asio_is_vmsock_of<V, asio_vsock_seqpacket_kind>, asio_vsock_seqpacket_kind,
        std::conditional_t<asio_is_vmsock_of<V, asio_hv_stream_kind>, asio_hv_stream_kind, void>>>;

// Which asio object a vmsock socket becomes (`type`), and the protocol value
// its handle is assigned with.  No specialisation: to_asio does not compile.
template <class Lib, class V, class = void> struct asio_counterpart {};

// VSOCK and Hyper-V sockets and listeners: the protocols of asio_protocols.hpp.
template <class Lib, class V>
struct asio_counterpart<Lib, V, std::enable_if_t<!std::is_void_v<asio_kind_for<V>>>> {
  using kind = asio_kind_for<V>;
  using protocol_type = asio_protocol<Lib, kind>;
  using type =
      std::conditional_t<std::is_same_v<V, typename kind::template vmsock_listener<default_policy>>,
                         typename protocol_type::acceptor, typename protocol_type::socket>;
  static protocol_type protocol(const V&) noexcept { return protocol_type{}; }
};

// A stream socket or a stream listener of endpoint type E.
template <class V, class E>
inline constexpr bool asio_is_stream_of = std::is_same_v<V, stream_socket<E, default_policy>> ||
                                          std::is_same_v<V, listener<E, default_policy>>;

// IP stream sockets and listeners become asio::ip::tcp's.
template <class Lib, class V>
struct asio_counterpart<Lib, V,
                        std::enable_if_t<asio_is_stream_of<V, inet4_endpoint> ||
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
struct asio_counterpart<Lib, V,
                        std::enable_if_t<asio_is_stream_of<V, unix_endpoint> &&
                                         std::is_class_v<typename Lib::local_stream>>> {
  using type =
      std::conditional_t<std::is_same_v<V, listener<unix_endpoint, default_policy>>,
                         typename Lib::local_stream::acceptor, typename Lib::local_stream::socket>;
  static typename Lib::local_stream protocol(const V&) noexcept { return {}; }
};

// A connection of any family (connect_first's) becomes asio's generic stream
// socket, of the family that won.
template <class Lib> struct asio_counterpart<Lib, any_stream_socket> {
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

// And back: the vmsock socket or listener an asio object of asio_protocols.hpp's
// protocols becomes (asio_socket, the plain asio socket of the protocol, or
// its acceptor).
template <class Lib, class Object, class = void> struct asio_vmsock_counterpart {};
template <class Lib, class Object>
struct asio_vmsock_counterpart<
    Lib, Object,
    std::enable_if_t<std::is_same_v<typename Object::protocol_type,
                                    asio_protocol<Lib, typename Object::protocol_type::kind>> &&
                     std::is_class_v<typename Object::executor_type>>> {
  using kind = typename Object::protocol_type::kind;
  using plain_acceptor = typename Lib::template socket_acceptor<typename Object::protocol_type,
                                                                typename Object::executor_type>;
  static constexpr bool is_acceptor = std::is_same_v<Object, plain_acceptor> ||
                                      std::is_same_v<Object, asio_acceptor<Lib, plain_acceptor>>;
  using type =
      std::conditional_t<is_acceptor, typename kind::template vmsock_listener<default_policy>,
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

// Moves vmsock object `s`'s handle into asio object `object` (of `protocol`).
// If asio refuses it (assign fails), the handle is closed and ec says why;
// else vmsock's WSAStartup reference goes back, asio holding its own.
template <class Object, class Protocol, class V, class EC>
void asio_take_handle(Object& object, const Protocol& protocol, V& s, EC& ec) {
  const auto h = s.release();
  object.assign(protocol, h, ec);
  if (ec) {
    std::error_code ignored;
    default_policy::close(h, ignored);  // gives back the WSAStartup reference too
    return;
  }
  asio_return_startup_reference();
}

// What a vmsock object carries besides its handle (a hybrid vsock socket's
// answer, a hybrid listener's endpoint): a counterpart with
// state(const V&) has it read before the handle is released and given to
// restore(object, state) once asio holds the handle.
template <class C, class V, class = void> struct asio_carries_state : std::false_type {};
template <class C, class V>
struct asio_carries_state<C, V, std::void_t<decltype(C::state(std::declval<const V&>()))>>
    : std::true_type {};
template <class C, class V> auto asio_state_of(const V& s) noexcept {
  if constexpr (asio_carries_state<C, V>::value)
    return C::state(s);
  else
    return nullptr;
}

// vmsock -> asio: to_asio(context or executor, std::move(vmsock_socket)[, ec]).
// The handle moves into the asio object of its protocol and the vmsock socket
// is left closed; a closed vmsock socket gives a closed asio object.  If asio
// refuses the handle (assign fails) the handle is closed and ec says why.
template <class Lib> struct asio_to_asio_fn {
  template <class Ctx, class V, class C = asio_counterpart<Lib, std::decay_t<V>>,
            class Object = typename C::type,
            std::enable_if_t<!std::is_lvalue_reference_v<V>, int> = 0>
  Object operator()(Ctx&& context, V&& s, typename Lib::error_code& ec) const {
    Object object(context);
    ec = {};
    if (!s.is_open()) return object;
    const auto protocol = C::protocol(s);
    [[maybe_unused]] const auto state = asio_state_of<C>(s);
    asio_take_handle(object, protocol, s, ec);
    if (ec) return object;
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
template <class Lib> struct asio_to_vmsock_fn {
  template <class Object,
            class V = typename asio_vmsock_counterpart<Lib, std::decay_t<Object>>::type,
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
  template <class Object,
            class V = typename asio_vmsock_counterpart<Lib, std::decay_t<Object>>::type,
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
