// connection_group: one call cancels every connection an agent accepted (its
// SIGTERM path).
//
//   vmsock::connection_group group;
//   // each connection, in the accept loop:
//   auto s = group.join(listener.accept());   // or group.accept(listener)
//   // on SIGTERM, from any thread:
//   group.cancel_all();
//   listener.cancel();
//
// cancel_all() is cancel() on every member: each call blocked on one returns
// std::errc::operation_canceled, and so does every later call that could wait.
// The group stays cancelled: a socket that joins afterwards (a connection
// accepted during the shutdown) is cancelled as it joins.
//
// Ownership.  The group never owns a socket and never reaches a destroyed
// one.  A member leaves by itself when it is closed, released, destroyed or
// moved onto; a moved socket takes its membership along (the moved-from one
// is no longer a member).  A socket belongs to one group at a time: joining
// another leaves the first.  The group may be destroyed before its members;
// they are then simply members of nothing.  Typed sockets of any family and
// policy (stream, seqpacket, datagram, hybrid vsock) and any_stream_socket
// join the same way.
//
// Thread safety: join, leave, cancel_all, size and is_cancelled may be called
// from any thread, as long as the socket given to join or leave is not being
// moved or destroyed by another thread at that moment (as for any use of it).
#pragma once

#include <vmsock/any/stream_socket.hpp>
#include <vmsock/config.hpp>
#include <vmsock/socket/detail/cancel_state.hpp>
#include <vmsock/socket/detail/group_link.hpp>
#include <vmsock/socket/detail/socket_core.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/default.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE

class connection_group {
 public:
  // Allocates the state the group shares with its members (std::bad_alloc).
  connection_group() : state_(std::make_shared<detail::group_state>(&default_policy::yield)) {}
  // Members stay open and keep working; nothing cancels them any more.
  ~connection_group() = default;
  // The group's identity is what its members point to: not copied, not moved.
  connection_group(const connection_group&) = delete;
  connection_group& operator=(const connection_group&) = delete;

  // Joins `s` (an open socket; a closed one joins nothing) and returns it:
  //   auto s = group.join(listener.accept());
  // When the group is cancelled already, `s` is cancelled as it joins.  The
  // only failure is memory for the membership: std::bad_alloc, or
  // std::errc::not_enough_memory with the error_code form, where `s` is
  // returned open but not a member.
  template <class Socket, std::enable_if_t<!std::is_lvalue_reference_v<Socket>, int> = 0>
  Socket join(Socket&& s) {
    join(s);
    return std::move(s);
  }
  template <class Socket, std::enable_if_t<!std::is_lvalue_reference_v<Socket>, int> = 0>
  Socket join(Socket&& s, std::error_code& ec) noexcept {
    join(s, ec);
    return std::move(s);
  }
  // Joins a socket in place (one that already has a name).
  template <class Socket> Socket& join(Socket& s) {
    std::error_code ec;
    join(s, ec);
    if (ec) detail::raise(std::bad_alloc());
    return s;
  }
  template <class Socket> Socket& join(Socket& s, std::error_code& ec) noexcept {
    ec.clear();
    for_each_core(s, [&](auto& core) { attach(core.cancel_, ec); });
    return s;
  }

  // listener.accept(args...) and join: the accept loop's one line.  With an
  // error_code among args, a failed accept returns a closed socket, which
  // joins nothing.
  template <class Listener, class... Args>
  auto accept(Listener& l, Args&&... args) -> decltype(l.accept(std::forward<Args>(args)...)) {
    return join(l.accept(std::forward<Args>(args)...));
  }

  // `s` leaves the group (nothing if it is not a member of this one).
  template <class Socket> void leave(Socket& s) noexcept {
    for_each_core(s, [&](auto& core) {
      if (owns(core.cancel_.group)) detail::leave_group(std::move(core.cancel_.group));
    });
  }

  // Whether `s` is a member of this group.
  template <class Socket> bool contains(const Socket& s) const noexcept {
    bool found = false;
    for_each_core(s, [&](const auto& core) { found = found || owns(core.cancel_.group); });
    return found;
  }

  // cancel() on every member, and on every socket that joins from now on.
  // Thread-safe, never fails; returns once each member's cancel() has run.
  void cancel_all() noexcept {
    detail::spin_guard hold(state_->lock, state_->yield);
    state_->cancelled = true;
    for (const std::shared_ptr<detail::group_link>& l : state_->links) {
      detail::spin_guard member(l->lock, l->yield);
      if (l->target != nullptr) l->cancel(l->target);
    }
  }
  bool is_cancelled() const noexcept {
    detail::spin_guard hold(state_->lock, state_->yield);
    return state_->cancelled;
  }

  // How many sockets are members now (for tests and monitoring).
  std::size_t size() const noexcept {
    detail::spin_guard hold(state_->lock, state_->yield);
    return state_->links.size();
  }

 private:
  template <class Policy> static void cancel_target(void* target) noexcept {
    static_cast<detail::cancel_state<Policy>*>(target)->cancel();
  }

  // Calls f with the socket_core of what `s` holds: the socket itself, or the
  // alternative inside an any_stream_socket.
  template <class Policy, class F>
  static void for_each_core(detail::socket_core<Policy>& s, F&& f) noexcept {
    f(s);
  }
  template <class Policy, class F>
  static void for_each_core(const detail::socket_core<Policy>& s, F&& f) noexcept {
    f(s);
  }
  template <class Policy, class F>
  static void for_each_core(basic_any_stream_socket<Policy>& s, F&& f) noexcept {
    detail::visit_nothrow([&](auto& alt) { for_each_core(alt, f); }, s.value());
  }
  template <class Policy, class F>
  static void for_each_core(const basic_any_stream_socket<Policy>& s, F&& f) noexcept {
    detail::visit_nothrow([&](const auto& alt) { for_each_core(alt, f); }, s.value());
  }

  bool owns(const std::shared_ptr<detail::group_link>& link) const noexcept {
    if (!link) return false;
    // The group pointer is set before the link is published and never
    // changes, so it is read without the link's lock.
    return !link->group.owner_before(state_) && !state_.owner_before(link->group);
  }

  template <class Policy>
  void attach(detail::cancel_state<Policy>& cs, std::error_code& ec) noexcept {
    if (cs.os_handle.load() == Policy::invalid_handle || owns(cs.group)) return;
    detail::leave_group(std::move(cs.group));
    std::shared_ptr<detail::group_link> link;
    VMSOCK_TRY {
      link = std::make_shared<detail::group_link>();
      link->target = &cs;
      link->cancel = &cancel_target<Policy>;
      link->yield = &Policy::yield;
      link->group = state_;
      detail::spin_guard hold(state_->lock, state_->yield);
      link->index = state_->links.size();
      state_->links.push_back(link);
      cs.group = link;
      // Under the group's lock: a cancel_all() is either done (seen here) or
      // waits, and then finds this link.
      if (state_->cancelled) cs.cancel();
    }
    VMSOCK_CATCH(const std::bad_alloc&) { ec = std::make_error_code(std::errc::not_enough_memory); }
  }

  std::shared_ptr<detail::group_state> state_;
};

VMSOCK_END_NAMESPACE
