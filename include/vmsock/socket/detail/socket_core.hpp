// socket_core<Policy>: what every vmsock socket is, whatever its endpoint type:
// one owned handle, its modes, the state cancel() shares with blocked calls,
// and the calls that wait (in the OS, or in poll() beside the wake-up).  Kept
// apart from basic_socket<Endpoint, Policy> so that this code is made once per
// policy, not once per endpoint type (any_stream_socket holds five).
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
//     such wait and signalled by cancel(); on the socket alone where the
//     policy says cancel()'s shutdown ends a poll (Linux IP and Unix sockets:
//     one descriptor per socket), and cancelled is read when it returns.
// cancel() shuts the socket down in either case, on every platform: the peer
// sees the stream end then, not at close().  It may run concurrently with any
// call and with close(); not with the socket's destruction or a move of it.
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/config.hpp>
#include <vmsock/socket/detail/group_link.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/types.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE

template <class Policy>
class basic_any_stream_socket;
class connection_group;

namespace detail {

// Policies that must account for a handle the user hands over (Winsock's
// start-up reference) provide adopt(); for the others it is nothing.
template <class Policy, class = void>
struct has_adopt : std::false_type {};
template <class Policy>
struct has_adopt<Policy, std::void_t<decltype(Policy::adopt(Policy::invalid_handle))>>
    : std::true_type {};

// Whether cancel()'s shutdown ends a poll() on a socket of `family` (see
// policy/posix.hpp); policies that do not say keep a wake-up handle.
template <class Policy, class = void>
struct has_shutdown_wakes : std::false_type {};
template <class Policy>
struct has_shutdown_wakes<Policy, std::void_t<decltype(Policy::shutdown_wakes_poll(0))>>
    : std::true_type {};
template <class Policy>
constexpr bool shutdown_wakes_poll(int family) noexcept {
  if constexpr (has_shutdown_wakes<Policy>::value) {
    return Policy::shutdown_wakes_poll(family);
  } else {
    return (void)family, false;
  }
}

// Adopts `h`: true when the policy took what it needs for it (Winsock's
// start-up reference), so that closing it may give that back.
template <class Policy>
bool adopt_handle(typename Policy::handle h) noexcept {
  if constexpr (has_adopt<Policy>::value) {
    return Policy::adopt(h);
  } else {
    (void)h;
    return true;
  }
}

// Policies with a start-up reference count (Winsock) provide startup/cleanup.
template <class Policy, class = void>
struct has_startup : std::false_type {};
template <class Policy>
struct has_startup<Policy, std::void_t<decltype(Policy::startup(std::declval<std::error_code&>())),
                                       decltype(Policy::cleanup())>> : std::true_type {};

// Holds one start-up reference for as long as it lives, so that an operation
// of several attempts (connect_first, listen_all) does not start and stop
// Winsock between them.  Nothing where there is no such thing.
template <class Policy>
class startup_hold {
 public:
  startup_hold() noexcept {
    if constexpr (has_startup<Policy>::value) {
      std::error_code ec;
      held_ = Policy::startup(ec);
    }
  }
  ~startup_hold() {
    if constexpr (has_startup<Policy>::value) {
      if (held_) Policy::cleanup();
    }
  }
  startup_hold(const startup_hold&) = delete;
  startup_hold& operator=(const startup_hold&) = delete;

 private:
  bool held_ = false;
};

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
  // The socket's family is one whose shutdown ends a poll(): waits then poll
  // the socket alone, and no wake-up handle is ever made (one descriptor per
  // socket, however it waits).
  bool shutdown_wakes = false;
  // The connection_group this socket joined (see detail/group_link.hpp).
  std::shared_ptr<group_link> group;

  cancel_state() noexcept = default;
  // Moves happen with no other thread using either socket, but a group's
  // cancel_all() may run: the group follows the move (a moved socket stays
  // in its group) and cancels either the old state or the new one, whole.
  cancel_state(cancel_state&& o) noexcept { take(o); }
  cancel_state& operator=(cancel_state&& o) noexcept {
    take(o);
    return *this;
  }
  ~cancel_state() { leave_group(std::move(group)); }

  void take(cancel_state& o) noexcept {
    leave_group(std::move(group));
    std::shared_ptr<group_link> link = std::move(o.group);
    if (!link) return take_state(o);
    spin_guard hold(link->lock, link->yield);
    take_state(o);
    link->target = this;
    group = std::move(link);
  }

  void take_state(cancel_state& o) noexcept {
    shutdown_wakes = o.shutdown_wakes;
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

  // Before the socket's handle is closed or handed out: it leaves its group,
  // cancel() no longer sees it, the wake-up handle is closed, the
  // cancellation is forgotten.
  void detach() noexcept {
    leave_group(std::move(group));
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
    if (w == Policy::invalid_wake && !shutdown_wakes) {
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

template <class Policy>
class socket_core {
  // It moves bytes through the core of whichever socket it holds.
  template <class>
  friend class vmsock::basic_any_stream_socket;
  // It links the socket's cancel state to the group (and nothing else).
  friend class vmsock::connection_group;

 public:
  using native_handle_type = typename Policy::handle;

  native_handle_type native_handle() const noexcept { return handle_; }
  bool is_open() const noexcept { return handle_ != Policy::invalid_handle; }
  socket_type type() const noexcept { return type_; }

  // Gives up ownership: the caller closes the returned handle (on Windows it
  // also owns the handle's WSAStartup reference: see policy/winsock.hpp).  The
  // handle is blocking unless set_nonblocking(true) was asked for, whatever
  // vmsock did with it inside.
  VMSOCK_NOINLINE native_handle_type release() noexcept {
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
    close_open(ec);
  }

 private:
  // Out of line: a socket is closed once, and inlining this into every
  // destructor (of five socket types in a variant) costs builds, not calls.
  VMSOCK_NOINLINE void close_open(std::error_code& ec) noexcept {
    cancel_.detach();
    const native_handle_type h = std::exchange(handle_, Policy::invalid_handle);
    if constexpr (has_adopt<Policy>::value) {
      if (std::exchange(unreferenced_, false)) {
        Policy::close_unreferenced(h, ec);
        return;
      }
    }
    Policy::close(h, ec);
  }

 public:
  // Ends every call waiting on this socket, in any thread, with
  // std::errc::operation_canceled, and makes every later call that could wait
  // fail the same way at once, until close().  Thread-safe; never fails; does
  // nothing on a closed socket.  See the top of this file for how.
  void cancel() noexcept { cancel_.cancel(); }
  bool is_cancelled() const noexcept { return cancel_.cancelled.load(); }

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
  bool is_nonblocking() const noexcept { return nonblocking_; }

  // true when ready; false when the deadline passed (not an error).  A wait on a
  // non-blocking socket waits too: it is how one waits for one.
  bool wait_readable(deadline when, std::error_code& ec) const noexcept {
    return wait_ready(wait_type::readable, when, ec);
  }
  // Writable, or a connect of the user's own that failed (wait_type::connect).
  bool wait_writable(deadline when, std::error_code& ec) const noexcept {
    return wait_ready(wait_type::connect, when, ec);
  }

 protected:
  socket_core() noexcept = default;
  // Adopts an open handle (see basic_socket).
  explicit socket_core(native_handle_type h, socket_type type) noexcept : handle_(h), type_(type) {
    if (h != Policy::invalid_handle) {
      nonblocking_ = Policy::is_nonblocking(h);
      // A failed WSAStartup takes no reference, and close then gives none back.
      unreferenced_ = !adopt_handle<Policy>(h);
      cancel_.os_handle.store(h, std::memory_order_relaxed);
    }
  }
  // Wraps a handle the policy just opened or accepted (which already holds
  // whatever the policy needs): no adoption step.
  struct owned_t {};
  static constexpr owned_t owned{};
  socket_core(owned_t, native_handle_type h, socket_type type) noexcept : handle_(h), type_(type) {
    cancel_.os_handle.store(h, std::memory_order_relaxed);
  }
  socket_core(const socket_core&) = delete;
  socket_core& operator=(const socket_core&) = delete;
  socket_core(socket_core&& o) noexcept
      : handle_(std::exchange(o.handle_, Policy::invalid_handle)),
        type_(o.type_),
        nonblocking_(o.nonblocking_),
        listening_(o.listening_),
        unreferenced_(o.unreferenced_),
        cancel_(std::move(o.cancel_)) {}
  socket_core& operator=(socket_core&& o) noexcept {
    if (this != &o) {
      reset();
      handle_ = std::exchange(o.handle_, Policy::invalid_handle);
      type_ = o.type_;
      nonblocking_ = o.nonblocking_;
      listening_ = o.listening_;
      unreferenced_ = o.unreferenced_;
      cancel_ = std::move(o.cancel_);
    }
    return *this;
  }
  ~socket_core() { reset(); }

  // Moves this socket into `dst` while another thread may be in cancel() on
  // this one (a connector handing over its connection): that cancel() either
  // finishes first, and `dst` inherits the cancellation, or finds nothing.
  void move_to(socket_core& dst) noexcept {
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
    if (ec) {
      // A poll that failed because cancel() shut the socket down under it
      // (Winsock may answer so) was cancelled.
      if (cancel_.cancelled.load()) ec = detail::canceled();
      return wait_result::woken;
    }
    // Without a wake-up handle, cancel()'s shutdown makes the socket ready:
    // cancelled is set before it, so it is seen here.
    if (r == wait_result::ready && cancel_.shutdown_wakes && cancel_.cancelled.load()) {
      ec = detail::canceled();
      return wait_result::woken;
    }
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
    void* from = nullptr;          // receive_from: where the sender goes,
    std::size_t from_cap = 0;      // the room there is for it,
    std::size_t* from_len = nullptr;  // and how much it took
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
        *t.from_len = t.from_cap;
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

  // Connects this open socket to the OS address `sa` (of `family`), waiting at most until `when` (and
  // for cancel()).  The connect is non-blocking in the OS whatever the socket's
  // mode, so that cancel() reaches it and the deadline is exact; expiry is
  // errc::timed_out.  A full Unix backlog fails at once (EAGAIN: Linux gives
  // a non-blocking connect no way to wait for room).
  VMSOCK_NOINLINE void connect_native(const void* sa, std::size_t len, int family,
                                      const deadline& when, std::error_code& ec) noexcept {
    if (!usable(ec)) return;
    if (Policy::connect_overlapped(family)) {
      connect_overlapped(sa, len, when, ec);
      return;
    }
    const auto h = handle_;
    const bool restore = !os_nonblocking();
    if (restore) {
      Policy::set_nonblocking(h, true, ec);
      if (ec) return;
    }
    Policy::prepare_connect(h, family, when, ec);
    if (ec) return;
    Policy::connect(h, sa, len, ec);
    if (ec == std::errc::operation_in_progress) {
      const wait_result r =
          when.expired() ? wait_result::timed_out : wait_for(wait_type::connect, when, ec);
      if (ec) return;
      if (r == wait_result::timed_out) {
        ec = make_error_code(errc::timed_out);
        return;
      }
      Policy::pending_error(h, ec);
    }
    if (ec) {
      // Linux VSOCK answers a port nobody listens on with ECONNRESET.
      if (family == vsock::address_family && ec == std::errc::connection_reset)
        ec = make_error_code(errc::vsock_connection_refused);
      if (cancel_.cancelled.load()) ec = detail::canceled();
      return;
    }
    if (restore) Policy::set_nonblocking(h, false, ec);
  }

  // The stream transfers, for every connected kind (and any_stream_socket):
  // one system call's worth of send or receive, and send_all/receive_exact.
  template <class When>
  std::size_t send_until(const const_buffer* bufs, std::size_t count, message_flags flags,
                         const When& when, std::error_code& ec) noexcept {
    if (waits_in_os(when)) {
      if (cancelled_now(ec)) return 0;
      return settled(Policy::send(handle_, bufs, count, flags, ec), ec);
    }
    return io_waiting(wait_type::writable, when, {transfer::kind::send, bufs, count, flags}, ec);
  }
  template <class When>
  std::size_t receive_until(const mutable_buffer* bufs, std::size_t count, message_flags flags,
                            const When& when, std::error_code& ec) noexcept {
    if (waits_in_os(when)) {
      if (cancelled_now(ec)) return 0;
      return settled(Policy::receive(handle_, bufs, count, flags, ec), ec);
    }
    return io_waiting(wait_type::readable, when, {transfer::kind::receive, bufs, count, flags}, ec);
  }

  template <bool Sending, class Buffer, class When>
  std::size_t transfer_all(const Buffer* bufs, std::size_t count, const When& when,
                           std::error_code& ec) noexcept {
    const std::size_t done = count == 1 ? transfer_one<Sending>(bufs[0], when, ec)
                                        : transfer_many<Sending>(bufs, count, when, ec);
    // Not one byte before the end: the peer stopped between messages, which
    // a reader of framed messages tells apart from a message cut short.
    if (!Sending && done == 0 && ec == make_error_code(errc::end_of_stream))
      ec = make_error_code(errc::clean_end_of_stream);
    return done;
  }

  // One step of send_all/receive_exact; false when the loop must stop (ec says why:
  // an error, would_block on a non-blocking socket, or end_of_stream).
  template <bool Sending, class Buffer, class When>
  bool step(const Buffer* window, std::size_t n, const When& when, std::size_t& got,
            std::error_code& ec) noexcept {
    if constexpr (Sending)
      got = send_until(window, n, message_flags::none, when, ec);
    else
      got = receive_until(window, n, message_flags::none, when, ec);
    if (ec) {
      got = 0;
      return false;
    }
    if (!Sending && got == 0) {
      ec = make_error_code(errc::end_of_stream);
      return false;
    }
    return true;
  }

  template <bool Sending, class Buffer>
  static Buffer advanced(const Buffer& b, std::size_t by) noexcept {
    using byte_ptr = std::conditional_t<Sending, const char*, char*>;
    return Buffer{static_cast<decltype(Buffer{}.data)>(static_cast<byte_ptr>(b.data) + by),
                  b.size - by};
  }

  // The common case, one buffer: no window to build.
  template <bool Sending, class Buffer, class When>
  std::size_t transfer_one(const Buffer& b, const When& when, std::error_code& ec) noexcept {
    std::size_t done = 0;
    ec.clear();
    while (done < b.size) {
      const Buffer rest = advanced<Sending>(b, done);
      std::size_t got = 0;
      if (!step<Sending>(&rest, 1, when, got, ec)) return done;
      done += got;
    }
    return done;
  }

  // Moves through a buffer sequence without copying it: `first` is the index
  // of the first unfinished buffer and `offset` how far into it we are.
  template <bool Sending, class Buffer, class When>
  std::size_t transfer_many(const Buffer* bufs, std::size_t count, const When& when,
                            std::error_code& ec) noexcept {
    std::size_t done = 0;
    std::size_t first = 0;
    std::size_t offset = 0;
    ec.clear();
    while (first < count && bufs[first].size == offset) ++first, offset = 0;
    // The current window: the rest of bufs[first], then whole non-empty
    // buffers.  Declared once per call (its entries are value-initialised: a
    // 1 KiB store that must not recur on every pass).
    Buffer window[Policy::max_buffers];
    while (first < count) {
      std::size_t n = 0;
      window[n++] = advanced<Sending>(bufs[first], offset);
      for (std::size_t i = first + 1; i < count && n < Policy::max_buffers; ++i)
        if (bufs[i].size != 0) window[n++] = bufs[i];
      std::size_t got = 0;
      if (!step<Sending>(window, n, when, got, ec)) return done;
      done += got;
      // Advance (first, offset) by `got` bytes.
      while (got > 0 && first < count) {
        const std::size_t left = bufs[first].size - offset;
        if (got < left) {
          offset += got;
          got = 0;
        } else {
          got -= left;
          ++first;
          offset = 0;
        }
      }
      while (first < count && bufs[first].size == offset) ++first, offset = 0;
    }
    return done;
  }

  // A Hyper-V connect on Windows (Policy::connect_overlapped): an overlapped
  // ConnectEx (Microsoft documents no non-blocking connect for AF_HYPERV, and
  // shutdown() does not end a blocking one), waited for until `when` and ended
  // by cancel() (Policy::interrupt cancels it) or by the deadline.  The OS's
  // own connect timeout (HVSOCKET_CONNECT_TIMEOUT, at most 300000 ms) is set to
  // the deadline too; no deadline leaves the socket's timeout as it is.
  void connect_overlapped(const void* sa, std::size_t len, const deadline& when,
                          std::error_code& ec) noexcept {
    const auto h = handle_;
    if (!when.is_never()) {
      const timeout left = when.remaining();
      if (left.count() > hv::connect_timeout_max_ms) {
        ec = make_error_code(errc::hv_connect_timeout_too_long);
        return;
      }
      option_value v;  // microseconds; an expired deadline is one short try
      v.value = static_cast<std::int64_t>(left.count() > 0 ? left.count() : 1) * 1000;
      Policy::set_option(h, option_id::hv_connect_timeout, v, ec);
      if (ec) return;
    }
    typename Policy::pending_connect p;
    if (Policy::start_connect(h, sa, len, p, ec)) {
      // A cancel() that came before the connect started had nothing to end:
      // its flag is seen here (it is set before cancel() interrupts).
      const wait_result r = cancel_.cancelled.load() ? wait_result::woken
                                                     : Policy::wait_connect(h, p, when, ec);
      if (r == wait_result::ready && !ec) {
        Policy::finish_connect(h, p, ec);
      } else {
        Policy::abort_connect(h, p);
        if (!ec) ec = r == wait_result::timed_out ? make_error_code(errc::timed_out) : canceled();
      }
    }
    if (ec && cancel_.cancelled.load()) ec = detail::canceled();
  }

  // The next connection of this listening socket, until `when` (with no
  // deadline, the listener's SO_RCVTIMEO bounds the wait), its peer's address
  // in `sa` (room: `cap`; taken: `len`).  A listener is non-blocking inside
  // the OS, so a connection another thread took first is waited past.
  VMSOCK_NOINLINE native_handle_type accept_native(void* sa, std::size_t cap, std::size_t& len,
                                                   const deadline& when,
                                                   std::error_code& ec) noexcept {
    if (!usable(ec)) return Policy::invalid_handle;
    deadline limit = when;
    bool first = true;
    for (;;) {
      len = cap;
      const auto h = Policy::accept(handle_, sa, len, ec);
      if (!ec) return h;
      if (!detail::would_block(ec) || (nonblocking_ && when.is_never())) {
        // cancel() shut the listener down between the wait and the accept
        // (Linux then answers EINVAL): that is the cancellation.
        if (cancel_.cancelled.load()) ec = detail::canceled();
        return Policy::invalid_handle;
      }
      if (first && when.is_never()) {
        const timeout t = Policy::blocking_timeout(handle_, wait_type::readable);
        if (t != no_timeout) limit = deadline(t);
      }
      first = false;
      if (limit.expired()) {  // a deadline already passed: that was the one try
        ec = make_error_code(errc::timed_out);
        return Policy::invalid_handle;
      }
      const wait_result r = wait_for(wait_type::readable, limit, ec);
      if (ec) return Policy::invalid_handle;
      if (r == wait_result::timed_out) {
        ec = make_error_code(errc::timed_out);
        return Policy::invalid_handle;
      }
    }
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
  bool unreferenced_ = false;  // adopted without the policy's start-up reference
  mutable detail::cancel_state<Policy> cancel_;
};

}  // namespace detail
VMSOCK_END_NAMESPACE
