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
#include <vmsock/deadline.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/types.hpp>
#include <vmsock/socket/detail/cancel_state.hpp>
#include <vmsock/socket/detail/policy_traits.hpp>
#include <vmsock/socket_types.hpp>

#include <cstddef>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE

template <class Policy> class basic_any_stream_socket;
class connection_group;

namespace detail {

struct core_access;

template <class Policy> class socket_core {
  // It moves bytes through the core of whichever socket it holds.
  template <class> friend class vmsock::basic_any_stream_socket;
  // It links the socket's cancel state to the group (and nothing else).
  friend class vmsock::connection_group;
  friend struct core_access;

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
    if constexpr (has_adopt<Policy>::value && has_startup<Policy>::value) {
      // Adopted when WSAStartup failed, it holds no reference, and the
      // caller's WSACleanup() would give back one it never had: take it now.
      // (Should WSAStartup fail again, Winsock is not started at all, and
      // that WSACleanup() only fails with WSANOTINITIALISED.)
      if (std::exchange(unreferenced_, false)) {
        std::error_code ignored;
        Policy::startup(ignored);
      }
    }
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

  // The one wait loop of the calls that wait in poll() beside the wake-up
  // (sends and receives, accept, hand-off's descriptors): attempt(ec) until
  // it reports anything but would_block.  Between tries it waits for `what`
  // until `when`, or with none until the socket's own SO_RCVTIMEO/SO_SNDTIMEO
  // (read at the first wait, not before: a call that need not wait makes no
  // extra system call); the expiry is errc::timed_out, with `failed`
  // returned.  A non-blocking socket does not wait unless the call has a
  // deadline: its would_block is returned.  An error after cancel(), which
  // shuts the socket down under the call, is operation_canceled.
  template <class R, class Attempt>
  R wait_loop(wait_type what, const deadline& when, R failed, std::error_code& ec,
              Attempt&& attempt) noexcept;

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
  template <class When> bool waits_in_os(const When& when) const noexcept {
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
    const void* to = nullptr;  // send_to: the address
    std::size_t to_len = 0;
    void* from = nullptr;             // receive_from: where the sender goes,
    std::size_t from_cap = 0;         // the room there is for it,
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
                                         std::error_code& ec) noexcept;

  // Connects this open socket to the OS address `sa` (of `family`), waiting at most until `when`
  // (and for cancel()).  The connect is non-blocking in the OS whatever the socket's mode, so that
  // cancel() reaches it and the deadline is exact; expiry is errc::timed_out.  A full Unix backlog
  // fails at once (EAGAIN: Linux gives a non-blocking connect no way to wait for room).
  VMSOCK_NOINLINE void connect_native(const void* sa, std::size_t len, int family,
                                      const deadline& when, std::error_code& ec) noexcept;

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
                          std::error_code& ec) noexcept;

  // The next connection of this listening socket, until `when` (with no
  // deadline, the listener's SO_RCVTIMEO bounds the wait), its peer's address
  // in `sa` (room: `cap`; taken: `len`).  A listener is non-blocking inside
  // the OS, so a connection another thread took first is waited past.
  VMSOCK_NOINLINE native_handle_type accept_native(void* sa, std::size_t cap, std::size_t& len,
                                                   const deadline& when,
                                                   std::error_code& ec) noexcept;

  void reset() noexcept {
    if (is_open()) {
      std::error_code ignored;
      close(ignored);
    }
  }

  native_handle_type handle_ = Policy::invalid_handle;
  socket_type type_ = socket_type::stream;
  bool nonblocking_ = false;   // what the user asked for
  bool listening_ = false;     // a listener: non-blocking in the OS, accept waits in poll
  bool unreferenced_ = false;  // adopted without the policy's start-up reference
  mutable detail::cancel_state<Policy> cancel_;
};

}  // namespace detail
VMSOCK_END_NAMESPACE

// The bodies of the calls that wait in poll() (io_waiting, connect_native,
// connect_overlapped, accept_native).
#include <vmsock/socket/detail/socket_core_waits.hpp>
