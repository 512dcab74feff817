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
// The endpoint and its kinds are in asio_endpoint.hpp; the hand-over between
// vmsock's sockets and asio's in asio_handover.hpp.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/endpoint/vsock.hpp>
#include <vmsock/error.hpp>
#include <vmsock/interop/detail/asio_endpoint.hpp>
#include <vmsock/interop/detail/asio_ready_connect.hpp>
#include <vmsock/socket/wait_for_ready.hpp>
#include <vmsock/socket_types.hpp>

#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// ---- the protocol ------------------------------------------------------------------

// asio's Protocol and AcceptableProtocol: an empty value whose family is the
// OS family of the kind's endpoints.
template <class Lib, class Kind> class asio_protocol {
  using os_value = typename asio_os_address<Kind>::type;
  static constexpr bool is_stream = Kind::type == socket_type::stream;

 public:
  using endpoint = asio_endpoint<Lib, Kind>;
  using socket = asio_socket<
      Lib,
      std::conditional_t<
          is_stream, typename Lib::template stream_socket<asio_protocol, typename Lib::executor>,
          typename Lib::template seq_packet_socket<asio_protocol, typename Lib::executor>>>;
  using acceptor =
      asio_acceptor<Lib,
                    typename Lib::template socket_acceptor<asio_protocol, typename Lib::executor>>;
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
template <class P, class = void> struct is_vsock_family : std::false_type {};
template <class P>
struct is_vsock_family<P, std::void_t<decltype(P::native_family)>>
    : std::bool_constant<P::native_family == vsock::address_family> {};

// An endpoint's text for a message: to_string(), else what operator<< writes
// (asio's ip endpoints, when asio_socket wraps their sockets).
template <class E, class = void> struct has_to_string : std::false_type {};
template <class E>
struct has_to_string<E, std::void_t<decltype(std::declval<const E&>().to_string())>>
    : std::true_type {};
template <class E> std::string text_of(const E& ep) {
  if constexpr (has_to_string<E>::value) {
    return ep.to_string();
  } else {
    std::ostringstream out;
    out << ep;
    return out.str();
  }
}

// Linux VSOCK answers a connect to a port nobody listens on with ECONNRESET:
// it becomes errc::vsock_connection_refused, as the synchronous layer has it.
template <class Lib>
void asio_map_vsock_refusal(int family, typename Lib::error_code& ec) noexcept {
  if (family == vsock::address_family && ec && Lib::is_connection_reset(ec))
    ec = Lib::from_std(make_error_code(errc::vsock_connection_refused));
}

template <class Lib, class Base> class asio_socket : public asio_ready_socket<Lib, Base> {
  using layer = asio_ready_socket<Lib, Base>;

 public:
  using typename Base::endpoint_type;
  using typename Base::executor_type;
  using typename Base::protocol_type;
  using error_code = typename Lib::error_code;

  template <class Executor1> struct rebind_executor {
    using other = asio_socket<Lib, typename Base::template rebind_executor<Executor1>::other>;
  };

  using layer::layer;
  // From the plain asio socket of the same protocol (asio::basic_stream_socket<vsock_stream>).
  explicit asio_socket(Base&& plain) noexcept : layer(std::move(plain)) {}
  // From this socket type with another executor.
  template <class Base1,
            std::enable_if_t<!std::is_same_v<Base1, Base> && std::is_constructible_v<Base, Base1&&>,
                             int> = 0>
  asio_socket(asio_socket<Lib, Base1>&& other) : layer(static_cast<Base1&&>(other)) {}

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
  // With vmsock::wait_for_ready{}: again while nothing listens yet, until
  // `within` (errc::timed_out; no_timeout: until a cancel); the socket must be
  // closed at the call (see detail/asio_ready_connect.hpp).
  template <class Token = typename Lib::template default_token<executor_type>>
  auto async_connect(const endpoint_type& peer, timeout within, const wait_for_ready& w,
                     Token&& token = typename Lib::template default_token<executor_type>()) {
    return asio_async_connect_when_ready<Lib>(
        *this, peer, within, w, ready_transport_of<typename endpoint_type::value_type>(), nullptr,
        token);
  }
  // The same, telling `report` the attempts made and the last one's error.
  template <class Token = typename Lib::template default_token<executor_type>>
  auto async_connect(const endpoint_type& peer, timeout within, const wait_for_ready& w,
                     ready_report& report,
                     Token&& token = typename Lib::template default_token<executor_type>()) {
    return asio_async_connect_when_ready<Lib>(
        *this, peer, within, w, ready_transport_of<typename endpoint_type::value_type>(), &report,
        token);
  }

  // ECONNRESET from a VSOCK connect: nothing listens there.
  static void map_connect_error(error_code& ec) noexcept {
    if constexpr (is_vsock_family<protocol_type>::value)
      asio_map_vsock_refusal<Lib>(vsock::address_family, ec);
    else
      (void)ec;
  }

 private:
  struct connect_op {
    asio_socket* socket;
    endpoint_type peer;
    bool started = false;

    template <class Self> void operator()(Self& self, error_code ec = {}) {
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

// asio's basic_socket_acceptor of a VSOCK or Hyper-V protocol (Base) whose
// throwing bind and one-call constructor name the address, as vmsock's
// listeners do: "bind to vsock://-1:5000: Address already in use".
template <class Lib, class Base> class asio_acceptor : public Base {
 public:
  using typename Base::endpoint_type;
  using typename Base::protocol_type;
  using error_code = typename Lib::error_code;

  template <class Executor1> struct rebind_executor {
    using other = asio_acceptor<Lib, typename Base::template rebind_executor<Executor1>::other>;
  };

  // Closed, on an execution context or an executor.
  template <class Ctx, std::enable_if_t<std::is_constructible_v<Base, Ctx&>, int> = 0>
  explicit asio_acceptor(Ctx&& context) : Base(context) {}
  // Open (not bound), or adopting a listening handle, as asio's are.
  template <class Ctx, std::enable_if_t<std::is_constructible_v<Base, Ctx&>, int> = 0>
  asio_acceptor(Ctx&& context, const protocol_type& protocol) : Base(context, protocol) {}
  template <class Ctx, std::enable_if_t<std::is_constructible_v<Base, Ctx&>, int> = 0>
  asio_acceptor(Ctx&& context, const protocol_type& protocol,
                const typename Base::native_handle_type& handle)
      : Base(context, protocol, handle) {}
  explicit asio_acceptor(Base&& plain) noexcept : Base(std::move(plain)) {}
  template <class Base1,
            std::enable_if_t<!std::is_same_v<Base1, Base> && std::is_constructible_v<Base, Base1&&>,
                             int> = 0>
  asio_acceptor(asio_acceptor<Lib, Base1>&& other) : Base(static_cast<Base1&&>(other)) {}

  // Open, bind and listen, as asio's constructor does (SO_REUSEADDR first
  // when `reuse`); an error names the step and the address.
  template <class Ctx, std::enable_if_t<std::is_constructible_v<Base, Ctx&>, int> = 0>
  asio_acceptor(Ctx&& context, const endpoint_type& local, bool reuse = true) : Base(context) {
    error_code ec;
    Base::open(local.protocol(), ec);
    if (ec) Lib::throw_error(ec, "open for " + text_of(local));
    if (reuse) {
      Base::set_option(typename Base::reuse_address(true), ec);
      if (ec) Lib::throw_error(ec, "SO_REUSEADDR for " + text_of(local));
    }
    bind(local);
    Base::listen(Base::max_listen_connections, ec);
    if (ec) Lib::throw_error(ec, "listen on " + text_of(local));
  }

  void bind(const endpoint_type& local) {
    error_code ec;
    Base::bind(local, ec);
    if (ec) Lib::throw_error(ec, "bind to " + text_of(local));
  }
  using Base::bind;  // bind(ep, ec)
};

}  // namespace detail
VMSOCK_END_NAMESPACE
