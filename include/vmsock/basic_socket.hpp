// basic_socket<Endpoint, Policy>: one owned OS socket handle.  The socket
// categories (stream_socket, listener, datagram_socket, seqpacket_socket)
// derive from it.
//
// Every fallible operation comes twice: one throws std::system_error whose
// message names the operation and the endpoint ("connect to vsock://2:5000:
// Connection refused"); the other takes std::error_code& and is noexcept.
// Nothing here calls the OS: the Policy does.
//
// Lifecycle.  Every call that waits ends: by its deadline, by cancel() from
// any thread, or by the peer.  cancel() is final: the blocked calls return
// std::errc::operation_canceled and so does every later call that could wait,
// until close().  How a wait is ended depends on where it waits:
//   - in the OS (POSIX send and receive on a blocking socket, without a
//     deadline: one system call, as raw code makes): cancel() shuts the socket
//     down (SHUT_RDWR), which ends the call;
//   - in poll()/select() (accept, connect, waits, calls with a deadline, every
//     wait on Windows): beside the socket's wake-up handle, made on the first
//     such wait and signalled by cancel().
// cancel() shuts the socket down in either case, on every platform: the peer
// sees the stream end then, not at close().
// cancel() may run concurrently with any call and with close(); not with the
// socket's destruction or a move of it.
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/config.hpp>
#include <vmsock/detail/os_address.hpp>
#include <vmsock/error.hpp>
#include <vmsock/hyperv.hpp>
#include <vmsock/inet.hpp>
#include <vmsock/options.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/socket_base.hpp>
#include <vmsock/unix.hpp>
#include <vmsock/vsock.hpp>
#if VMSOCK_WINDOWS
#  include <vmsock/hv_registry.hpp>  // the WSAEACCES hint of Hyper-V sockets
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace vmsock {

namespace detail {

// How an endpoint is written in an error message: IP endpoints get the scheme of
// the socket type (tcp:// or udp://); the others carry their own.
template <class E>
std::string describe(const E& ep, socket_type type) {
  if constexpr (is_ip_endpoint<E>) {
    std::string s = type == socket_type::datagram ? "udp://" : "tcp://";
    s += ep.to_string();
    return s;
  } else {
    (void)type;
    return ep.to_string();
  }
}

// The same in the message of a failed bind, listen or connect; a Hyper-V
// socket that Windows refused with WSAEACCES gets the hint that its service
// may not be registered (hv_registry.hpp), naming the service id.
template <class E>
std::string describe_failure(const E& ep, socket_type type, const std::error_code& ec) {
  std::string s = describe(ep, type);
#if VMSOCK_WINDOWS
  if constexpr (std::is_same_v<E, hv_endpoint>) {
    hv::detail::append_access_denied_hint(s, ec, ep.service_id);
  } else if constexpr (std::is_same_v<E, vsock_endpoint>) {  // AF_HYPERV on Windows
    if (const auto id = hv::service_id_from_port(ep.port))
      hv::detail::append_access_denied_hint(s, ec, *id);
  }
#else
  (void)ec;
#endif
  return s;
}

// An accepted Unix connection's peer has no name; the listener's path says more.
template <class E>
bool is_unnamed(const E& ep) noexcept {
  if constexpr (std::is_same_v<E, unix_endpoint>)
    return ep.is_unnamed();
  else
    return (void)ep, false;
}

// "open IPv4 datagram socket": what an open() that failed was opening.
template <class E>
std::string open_what(socket_type type) {
  std::string s = "open ";
  if constexpr (std::is_same_v<E, inet4_endpoint>) s += "IPv4 ";
  else if constexpr (std::is_same_v<E, inet6_endpoint>) s += "IPv6 ";
  else if constexpr (std::is_same_v<E, unix_endpoint>) s += "Unix ";
  else if constexpr (std::is_same_v<E, vsock_endpoint>) s += "VSOCK ";
  else if constexpr (std::is_same_v<E, hv_endpoint>) s += "Hyper-V ";
  s += type == socket_type::stream ? "stream" : type == socket_type::datagram ? "datagram" : "seqpacket";
  s += " socket";
  return s;
}

// Policies that must account for a handle the user hands over (Winsock's
// start-up reference) provide adopt(); for the others it is nothing.
template <class Policy, class = void>
struct has_adopt : std::false_type {};
template <class Policy>
struct has_adopt<Policy, std::void_t<decltype(Policy::adopt(Policy::invalid_handle))>>
    : std::true_type {};

template <class Policy>
void adopt_handle(typename Policy::handle h) noexcept {
  if constexpr (has_adopt<Policy>::value) Policy::adopt(h);
  else (void)h;
}

inline bool would_block(const std::error_code& ec) noexcept {
  return ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again;
}

inline std::error_code canceled() noexcept {
  return std::make_error_code(std::errc::operation_canceled);
}

// What cancel(), in any thread, shares with the socket's calls.  The handles
// are copies of the socket's, atomic so that cancel() can read them while
// close() runs; close() waits for a cancel() in progress before it closes them.
template <class Policy>
struct cancel_state {
  using handle = typename Policy::handle;
  using wake_handle = typename Policy::wake_handle;
  std::atomic<bool> cancelled{false};
  std::atomic<int> cancellers{0};  // cancel() calls in progress
  std::atomic<handle> os_handle{Policy::invalid_handle};
  std::atomic<wake_handle> wake{Policy::invalid_wake};

  cancel_state() noexcept = default;
  // Moves happen with no other thread using either socket.
  cancel_state(cancel_state&& o) noexcept { take(o); }
  cancel_state& operator=(cancel_state&& o) noexcept {
    take(o);
    return *this;
  }

  void take(cancel_state& o) noexcept {
    cancelled.store(o.cancelled.exchange(false, std::memory_order_relaxed), std::memory_order_relaxed);
    os_handle.store(o.os_handle.exchange(Policy::invalid_handle, std::memory_order_relaxed),
                    std::memory_order_relaxed);
    wake.store(o.wake.exchange(Policy::invalid_wake, std::memory_order_relaxed),
               std::memory_order_relaxed);
  }

  // cancel(): see the top of this file.
  void cancel() noexcept {
    cancellers.fetch_add(1);
    const handle h = os_handle.load();
    if (h != Policy::invalid_handle) {
      cancelled.store(true);
      const wake_handle w = wake.load();
      if (w != Policy::invalid_wake) Policy::signal_wake(w);
      // Ends a call waiting inside the OS; one about to start finds the socket
      // shut down and returns at once (shutdown is a state, not an event).
      Policy::interrupt(h);
    }
    cancellers.fetch_sub(1);
  }

  // Before the socket's handle is closed or handed out: cancel() no longer
  // sees it, the wake-up handle is closed, the cancellation is forgotten.
  void detach() noexcept {
    os_handle.store(Policy::invalid_handle);
    while (cancellers.load() != 0) Policy::yield();
    const wake_handle w = wake.exchange(Policy::invalid_wake);
    if (w != Policy::invalid_wake) Policy::close_wake(w);
    cancelled.store(false, std::memory_order_relaxed);
  }

  // The wake-up handle, made on first use.  Then cancelled is read again: a
  // cancel() that ran before the handle existed is seen here, one that runs
  // after sees the handle (both sides are sequentially consistent).
  bool arm(wake_handle& w, std::error_code& ec) noexcept {
    w = wake.load();
    if (w == Policy::invalid_wake) {
      const wake_handle made = Policy::open_wake(ec);
      if (ec) return false;
      wake_handle expected = Policy::invalid_wake;
      if (wake.compare_exchange_strong(expected, made)) {
        w = made;
      } else {  // another thread of this socket made one first
        Policy::close_wake(made);
        w = expected;
      }
    }
    if (cancelled.load()) {
      ec = canceled();
      return false;
    }
    return true;
  }
};

}  // namespace detail

template <class Endpoint, class Policy = default_policy>
class basic_socket {
 protected:
  using os = detail::os_address<Policy, Endpoint>;
  using os_endpoint = typename os::type;

 public:
  using endpoint_type = Endpoint;
  using policy_type = Policy;
  using native_handle_type = typename Policy::handle;

  // The family and protocol the OS sees: AF_VSOCK for an hv_endpoint on Linux,
  // AF_HYPERV for a vsock_endpoint on Windows.
  static constexpr int native_family = os_endpoint::family;
  static constexpr int native_protocol = os_endpoint::protocol;

  basic_socket() noexcept = default;
  // Adopts an open handle of the given type; the socket closes it.  Its
  // blocking mode is read where the OS tells it (POSIX), else taken to be
  // blocking.  (On Windows the policy takes a Winsock reference for it,
  // released by close, and makes it non-blocking inside Winsock.)
  explicit basic_socket(native_handle_type h, socket_type type = socket_type::stream) noexcept
      : handle_(h), type_(type) {
    if (h != Policy::invalid_handle) {
      nonblocking_ = Policy::is_nonblocking(h);
      detail::adopt_handle<Policy>(h);
      cancel_.os_handle.store(h, std::memory_order_relaxed);
    }
  }

  basic_socket(const basic_socket&) = delete;
  basic_socket& operator=(const basic_socket&) = delete;
  basic_socket(basic_socket&& o) noexcept
      : handle_(std::exchange(o.handle_, Policy::invalid_handle)),
        type_(o.type_),
        nonblocking_(o.nonblocking_),
        listening_(o.listening_),
        cancel_(std::move(o.cancel_)) {}
  basic_socket& operator=(basic_socket&& o) noexcept {
    if (this != &o) {
      reset();
      handle_ = std::exchange(o.handle_, Policy::invalid_handle);
      type_ = o.type_;
      nonblocking_ = o.nonblocking_;
      listening_ = o.listening_;
      cancel_ = std::move(o.cancel_);
    }
    return *this;
  }
  ~basic_socket() { reset(); }

  native_handle_type native_handle() const noexcept { return handle_; }
  bool is_open() const noexcept { return handle_ != Policy::invalid_handle; }
  socket_type type() const noexcept { return type_; }
  // Gives up ownership: the caller closes the returned handle (on Windows it
  // also owns the handle's WSAStartup reference: see policy/winsock.hpp).  The
  // handle is blocking unless set_nonblocking(true) was asked for, whatever
  // vmsock did with it inside.
  native_handle_type release() noexcept {
    if (!is_open()) return Policy::invalid_handle;
    const bool restore = os_nonblocking() && !nonblocking_;
    cancel_.detach();
    const native_handle_type h = std::exchange(handle_, Policy::invalid_handle);
    if (restore) {
      std::error_code ignored;
      Policy::set_nonblocking(h, false, ignored);
    }
    return h;
  }

  // The handle is released even when the OS reports an error for the close.
  void close(std::error_code& ec) noexcept {
    if (!is_open()) {
      ec.clear();
      return;
    }
    cancel_.detach();
    Policy::close(std::exchange(handle_, Policy::invalid_handle), ec);
  }
  void close() {
    if (!is_open()) return;
    // The names are read (no allocation) while the handle lives, and turned
    // into text only if the close fails.
    const names n = read_names();
    std::error_code ec;
    close(ec);
    if (ec) detail::throw_error(ec, "close of", describe(n));
  }

  // Ends every call waiting on this socket, in any thread, with
  // std::errc::operation_canceled, and makes every later call that could wait
  // fail the same way at once, until close().  Thread-safe; never fails; does
  // nothing on a closed socket.  See the top of this file for how.
  void cancel() noexcept { cancel_.cancel(); }
  bool is_cancelled() const noexcept { return cancel_.cancelled.load(); }

  Endpoint local_endpoint(std::error_code& ec) const noexcept {
    return name_of(false, ec);
  }
  Endpoint local_endpoint() const {
    std::error_code ec;
    auto ep = local_endpoint(ec);
    if (ec) fail(ec, "local_endpoint of");
    return ep;
  }

  template <class Option>
  void set_option(const Option& opt, std::error_code& ec) noexcept {
    static_assert(Option::template applies_to<Endpoint>,
                  "vmsock: this socket option does not apply to this endpoint type");
    if (const errc e = opt.validate(); e != errc{}) {
      ec = make_error_code(e);
      return;
    }
    Policy::set_option(handle_, Option::id, opt.encode(), ec);
  }
  // The message names the option and its value: "set_option
  // receive_buffer_size=-1 on tcp://127.0.0.1:5000: ...".
  template <class Option>
  void set_option(const Option& opt) {
    std::error_code ec;
    set_option(opt, ec);
    if (ec) fail(ec, "set_option " + detail::option_text(opt) + " on");
  }

  template <class Option>
  Option get_option(std::error_code& ec) const noexcept {
    static_assert(Option::template applies_to<Endpoint>,
                  "vmsock: this socket option does not apply to this endpoint type");
    option_value v;
    Policy::get_option(handle_, Option::id, v, ec);
    if (ec) return Option{};
    return Option::template decode<Option>(v);
  }
  template <class Option>
  Option get_option() const {
    std::error_code ec;
    auto o = get_option<Option>(ec);
    if (ec) fail(ec, std::string("get_option ") + Option::name + " on");
    return o;
  }

  // A non-blocking socket never waits in a call without a deadline: a call that
  // would, reports would_block (send_all and receive_exact with the count done
  // so far).  A call given a deadline waits until then in either mode.
  void set_nonblocking(bool on, std::error_code& ec) noexcept {
    if (!is_open()) {
      ec = Policy::closed_error();
      return;
    }
    // Listeners (and, on Windows, every socket) stay non-blocking in the OS.
    const bool internal = !Policy::kernel_waits || listening_;
    if (!internal) {
      Policy::set_nonblocking(handle_, on, ec);
      if (ec) return;
    }
    ec.clear();
    nonblocking_ = on;
  }
  void set_nonblocking(bool on) {
    std::error_code ec;
    set_nonblocking(on, ec);
    if (ec) fail(ec, "set_nonblocking on");
  }
  bool is_nonblocking() const noexcept { return nonblocking_; }

  // true when ready; false when the deadline passed (not an error).  A wait on a
  // non-blocking socket waits too: it is how one waits for one.
  bool wait_readable(deadline when, std::error_code& ec) const noexcept {
    return wait_ready(wait_type::readable, when, ec);
  }
  bool wait_readable(deadline when = deadline::never()) const {
    std::error_code ec;
    const bool r = wait_readable(when, ec);
    if (ec) fail(ec, "wait_readable on");
    return r;
  }
  bool wait_writable(deadline when, std::error_code& ec) const noexcept {
    return wait_ready(wait_type::writable, when, ec);
  }
  bool wait_writable(deadline when = deadline::never()) const {
    std::error_code ec;
    const bool r = wait_writable(when, ec);
    if (ec) fail(ec, "wait_writable on");
    return r;
  }

  // Windows port reservations (SIO_*_PORT_RESERVATION) for IP sockets; on POSIX
  // they fail with errc::unsupported_on_platform.
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  std::uint64_t acquire_port_reservation(std::uint16_t start, std::uint16_t count,
                                         std::error_code& ec) noexcept {
    return Policy::acquire_port_reservation(handle_, start, count, ec);
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  std::uint64_t acquire_port_reservation(std::uint16_t start, std::uint16_t count) {
    std::error_code ec;
    const auto token = acquire_port_reservation(start, count, ec);
    if (ec) fail(ec, "acquire_port_reservation on");
    return token;
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  void associate_port_reservation(std::uint64_t token, std::error_code& ec) noexcept {
    Policy::associate_port_reservation(handle_, token, ec);
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  void associate_port_reservation(std::uint64_t token) {
    std::error_code ec;
    associate_port_reservation(token, ec);
    if (ec) fail(ec, "associate_port_reservation on");
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  void release_port_reservation(std::uint64_t token, std::error_code& ec) noexcept {
    Policy::release_port_reservation(handle_, token, ec);
  }
  template <class E = Endpoint, std::enable_if_t<detail::is_ip_endpoint<E>, int> = 0>
  void release_port_reservation(std::uint64_t token) {
    std::error_code ec;
    release_port_reservation(token, ec);
    if (ec) fail(ec, "release_port_reservation on");
  }

  // An unbound socket of this endpoint type (bind/connect come later).
  static basic_socket open(socket_type type, std::error_code& ec) noexcept {
    return basic_socket(owned, Policy::open(native_family, type, native_protocol, ec), type);
  }
  static basic_socket open(socket_type type) {
    std::error_code ec;
    auto s = open(type, ec);
    if (ec) detail::throw_error(ec, detail::open_what<Endpoint>(type));
    return s;
  }

  // Binds to `ep`.
  void bind(const Endpoint& ep, std::error_code& ec) noexcept {
    os_endpoint native;
    if (!to_os(ep, native, ec)) return;
    const auto sa = native.to_native();
    Policy::bind(handle_, &sa, native.native_size(), ec);
  }
  void bind(const Endpoint& ep) {
    std::error_code ec;
    bind(ep, ec);
    if (ec) detail::throw_error(ec, "bind to", detail::describe_failure(ep, type_, ec));
  }

 protected:
  // Wraps a handle the policy just opened or accepted (which already holds
  // whatever the policy needs): no adoption step.
  struct owned_t {};
  static constexpr owned_t owned{};
  basic_socket(owned_t, native_handle_type h, socket_type type) noexcept : handle_(h), type_(type) {
    cancel_.os_handle.store(h, std::memory_order_relaxed);
  }

  // Moves this socket into `dst` while another thread may be in cancel() on
  // this one (a connector handing over its connection): that cancel() either
  // finishes first, and `dst` inherits the cancellation, or finds nothing.
  void move_to(basic_socket& dst) noexcept {
    const native_handle_type h = cancel_.os_handle.exchange(Policy::invalid_handle);
    while (cancel_.cancellers.load() != 0) Policy::yield();
    dst = std::move(*this);
    dst.cancel_.os_handle.store(h);
  }

  // Whether the OS handle is non-blocking (so that no call waits inside it).
  bool os_nonblocking() const noexcept {
    return nonblocking_ || !Policy::kernel_waits || listening_;
  }

  // The first check of every call that could wait.
  bool usable(std::error_code& ec) const noexcept {
    if (!is_open()) {
      ec = Policy::closed_error();
      return false;
    }
    if (cancel_.cancelled.load(std::memory_order_acquire)) {
      ec = detail::canceled();
      return false;
    }
    return true;
  }

  // Waits for `what` (and for cancel()) until `when`.  ready: go on.
  // timed_out: ec is clear.  Otherwise ec says why (operation_canceled, or the
  // OS's error).
  wait_result wait_for(wait_type what, const deadline& when, std::error_code& ec) const noexcept {
    typename Policy::wake_handle w;
    if (!cancel_.arm(w, ec)) return wait_result::woken;
    const wait_result r = Policy::poll(handle_, what, w, when, ec);
    if (ec) return wait_result::woken;
    if (r == wait_result::woken) ec = detail::canceled();
    return r;
  }

  bool wait_ready(wait_type what, const deadline& when, std::error_code& ec) const noexcept {
    if (!usable(ec)) return false;
    const wait_result r = wait_for(what, when, ec);  // an expired one still looks once
    return r == wait_result::ready && !ec;
  }

  // A send or receive that may have to wait.  On POSIX, a blocking socket
  // with no deadline waits in the system call, one call as raw code makes,
  // and cancel() interrupts it: the callers test waits_in_os() and make that
  // call themselves, then settled() tells a cancel() or SO_RCVTIMEO from a
  // plain result.  Otherwise the call does not wait in the OS (dont_wait) and
  // the waiting is done by io_waiting, in poll() beside the wake-up.  A
  // non-blocking socket reports would_block, unless the call has a deadline.
  // With no deadline, the socket's own receive/send timeout
  // (SO_RCVTIMEO/SO_SNDTIMEO) bounds the wait.  The deadline's expiry is
  // errc::timed_out.
  template <class When>
  bool waits_in_os(const When& when) const noexcept {
    if constexpr (Policy::kernel_waits)
      return !nonblocking_ && when.is_never();
    else
      return (void)when, false;
  }
  bool cancelled_now(std::error_code& ec) const noexcept {
    if (!cancel_.cancelled.load(std::memory_order_relaxed)) return false;
    ec = detail::canceled();
    return true;
  }
  std::size_t settled(std::size_t n, std::error_code& ec) const noexcept {
    if (ec || n == 0) settle(ec);
    return n;
  }

  // After a system call that waited in the OS came back with nothing: was it
  // cancel() (which shut the socket down), or SO_RCVTIMEO/SO_SNDTIMEO (EAGAIN
  // on a blocking socket)?
  VMSOCK_NOINLINE void settle(std::error_code& ec) const noexcept {
    if (cancel_.cancelled.load()) {
      ec = detail::canceled();
      return;
    }
    if (ec && detail::would_block(ec)) ec = make_error_code(errc::timed_out);
  }

  // A transfer as the waiting path needs it described (built only there, so
  // that the hot path keeps its arguments in registers).
  struct transfer {
    enum class kind : unsigned char { send, receive, send_to, receive_from };
    kind what;
    const void* bufs;
    std::size_t count;
    message_flags flags;
    const void* to = nullptr;      // send_to: the address
    std::size_t to_len = 0;
    void* from = nullptr;          // receive_from: where the sender goes
    std::size_t* from_len = nullptr;
  };

  std::size_t attempt(const transfer& t, message_flags extra, std::error_code& ec) const noexcept {
    const message_flags f = t.flags | extra;
    switch (t.what) {
      case transfer::kind::send:
        return Policy::send(handle_, static_cast<const const_buffer*>(t.bufs), t.count, f, ec);
      case transfer::kind::receive:
        return Policy::receive(handle_, static_cast<const mutable_buffer*>(t.bufs), t.count, f, ec);
      case transfer::kind::send_to:
        return Policy::send_to(handle_, static_cast<const const_buffer*>(t.bufs), t.count, f, t.to,
                               t.to_len, ec);
      case transfer::kind::receive_from:
        *t.from_len = sizeof(native_storage);
        return Policy::receive_from(handle_, static_cast<const mutable_buffer*>(t.bufs), t.count, f,
                                    t.from, *t.from_len, ec);
    }
    return 0;
  }

  VMSOCK_NOINLINE std::size_t io_waiting(wait_type what, const deadline& when, const transfer& t,
                                         std::error_code& ec) noexcept {
    if (!usable(ec)) return 0;
    deadline limit = when;
    bool first = true;
    for (;;) {
      const std::size_t n = attempt(t, message_flags::dont_wait, ec);
      // A non-blocking socket does not wait, unless the call has a deadline:
      // that asks to wait until then.
      if (!ec || !detail::would_block(ec) || (nonblocking_ && when.is_never())) {
        if (ec && cancel_.cancelled.load()) ec = detail::canceled();  // shut down under it
        return n;
      }
      if (first && when.is_never()) {
        const timeout tm = Policy::blocking_timeout(handle_, what);
        if (tm != no_timeout) limit = deadline(tm);
      }
      first = false;
      if (limit.expired()) {  // a deadline already passed: that was the one try
        ec = make_error_code(errc::timed_out);
        return 0;
      }
      const wait_result r = wait_for(what, limit, ec);
      if (ec) return 0;
      if (r == wait_result::timed_out) {
        ec = make_error_code(errc::timed_out);
        return 0;
      }
    }
  }

  // Connects this open socket to `native`, waiting at most until `when` (and
  // for cancel()).  The connect is non-blocking in the OS whatever the socket's
  // mode, so that cancel() reaches it and the deadline is exact; expiry is
  // errc::timed_out.  A full Unix backlog fails at once (EAGAIN: Linux gives
  // a non-blocking connect no way to wait for room).
  void connect_to(const os_endpoint& native, const deadline& when,
                  std::error_code& ec) noexcept {
    if (!usable(ec)) return;
    const auto h = handle_;
    const bool restore = !os_nonblocking();
    if (restore) {
      Policy::set_nonblocking(h, true, ec);
      if (ec) return;
    }
    Policy::prepare_connect(h, native_family, when, ec);
    if (ec) return;
    const auto sa = native.to_native();
    Policy::connect(h, &sa, native.native_size(), ec);
    if (ec == std::errc::operation_in_progress) {
      const wait_result r =
          when.expired() ? wait_result::timed_out : wait_for(wait_type::writable, when, ec);
      if (ec) return;
      if (r == wait_result::timed_out) {
        ec = make_error_code(errc::timed_out);
        return;
      }
      Policy::pending_error(h, ec);
    }
    if (ec) {
      // Linux VSOCK answers a port nobody listens on with ECONNRESET.
      if constexpr (native_family == vsock::address_family) {
        if (ec == std::errc::connection_reset) ec = make_error_code(errc::vsock_connection_refused);
      }
      if (cancel_.cancelled.load()) ec = detail::canceled();
      return;
    }
    if (restore) Policy::set_nonblocking(h, false, ec);
  }

  static bool to_os(const Endpoint& ep, os_endpoint& out, std::error_code& ec) noexcept {
    const errc e = os::to_os(ep, out);
    if (e != errc{}) {
      ec = make_error_code(e);
      return false;
    }
    return true;
  }
  static bool from_os(const void* sa, std::size_t len, Endpoint& out, std::error_code& ec) noexcept {
    const auto native = os_endpoint::from_native(sa, len);
    if (!native) {
      ec = make_error_code(errc::address_family_mismatch);
      return false;
    }
    const errc e = os::from_os(*native, out);
    if (e != errc{}) {
      ec = make_error_code(e);
      return false;
    }
    ec.clear();
    return true;
  }

  // Storage big enough for the OS's form of this endpoint type.
  using native_storage = typename os_endpoint::native_type;

  Endpoint name_of(bool peer, std::error_code& ec) const noexcept {
    Endpoint ep{};
    if (!is_open()) {
      ec = Policy::closed_error();
      return ep;
    }
    native_storage sa{};
    std::size_t len = sizeof sa;
    if (peer)
      Policy::peer_name(handle_, &sa, len, ec);
    else
      Policy::local_name(handle_, &sa, len, ec);
    if (!ec) from_os(&sa, len, ep, ec);
    return ep;
  }

  // What an error message may name this socket by, read without allocating:
  // its peer (a connected socket, a connected datagram socket included) and
  // its own address, and the handle.
  struct names {
    native_storage peer{}, local{};
    std::size_t peer_len = 0, local_len = 0;  // 0: not known
    native_handle_type handle = Policy::invalid_handle;
  };
  names read_names() const noexcept {
    names n;
    n.handle = handle_;
    if (!is_open()) return n;
    std::error_code ec;
    if (!listening_) {
      n.peer_len = sizeof n.peer;
      Policy::peer_name(handle_, &n.peer, n.peer_len, ec);
      if (ec) n.peer_len = 0;
    }
    n.local_len = sizeof n.local;
    Policy::local_name(handle_, &n.local, n.local_len, ec);
    if (ec) n.local_len = 0;
    return n;
  }
  // The best of them: the peer, else the local endpoint (an accepted Unix
  // connection's peer is unnamed; the listener's path says more), else the handle.
  std::string describe(const names& n) const {
    if (n.handle == Policy::invalid_handle) return "a closed socket";
    std::error_code ec;
    Endpoint ep{};
    if (n.peer_len != 0 && from_os(&n.peer, n.peer_len, ep, ec) && !detail::is_unnamed(ep))
      return detail::describe(ep, type_);
    if (n.local_len != 0 && from_os(&n.local, n.local_len, ep, ec) && !detail::is_unnamed(ep))
      return detail::describe(ep, type_);
    std::string s = "socket ";
    detail::append_decimal(s, static_cast<std::uint64_t>(n.handle));
    return s;
  }
  // Only ever called on an error path.
  std::string describe_self() const { return describe(read_names()); }

  [[noreturn]] VMSOCK_NOINLINE void fail(const std::error_code& ec, std::string_view op) const {
    detail::throw_error(ec, op, describe_self());
  }

  void reset() noexcept {
    if (is_open()) {
      std::error_code ignored;
      close(ignored);
    }
  }

  native_handle_type handle_ = Policy::invalid_handle;
  socket_type type_ = socket_type::stream;
  bool nonblocking_ = false;  // what the user asked for
  bool listening_ = false;    // a listener: non-blocking in the OS, accept waits in poll
  mutable detail::cancel_state<Policy> cancel_;
};

}  // namespace vmsock
