// When a timed operation gives up: timeout, no_timeout and deadline, the
// vocabulary every blocking call of vmsock takes.
#pragma once

#include <vmsock/config.hpp>

#include <chrono>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

using timeout = std::chrono::milliseconds;
// Wait forever (the default of every timed operation).
inline constexpr timeout no_timeout = (timeout::min)();

// When a timed operation gives up: a point on the steady clock, or never.
// Every timed operation takes one, and builds it from what it is given:
//   a duration     relative to now; no_timeout is never; any other negative
//                  duration is already expired (one non-blocking try, then
//                  timed_out); a duration too long to represent is never
//   a time_point   of std::chrono::steady_clock: an absolute deadline, which a
//                  loop of receives or accepts can share
class deadline {
 public:
  using clock = std::chrono::steady_clock;

  // never()
  constexpr deadline() noexcept = default;
  template <class Rep, class Period>
  deadline(std::chrono::duration<Rep, Period> d) noexcept {  // NOLINT: implicit by design
    if constexpr (std::is_floating_point_v<Rep>) {
      if (!(d == d)) return;  // NaN: never
    }
    if (d < d.zero()) {
      // Only no_timeout itself is never: a value no arithmetic on real
      // durations produces, so a computed -1 ms is expired like any other.
      if constexpr (std::is_same_v<std::chrono::duration<Rep, Period>, timeout>) {
        if (d == no_timeout) return;
      }
      at_ = (clock::time_point::min)();  // already expired
      return;
    }
    if (d >= std::chrono::duration<double>(max_seconds)) return;  // too long: never
    at_ = clock::now() + std::chrono::ceil<clock::duration>(d);
  }
  constexpr deadline(clock::time_point at) noexcept : at_(at) {}  // NOLINT: implicit by design

  static constexpr deadline never() noexcept { return deadline{}; }
  static deadline after(timeout t) noexcept { return deadline(t); }
  // A deadline already past: one non-blocking try, then timed_out.
  static constexpr deadline immediate() noexcept { return deadline((clock::time_point::min)()); }

  constexpr bool is_never() const noexcept { return at_ == (clock::time_point::max)(); }
  constexpr clock::time_point time_point() const noexcept { return at_; }
  bool expired() const noexcept { return !is_never() && clock::now() >= at_; }
  // What is left, rounded up to whole milliseconds (no_timeout for never,
  // zero once expired).
  timeout remaining() const noexcept {
    if (is_never()) return no_timeout;
    const auto now = clock::now();
    if (now >= at_) return timeout::zero();
    return std::chrono::ceil<timeout>(at_ - now);
  }
  // The earlier of two deadlines.
  friend constexpr deadline earlier(deadline a, deadline b) noexcept {
    return a.at_ < b.at_ ? a : b;
  }

 private:
  static constexpr double max_seconds = 100.0 * 365 * 24 * 3600;  // a century
  clock::time_point at_ = (clock::time_point::max)();
};

namespace detail {
// The deadline of the calls that have none, known at compile time, so that
// the hot path of an untimed send or receive does not test for one.
struct forever {
  static constexpr bool is_never() noexcept { return true; }
  operator deadline() const noexcept { return deadline::never(); }  // NOLINT: implicit by design
};
}  // namespace detail

VMSOCK_END_NAMESPACE
