// any_connector: connect and connect_first over any transport, as
// any_stream_socket::connect and vmsock::connect_first do, but cancellable
// from another thread (connector<Socket> is that for one concrete type):
//
//   vmsock::any_connector c;                       // shared with a signal thread
//   std::thread stop([&] { wait_for_shutdown(); c.cancel(); });
//   auto s = c.connect_first(endpoints, 10s);      // c.cancel() ends it at once
//
// cancel() ends the attempt in progress with std::errc::operation_canceled,
// skips the ones after it, and makes every later connect of this connector
// fail the same way at once: it is final, as a socket's is.  A connector is
// neither copied nor moved (another thread may be cancelling it); make a new
// one for a new start.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/any/connect_first.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/detail/cancel_state.hpp>
#include <vmsock/socket/detail/policy_traits.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/stream_socket.hpp>
#include <vmsock/any/detail/connect_any.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <atomic>
#include <cstddef>
#include <system_error>
#include <type_traits>
#include <vector>

VMSOCK_BEGIN_NAMESPACE

template <class Policy = default_policy> class basic_any_connector {
 public:
  basic_any_connector() noexcept = default;
  basic_any_connector(const basic_any_connector&) = delete;
  basic_any_connector& operator=(const basic_any_connector&) = delete;
  ~basic_any_connector() {
    if (wake_ != Policy::invalid_wake) Policy::close_wake(wake_);
  }

  // One endpoint of a stream scheme (udp:// is wrong_protocol_type), by `when`.
  basic_any_stream_socket<Policy> connect(const any_endpoint& remote, deadline when,
                                          std::error_code& ec) noexcept {
    if (remote.type() != socket_type::stream) {
      ec = std::make_error_code(std::errc::wrong_protocol_type);
      return {};
    }
    return detail::visit_nothrow(
        [&](const auto& ep) -> basic_any_stream_socket<Policy> {
          using E = std::decay_t<decltype(ep)>;
          auto c = connector<detail::any_stream_t<E, Policy>>::open(ec);
          answer_ = detail::hybrid_answer{};
          if (ec) return {};
          if (!enter(c, ec)) return {};
          auto s = c.connect(ep, when, ec);
          leave();
          if constexpr (std::is_same_v<E, hybrid_vsock_endpoint>) answer_ = c.last_answer();
          if (ec) return {};
          return basic_any_stream_socket<Policy>(std::move(s), remote);
        },
        remote.value());
  }
  basic_any_stream_socket<Policy> connect(const any_endpoint& remote,
                                          deadline when = deadline::never()) {
    std::error_code ec;
    auto s = connect(remote, when, ec);
    if (ec) detail::throw_any_connect_error(ec, remote, answer_);
    return s;
  }

  // connect_first's fallback (each in order, `per_attempt` each, a transport
  // the platform lacks skipped; `failed` gets the attempts before the winner;
  // udp:// in the list is a parse_error before anything is tried).  When all
  // fail, or cancel() ends the list, throws connect_error listing what was
  // tried; its code is the last attempt's (operation_canceled after a cancel).
  basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                                timeout per_attempt,
                                                std::vector<connect_attempt>& failed) {
    return detail::connect_first_throwing<Policy>(
        endpoints, per_attempt, failed,
        [this](const any_endpoint& ep, deadline when, std::error_code& e,
               detail::hybrid_answer& a) { return attempt(ep, when, e, a); });
  }
  basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                                timeout per_attempt = no_timeout) {
    std::vector<connect_attempt> failed;
    return connect_first(endpoints, per_attempt, failed);
  }
  // noexcept: on failure `ec` is the last attempt's error.
  basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                                timeout per_attempt, std::error_code& ec) noexcept {
    if (!detail::stream_entries(endpoints, ec)) return {};
    return detail::connect_first_impl<Policy>(
        endpoints.data(), endpoints.size(), per_attempt, ec, detail::no_listing,
        [this](const any_endpoint& ep, deadline when, std::error_code& e,
               detail::hybrid_answer& a) { return attempt(ep, when, e, a); });
  }

  // With vmsock::wait_for_ready{}: again while the peer is not up yet (see
  // wait_for_ready.hpp), until `when` (errc::timed_out) or cancel(), which also
  // ends a pause between attempts at once.  Without a deadline it retries
  // until cancel().  connect_first's `within` is one deadline for the whole
  // list, tried round after round (every entry in order, then a pause); an
  // entry that fails otherwise is not tried again; `failed` holds each
  // entry's last failed attempt.
  basic_any_stream_socket<Policy> connect(const any_endpoint& remote, deadline when,
                                          const wait_for_ready& w, std::error_code& ec) noexcept {
    detail::ready_outcome r;
    return connect_ready(remote, when, w, r, ec);
  }
  basic_any_stream_socket<Policy> connect(const any_endpoint& remote, deadline when,
                                          const wait_for_ready& w) {
    std::error_code ec;
    detail::ready_outcome r;
    auto s = connect_ready(remote, when, w, r, ec);
    if (ec) detail::throw_ready_error(ec, remote, r, answer_);
    return s;
  }
  basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                                timeout within, const wait_for_ready& w,
                                                std::vector<connect_attempt>& failed) {
    return detail::connect_first_ready_throwing<Policy>(
        endpoints, deadline(within), w, failed, false,
        [this](const any_endpoint& ep, deadline when, std::error_code& e,
               detail::hybrid_answer& a) { return attempt(ep, when, e, a); },
        [this](const deadline& until, std::error_code& e) { return pause(until, e); });
  }
  basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                                timeout within, const wait_for_ready& w) {
    std::vector<connect_attempt> failed;
    return connect_first(endpoints, within, w, failed);
  }
  basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                                timeout within, const wait_for_ready& w,
                                                std::error_code& ec) noexcept {
    if (!detail::stream_entries(endpoints, ec)) return {};
    detail::ready_outcome r;
    return detail::connect_first_ready<Policy>(
        endpoints.data(), endpoints.size(), w, deadline(within), r, ec, detail::no_listing,
        [this](const any_endpoint& ep, deadline when, std::error_code& e,
               detail::hybrid_answer& a) { return attempt(ep, when, e, a); },
        [this](const deadline& until, std::error_code& e) { return pause(until, e); });
  }

  // Thread-safe; never fails.  Ends the connect in progress (if any) and every
  // later one with std::errc::operation_canceled, and a wait_for_ready's pause.
  void cancel() noexcept {
    cancelled_.store(true);
    lock();
    if (current_ != nullptr) current_->cancel();
    if (wake_ != Policy::invalid_wake) Policy::signal_wake(wake_);
    unlock();
  }
  bool is_cancelled() const noexcept { return cancelled_.load(); }

 private:
  // One attempt of connect_first: connect(), and `a` gets a hybrid VMM's answer.
  basic_any_stream_socket<Policy> attempt(const any_endpoint& ep, deadline when,
                                          std::error_code& ec, detail::hybrid_answer& a) noexcept {
    auto s = connect(ep, when, ec);
    a = answer_;
    return s;
  }

  // The attempt in progress, seen by cancel() under the lock: the socket lives
  // on the connecting thread's stack, so it is published only between enter()
  // and leave().
  template <class C> bool enter(C& c, std::error_code& ec) noexcept {
    lock();
    const bool go = !cancelled_.load();
    if (go) current_ = &c;  // a basic_socket: cancel() is its own, thread-safe
    unlock();
    if (!go) {
      std::error_code ignored;
      c.close(ignored);
      ec = detail::canceled();
    }
    return go;
  }
  void leave() noexcept {
    lock();
    current_ = nullptr;
    unlock();
  }

  basic_any_stream_socket<Policy> connect_ready(const any_endpoint& remote, const deadline& when,
                                                const wait_for_ready& w, detail::ready_outcome& r,
                                                std::error_code& ec) noexcept {
    const detail::startup_hold<Policy> hold;  // Winsock stays up between attempts
    basic_any_stream_socket<Policy> out;
    detail::retry_until_ready(
        w, when, detail::ready_transport_of(remote), r, ec,
        [&](std::error_code& e) { out = connect(remote, when, e); },
        [this](const deadline& until, std::error_code& e) { return pause(until, e); });
    return out;
  }

  // A pause between attempts, on the connector's wake-up handle (made on the
  // first pause), which cancel() signals: false with operation_canceled when
  // it did (or had), with the OS's error when the wait failed.
  bool pause(const deadline& until, std::error_code& ec) noexcept {
    if (wake_ == Policy::invalid_wake) {
      const auto made = Policy::open_wake(ec);
      if (ec) return false;
      lock();
      wake_ = made;  // only this thread sets it; cancel() reads it under the lock
      unlock();
    }
    // A cancel() before the handle was published set the flag first.
    if (cancelled_.load() || detail::pause_on<Policy>(wake_, until, ec)) {
      ec = detail::canceled();
      return false;
    }
    return !ec;
  }
  // A spin lock: held for a pointer store or one cancel() (a flag, a wake-up
  // write and a shutdown), never across a wait.
  void lock() noexcept {
    while (busy_.exchange(true, std::memory_order_acquire)) Policy::yield();
  }
  void unlock() noexcept { busy_.store(false, std::memory_order_release); }

  detail::socket_core<Policy>* current_ = nullptr;
  typename Policy::wake_handle wake_ = Policy::invalid_wake;  // wait_for_ready's pauses
  std::atomic<bool> busy_{false};
  std::atomic<bool> cancelled_{false};
  // A hybrid vsock VMM's answer to the last connect, for its message.
  detail::hybrid_answer answer_;
};

using any_connector = basic_any_connector<>;

VMSOCK_END_NAMESPACE
