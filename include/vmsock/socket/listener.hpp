// listener<Endpoint, Policy, Socket>: a listening socket; seqpacket_listener.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/basic_socket.hpp>
#include <vmsock/socket/detail/setup.hpp>
#include <vmsock/socket/seqpacket_socket.hpp>
#include <vmsock/socket/stream_socket.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

namespace detail {

// What a Unix path listener knows of the socket file it made, so that it
// removes that file (and no other: one that replaced it is left alone) when it
// closes.  Nothing for the other endpoint types.
template <class Endpoint, class Policy> struct socket_file_state {};
template <class Policy> struct socket_file_state<unix_endpoint, Policy> {
  typename Policy::file_id id{};
  bool owned = false;
  bool unlink = true;
};

// Asks a peer filter about a peer.  A filter may throw (a lambda as users
// write them is not noexcept): one that does refuses the peer, which accept
// counts as any other refusal.  A noexcept one is called as it is.
template <class F, class... A> bool ask_peer_filter(const F& f, const A&... a) noexcept {
  if constexpr (std::is_nothrow_invocable_r_v<bool, const F&, const A&...>) {
    return f(a...);
  } else {
    VMSOCK_TRY { return f(a...); }
    VMSOCK_CATCH(...) {}
    return false;
  }
}

// A listener's peer filter, type-erased (set once, called per connection: no
// allocation per peer).  The predicate takes the peer endpoint, or the peer
// endpoint and the accepted socket (to read, say, its credentials); given
// both, the second.
template <class Endpoint, class Socket> struct peer_filter {
  virtual ~peer_filter() = default;
  virtual bool allows(const Endpoint& peer, const Socket& s) const noexcept = 0;
};
template <class Endpoint, class Socket, class F>
struct peer_filter_of final : peer_filter<Endpoint, Socket> {
  F f;
  explicit peer_filter_of(F fn) : f(std::move(fn)) {}
  bool allows(const Endpoint& peer, const Socket& s) const noexcept override {
    if constexpr (std::is_invocable_r_v<bool, const F&, const Endpoint&, const Socket&>)
      return ask_peer_filter(f, peer, s);
    else
      return ask_peer_filter(f, peer);
  }
};
// Any callable with the peer (and the connection) whose result converts to bool.
template <class F, class Endpoint, class Socket>
inline constexpr bool is_peer_predicate =
    std::is_invocable_r_v<bool, const F&, const Endpoint&> ||
    std::is_invocable_r_v<bool, const F&, const Endpoint&, const Socket&>;

// A Unix path as a NUL-terminated string for the file calls.
struct path_buffer {
  static constexpr std::size_t capacity = sizeof(unix_sockaddr{}.sun_path);  // unix_endpoint's
  char text[capacity + 1] = {};
  explicit path_buffer(std::string_view p) noexcept {
    const std::size_t n = p.size() < capacity ? p.size() : capacity;
    for (std::size_t i = 0; i < n; ++i) text[i] = p[i];
  }
};

}  // namespace detail

// A listening socket.  accept() returns a connected Socket (a stream_socket by
// default; seqpacket_listener accepts seqpacket_sockets).
//
// A listener is non-blocking inside the OS and waits for connections in
// poll(), so that cancel() ends an accept from another thread and several
// threads may accept on one listener.  A Unix listener bound to a path removes
// its socket file when it closes (unless set_unlink_on_close(false) or the
// setup step vmsock::unlink_on_close{false}); a path whose socket file is stale
// (nothing accepts on it) is taken over; a live one never is: address_in_use.
template <class Endpoint, class Policy = default_policy,
          class Socket = stream_socket<Endpoint, Policy>>
class listener : public basic_socket<Endpoint, Policy>,
                 private detail::socket_file_state<Endpoint, Policy> {
  using base = basic_socket<Endpoint, Policy>;
  using file_state = detail::socket_file_state<Endpoint, Policy>;
  static constexpr bool is_unix = std::is_same_v<Endpoint, unix_endpoint>;

 public:
  using socket_type_t = Socket;
  static constexpr int default_backlog = Policy::max_backlog;

  listener() noexcept = default;
  // Adopts a listening handle (socket activation, a handle from elsewhere).
  explicit listener(typename Policy::handle h, socket_type type = Socket::kind) noexcept
      : base(h, type) {
    if (h != Policy::invalid_handle) {
      std::error_code ignored;
      become_listener(ignored);
    }
  }
  listener(listener&& o) noexcept
      : base(std::move(o)),
        file_state(o.files()),
        filter_(std::move(o.filter_)),
        rejected_(o.rejected_.exchange(0, std::memory_order_relaxed)) {
    o.forget_file();
  }
  listener& operator=(listener&& o) noexcept {
    if (this != &o) {
      unlink_file();
      base::operator=(std::move(o));
      files() = o.files();
      o.forget_file();
      filter_ = std::move(o.filter_);
      rejected_.store(o.rejected_.exchange(0, std::memory_order_relaxed),
                      std::memory_order_relaxed);
    }
    return *this;
  }
  ~listener() { unlink_file(); }

  // ---- who may connect ----
  // accept() hands out only connections whose peer `pred` allows: `pred` is
  // any callable taking (const Endpoint& peer) or (const Endpoint& peer, const
  // Socket& connection) (to read the connection's credentials, say) whose
  // result converts to bool: [](const inet4_endpoint& p) { return ...; }.
  // A refused peer is closed before accept returns, and accept goes on
  // waiting, its deadline included; rejected_peers() counts them.  A filter
  // that throws refuses the peer (counted too); accept never throws for it.
  // The filter runs in the accepting thread and vmsock allocates nothing per
  // peer; set it before accepting starts.  A peer whose name cannot be read is
  // refused.  Ready-made predicates: peer_filter.hpp.
  template <class F> void set_peer_filter(F pred) {
    static_assert(detail::is_peer_predicate<F, Endpoint, Socket>,
                  "vmsock: a peer filter is callable as bool(const Endpoint&) or "
                  "bool(const Endpoint&, const Socket&)");
    filter_ = std::make_unique<detail::peer_filter_of<Endpoint, Socket, F>>(std::move(pred));
  }
  void clear_peer_filter() noexcept { filter_.reset(); }
  // How many connections the filter has turned away.
  std::uint64_t rejected_peers() const noexcept {
    return rejected_.load(std::memory_order_relaxed);
  }

  // ---- the explicit form: open, set options, bind, listen ----
  //   auto l = vmsock::tcp6_listener::open();
  //   l.set_option(vmsock::v6_only{false});
  //   l.bind(vmsock::inet6_endpoint::any(8080));
  //   l.listen();
  // An unbound listener-to-be.  IP listeners get reuse_address where the
  // policy says it is safe (POSIX), and IPv6 ones v6_only{false} (dual stack,
  // on every platform), before anything the caller sets.
  VMSOCK_NODISCARD(VMSOCK_STATIC_OPEN_REASON)
  static listener open(std::error_code& ec) noexcept {
    listener l(base::owned,
               Policy::open(base::native_family, Socket::kind, base::native_protocol, ec),
               Socket::kind);
    if (ec) return listener{};
    l.become_listener(ec);
    if (ec) return listener{};
    if constexpr (detail::is_ip_endpoint<Endpoint>) {
      if (Policy::listener_reuse_address) {
        l.set_option(reuse_address{true}, ec);
        if (ec) return listener{};
      }
    }
    // An IPv6 listener is dual-stack on every platform (Linux's default,
    // Windows' is IPv6-only; Microsoft recommends dual mode): a listener on
    // [::] takes IPv4 clients too, as [::ffff:a.b.c.d].  v6_only{true} among
    // the setup items, or set before bind, makes it IPv6-only.
    if constexpr (std::is_same_v<Endpoint, inet6_endpoint>) {
      l.set_option(v6_only{false}, ec);
      if (ec) return listener{};
    }
    return l;
  }
  VMSOCK_NODISCARD(VMSOCK_STATIC_OPEN_REASON)
  static listener open() {
    std::error_code ec;
    auto l = open(ec);
    if (ec) detail::throw_error(ec, detail::open_what<Endpoint>(Socket::kind));
    return l;
  }

  // Binds to `local`.  A Unix path whose socket file nothing accepts on any
  // more is taken over (the file is removed and the bind tried again); a live
  // one is address_in_use.
  void bind(const Endpoint& local, std::error_code& ec) noexcept {
    base::bind(local, ec);
    if constexpr (is_unix) {
      if (local.type() != Endpoint::kind::path) return;
      const detail::path_buffer path(local.name());
      if (ec == std::errc::address_in_use && stale(local, path.text)) {
        std::error_code removed;
        Policy::remove_file(path.text, removed);
        if (!removed) base::bind(local, ec);
      }
      if (!ec) files().owned = Policy::socket_file(path.text, files().id);
    }
  }
  void bind(const Endpoint& local) {
    std::error_code ec;
    bind(local, ec);
    if (ec) detail::throw_error(ec, "bind to", detail::describe_failure(local, Socket::kind, ec));
  }

  // Starts listening on the bound socket.
  void listen(int backlog, std::error_code& ec) noexcept {
    if (!this->is_open()) {
      ec = Policy::closed_error();
      return;
    }
    Policy::listen(this->handle_, backlog, ec);
  }
  void listen(std::error_code& ec) noexcept { listen(default_backlog, ec); }
  void listen(int backlog = default_backlog) {
    std::error_code ec;
    listen(backlog, ec);
    if (ec) this->fail(ec, "listen on");
  }

  // ---- the one-call form ----
  // Create, bind, listen.  Setup items (options, vmsock::control,
  // vmsock::unlink_on_close) after the endpoint or the backlog are applied
  // before bind: listen(ep, vmsock::v6_only{false}), listen(ep, 128,
  // vmsock::reuse_port{true}).  With a trailing std::error_code& it is noexcept.
  static listener listen(const Endpoint& local, int backlog, std::error_code& ec) noexcept {
    detail::setup_failure f;
    return listen_with(local, backlog, ec, f);
  }
  static listener listen(const Endpoint& local, std::error_code& ec) noexcept {
    return listen(local, default_backlog, ec);
  }
  static listener listen(const Endpoint& local, int backlog = default_backlog) {
    return listen_throwing(local, backlog);
  }
  template <class I, class... A,
            std::enable_if_t<detail::all_setup_items<I, A...> && !detail::is_ec<I>, int> = 0>
  static listener listen(const Endpoint& local, const I& item, const A&... items) {
    return listen_throwing(local, default_backlog, item, items...);
  }
  template <class I, class... A,
            std::enable_if_t<detail::all_setup_items<I, A...> && !detail::is_ec<I>, int> = 0>
  static listener listen(const Endpoint& local, int backlog, const I& item, const A&... items) {
    return listen_throwing(local, backlog, item, items...);
  }
  template <class... A, std::enable_if_t<detail::items_then_ec<A&&...>::value, int> = 0>
  static listener listen(const Endpoint& local, A&&... a) noexcept {
    detail::setup_failure f;
    return listen_with(local, default_backlog, detail::last_ec(a...), f, a...);
  }
  template <class... A, std::enable_if_t<detail::items_then_ec<A&&...>::value, int> = 0>
  static listener listen(const Endpoint& local, int backlog, A&&... a) noexcept {
    detail::setup_failure f;
    return listen_with(local, backlog, detail::last_ec(a...), f, a...);
  }

  // ---- accept ----
  // Waits for and returns the next connection (and, with `peer`, who it is
  // from), until `when` if given: expiry is errc::timed_out.  With no deadline
  // the listener's SO_RCVTIMEO, if set, bounds the wait.  A non-blocking
  // listener reports would_block instead of waiting (with no deadline).  A
  // connection another
  // thread took first is waited past, so several threads may accept on one
  // listener.
  Socket accept(Endpoint& peer, std::error_code& ec) noexcept {
    return accept_until(&peer, deadline::never(), ec);
  }
  Socket accept(std::error_code& ec) noexcept {
    return accept_until(nullptr, deadline::never(), ec);
  }
  Socket accept(deadline when, Endpoint& peer, std::error_code& ec) noexcept {
    return accept_until(&peer, when, ec);
  }
  Socket accept(deadline when, std::error_code& ec) noexcept {
    return accept_until(nullptr, when, ec);
  }

  Socket accept(Endpoint& peer) { return accept_throwing(&peer, deadline::never()); }
  Socket accept() { return accept_throwing(nullptr, deadline::never()); }
  Socket accept(deadline when, Endpoint& peer) { return accept_throwing(&peer, when); }
  Socket accept(deadline when) { return accept_throwing(nullptr, when); }

  // ---- closing ----
  void close(std::error_code& ec) noexcept {
    unlink_file();
    base::close(ec);
  }
  void close() {
    unlink_file();
    base::close();
  }
  // The caller owns the handle, and the socket file stays.
  typename Policy::handle release() noexcept {
    forget_file();
    return base::release();
  }

  // Whether close() removes the socket file this Unix listener made (the
  // default).  No effect for other endpoint types.
  void set_unlink_on_close(bool on) noexcept {
    if constexpr (is_unix)
      files().unlink = on;
    else
      (void)on;
  }

 private:
  listener(typename base::owned_t t, typename Policy::handle h, socket_type type) noexcept
      : base(t, h, type) {}

  file_state& files() noexcept { return *this; }
  const file_state& files() const noexcept { return *this; }

  void become_listener(std::error_code& ec) noexcept {
    this->listening_ = true;
    if constexpr (Policy::kernel_waits)
      Policy::set_nonblocking(this->handle_, true, ec);
    else
      ec.clear();
  }

  template <class... A>
  VMSOCK_NOINLINE static listener listen_with(const Endpoint& local, int backlog,
                                              std::error_code& ec, detail::setup_failure& f,
                                              const A&... items) noexcept {
    listener l = open(ec);
    if (ec) {
      f.what = detail::setup_failure::step::open;
      return listener{};
    }
    if (!detail::apply_items(l, ec, f, items...)) return listener{};
    l.bind(local, ec);
    if (ec) {
      f.what = detail::setup_failure::step::bind;
      return listener{};
    }
    l.listen(backlog, ec);
    if (ec) {
      f.what = detail::setup_failure::step::act;
      return listener{};
    }
    return l;
  }
  template <class... A>
  static listener listen_throwing(const Endpoint& local, int backlog, const A&... items) {
    std::error_code ec;
    detail::setup_failure f;
    auto l = listen_with(local, backlog, ec, f, items...);
    if (ec)
      detail::throw_error(
          ec, detail::setup_message(
                  "listen on " + detail::describe_failure(local, Socket::kind, ec), f, items...));
    return l;
  }

  VMSOCK_NOINLINE Socket accept_until(Endpoint* peer, const deadline& when,
                                      std::error_code& ec) noexcept {
    for (;;) {
      typename base::native_storage sa{};
      std::size_t len = 0;
      Socket s(base::owned, this->accept_native(&sa, sizeof sa, len, when, ec), Socket::kind);
      if (ec) return Socket{};
      if (filter_ == nullptr) {
        // Only a caller that asked for the peer has it converted.
        if (peer != nullptr) base::peer_from_os(&sa, len, *peer);
        return s;
      }
      Endpoint from{};
      if (base::peer_from_os(&sa, len, from) && filter_->allows(from, s)) {
        if (peer != nullptr) *peer = from;
        return s;
      }
      rejected_.fetch_add(1, std::memory_order_relaxed);
      std::error_code ignored;
      s.close(ignored);  // and wait for the next one, by the same deadline
    }
  }
  Socket accept_throwing(Endpoint* peer, const deadline& when) {
    std::error_code ec;
    auto s = accept_until(peer, when, ec);
    if (ec) this->fail(ec, "accept on");
    return s;
  }

  // A socket file at `path` that nothing accepts on: a connect to it is refused.
  bool stale(const Endpoint& local, const char* path) noexcept {
    typename Policy::file_id found{};
    if (!Policy::socket_file(path, found)) return false;  // none, or not a socket: leave it
    std::error_code ec;
    auto probe = base::open(Socket::kind, ec);
    if (ec) return false;
    Policy::set_nonblocking(probe.native_handle(), true, ec);
    if (ec) return false;
    const auto sa = local.to_native();
    Policy::connect(probe.native_handle(), &sa, local.native_size(), ec);
    return ec == std::errc::connection_refused;
  }

  void unlink_file() noexcept {
    if constexpr (is_unix) {
      file_state& st = files();
      if (st.owned && st.unlink && this->is_open()) {
        std::error_code ec;
        const Endpoint local = this->local_endpoint(ec);
        if (!ec && local.type() == Endpoint::kind::path) {
          const detail::path_buffer path(local.name());
          typename Policy::file_id now{};
          if (Policy::socket_file(path.text, now) && now == st.id)
            Policy::remove_file(path.text, ec);
        }
      }
      st.owned = false;
    }
  }
  void forget_file() noexcept {
    if constexpr (is_unix) files().owned = false;
  }

  std::unique_ptr<detail::peer_filter<Endpoint, Socket>> filter_;
  std::atomic<std::uint64_t> rejected_{0};
};

template <class Endpoint, class Policy = default_policy>
using seqpacket_listener = listener<Endpoint, Policy, seqpacket_socket<Endpoint, Policy>>;

// A setup step for Unix listeners: whether close() removes the socket file
// (default true).  unix_listener::listen(ep, vmsock::unlink_on_close{false}).
struct unlink_on_close {
  bool value = true;
  static constexpr bool setup_step = true;
  static constexpr const char* name = "unlink_on_close";
  template <class S> void apply(S& s, std::error_code& ec) const noexcept {
    static_assert(std::is_same_v<typename S::endpoint_type, unix_endpoint>,
                  "vmsock::unlink_on_close applies to Unix listeners only");
    s.set_unlink_on_close(value);
    ec.clear();
  }
  void append_value(std::string& out) const { out += value ? "true" : "false"; }
};

VMSOCK_END_NAMESPACE
