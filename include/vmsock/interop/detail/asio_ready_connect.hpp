// vmsock::wait_for_ready for the asio adapters' own sockets (vsock_stream,
// vsock_seqpacket, hv_stream, hybrid_vsock_stream): a connect that waits for
// its peer to come up instead of failing at the first refusal,
//
//   vmsock::asio::vsock_stream::socket s(io);
//   s.async_connect(vmsock::vsock_endpoint{2, 5000}, 30s, vmsock::wait_for_ready{}, token);
//
// with the synchronous form's rules (socket/wait_for_ready.hpp): the errors
// that mean "not up yet" for the transport are retried after the backoff's
// pauses; any other ends it with that error; the deadline ends it with
// errc::timed_out (no_timeout: no deadline, only a cancel ends it).  Each
// attempt opens the socket afresh, so the socket must be closed at the call
// (an open one completes with already_open: what was set on it would hold for
// the first attempt only).  cancel(), close() and a cancellation slot end it
// with operation_aborted, also during a pause between attempts.  It never
// completes inside the initiating call.  On failure the socket is closed.
// With a vmsock::ready_report, it is told the attempts made and the last
// one's error (vmsock::make_ready_error words them as the synchronous form).
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/deadline.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <algorithm>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// Whether a composed operation's `self` has a cancellation state (asio 1.19+,
// Boost 1.77+), and whether it was cancelled.
template <class Self, class = void> struct has_cancellation_state : std::false_type {};
template <class Self>
struct has_cancellation_state<Self, std::void_t<decltype(std::declval<const Self&>().cancelled())>>
    : std::true_type {};
template <class Self> bool asio_was_cancelled(const Self& self) noexcept {
  if constexpr (has_cancellation_state<Self>::value)
    return self.cancelled() != decltype(self.cancelled()){};
  else
    return false;
}

// What a running wait-for-ready connect shares with its socket's cancel() and
// close(): its timer (the deadline during an attempt, the pause between two)
// and whether the socket's owner asked it to stop.
template <class Lib> struct asio_ready_wait {
  template <class Executor> explicit asio_ready_wait(const Executor& ex) : timer(ex) {}
  typename Lib::steady_timer timer;
  std::size_t attempt = 0;  // counts the attempts: a late deadline's is over
  bool stopped = false;     // cancel() or close() of the socket
  bool timed_out = false;   // the deadline ended the attempt in progress
  void stop() noexcept {
    stopped = true;
    timer.cancel();
  }
};

template <class Lib, class Socket> class asio_ready_connect_op;

// The layer between asio's socket (Base) and the adapters' sockets: cancel()
// and close() that also reach a wait-for-ready connect between its attempts,
// when no connect of the socket's is pending for Base's to end.
template <class Lib, class Base> class asio_ready_socket : public Base {
 public:
  using error_code = typename Lib::error_code;
  using Base::Base;
  explicit asio_ready_socket(Base&& plain) noexcept : Base(std::move(plain)) {}

  // (Between attempts the socket is closed: there Base's cancel() would
  // report a bad handle.)
  void cancel() {
    if (stop_ready_wait() && !this->is_open()) return;
    Base::cancel();
  }
  void cancel(error_code& ec) {
    if (stop_ready_wait() && !this->is_open()) {
      ec = error_code();
      return;
    }
    Base::cancel(ec);
  }
  void close() {
    stop_ready_wait();
    Base::close();
  }
  void close(error_code& ec) {
    stop_ready_wait();
    Base::close(ec);
  }

 protected:
  template <class, class> friend class asio_ready_connect_op;
  using asio_base = Base;
  // true: a wait-for-ready connect was running.
  bool stop_ready_wait() noexcept {
    const auto w = ready_wait_.lock();
    if (w) w->stop();
    return w != nullptr;
  }
  std::weak_ptr<asio_ready_wait<Lib>> ready_wait_;
};

// The composed operation.  Socket is an asio_ready_socket whose own
// async_connect(peer, handler) makes one attempt (the VSOCK refusal mapped,
// the hybrid handshake made).
template <class Lib, class Socket> class asio_ready_connect_op {
 public:
  using error_code = typename Lib::error_code;
  using endpoint_type = typename Socket::endpoint_type;

  asio_ready_connect_op(Socket& s, const endpoint_type& peer, timeout within,
                        const wait_for_ready& w, ready_transport t, ready_report* report)
      : report_(report),
        socket_(&s),
        peer_(peer),
        when_(within == no_timeout ? deadline::never() : deadline(within)),
        backoff_(w),
        transport_(t),
        wait_(std::make_shared<asio_ready_wait<Lib>>(s.get_executor())) {}

  template <class Self> void operator()(Self& self, error_code ec = {}) {
    asio_ready_wait<Lib>& w = *wait_;
    switch (at_) {
    case step::start:
      // Never complete inside the initiating call: go on from the executor.
      if (report_ != nullptr) *report_ = ready_report{};
      if (socket_->is_open()) {
        at_ = step::refused;
      } else {
        at_ = step::attempt;
        socket_->ready_wait_ = wait_;
      }
      Lib::post(std::move(self));
      return;
    case step::refused:  // the open socket, and any wait of its own, are left alone
      return self.complete(Lib::already_open());
    case step::attempt:  // after the first post or a pause
      if (asio_was_cancelled(self) || w.stopped || ec == Lib::operation_aborted())
        return finish(self, Lib::operation_aborted());
      if (w.attempt != 0 && when_.expired())
        return finish(self, Lib::from_std(make_error_code(errc::timed_out)));
      return attempt(self);
    case step::connecting: break;
    }
    ++w.attempt;  // a deadline that already fired for this attempt does nothing now
    w.timer.cancel();
    const bool timed_out = std::exchange(w.timed_out, false);
    if (report_ != nullptr) {
      ++report_->attempts;
      report_->last = timed_out ? make_error_code(errc::timed_out) : Lib::to_std(ec);
    }
    if (!ec) return finish(self, ec);
    if (asio_was_cancelled(self) || w.stopped || (ec == Lib::operation_aborted() && !timed_out))
      return finish(self, Lib::operation_aborted());
    const bool again = not_up_yet(Lib::to_std(ec), transport_);
    if (timed_out || (again && when_.expired()))
      return finish(self, Lib::from_std(make_error_code(errc::timed_out)));
    if (!again) return finish(self, ec);
    error_code ignored;
    socket_->asio_base::close(ignored);  // the next attempt opens it afresh
    at_ = step::attempt;
    timeout pause = backoff_.next();
    if (!when_.is_never()) pause = (std::min)(pause, when_.remaining());
    w.timer.expires_after((std::max)(pause, timeout::zero()));
    auto& timer = w.timer;
    timer.async_wait(std::move(self));
  }

 private:
  enum class step { start, refused, attempt, connecting };

  template <class Self> void attempt(Self& self) {
    asio_ready_wait<Lib>& w = *wait_;
    at_ = step::connecting;
    if (!when_.is_never()) {
      const timeout left = when_.remaining();
      w.timer.expires_after(left > timeout::zero() ? left : timeout(1));
      w.timer.async_wait(Lib::bind_executor_of(self, socket_->get_executor(),
                                               [weak = std::weak_ptr<asio_ready_wait<Lib>>(wait_),
                                                s = socket_, n = w.attempt](const error_code& e) {
                                                 if (e) return;  // the attempt ended first
                                                 const auto alive = weak.lock();
                                                 if (!alive || alive->attempt != n) return;
                                                 alive->timed_out = true;
                                                 error_code ignored;
                                                 s->asio_base::cancel(ignored);
                                               }));
    }
    const endpoint_type to = peer_;  // `self`, and this object in it, moves below
    auto& socket = *socket_;
    socket.async_connect(to, std::move(self));
  }

  template <class Self> void finish(Self& self, const error_code& ec) {
    socket_->ready_wait_.reset();
    if (ec) {
      error_code ignored;
      socket_->asio_base::close(ignored);
    }
    self.complete(ec);
  }

  ready_report* report_;  // the caller's, or none
  Socket* socket_;
  endpoint_type peer_;
  deadline when_;
  ready_backoff backoff_;
  ready_transport transport_;
  std::shared_ptr<asio_ready_wait<Lib>> wait_;
  step at_ = step::start;
};

template <class Lib, class Socket, class Token>
auto asio_async_connect_when_ready(Socket& s, const typename Socket::endpoint_type& peer,
                                   timeout within, const wait_for_ready& w, ready_transport t,
                                   ready_report* report, Token& token) {
  return Lib::template compose<void(typename Lib::error_code), Token>(
      asio_ready_connect_op<Lib, Socket>(s, peer, within, w, t, report), token, s);
}

}  // namespace detail
VMSOCK_END_NAMESPACE
