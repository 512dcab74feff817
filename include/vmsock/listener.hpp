// listener<Endpoint, Policy, Socket>: a listening socket; seqpacket_listener.
#pragma once

#include <vmsock/basic_socket.hpp>
#include <vmsock/seqpacket_socket.hpp>
#include <vmsock/stream_socket.hpp>

#include <chrono>
#include <string>
#include <system_error>
#include <type_traits>

namespace vmsock {

// A listening socket.  accept() returns a connected Socket (a stream_socket by
// default; seqpacket_listener accepts seqpacket_sockets).
template <class Endpoint, class Policy = default_policy,
          class Socket = stream_socket<Endpoint, Policy>>
class listener : public basic_socket<Endpoint, Policy> {
  using base = basic_socket<Endpoint, Policy>;

 public:
  using socket_type_t = Socket;
  static constexpr int default_backlog = Policy::max_backlog;

  listener() noexcept = default;
  explicit listener(typename Policy::handle h, socket_type type = Socket::kind) noexcept
      : base(h, type) {}

  // Create, bind, listen: one call.  IP listeners get reuse_address where the
  // policy says it is safe (POSIX).
  static listener listen(const Endpoint& local, int backlog, std::error_code& ec) noexcept {
    listener l(base::owned,
               Policy::open(base::native_family, Socket::kind, base::native_protocol, ec),
               Socket::kind);
    if (ec) return listener{};
    if constexpr (detail::is_ip_endpoint<Endpoint>) {
      if (Policy::listener_reuse_address) {
        l.set_option(reuse_address{true}, ec);
        if (ec) return listener{};
      }
    }
    l.bind(local, ec);
    if (ec) return listener{};
    Policy::listen(l.handle_, backlog, ec);
    if (ec) return listener{};
    return l;
  }
  static listener listen(const Endpoint& local, std::error_code& ec) noexcept {
    return listen(local, default_backlog, ec);
  }
  static listener listen(const Endpoint& local, int backlog = default_backlog) {
    std::error_code ec;
    auto l = listen(local, backlog, ec);
    if (ec) detail::throw_error(ec, "listen on", detail::describe(local, Socket::kind));
    return l;
  }

  // Waits for and returns the next connection (and, with `peer`, who it is from).
  Socket accept(Endpoint& peer, std::error_code& ec) noexcept {
    typename base::native_storage sa{};
    std::size_t len = sizeof sa;
    Socket s(base::owned, Policy::accept(this->handle_, &sa, len, ec), Socket::kind);
    if (ec) {
      this->normalize_timeout(ec);
      return Socket{};
    }
    if (!base::from_os(&sa, len, peer, ec)) return Socket{};
    return s;
  }
  Socket accept(std::error_code& ec) noexcept {
    Endpoint ignored{};
    return accept(ignored, ec);
  }
  // Waits at most `t`; expiry is errc::timed_out.
  //
  // Exact for one accepting thread.  With several threads accepting on one
  // listener, another may take the connection between the wait and the
  // accept; make the listener non-blocking (set_nonblocking(true)) and this
  // then waits again for the time left instead of blocking in accept.
  Socket accept(timeout t, Endpoint& peer, std::error_code& ec) noexcept {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + t;
    timeout left = t;
    for (;;) {
      if (!Policy::poll(this->handle_, wait_type::readable, left, ec)) {
        if (!ec) ec = make_error_code(errc::timed_out);
        return Socket{};
      }
      Socket s = accept(peer, ec);
      if (!(this->nonblocking_ && detail::would_block(ec))) return s;
      if (t >= timeout::zero()) {
        left = std::chrono::duration_cast<timeout>(deadline - clock::now());
        if (left < timeout::zero()) left = timeout::zero();
      }
    }
  }
  Socket accept(timeout t, std::error_code& ec) noexcept {
    Endpoint ignored{};
    return accept(t, ignored, ec);
  }

  Socket accept(Endpoint& peer) {
    std::error_code ec;
    auto s = accept(peer, ec);
    if (ec) this->fail(ec, "accept on");
    return s;
  }
  Socket accept() {
    Endpoint ignored{};
    return accept(ignored);
  }
  Socket accept(timeout t, Endpoint& peer) {
    std::error_code ec;
    auto s = accept(t, peer, ec);
    if (ec) this->fail(ec, "accept on");
    return s;
  }
  Socket accept(timeout t) {
    Endpoint ignored{};
    return accept(t, ignored);
  }

 private:
  listener(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}
};

template <class Endpoint, class Policy = default_policy>
using seqpacket_listener = listener<Endpoint, Policy, seqpacket_socket<Endpoint, Policy>>;

}  // namespace vmsock
