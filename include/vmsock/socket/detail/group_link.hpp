// The link between one socket and the connection_group it joined.  Both hold
// it (shared ownership), so neither ever reaches into something destroyed:
// the group reaches the socket only through `target`, and the socket clears
// or moves `target` under the link's lock before its cancel state is closed,
// released, moved or destroyed.  The group holds the links it has; a link
// names its group weakly, so a group may die before its sockets and the other
// way round.
//
// The locks are spin locks that yield to the policy's scheduler: each is held
// for a few stores or one cancel() (a shutdown call), and <mutex> is missing
// from some MinGW thread models that vmsock supports.
#pragma once

#include <vmsock/config.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

using yield_fn = void (*)() noexcept;

class spin_lock {
 public:
  void lock(yield_fn yield) noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) yield();
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

class spin_guard {
 public:
  spin_guard(spin_lock& l, yield_fn yield) noexcept : l_(&l) { l_->lock(yield); }
  ~spin_guard() { l_->unlock(); }
  spin_guard(const spin_guard&) = delete;
  spin_guard& operator=(const spin_guard&) = delete;

 private:
  spin_lock* l_;
};

struct group_state;

struct group_link {
  spin_lock lock;
  // The socket's cancel_state<Policy> while it is a member, and how to cancel
  // it without knowing its policy (one group takes sockets of any policy).
  void* target = nullptr;
  void (*cancel)(void*) noexcept = nullptr;
  yield_fn yield = nullptr;          // the policy's, for this link's lock
  std::weak_ptr<group_state> group;  // set once, at join
  std::size_t index = 0;             // in group_state::links, under its lock
};

struct group_state {
  explicit group_state(yield_fn y) noexcept : yield(y) {}
  spin_lock lock;
  yield_fn yield;
  bool cancelled = false;
  std::vector<std::shared_ptr<group_link>> links;

  // Under `lock`.  Swaps the last link into the gap: leaving costs O(1).
  void remove(const group_link& l) noexcept {
    if (l.index >= links.size() || links[l.index].get() != &l) return;
    const std::size_t i = l.index;
    if (i + 1 != links.size()) {
      links[i] = std::move(links.back());
      links[i]->index = i;
    }
    links.pop_back();
  }
};

// The socket leaves its group (closed, released, destroyed, or joining
// another): once this returns, the group no longer reaches it.
inline void leave_group(std::shared_ptr<group_link> link) noexcept {
  if (!link) return;
  {
    spin_guard hold(link->lock, link->yield);
    link->target = nullptr;
  }
  // Not under the link's lock: cancel_all() takes the group's lock first.
  if (const std::shared_ptr<group_state> g = link->group.lock()) {
    spin_guard hold(g->lock, g->yield);
    g->remove(*link);
  }
}

}  // namespace detail
VMSOCK_END_NAMESPACE
