// The asio adapters' URI-level entry points, so that an asynchronous agent
// takes vsock://, hvsock://, hybrid-vsock://, tcp:// and unix:// addresses
// without a variant of its own:
//
//   async_connect_first(context, {"vsock://2:5000", "tcp://10.0.0.1:5000"}, 2s, token)
//       the first of the list that connects, as asio's generic stream socket;
//       with vmsock::wait_for_ready{} after the time, one deadline for the
//       whole list, tried round after round while an entry is not up yet
//   listen_all(context, {"vsock://any:5000", "unix:///run/agent.sock"})
//       an acceptor (asio's generic one) for each, from vmsock's listen_all
//
// Written once over a `Lib` (see asio_protocols.hpp), which here also names
// steady_timer, post(handler) and bind_executor_of(handler, fallback, f).
#pragma once

#include <vmsock/any/connect_first.hpp>
#include <vmsock/any/listener.hpp>
#include <vmsock/config.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/endpoint/detail/os_address.hpp>
#include <vmsock/error.hpp>
#include <vmsock/interop/detail/asio_handover.hpp>
#include <vmsock/interop/detail/asio_hybrid.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/any/detail/connect_any.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// What one async_connect_first holds while it runs; on the heap, so that the
// sockets stay where they are while the operation object moves.
template <class Lib> struct asio_connect_first_state {
  using generic = typename Lib::generic_stream;
  using hybrid_socket = typename asio_hybrid_protocol<Lib>::socket;

  template <class Ctx>
  asio_connect_first_state(Ctx& context, std::vector<any_endpoint> eps, timeout per,
                           const wait_for_ready* w, std::vector<connect_attempt>* out)
      : endpoints(std::move(eps)),
        per_attempt(per),
        failed(out != nullptr ? out : &own_failed),
        socket(context),
        timer(socket.get_executor()) {
    failed->clear();
    if (w != nullptr) {
      when = deadline(per);
      backoff.emplace(*w);
      given_up.assign(endpoints.size(), false);
      slot.assign(endpoints.size(), none);
    }
  }

  std::vector<any_endpoint> endpoints;
  timeout per_attempt;
  std::vector<connect_attempt> own_failed;
  std::vector<connect_attempt>* failed;
  typename generic::socket socket;      // the attempt at a plain family
  std::optional<hybrid_socket> hybrid;  // the attempt at a hybrid vsock one
  typename Lib::steady_timer timer;     // per_attempt
  std::size_t index = 0;                // the entry being tried
  std::size_t attempt = 0;              // counts the attempts made: a late timer's is over
  int family = 0;                       // the OS family of the entry being tried
  bool timed_out = false;               // the timer ended the attempt
  std::error_code last = std::make_error_code(std::errc::invalid_argument);  // (an empty list)

  // With wait_for_ready: one deadline (`per_attempt` is then the whole
  // wait's), the list tried round after round while an entry is not up yet.
  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::optional<ready_backoff> backoff;  // set: waiting for ready
  deadline when = deadline::never();
  std::vector<bool> given_up;     // failed otherwise: not tried again
  std::vector<std::size_t> slot;  // each entry's record in *failed
  bool again = false;             // an entry of this round is worth another

  // How long the next attempt may take.
  timeout attempt_limit() const noexcept {
    if (!backoff) return per_attempt;
    if (when.is_never()) return no_timeout;
    const auto left = when.remaining();
    return left > timeout::zero() ? left : timeout(1);
  }

  // The per-attempt timeout: ends the attempt in progress.
  void cancel_attempt() noexcept {
    typename Lib::error_code ignored;
    if (hybrid)
      hybrid->cancel(ignored);
    else
      socket.cancel(ignored);
  }
};

template <class Lib> class asio_connect_first_op {
 public:
  using error_code = typename Lib::error_code;
  using generic = typename Lib::generic_stream;
  using state_type = asio_connect_first_state<Lib>;
  using hybrid_base =
      typename Lib::template stream_socket<asio_hybrid_protocol<Lib>, typename Lib::executor>;

  explicit asio_connect_first_op(std::shared_ptr<state_type> s) noexcept : state_(std::move(s)) {}

  template <class Self> void operator()(Self& self, error_code ec = {}) {
    state_type& s = *state_;
    switch (at_) {
    case step::start:
      // Never complete inside the initiating call: go on from the executor.
      at_ = step::first;
      Lib::post(std::move(self));
      return;
    case step::first: break;
    case step::pausing:
      if (asio_was_cancelled(self) || ec == Lib::operation_aborted())
        return self.complete(Lib::operation_aborted(), closed(s));
      if (s.when.expired())
        return self.complete(Lib::from_std(make_error_code(errc::timed_out)), closed(s));
      s.index = 0;
      s.again = false;
      break;
    case step::connecting: {
      ++s.attempt;  // a timer that already fired for this one does nothing now
      s.timer.cancel();
      const bool timed_out = std::exchange(s.timed_out, false);
      if (!ec) return succeed(self);
      // Cancelled by the caller (a cancellation slot, or the socket's
      // executor going away): the list ends here, as any_connector's does.
      if (asio_was_cancelled(self) || (ec == Lib::operation_aborted() && !timed_out)) {
        record_failure(make_error_code(std::errc::operation_canceled));
        return self.complete(Lib::operation_aborted(), closed(s));
      }
      asio_map_vsock_refusal<Lib>(s.family, ec);
      record_failure(timed_out ? make_error_code(errc::timed_out) : Lib::to_std(ec));
      break;
    }
    }
    // The next entry whose attempt can start; one that cannot (the platform
    // lacks its transport, its endpoint has no form here) is skipped.
    for (;;) {
      if (s.backoff && s.when.expired())
        return self.complete(Lib::from_std(make_error_code(errc::timed_out)), closed(s));
      if (s.index == s.endpoints.size()) break;
      if (s.backoff && s.given_up[s.index]) {
        ++s.index;
        continue;
      }
      std::error_code why;
      if (start(self, why)) return;  // `self` (and this object in it) has moved
      record_failure(why);
    }
    // A round is over: with wait_for_ready, pause and go again while an
    // entry is not up yet.
    if (s.backoff && s.again) {
      at_ = step::pausing;
      const timeout pause = s.backoff->next();
      const timeout left = s.attempt_limit();
      s.timer.expires_after(left != no_timeout && left < pause ? left : pause);
      auto& timer = s.timer;
      timer.async_wait(std::move(self));
      return;
    }
    self.complete(Lib::from_std(s.last), closed(s));
  }

 private:
  enum class step { start, first, connecting, pausing };

  // Lists a failed attempt (with wait_for_ready, each entry's last one, in the
  // order the entries first failed) and moves on to the next entry.
  void record_failure(const std::error_code& why) {
    state_type& s = *state_;
    const bool skipped = transport_unavailable(why);
    connect_attempt a{s.endpoints[s.index], why, skipped, {}};
    if (s.hybrid) a.answer = s.hybrid->last_answer();
    s.last = why;
    if (!s.backoff) {
      s.failed->push_back(a);
    } else {
      if (s.slot[s.index] == state_type::none) {
        s.slot[s.index] = s.failed->size();
        s.failed->push_back(a);
      } else {
        (*s.failed)[s.slot[s.index]] = a;
      }
      if (skipped || !not_up_yet(why, ready_transport_of(s.endpoints[s.index])))
        s.given_up[s.index] = true;
      else
        s.again = true;
    }
    typename Lib::error_code ignored;
    s.socket.close(ignored);
    s.hybrid.reset();
    ++s.index;
  }

  static typename generic::socket closed(state_type& s) {
    return typename generic::socket(s.socket.get_executor());
  }

  template <class Self> void succeed(Self& self) {
    state_type& s = *state_;
    if (s.hybrid) {
      // A hybrid connection is, after its handshake, a Unix stream.
      typename generic::socket out(static_cast<hybrid_base&&>(*s.hybrid));
      s.hybrid.reset();
      return self.complete(error_code{}, std::move(out));
    }
    self.complete(error_code{}, std::move(s.socket));
  }

  // The per-attempt timeout, on the executor of the operation's handler (so
  // that it and the operation never run at once).
  template <class Self> void arm_timer(Self& self) {
    state_type& s = *state_;
    const timeout limit = s.attempt_limit();
    if (limit == no_timeout) return;
    s.timer.expires_after(limit);
    s.timer.async_wait(Lib::bind_executor_of(
        self, s.socket.get_executor(),
        [weak = std::weak_ptr<state_type>(state_), attempt = s.attempt](const error_code& e) {
          if (e) return;  // the attempt ended first
          const auto alive = weak.lock();
          if (alive && alive->attempt == attempt) {
            alive->timed_out = true;
            alive->cancel_attempt();
          }
        }));
  }

  // Starts the attempt at entry s.index: true once its connect is under way
  // (and `self` has moved into it), false with `why` when it cannot start.
  template <class Self> bool start(Self& self, std::error_code& why) {
    state_type& s = *state_;
    return visit_nothrow(
        [&](const auto& e) -> bool {
          using E = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<E, hybrid_vsock_endpoint>) {
            s.family = unix_endpoint::family;
            s.hybrid.emplace(s.socket.get_executor());
            at_ = step::connecting;
            arm_timer(self);
            auto& hybrid = *s.hybrid;
            hybrid.async_connect(e, std::move(self));
          } else {
            using S = stream_socket<E, default_policy>;
            using os = os_address<default_policy, E>;
            typename os::type native{};
            const errc m = os::to_os(e, native);
            if (m != errc{}) {
              why = make_error_code(m);
              return false;
            }
            const auto sa = native.to_native();
            const typename generic::endpoint to(&sa, native.native_size(), S::native_protocol);
            error_code oec;
            s.socket.open(generic(S::native_family, S::native_protocol), oec);
            if (oec) {
              why = Lib::to_std(oec);
              return false;
            }
            s.family = S::native_family;
            at_ = step::connecting;
            arm_timer(self);
            auto& socket = s.socket;
            socket.async_connect(to, std::move(self));
          }
          return true;
        },
        s.endpoints[s.index].value());
  }

  std::shared_ptr<state_type> state_;
  step at_ = step::start;
};

// async_connect_first(context or executor, list, [within, [wait_for_ready,]] [failed,] token):
// the list is a std::vector<any_endpoint>, a braced list of URIs or any range
// of strings (URIs all parsed first: a bad entry is vmsock::parse_error naming
// it, thrown before anything starts).
template <class Lib> struct asio_connect_first_fn {
  using error_code = typename Lib::error_code;
  using socket_type = typename Lib::generic_stream::socket;

  template <class Ctx, class... Args>
  auto operator()(Ctx&& context, std::vector<any_endpoint> endpoints, Args&&... args) const {
    return with(context, std::move(endpoints), args...);
  }
  template <class Ctx, class... Args>
  auto operator()(Ctx&& context, std::initializer_list<std::string_view> uris,
                  Args&&... args) const {
    return with(context, parse_uri_list("async_connect_first", uris), args...);
  }
  template <class Ctx, class R, class... Args, std::enable_if_t<is_uri_range_v<R>, int> = 0>
  auto operator()(Ctx&& context, const R& uris, Args&&... args) const {
    return with(context, parse_uri_list("async_connect_first", uris), args...);
  }

 private:
  using attempts = std::vector<connect_attempt>;

  // The forms after the list.
  template <class Ctx, class Token>
  static auto with(Ctx& c, std::vector<any_endpoint> eps, Token& token) {
    return start(c, std::move(eps), no_timeout, nullptr, nullptr, token);
  }
  template <class Ctx, class Token>
  static auto with(Ctx& c, std::vector<any_endpoint> eps, timeout per_attempt, Token& token) {
    return start(c, std::move(eps), per_attempt, nullptr, nullptr, token);
  }
  template <class Ctx, class Token>
  static auto with(Ctx& c, std::vector<any_endpoint> eps, timeout per_attempt, attempts& failed,
                   Token& token) {
    return start(c, std::move(eps), per_attempt, nullptr, &failed, token);
  }
  template <class Ctx, class Token>
  static auto with(Ctx& c, std::vector<any_endpoint> eps, timeout within, const wait_for_ready& w,
                   Token& token) {
    return start(c, std::move(eps), within, &w, nullptr, token);
  }
  template <class Ctx, class Token>
  static auto with(Ctx& c, std::vector<any_endpoint> eps, timeout within, const wait_for_ready& w,
                   attempts& failed, Token& token) {
    return start(c, std::move(eps), within, &w, &failed, token);
  }

  template <class Ctx, class Token>
  static auto start(Ctx& context, std::vector<any_endpoint> endpoints, timeout limit,
                    const wait_for_ready* w, attempts* failed, Token& token) {
    check_stream_entries("async_connect_first", endpoints);
    auto state = std::make_shared<asio_connect_first_state<Lib>>(context, std::move(endpoints),
                                                                 limit, w, failed);
    auto& io = state->socket;
    return Lib::template compose<void(error_code, socket_type), Token>(
        asio_connect_first_op<Lib>(std::move(state)), token, io);
  }
};

// listen_all(context or executor, endpoints or URIs[, backlog]): vmsock's
// any_listener::listen_all (all or nothing; errors name the address that
// failed), each listener then handed to asio's generic acceptor of its family.
template <class Lib> struct asio_listen_all_fn {
  using acceptor_type =
      typename Lib::template socket_acceptor<typename Lib::generic_stream, typename Lib::executor>;

  template <class Ctx>
  std::vector<acceptor_type> operator()(Ctx&& context, const std::vector<any_endpoint>& endpoints,
                                        int backlog = default_policy::max_backlog) const {
    auto all = any_listener::listen_all(endpoints, backlog);
    std::vector<acceptor_type> out;
    out.reserve(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      std::visit(
          [&](auto& l) {
            using L = std::decay_t<decltype(l)>;
            out.emplace_back(context);
            typename Lib::error_code ec;
            asio_take_handle(out.back(),
                             typename Lib::generic_stream(L::native_family, L::native_protocol), l,
                             ec);
            if (ec)
              Lib::throw_error(
                  ec, "listen_all: hand-over to asio of " + all.local_endpoints()[i].to_string());
          },
          all.listener_at(i));
    }
    return out;
  }
  template <class Ctx>
  std::vector<acceptor_type> operator()(Ctx&& context, std::initializer_list<std::string_view> uris,
                                        int backlog = default_policy::max_backlog) const {
    return (*this)(context, parse_uri_list("listen_all", uris), backlog);
  }
  template <class Ctx, class R, std::enable_if_t<is_uri_range_v<R>, int> = 0>
  std::vector<acceptor_type> operator()(Ctx&& context, const R& uris,
                                        int backlog = default_policy::max_backlog) const {
    return (*this)(context, parse_uri_list("listen_all", uris), backlog);
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE
