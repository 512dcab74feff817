// connect_first: try endpoints (or URIs) in order, the first that connects
// wins; the decision is made before the connection exists, never after.  With
// vmsock::wait_for_ready, one deadline for the whole list, tried round after
// round.  connect_error lists every attempt and why.
#pragma once

#include <vmsock/any/detail/uri_list.hpp>
#include <vmsock/any/stream_socket.hpp>
#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/detail/policy_traits.hpp>
#include <vmsock/any/detail/connect_any.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

VMSOCK_BEGIN_NAMESPACE

// One try of connect_first: where, what happened, and whether it was skipped
// because the platform lacks the transport (rather than tried and failed); for
// a hybrid vsock entry, what its VMM answered (a junk line, or nothing by the
// deadline), which the listing quotes as the entry's own connect would.
struct connect_attempt {
  any_endpoint endpoint;
  std::error_code error;
  bool skipped = false;
  hybrid_vsock_answer answer;
};

// Thrown when every endpoint failed; what() lists each attempt and why.
class connect_error : public std::system_error {
 public:
  connect_error(std::error_code ec, const std::string& what, std::vector<connect_attempt> attempts)
      : std::system_error(ec, what), attempts_(std::move(attempts)) {}
  const std::vector<connect_attempt>& attempts() const noexcept { return attempts_; }

 private:
  std::vector<connect_attempt> attempts_;
};

namespace detail {

// One attempt of the free connect_first.
template <class Policy>
basic_any_stream_socket<Policy> connect_one_any(const any_endpoint& ep, deadline when,
                                                std::error_code& ec, hybrid_answer& a) noexcept {
  return connect_any_once<basic_any_stream_socket<Policy>>(ep, when, ec, a);
}

// The on_attempt of the error_code forms, which list nothing.
inline constexpr auto no_listing = [](const auto&...) noexcept {};

// How the listing names an attempt: its URI, and a hybrid VMM's answer.
inline std::string attempt_name(const connect_attempt& a) {
  return connect_failure(a.endpoint, a.error, a.answer);
}

// connect_one(endpoint, deadline, ec, answer) makes each attempt; a cancelled
// one (any_connector) ends the list.  on_attempt(endpoint, ec, skipped,
// answer) sees each failed one.
template <class Policy, class OnAttempt, class ConnectOne>
basic_any_stream_socket<Policy> connect_first_impl(const any_endpoint* eps, std::size_t n,
                                                   timeout per_attempt, std::error_code& ec,
                                                   OnAttempt&& on_attempt,
                                                   ConnectOne&& connect_one) {
  ec = make_error_code(std::errc::invalid_argument);  // an empty list
  const startup_hold<Policy> hold;  // Winsock stays up from one attempt to the next
  for (std::size_t i = 0; i < n; ++i) {
    hybrid_answer a;
    auto s = connect_one(eps[i], deadline(per_attempt), ec, a);
    if (!ec) return s;
    on_attempt(eps[i], ec, transport_unavailable(ec), a);
    if (ec == std::errc::operation_canceled) break;
  }
  return {};
}
template <class Policy, class OnAttempt>
basic_any_stream_socket<Policy> connect_first_impl(const any_endpoint* eps, std::size_t n,
                                                   timeout per_attempt, std::error_code& ec,
                                                   OnAttempt&& on_attempt) {
  return connect_first_impl<Policy>(eps, n, per_attempt, ec, std::forward<OnAttempt>(on_attempt),
                                    connect_one_any<Policy>);
}

}  // namespace detail

// The connect_error the throwing connect_first throws for these attempts (its
// what() lists every attempt and why; `last` is the code): for a caller of an
// error_code form, or of the asio adapters' async_connect_first, that wants
// the same listing.
VMSOCK_NOINLINE inline connect_error make_connect_error(std::error_code last,
                                                        std::vector<connect_attempt> attempts) {
  std::string what = "connect_first: ";
  if (attempts.empty()) what += "no endpoints given";
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    if (i != 0) what += "; ";
    what += detail::attempt_name(attempts[i]);
    if (attempts[i].skipped) what += ": skipped";
    // std::system_error appends ": <message>" of its code, the last attempt's.
    if (i + 1 < attempts.size()) {
      what += ": ";
      what += attempts[i].error.message();
    }
  }
  return connect_error(last, what, std::move(attempts));
}

namespace detail {

[[noreturn]] VMSOCK_NOINLINE inline void throw_connect_error(
    std::error_code last, std::vector<connect_attempt> attempts) {
  raise(make_connect_error(last, std::move(attempts)));
}

// The throwing connect_first, each attempt made by connect_one: `failed` gets
// the attempts before the winner; when none connects, connect_error.
template <class Policy, class ConnectOne>
basic_any_stream_socket<Policy> connect_first_throwing(const std::vector<any_endpoint>& endpoints,
                                                       timeout per_attempt,
                                                       std::vector<connect_attempt>& failed,
                                                       ConnectOne&& connect_one) {
  failed.clear();
  check_stream_entries("connect_first", endpoints);
  std::error_code ec;
  auto s = connect_first_impl<Policy>(
      endpoints.data(), endpoints.size(), per_attempt, ec,
      [&](const any_endpoint& ep, const std::error_code& e, bool skipped, const hybrid_answer& a) {
        failed.push_back({ep, e, skipped, a});
      },
      std::forward<ConnectOne>(connect_one));
  if (ec) throw_connect_error(ec, failed);
  return s;
}

}  // namespace detail

// Tries each endpoint in order with `per_attempt` as its connect timeout and
// returns the first connection (its remote() says which won).  A transport the
// platform lacks is skipped with its reason; when every endpoint fails, throws
// connect_error listing every attempt and why.  `failed` receives the attempts
// before the winner (empty when the first entry connected), so a caller can say
// why a fallback was taken.  Every entry must be a stream endpoint: udp:// is a
// parse_error naming the entry, before anything is tried.
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout per_attempt,
                                              std::vector<connect_attempt>& failed) {
  return detail::connect_first_throwing<Policy>(endpoints, per_attempt, failed,
                                                detail::connect_one_any<Policy>);
}

template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout per_attempt = no_timeout) {
  std::vector<connect_attempt> failed;
  return connect_first<Policy>(endpoints, per_attempt, failed);
}

// The URIs are all parsed before anything is tried: a bad entry is a
// parse_error naming it, and no connection is attempted.  A braced list, or
// any range of strings: std::vector<std::string>, a std::span of argv's char*.
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(std::initializer_list<std::string_view> uris,
                                              timeout per_attempt = no_timeout) {
  const auto eps = detail::parse_uri_list("connect_first", uris);
  return connect_first<Policy>(eps, per_attempt);
}
template <class Policy = default_policy, class R,
          std::enable_if_t<detail::is_uri_range_v<R>, int> = 0>
basic_any_stream_socket<Policy> connect_first(const R& uris, timeout per_attempt = no_timeout) {
  const auto eps = detail::parse_uri_list("connect_first", uris);
  return connect_first<Policy>(eps, per_attempt);
}
// As above; `failed` receives the attempts before the winner.
template <class Policy = default_policy, class R,
          std::enable_if_t<detail::is_uri_range_v<R>, int> = 0>
basic_any_stream_socket<Policy> connect_first(const R& uris, timeout per_attempt,
                                              std::vector<connect_attempt>& failed) {
  const auto eps = detail::parse_uri_list("connect_first", uris);
  return connect_first<Policy>(eps, per_attempt, failed);
}

// noexcept: on failure `ec` is the last attempt's error (wrong_protocol_type,
// with nothing tried, when an entry is udp://).
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout per_attempt, std::error_code& ec) noexcept {
  if (!detail::stream_entries(endpoints, ec)) return {};
  return detail::connect_first_impl<Policy>(endpoints.data(), endpoints.size(), per_attempt, ec,
                                            detail::no_listing);
}

// ---- connect_first with wait_for_ready --------------------------------------------

namespace detail {

// One deadline for the whole list, tried round after round: each round tries
// every entry still waited for, in order, then pauses.  An entry that fails
// for another reason than "not up yet" (or whose transport this platform
// lacks) is not tried again; when none is left, the last error ends it.
// on_attempt(index, ec, skipped, answer) sees every failed attempt.
template <class Policy, class OnAttempt, class ConnectOne, class Pause>
basic_any_stream_socket<Policy> connect_first_ready(const any_endpoint* eps, std::size_t n,
                                                    const wait_for_ready& w, const deadline& when,
                                                    ready_outcome& r, std::error_code& ec,
                                                    OnAttempt&& on_attempt,
                                                    ConnectOne&& connect_one, Pause&& pause) {
  ec = make_error_code(std::errc::invalid_argument);  // an empty list
  if (n == 0) return {};
  std::vector<bool> given_up;
  VMSOCK_TRY { given_up.assign(n, false); }
  VMSOCK_CATCH(...) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return {};
  }
  const startup_hold<Policy> hold;  // Winsock stays up from one attempt to the next
  ready_backoff backoff(w);
  for (;;) {
    ++r.rounds;
    bool again = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (given_up[i]) continue;
      ++r.attempts;
      hybrid_answer a;
      auto s = connect_one(eps[i], when, ec, a);
      if (!ec) return s;
      r.last = ec;
      const bool skipped = transport_unavailable(ec);
      on_attempt(i, ec, skipped, a);
      if (ec == std::errc::operation_canceled) return {};
      if (when.expired()) {
        ec = make_error_code(errc::timed_out);
        return {};
      }
      if (skipped || !not_up_yet(ec, ready_transport_of(eps[i])))
        given_up[i] = true;
      else
        again = true;
    }
    if (!again) return {};
    if (!pause(earlier(when, deadline(backoff.next())), ec)) return {};
    if (when.expired()) {
      ec = make_error_code(errc::timed_out);
      return {};
    }
  }
}

// "connect_first: waited for one to be ready: 9 attempts in 3 rounds;
// tcp://...: Connection refused; unix:///...: No such file or directory",
// and system_error adds the code's message.  `failed` has each entry's last
// failed attempt; `last` is the entry of the very last one.
[[noreturn]] VMSOCK_NOINLINE inline void throw_list_not_ready(const std::error_code& ec,
                                                              const ready_outcome& r,
                                                              std::vector<connect_attempt> failed,
                                                              std::size_t last) {
  std::string what = "connect_first: ";
  if (r.no_deadline) {
    what +=
        "wait_for_ready needs a deadline here (nothing can cancel this connect; give a "
        "timeout, or use any_connector)";
  } else if (failed.empty()) {
    what += "no endpoints given";
  } else {
    what += "waited for one to be ready: ";
    what += std::to_string(r.attempts);
    what += r.attempts == 1 ? " attempt in " : " attempts in ";
    what += std::to_string(r.rounds);
    what += r.rounds == 1 ? " round" : " rounds";
  }
  for (std::size_t i = 0; i < failed.size(); ++i) {
    what += "; ";
    what += attempt_name(failed[i]);
    if (failed[i].skipped) what += ": skipped";
    if (i != last || failed[i].error != ec) {
      what += ": ";
      what += failed[i].error.message();
    }
  }
  raise(connect_error(ec, what, std::move(failed)));
}

// The throwing form: `failed` gets each entry's last failed attempt, in the
// order they first failed.
template <class Policy, class ConnectOne, class Pause>
basic_any_stream_socket<Policy> connect_first_ready_throwing(
    const std::vector<any_endpoint>& endpoints, const deadline& when, const wait_for_ready& w,
    std::vector<connect_attempt>& failed, bool need_deadline, ConnectOne&& connect_one,
    Pause&& pause) {
  failed.clear();
  check_stream_entries("connect_first", endpoints);
  ready_outcome r;
  std::error_code ec;
  if (need_deadline && when.is_never()) {
    r.no_deadline = true;
    throw_list_not_ready(std::make_error_code(std::errc::invalid_argument), r, {}, 0);
  }
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> slot(endpoints.size(), none);
  std::size_t last = none;
  auto s = connect_first_ready<Policy>(
      endpoints.data(), endpoints.size(), w, when, r, ec,
      [&](std::size_t i, const std::error_code& e, bool skipped, const hybrid_answer& a) {
        if (slot[i] == none) {
          slot[i] = failed.size();
          failed.push_back({endpoints[i], e, skipped, a});
        } else {
          failed[slot[i]].error = e;
          failed[slot[i]].answer = a;
        }
        last = slot[i];
      },
      std::forward<ConnectOne>(connect_one), std::forward<Pause>(pause));
  if (ec) throw_list_not_ready(ec, r, failed, last);
  return s;
}

}  // namespace detail

// connect_first with vmsock::wait_for_ready{}: `within` is one deadline for
// the whole list, tried round after round (every entry in order, then a pause)
// while an entry is not up yet (see wait_for_ready.hpp); the first to connect
// wins.  An entry that fails otherwise is not tried again.  A deadline is
// required (nothing can cancel these: any_connector's can go without one).
// When the deadline ends it, connect_error's code is errc::timed_out and
// `failed` holds each entry's last failed attempt.
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout within, const wait_for_ready& w,
                                              std::vector<connect_attempt>& failed) {
  detail::ready_sleeper<Policy> sleeper;
  return detail::connect_first_ready_throwing<Policy>(
      endpoints, deadline(within), w, failed, true, detail::connect_one_any<Policy>,
      [&](const deadline& until, std::error_code& e) { return sleeper.pause(until, e); });
}
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout within, const wait_for_ready& w) {
  std::vector<connect_attempt> failed;
  return connect_first<Policy>(endpoints, within, w, failed);
}
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(std::initializer_list<std::string_view> uris,
                                              timeout within, const wait_for_ready& w) {
  return connect_first<Policy>(detail::parse_uri_list("connect_first", uris), within, w);
}
template <class Policy = default_policy, class R,
          std::enable_if_t<detail::is_uri_range_v<R>, int> = 0>
basic_any_stream_socket<Policy> connect_first(const R& uris, timeout within,
                                              const wait_for_ready& w) {
  return connect_first<Policy>(detail::parse_uri_list("connect_first", uris), within, w);
}
// noexcept: on failure `ec` is errc::timed_out, or the last attempt's error
// when every entry failed otherwise (invalid_argument without a deadline).
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout within, const wait_for_ready& w,
                                              std::error_code& ec) noexcept {
  if (!detail::stream_entries(endpoints, ec)) return {};
  const deadline when(within);
  if (when.is_never()) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return {};
  }
  detail::ready_outcome r;
  detail::ready_sleeper<Policy> sleeper;
  return detail::connect_first_ready<Policy>(
      endpoints.data(), endpoints.size(), w, when, r, ec, detail::no_listing,
      detail::connect_one_any<Policy>,
      [&](const deadline& until, std::error_code& e) { return sleeper.pause(until, e); });
}

VMSOCK_END_NAMESPACE
