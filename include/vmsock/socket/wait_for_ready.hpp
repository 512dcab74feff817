// vmsock::wait_for_ready: a connect that waits for its peer to come up, within
// its deadline, instead of failing at the first refusal (gRPC's "wait for
// ready").  A guest agent often starts before the host service listens, and a
// host dials a VM whose agent is not up yet:
//
//   auto s = vmsock::tcp4_socket::connect(ep, 30s, vmsock::wait_for_ready{});
//   auto h = vmsock::hybrid_vsock_stream_socket::connect({"/run/fc.vsock", 52}, 30s,
//                                                        vmsock::wait_for_ready{});
//   auto a = connector.connect_first(endpoints, 30s, vmsock::wait_for_ready{});
//
// Each attempt uses a fresh socket (a failed connect leaves a socket unusable on
// some systems).  The errors that mean "not up yet" are retried after a pause
// that doubles from first_pause to longest_pause, each randomised within
// `jitter` of itself so that many agents started together do not knock in step:
//   - connection refused (Windows' WSAECONNREFUSED too);
//   - a Unix socket file (or a hybrid VMM's) that does not exist yet (ENOENT);
//   - VSOCK's refusal, ECONNRESET at connect (errc::vsock_connection_refused),
//     a VSOCK or Hyper-V connect that timed out in the kernel (a VM that
//     does not answer yet), and ENODEV, a host's vhost_vsock with no VM of
//     that CID (one that is booting, or being restarted, and has not started
//     its device yet);
//   - a hybrid VMM's silent close (errc::hybrid_vsock_refused).
// Any other error ends the connect at once with that error.  When the
// deadline ends it, the error is errc::timed_out (== std::errc::timed_out),
// and the exception names the attempts made and the last one's error:
//   connect to tcp://127.0.0.1:5000: waited for it to be ready: 7 attempts,
//   the last: Connection refused: operation timed out
//
// The static one-call connects cannot be cancelled (there is no object to call
// cancel() on), so they need a deadline: without one they fail at once with
// std::errc::invalid_argument.  any_connector's connects may go without one:
// they retry until cancel(), which also ends a pause between attempts at once.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/fwd.hpp>
#include <vmsock/socket/detail/setup.hpp>
#include <vmsock/socket/detail/policy_traits.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/types.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

// A trailing item of a connect (after the deadline, beside options and setup
// steps, before a std::error_code&): retry until the peer is up.  See the top
// of this file.
struct wait_for_ready {
  timeout first_pause{25};      // the pause after the first failed attempt
  timeout longest_pause{1000};  // pauses double up to this
  double jitter = 0.2;          // each pause is randomised within +-jitter of it (0 to 1)
  // 0: each connect draws its own pauses; another value repeats them (tests).
  std::uint64_t seed = 0;

  // Marks it for the connect forms, which take it out of the setup items.
  static constexpr bool ready_wait = true;
};

// How an asynchronous wait for ready went (the synchronous forms say it in
// their exception's message): the attempts made and the last one's error.
// make_ready_error turns it into that message.
struct ready_report {
  std::size_t attempts = 0;
  std::error_code last;
};

namespace detail {

// What "not up yet" means depends on the transport: a missing file only for
// Unix (and hybrid) sockets, a reset or a kernel timeout only for VM sockets.
enum class ready_transport : unsigned char { ip, local, vm };

template <class E> constexpr ready_transport ready_transport_of() noexcept {
  if constexpr (std::is_same_v<E, unix_endpoint> || std::is_same_v<E, hybrid_vsock_endpoint>)
    return ready_transport::local;
  else if constexpr (std::is_same_v<E, vsock_endpoint> || std::is_same_v<E, hv_endpoint>)
    return ready_transport::vm;
  else
    return ready_transport::ip;
}

inline bool not_up_yet(const std::error_code& ec, ready_transport t) noexcept {
  // Also errc::vsock_connection_refused and errc::hybrid_vsock_refused, whose
  // condition is connection_refused.
  if (ec == std::errc::connection_refused) return true;
  switch (t) {
  case ready_transport::local: return ec == std::errc::no_such_file_or_directory;
  case ready_transport::vm:
    return ec == std::errc::connection_reset || ec == std::errc::timed_out ||
           ec == std::errc::no_such_device;
  case ready_transport::ip: break;
  }
  return false;
}

// How a wait for ready went: the attempts made and the last one's error.
struct ready_outcome {
  std::size_t attempts = 0;
  std::size_t rounds = 0;  // connect_first: passes over the whole list
  std::error_code last;
  bool no_deadline = false;  // refused before any attempt: nothing could end it
};

// The pauses: first_pause, doubling up to longest_pause, each times a random
// factor in [1 - jitter, 1 + jitter].
class ready_backoff {
 public:
  explicit ready_backoff(const wait_for_ready& w) noexcept
      : next_(w.first_pause < timeout::zero() ? timeout::zero() : w.first_pause),
        longest_(w.longest_pause < next_ ? next_ : w.longest_pause),
        jitter_(w.jitter > 0 ? (w.jitter < 1 ? w.jitter : 1.0) : 0.0),
        state_(w.seed != 0 ? w.seed
                           : static_cast<std::uint64_t>(
                                 std::chrono::steady_clock::now().time_since_epoch().count()) ^
                                 reinterpret_cast<std::uintptr_t>(this)) {
    if (state_ == 0) state_ = 0x9E3779B97F4A7C15ull;
  }

  timeout next() noexcept {
    const timeout base = next_;
    next_ = base > longest_ / 2 ? longest_ : base * 2;
    if (jitter_ == 0.0) return base;
    const double u = static_cast<double>(draw() >> 11) / 9007199254740992.0;  // [0, 1)
    const double factor = 1.0 + jitter_ * (2.0 * u - 1.0);
    return timeout(static_cast<timeout::rep>(static_cast<double>(base.count()) * factor + 0.5));
  }

 private:
  std::uint64_t draw() noexcept {  // xorshift64
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }

  timeout next_;
  timeout longest_;
  double jitter_;
  std::uint64_t state_;
};

// Waits until `until`, or until `wake` is signalled (true: woken), in the
// policy's poll: no thread sleeps where cancel() cannot reach it.
template <class Policy>
bool pause_on(typename Policy::wake_handle wake, const deadline& until,
              std::error_code& ec) noexcept {
  static_assert(std::is_same_v<typename Policy::wake_handle, typename Policy::handle>,
                "vmsock::wait_for_ready: the policy's wake-up handle is polled as a socket");
  std::size_t ready = 0;
  const wait_result r = Policy::poll_any(&wake, 1, 0, Policy::invalid_wake, until, ready, ec);
  return !ec && r == wait_result::ready;
}

// The pauses of a connect nobody can cancel (the static forms): a wake-up
// handle that is never signalled, made at the first pause.
template <class Policy> class ready_sleeper {
 public:
  ready_sleeper() noexcept = default;
  ~ready_sleeper() {
    if (wake_ != Policy::invalid_wake) Policy::close_wake(wake_);
  }
  ready_sleeper(const ready_sleeper&) = delete;
  ready_sleeper& operator=(const ready_sleeper&) = delete;

  // false with ec set: the wait itself failed.
  bool pause(const deadline& until, std::error_code& ec) noexcept {
    if (wake_ == Policy::invalid_wake) {
      wake_ = Policy::open_wake(ec);
      if (ec) return false;
    }
    pause_on<Policy>(wake_, until, ec);
    return !ec;
  }

 private:
  typename Policy::wake_handle wake_ = Policy::invalid_wake;
};

// Makes attempt(ec) until it connects, fails for good, the deadline passes
// (errc::timed_out) or pause(until, ec) reports a cancel (or a failure).
template <class Attempt, class Pause>
void retry_until_ready(const wait_for_ready& w, const deadline& when, ready_transport t,
                       ready_outcome& r, std::error_code& ec, Attempt&& attempt,
                       Pause&& pause) noexcept {
  ready_backoff backoff(w);
  for (;;) {
    ++r.attempts;
    attempt(ec);
    if (!ec) return;
    r.last = ec;
    if (ec == std::errc::operation_canceled) return;
    const bool again = not_up_yet(ec, t);
    if (when.expired() && (again || ec == std::errc::timed_out)) {
      ec = make_error_code(errc::timed_out);
      return;
    }
    if (!again) return;
    if (!pause(earlier(when, deadline(backoff.next())), ec)) return;
    if (when.expired()) {
      ec = make_error_code(errc::timed_out);
      return;
    }
  }
}

// The wait_for_ready among a connect's items (the first, if several).
inline const wait_for_ready* pick_ready(const wait_for_ready* p, const wait_for_ready& w) noexcept {
  return p != nullptr ? p : &w;
}
template <class T> const wait_for_ready* pick_ready(const wait_for_ready* p, const T&) noexcept {
  return p;
}
template <class... A> const wait_for_ready& ready_item(const A&... a) noexcept {
  const wait_for_ready* p = nullptr;
  ((p = pick_ready(p, a)), ...);
  return *p;
}

// A static connect with wait_for_ready among its items: attempt(ec) makes one
// try with a fresh socket.  A deadline is required (nothing else ends it).
template <class Policy, class Attempt, class... A>
void connect_when_ready(ready_transport t, const deadline& when, ready_outcome& r,
                        std::error_code& ec, Attempt&& attempt, const A&... items) noexcept {
  if (when.is_never()) {
    r.no_deadline = true;
    ec = std::make_error_code(std::errc::invalid_argument);
    return;
  }
  const startup_hold<Policy> hold;  // Winsock stays up from one attempt to the next
  ready_sleeper<Policy> sleeper;
  retry_until_ready(
      ready_item(items...), when, t, r, ec, attempt,
      [&](const deadline& until, std::error_code& e) { return sleeper.pause(until, e); });
}

// attempt(ec) returns a connected Socket; with wait_for_ready among `items`,
// it is made again while the peer is not up yet.
template <class Policy, class Socket, class Attempt, class... A>
Socket connect_items_ready(ready_transport t, const deadline& when, ready_outcome& r,
                           std::error_code& ec, Attempt&& attempt, const A&... items) noexcept {
  if constexpr (!has_ready_wait<A...>) {
    (void)t, (void)when, (void)r;
    return attempt(ec);
  } else {
    Socket out;
    connect_when_ready<Policy>(
        t, when, r, ec, [&](std::error_code& e) { out = attempt(e); }, items...);
    return out;
  }
}

// The throwing forms' message after "connect to <endpoint>": how the wait went.
inline std::string ready_message(std::string what, const ready_outcome& r,
                                 const std::error_code& ec) {
  if (r.no_deadline) {
    what +=
        ": wait_for_ready needs a deadline here (nothing can cancel this connect; give a "
        "timeout, or connect through any_connector)";
  } else if (r.attempts > 1 || (r.attempts == 1 && ec == errc::timed_out && r.last != ec)) {
    what += ": waited for it to be ready: ";
    what += std::to_string(r.attempts);
    what += r.attempts == 1 ? " attempt" : " attempts";
    if (ec != r.last) {
      what += ", the last: ";
      what += r.last.message();
    }
  }
  return what;
}
template <class... A>
std::string ready_setup_message(std::string what, const setup_failure& f, const ready_outcome& r,
                                const std::error_code& ec, const A&... items) {
  return ready_message(setup_message(std::move(what), f, items...), r, ec);
}

}  // namespace detail

// The exception a synchronous wait-for-ready connect to `peer` would have
// thrown, for an asynchronous one that ended with `ec` after `r`:
//   connect to vsock://2:5000: waited for it to be ready: 4 attempts, the
//   last: Connection refused: operation timed out
template <class Endpoint>
std::system_error make_ready_error(const std::error_code& ec, const Endpoint& peer,
                                   const ready_report& r) {
  detail::ready_outcome o;
  o.attempts = r.attempts;
  o.last = r.last;
  return std::system_error(ec, detail::ready_message("connect to " + peer.to_string(), o, ec));
}

VMSOCK_END_NAMESPACE
