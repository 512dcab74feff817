// cancel_state<Policy>: what a socket's cancel(), from any thread, shares
// with the socket's calls (the handles it ends them through, the cancelled
// flag, the connection_group link), and the two error tests every waiting
// path makes (would_block, canceled).  Apart from socket_core so that the
// other owners of a cancel() (any_listener, connection_group) use it as is.
// How a cancel() ends each kind of wait: the top of socket_core.hpp.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/detail/group_link.hpp>

#include <atomic>
#include <memory>
#include <system_error>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

inline bool would_block(const std::error_code& ec) noexcept {
  return ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again;
}

inline std::error_code canceled() noexcept {
  return std::make_error_code(std::errc::operation_canceled);
}

// What cancel(), in any thread, shares with the socket's calls.  The handles
// are copies of the socket's, atomic so that cancel() can read them while
// close() runs; close() waits for a cancel() in progress before it closes them.
template <class Policy> struct cancel_state {
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
    cancelled.store(o.cancelled.exchange(false, std::memory_order_relaxed),
                    std::memory_order_relaxed);
    os_handle.store(o.os_handle.exchange(Policy::invalid_handle, std::memory_order_relaxed),
                    std::memory_order_relaxed);
    wake.store(o.wake.exchange(Policy::invalid_wake, std::memory_order_relaxed),
               std::memory_order_relaxed);
  }

  // cancel(): see the top of socket_core.hpp.
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

}  // namespace detail
VMSOCK_END_NAMESPACE
