// Two-step setup: what a one-call form (listen, connect, open) applies between
// socket() and bind/connect/listen.  Its trailing arguments are setup items:
//   - typed options (options.hpp): set_option on the new socket;
//   - setup steps: types with a `setup_step` tag and apply(socket, ec), such as
//     vmsock::unlink_on_close and vmsock::control(f);
// optionally followed by a std::error_code& (then the call is noexcept).
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/socket/options.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class T, class = void> struct is_setup_step : std::false_type {};
template <class T>
struct is_setup_step<T, std::void_t<decltype(T::setup_step)>> : std::true_type {};

template <class T>
inline constexpr bool is_setup_item =
    is_option<std::decay_t<T>>::value || is_setup_step<std::decay_t<T>>::value;

template <class T> inline constexpr bool is_ec = std::is_same_v<std::decay_t<T>, std::error_code>;

// vmsock::wait_for_ready (wait_for_ready.hpp): an item of the connect forms
// only, which they take out of the setup (it says how to connect, not what to
// set on the socket).
template <class T, class = void> struct is_ready_wait : std::false_type {};
template <class T>
struct is_ready_wait<T, std::void_t<decltype(T::ready_wait)>> : std::true_type {};
template <class T>
inline constexpr bool is_connect_item = is_setup_item<T> || is_ready_wait<std::decay_t<T>>::value;
template <class... A>
inline constexpr bool has_ready_wait = (is_ready_wait<std::decay_t<A>>::value || ...);

// Setup items (and with Connect, wait_for_ready), then a std::error_code&
// last; at least one item.
template <bool Connect, class A>
inline constexpr bool is_item_of = Connect ? is_connect_item<A> : is_setup_item<A>;
template <bool Connect, class... A> struct items_then_ec_of : std::false_type {};
template <bool Connect, class A, class B, class... R>
struct items_then_ec_of<Connect, A, B, R...>
    : std::bool_constant<is_item_of<Connect, A> && items_then_ec_of<Connect, B, R...>::value> {};
template <bool Connect, class A, class B>
struct items_then_ec_of<Connect, A, B>
    : std::bool_constant<is_item_of<Connect, A> && is_ec<B> &&
                         !std::is_const_v<std::remove_reference_t<B>>> {};
template <class... A> using items_then_ec = items_then_ec_of<false, A...>;
template <class... A> using connect_items_then_ec = items_then_ec_of<true, A...>;

// Whether the last of A is a std::error_code.
template <class... A> struct last_is_ec : std::false_type {};
template <class A> struct last_is_ec<A> : std::bool_constant<is_ec<A>> {};
template <class A, class B, class... R> struct last_is_ec<A, B, R...> : last_is_ec<B, R...> {};

template <class... A> inline constexpr bool all_setup_items = (is_setup_item<A> && ...);
template <class... A> inline constexpr bool all_connect_items = (is_connect_item<A> && ...);

inline std::error_code& last_ec(std::error_code& ec) noexcept { return ec; }
template <class A, class... R> std::error_code& last_ec(A&&, R&&... r) noexcept {
  return last_ec(std::forward<R>(r)...);
}

// Which step of a setup failed, for the throwing forms' messages.
struct setup_failure {
  enum class step : unsigned char { none, open, item, bind, act } what = step::none;
  std::size_t item = 0;  // with step::item: which one (0-based)
};

// Applies one item to socket `s`; an error_code argument (and a connect's
// wait_for_ready) is skipped.
template <class S, class A>
bool apply_item(S& s, const A& a, std::error_code& ec, setup_failure& f, std::size_t& i) noexcept {
  if constexpr (is_ec<A> || is_ready_wait<A>::value) {
    (void)s, (void)a, (void)f, (void)i;
    return true;
  } else {
    if constexpr (is_setup_step<A>::value)
      a.apply(s, ec);
    else
      s.set_option(a, ec);
    if (ec) {
      f.what = setup_failure::step::item;
      f.item = i;
      return false;
    }
    ++i;
    return true;
  }
}

template <class S, class... A>
bool apply_items(S& s, std::error_code& ec, setup_failure& f, const A&... a) noexcept {
  ec.clear();
  std::size_t i = 0;
  (void)s, (void)f, (void)i;  // none, when no items are given
  return (apply_item(s, a, ec, f, i) && ...);
}

// "set_option v6_only=false" for the item that failed.
template <class A> void item_text(const A& a, std::size_t& i, std::string& out) {
  if constexpr (!is_ec<A> && !is_ready_wait<A>::value) {
    if (i-- == 0) {
      if constexpr (is_setup_step<A>::value) {
        out = a.name;
        out += '=';
        a.append_value(out);
      } else {
        out = "set_option " + option_text(a);
      }
    }
  } else {
    (void)a, (void)i, (void)out;
  }
}
template <class... A> std::string failed_item(const setup_failure& f, const A&... a) {
  std::string out;
  std::size_t i = f.item;
  (void)i;
  (item_text(a, i, out), ...);
  return out;
}

// The throwing forms' message: "listen on tcp://[::]:80" and, when an item
// failed, ": set_option v6_only=false".
template <class... A>
std::string setup_message(std::string what, const setup_failure& f, const A&... a) {
  if (f.what == setup_failure::step::item) {
    what += ": ";
    what += failed_item(f, a...);
  }
  return what;
}

}  // namespace detail

// A setup step that runs `f(socket, ec)` between socket() and bind/connect/
// listen, for what vmsock has no typed option for (Go's ListenConfig.Control):
//   vmsock::tcp4_listener::listen(ep, vmsock::control([](auto& s, std::error_code& ec) {
//     ::setsockopt(s.native_handle(), ...);  // and set ec on failure
//   }));
template <class F> struct control_step {
  F f;
  static constexpr bool setup_step = true;
  static constexpr const char* name = "control";
  template <class S> void apply(S& s, std::error_code& ec) const noexcept {
    static_assert(std::is_nothrow_invocable_v<const F&, S&, std::error_code&>,
                  "vmsock::control: the function must be callable as f(socket, error_code&) and "
                  "noexcept (it runs inside the noexcept forms; report failures through ec)");
    ec.clear();
    f(s, ec);
  }
  void append_value(std::string& out) const { out += "(function)"; }
};
template <class F> control_step<std::decay_t<F>> control(F&& f) { return {std::forward<F>(f)}; }

// The setup step of a Windows port reservation: bind takes its port from the
// reservation `token` (SIO_ASSOCIATE_PORT_RESERVATION, which must come before
// bind, so before what listen and connect do in one call):
//   auto r = holder.acquire_port_reservation(0, 16);
//   auto l = vmsock::tcp4_listener::listen(ep, vmsock::associate_port_reservation{r.token});
// IP sockets only; on POSIX unsupported_on_platform.
struct associate_port_reservation {
  std::uint64_t token = 0;
  static constexpr bool setup_step = true;
  static constexpr const char* name = "associate_port_reservation";
  template <class S> void apply(S& s, std::error_code& ec) const noexcept {
    static_assert(detail::is_ip_endpoint<typename S::endpoint_type>,
                  "vmsock::associate_port_reservation applies to IP sockets only");
    s.associate_port_reservation(token, ec);
  }
  void append_value(std::string& out) const { detail::append_decimal(out, token); }
};

VMSOCK_END_NAMESPACE
