// connector<Socket>: the explicit form of connect, for what the one-call
// Socket::connect(ep, deadline, items...) does not cover, and for a connect
// that another thread may cancel():
//
//   vmsock::connector<vmsock::vsock_stream_socket> c = decltype(c)::open();
//   c.set_option(vmsock::vsock_buffer_size{1 << 20});
//   c.bind(local);                               // optional
//   auto s = c.connect(remote, std::chrono::seconds(10));   // c.cancel() ends it
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/basic_socket.hpp>
#include <vmsock/socket/detail/setup.hpp>
#include <vmsock/socket/stream_socket.hpp>

#include <system_error>
#include <utility>

VMSOCK_BEGIN_NAMESPACE

template <class Socket>
class connector
    : public basic_socket<typename Socket::endpoint_type, typename Socket::policy_type> {
  using Endpoint = typename Socket::endpoint_type;
  using Policy = typename Socket::policy_type;
  using base = basic_socket<Endpoint, Policy>;

 public:
  using socket_t = Socket;

  connector() noexcept = default;

  // A socket of Socket's family and kind, not yet bound or connected.  Static:
  // it returns the connector it opened, so `c.open();` opens nothing in c (and
  // c's connect then fails with a bad handle); the compiler says so.
  VMSOCK_NODISCARD(VMSOCK_STATIC_OPEN_REASON)
  static connector open(std::error_code& ec) noexcept {
    connector c;
    static_cast<base&>(c) = base::open(Socket::kind, ec);
    return c;
  }
  VMSOCK_NODISCARD(VMSOCK_STATIC_OPEN_REASON)
  static connector open() {
    std::error_code ec;
    auto c = open(ec);
    if (ec) detail::throw_error(ec, detail::open_what<Endpoint>(Socket::kind));
    return c;
  }

  // Connects, waiting until `when` (errc::timed_out) or cancel() from another
  // thread (std::errc::operation_canceled), and returns the connected socket;
  // the connector is then empty.  On failure the connector is closed too (a
  // socket whose connect failed cannot be used again): open a new one.
  Socket connect(const Endpoint& remote, deadline when, std::error_code& ec) noexcept {
    typename base::os_endpoint native;
    if (!base::to_os(remote, native, ec)) return Socket{};
    this->connect_to(native, when, ec);
    if (ec) {
      std::error_code ignored;
      this->close(ignored);
      return Socket{};
    }
    Socket s;
    this->move_to(s);
    return s;
  }
  Socket connect(const Endpoint& remote, std::error_code& ec) noexcept {
    return connect(remote, deadline::never(), ec);
  }
  Socket connect(const Endpoint& remote, deadline when = deadline::never()) {
    std::error_code ec;
    auto s = connect(remote, when, ec);
    if (ec)
      detail::throw_error(ec, "connect to", detail::describe_failure(remote, Socket::kind, ec));
    return s;
  }

  // No wait_for_ready here: it makes each attempt on a fresh socket, and a
  // connector's one socket carries what its user set on it (options, a bind,
  // calls on native_handle()) that no fresh socket would have.
  template <class... A, std::enable_if_t<detail::has_ready_wait<A...>, int> = 0>
  Socket connect(const Endpoint&, deadline, const A&...) {
    static_assert(!detail::has_ready_wait<A...>,
                  "vmsock::connector makes one attempt on the one socket it holds: for "
                  "wait_for_ready use Socket::connect(ep, deadline, wait_for_ready{}, "
                  "options...) (options as trailing items, applied to each attempt's fresh "
                  "socket) or any_connector (cancellable)");
    return Socket{};
  }
};

VMSOCK_END_NAMESPACE
