// The asio adapters' hybrid vsock acceptor, for the guest's connections to a
// host port (the VMM connects to the Unix socket "<path>_<port>"), and the
// hand-over of vmsock's hybrid vsock sockets and listeners to asio.  The
// protocol, endpoint and socket are in detail/asio_hybrid.hpp.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/interop/detail/asio_hybrid.hpp>
#include <vmsock/interop/detail/asio_handover.hpp>
#include <vmsock/interop/detail/asio_protocols.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/policy/default.hpp>

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// asio's basic_socket_acceptor of hybrid_vsock_stream (Base), listening on
// "<path>_<port>" through vmsock::hybrid_vsock_listener, so with the Unix
// listener's rules: a stale socket file is replaced, a live one refused
// (address_in_use), and the file is removed when the acceptor closes (close(),
// the destructor, a move over it; not release()) if it is still the one the
// listener made.  Base's open/bind would bind to an endpoint's address, which
// is the VMM's own socket: listen with the constructor or listen(ep).
// accept() and async_accept() give hybrid_vsock_stream sockets (answer() empty).
template <class Lib, class Base> class asio_hybrid_acceptor : public Base {
 public:
  using typename Base::endpoint_type;
  using typename Base::executor_type;
  using typename Base::protocol_type;
  using error_code = typename Lib::error_code;
  static constexpr int default_backlog = hybrid_vsock_listener::default_backlog;

  template <class Executor1> struct rebind_executor {
    using other =
        asio_hybrid_acceptor<Lib, typename Base::template rebind_executor<Executor1>::other>;
  };

  // Closed, on an execution context or an executor.
  template <class Ctx, std::enable_if_t<std::is_constructible_v<Base, Ctx&>, int> = 0>
  explicit asio_hybrid_acceptor(Ctx&& context) : Base(context) {}
  // Listening for the guest's connections to host port ep.port(); throws
  // asio's system_error naming the Unix path.
  template <class Ctx, std::enable_if_t<std::is_constructible_v<Base, Ctx&>, int> = 0>
  asio_hybrid_acceptor(Ctx&& context, const hybrid_vsock_endpoint& ep,
                       int backlog = default_backlog)
      : Base(context) {
    listen(ep, backlog);
  }

  asio_hybrid_acceptor(asio_hybrid_acceptor&& o) noexcept
      : Base(static_cast<Base&&>(o)),
        ep_(o.ep_),
        id_(o.id_),
        owned_(std::exchange(o.owned_, false)) {}
  asio_hybrid_acceptor& operator=(asio_hybrid_acceptor&& o) noexcept {
    if (this != &o) {
      remove_file();
      Base::operator=(static_cast<Base&&>(o));
      ep_ = o.ep_;
      id_ = o.id_;
      owned_ = std::exchange(o.owned_, false);
    }
    return *this;
  }
  // From this acceptor type with another executor.
  template <class Base1,
            std::enable_if_t<!std::is_same_v<Base1, Base> && std::is_constructible_v<Base, Base1&&>,
                             int> = 0>
  asio_hybrid_acceptor(asio_hybrid_acceptor<Lib, Base1>&& o)  // NOLINT(google-explicit-constructor)
      : Base(static_cast<Base1&&>(o)),
        ep_(o.ep_),
        id_(o.id_),
        owned_(std::exchange(o.owned_, false)) {}
  ~asio_hybrid_acceptor() { remove_file(); }

  // Listens on ep.listen_uds(), "<path>_<port>".  The acceptor must be closed
  // (else asio's already_open, and no file is left behind).
  void listen(const hybrid_vsock_endpoint& ep, int backlog, error_code& ec) {
    std::error_code vec;
    auto l = hybrid_vsock_listener::listen(ep, backlog, vec);
    if (vec) {
      ec = Lib::from_std(vec);
      return;
    }
    Base::assign(protocol_type{}, l.native_handle(), ec);
    if (ec) return;  // `l` closes its handle and removes its file
    static_cast<void>(l.release());
    asio_return_startup_reference();
    own_file(ep);
  }
  void listen(const hybrid_vsock_endpoint& ep, error_code& ec) { listen(ep, default_backlog, ec); }
  void listen(const hybrid_vsock_endpoint& ep, int backlog = default_backlog) {
    error_code ec;
    listen(ep, backlog, ec);
    if (ec)
      Lib::throw_error(ec,
                       "listen on " + ep.listen_uds().to_string() + " (" + ep.to_string() + ")");
  }
  using Base::listen;  // listen(backlog)

  // The socket file goes first, while it is still this acceptor's.
  void close() {
    remove_file();
    Base::close();
  }
  auto close(error_code& ec) {
    remove_file();
    return Base::close(ec);
  }
  // The caller owns the handle, and the socket file stays.
  auto release() {
    owned_ = false;
    return Base::release();
  }
  auto release(error_code& ec) {
    owned_ = false;
    return Base::release(ec);
  }

  // The VMM's socket and the host port this acceptor serves (empty until it listens).
  const hybrid_vsock_endpoint& hybrid_endpoint() const noexcept { return ep_; }

 private:
  template <class, class> friend class asio_hybrid_acceptor;
  template <class, class, class> friend struct asio_counterpart;

  // The socket file this acceptor listens on, as it is now: the one to remove.
  void own_file(const hybrid_vsock_endpoint& ep) noexcept {
    ep_ = ep;
    const path_buffer path(ep.listen_uds().name());
    owned_ = default_policy::socket_file(path.text, id_);
  }
  void remove_file() noexcept {
    if (owned_ && this->is_open()) {
      const path_buffer path(ep_.listen_uds().name());
      typename default_policy::file_id now{};
      std::error_code ignored;
      if (default_policy::socket_file(path.text, now) && now == id_)
        default_policy::remove_file(path.text, ignored);
    }
    owned_ = false;
  }

  hybrid_vsock_endpoint ep_;
  typename default_policy::file_id id_{};
  bool owned_ = false;
};

// ---- hand-over: to_asio(context, std::move(hybrid socket or listener)) ---------------

// A hybrid vsock listener becomes the acceptor above, which then removes its
// socket file.
template <class Lib> struct asio_counterpart<Lib, hybrid_vsock_listener> {
  using type = typename asio_hybrid_protocol<Lib>::acceptor;
  static asio_hybrid_protocol<Lib> protocol(const hybrid_vsock_listener&) noexcept { return {}; }
  static hybrid_vsock_endpoint state(const hybrid_vsock_listener& l) noexcept {
    return l.hybrid_endpoint();
  }
  static void restore(type& a, const hybrid_vsock_endpoint& ep) noexcept { a.own_file(ep); }
};

// A connected hybrid vsock socket becomes the socket above, with its answer().
template <class Lib> struct asio_counterpart<Lib, hybrid_vsock_stream_socket> {
  using type = typename asio_hybrid_protocol<Lib>::socket;
  static asio_hybrid_protocol<Lib> protocol(const hybrid_vsock_stream_socket&) noexcept {
    return {};
  }
  // The answer line again: "OK <answer()>\n" (empty for an accepted connection).
  static hybrid_answer state(const hybrid_vsock_stream_socket& s) noexcept {
    hybrid_answer a;
    const std::string_view arg = s.answer();
    if (arg.empty()) return a;
    for (const char c : std::string_view("OK ")) a.text[a.len++] = c;
    for (std::size_t i = 0; i < arg.size() && a.len + 1u < a.max; ++i) a.text[a.len++] = arg[i];
    a.text[a.len++] = '\n';
    return a;
  }
  static void restore(type& s, const hybrid_answer& a) noexcept {
    s.answer_ = a;
    s.connected_ = true;
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE
