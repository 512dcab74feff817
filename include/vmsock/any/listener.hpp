// any_listener: one listener over several transports at once (listen_all),
// accepting any_stream_sockets, with the typed listeners' peer filters.
#pragma once

#include <vmsock/any/detail/stream_options.hpp>
#include <vmsock/any/detail/uri_list.hpp>
#include <vmsock/any/stream_socket.hpp>
#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/detail/cancel_state.hpp>
#include <vmsock/socket/detail/policy_traits.hpp>
#include <vmsock/socket/listener.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

VMSOCK_BEGIN_NAMESPACE

template <class Policy = default_policy> class basic_any_listener {
 public:
  using variant_type =
      std::variant<listener<inet4_endpoint, Policy>, listener<inet6_endpoint, Policy>,
                   listener<unix_endpoint, Policy>, listener<vsock_endpoint, Policy>,
                   listener<hv_endpoint, Policy>>;
  static constexpr std::size_t max_listeners = Policy::max_buffers;

  // Empty: accept reports a bad handle, and the message says "empty".
  basic_any_listener() noexcept = default;
  basic_any_listener(basic_any_listener&& o) noexcept
      : listeners_(std::move(o.listeners_)),
        local_(std::move(o.local_)),
        next_(o.next_),
        cancel_(std::move(o.cancel_)),
        filter_(std::move(o.filter_)),
        rejected_(o.rejected_.exchange(0, std::memory_order_relaxed)) {}
  basic_any_listener& operator=(basic_any_listener&& o) noexcept {
    if (this != &o) {
      cancel_.detach();
      listeners_ = std::move(o.listeners_);
      local_ = std::move(o.local_);
      next_ = o.next_;
      cancel_ = std::move(o.cancel_);
      filter_ = std::move(o.filter_);
      rejected_.store(o.rejected_.exchange(0, std::memory_order_relaxed),
                      std::memory_order_relaxed);
    }
    return *this;
  }
  ~basic_any_listener() { cancel_.detach(); }

  // Who may connect, on every transport: `pred` is any callable taking
  // (const any_endpoint& peer) or (const any_endpoint& peer, const
  // basic_any_stream_socket& connection) whose result converts to bool; the
  // second form lets peer::uids and peer::gids read a Unix connection's
  // credentials (they answer for a connection of another family by their
  // `others`: refused by default).  A refused peer is closed before accept
  // returns, and accept goes on waiting, its deadline included;
  // rejected_peers() counts them.  A filter that throws refuses the peer
  // (counted too).  See listener::set_peer_filter and peer_filter.hpp.
  template <class F> void set_peer_filter(F pred) {
    static_assert(detail::is_peer_predicate<F, any_endpoint, basic_any_stream_socket<Policy>>,
                  "vmsock: an any_listener's peer filter is callable as bool(const any_endpoint&) "
                  "or bool(const any_endpoint&, const any_stream_socket&)");
    filter_ =
        std::make_unique<detail::peer_filter_of<any_endpoint, basic_any_stream_socket<Policy>, F>>(
            std::move(pred));
  }
  void clear_peer_filter() noexcept { filter_.reset(); }
  std::uint64_t rejected_peers() const noexcept {
    return rejected_.load(std::memory_order_relaxed);
  }

  // Listens on every endpoint (stream schemes only).  All or nothing: on the
  // first failure the listeners already opened are closed again.
  static basic_any_listener listen_all(const std::vector<any_endpoint>& endpoints, int backlog,
                                       std::error_code& ec,
                                       std::size_t* failed = nullptr) noexcept {
    basic_any_listener all;
    ec.clear();
    if (endpoints.empty() || endpoints.size() > max_listeners) {
      ec = make_error_code(std::errc::invalid_argument);
      return all;
    }
    if (!detail::stream_entries(endpoints, ec)) return all;
    const detail::startup_hold<Policy> hold;  // across the listeners (and a failure's undoing)
    VMSOCK_TRY {
      all.listeners_.reserve(endpoints.size());
      all.local_.reserve(endpoints.size());
    }
    VMSOCK_CATCH(...) {
      ec = std::make_error_code(std::errc::not_enough_memory);
      return all;
    }
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      detail::visit_nothrow(
          [&](const auto& e) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, hybrid_vsock_endpoint>) {
              // The VMM's connections arrive on "<path>_<port>": a Unix
              // listener, known by its hybrid endpoint.
              auto l = basic_hybrid_vsock_listener<stream_socket<unix_endpoint, Policy>>::listen(
                  e, backlog, ec);
              if (ec) return;
              all.local_.push_back(any_endpoint(e));
              all.listeners_.emplace_back(static_cast<listener<unix_endpoint, Policy>&&>(l));
            } else {
              auto l = listener<E, Policy>::listen(e, backlog, ec);
              if (ec) return;
              auto local = l.local_endpoint(ec);
              if (ec) return;
              all.local_.push_back(any_endpoint(local));
              all.listeners_.emplace_back(std::move(l));
            }
          },
          endpoints[i].value());
      if (ec) {
        if (failed) *failed = i;
        return basic_any_listener{};
      }
    }
    all.cancel_.os_handle.store(detail::visit_nothrow(
        [](const auto& l) { return l.native_handle(); }, all.listeners_.front()));
    return all;
  }
  static basic_any_listener listen_all(const std::vector<any_endpoint>& endpoints,
                                       int backlog = Policy::max_backlog) {
    if (endpoints.size() > max_listeners) {
      std::string msg = "listen_all: ";
      msg += std::to_string(endpoints.size());
      msg += " endpoints, more than one any_listener holds (max_listeners = ";
      msg += std::to_string(max_listeners);
      msg += ')';
      detail::raise(std::system_error(std::make_error_code(std::errc::invalid_argument), msg));
    }
    detail::check_stream_entries("listen_all", endpoints);
    std::error_code ec;
    std::size_t failed = 0;
    auto all = listen_all(endpoints, backlog, ec, &failed);
    if (ec) {
      if (endpoints.empty()) detail::throw_error(ec, "listen_all", "(no endpoints)");
      detail::throw_error(
          ec, "listen_all: listen on",
          failed < endpoints.size() ? endpoints[failed].to_string() : std::string());
    }
    return all;
  }
  // The URIs, all parsed first: a braced list or any range of strings.
  static basic_any_listener listen_all(std::initializer_list<std::string_view> uris,
                                       int backlog = Policy::max_backlog) {
    return listen_all(detail::parse_uri_list("listen_all", uris), backlog);
  }
  template <class R, std::enable_if_t<detail::is_uri_range_v<R>, int> = 0>
  static basic_any_listener listen_all(const R& uris, int backlog = Policy::max_backlog) {
    return listen_all(detail::parse_uri_list("listen_all", uris), backlog);
  }

  // One any_listener over listeners made elsewhere: adopted from systemd
  // (systemd.hpp), received from another process (handoff.hpp), or set up by
  // hand.  All or nothing: 1..max_listeners open listeners, else
  // invalid_argument (a closed one: the bad-handle code; the OS's error if a
  // local endpoint cannot be read), and on failure the given listeners are
  // closed.
  static basic_any_listener adopt(std::vector<variant_type> listeners,
                                  std::error_code& ec) noexcept {
    basic_any_listener all;
    ec.clear();
    if (listeners.empty() || listeners.size() > max_listeners) {
      ec = make_error_code(std::errc::invalid_argument);
      return all;
    }
    VMSOCK_TRY { all.local_.reserve(listeners.size()); }
    VMSOCK_CATCH(...) {
      ec = std::make_error_code(std::errc::not_enough_memory);
      return all;
    }
    for (const auto& l : listeners) {
      const any_endpoint local = detail::visit_nothrow(
          [&](const auto& x) -> any_endpoint {
            if (!x.is_open()) {
              ec = Policy::closed_error();
              return {};
            }
            return any_endpoint(x.local_endpoint(ec));
          },
          l);
      if (ec) return basic_any_listener{};
      all.local_.push_back(local);
    }
    all.listeners_ = std::move(listeners);
    all.cancel_.os_handle.store(detail::visit_nothrow(
        [](const auto& l) { return l.native_handle(); }, all.listeners_.front()));
    return all;
  }
  static basic_any_listener adopt(std::vector<variant_type> listeners) {
    std::error_code ec;
    const std::size_t n = listeners.size();
    auto all = adopt(std::move(listeners), ec);
    if (ec) {
      std::string what = "any_listener::adopt of ";
      what += std::to_string(n);
      what += n == 1 ? " listener" : " listeners";
      if (n == 0 || n > max_listeners) {
        what += " (1 to ";
        what += std::to_string(max_listeners);
        what += " are taken)";
      }
      detail::throw_error(ec, what);
    }
    return all;
  }

  std::size_t size() const noexcept { return listeners_.size(); }
  bool empty() const noexcept { return listeners_.empty(); }
  // Where each listener is bound (ports the OS chose are filled in), in order.
  const std::vector<any_endpoint>& local_endpoints() const noexcept { return local_; }
  const variant_type& listener_at(std::size_t i) const { return listeners_.at(i); }
  variant_type& listener_at(std::size_t i) { return listeners_.at(i); }

  // Ends a waiting accept in any thread with std::errc::operation_canceled,
  // and every later one, until the listener is destroyed or replaced.  Each
  // listener is cancelled too.  Thread-safe.
  void cancel() noexcept {
    cancel_.cancel();
    for (auto& l : listeners_) detail::visit_nothrow([](auto& x) { x.cancel(); }, l);
  }
  bool is_cancelled() const noexcept { return cancel_.cancelled.load(); }

  // An option for every listener; one that does not apply to a listener's
  // family is errc::option_not_applicable, naming that listener.
  template <class Option>
  void set_option(const Option& opt, std::error_code& ec, std::size_t* failed = nullptr) noexcept {
    if (listeners_.empty()) {
      ec = Policy::closed_error();
      return;
    }
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
      detail::any_set_option(listeners_[i], opt, ec);
      if (ec) {
        if (failed) *failed = i;
        return;
      }
    }
  }
  template <class Option> void set_option(const Option& opt) {
    std::error_code ec;
    std::size_t failed = 0;
    set_option(opt, ec, &failed);
    if (!ec) return;
    if (listeners_.empty())
      detail::throw_empty(("set_option " + detail::option_text(opt) + " on").c_str(),
                          "any_listener", ec);
    std::string where = local_[failed].to_string();
    if (ec == errc::option_not_applicable) {
      where += " (the option does not apply to ";
      where += detail::visit_nothrow(
          [](const auto& l) {
            return detail::family_words<typename std::decay_t<decltype(l)>::endpoint_type>();
          },
          listeners_[failed]);
      where += ')';
    }
    detail::throw_error(ec, "set_option " + detail::option_text(opt) + " on", where);
  }

  // The first connection ready on any transport, by `when`; listeners take
  // turns, so that one busy transport cannot starve another.  Expiry is
  // errc::timed_out; cancel() is std::errc::operation_canceled.
  basic_any_stream_socket<Policy> accept(deadline when, any_endpoint* peer,
                                         std::error_code& ec) noexcept {
    if (listeners_.empty()) {
      ec = Policy::closed_error();
      return {};
    }
    if (cancel_.cancelled.load()) {
      ec = detail::canceled();
      return {};
    }
    typename Policy::handle handles[max_listeners];
    for (std::size_t i = 0; i < listeners_.size(); ++i)
      handles[i] =
          detail::visit_nothrow([](const auto& l) { return l.native_handle(); }, listeners_[i]);
    typename Policy::wake_handle wake;
    if (!cancel_.arm(wake, ec)) return {};
    for (;;) {
      std::size_t ready = 0;
      const wait_result r =
          Policy::poll_any(handles, listeners_.size(), next_, wake, when, ready, ec);
      if (ec) return {};
      if (r == wait_result::woken) {
        ec = detail::canceled();
        return {};
      }
      if (r == wait_result::timed_out) {
        ec = make_error_code(errc::timed_out);
        return {};
      }
      next_ = (ready + 1) % listeners_.size();
      // One try (the connection may have gone to another thread, or given up).
      auto s = detail::visit_nothrow(
          [&](auto& l) -> basic_any_stream_socket<Policy> {
            using L = std::decay_t<decltype(l)>;
            typename L::endpoint_type from{};
            auto c = l.accept(deadline::immediate(), from, ec);
            if (ec) return {};
            const any_endpoint remote(from);
            if (peer) *peer = remote;
            return basic_any_stream_socket<Policy>(std::move(c), remote);
          },
          listeners_[ready]);
      if (!ec) {
        if (filter_ == nullptr || filter_->allows(s.remote(), s)) return s;
        rejected_.fetch_add(1, std::memory_order_relaxed);
        std::error_code ignored;
        s.close(ignored);  // and wait for the next one, by the same deadline
        continue;
      }
      if (!(ec == errc::timed_out || detail::would_block(ec))) return {};
    }
  }
  basic_any_stream_socket<Policy> accept(deadline when, std::error_code& ec) noexcept {
    return accept(when, nullptr, ec);
  }
  basic_any_stream_socket<Policy> accept(std::error_code& ec) noexcept {
    return accept(deadline::never(), nullptr, ec);
  }
  basic_any_stream_socket<Policy> accept(deadline when = deadline::never(),
                                         any_endpoint* peer = nullptr) {
    std::error_code ec;
    auto s = accept(when, peer, ec);
    if (ec) {
      if (listeners_.empty()) detail::throw_empty("accept on", "any_listener (no listeners)", ec);
      std::string where;
      for (const auto& ep : local_) {
        if (!where.empty()) where += ", ";
        where += ep.to_string();
      }
      detail::throw_error(ec, "accept on", where);
    }
    return s;
  }

 private:
  std::vector<variant_type> listeners_;
  std::vector<any_endpoint> local_;
  std::size_t next_ = 0;
  // any_listener's own wake-up for its poll over every listener; os_handle
  // is the first listener's (what cancel() needs to see the listener is live).
  detail::cancel_state<Policy> cancel_;
  std::unique_ptr<detail::peer_filter<any_endpoint, basic_any_stream_socket<Policy>>> filter_;
  std::atomic<std::uint64_t> rejected_{0};
};

using any_listener = basic_any_listener<>;

template <class Policy = default_policy>
basic_any_listener<Policy> listen_all(std::initializer_list<std::string_view> uris,
                                      int backlog = Policy::max_backlog) {
  return basic_any_listener<Policy>::listen_all(uris, backlog);
}
template <class Policy = default_policy>
basic_any_listener<Policy> listen_all(const std::vector<any_endpoint>& endpoints,
                                      int backlog = Policy::max_backlog) {
  return basic_any_listener<Policy>::listen_all(endpoints, backlog);
}
template <class Policy = default_policy, class R,
          std::enable_if_t<detail::is_uri_range_v<R>, int> = 0>
basic_any_listener<Policy> listen_all(const R& uris, int backlog = Policy::max_backlog) {
  return basic_any_listener<Policy>::listen_all(uris, backlog);
}

VMSOCK_END_NAMESPACE
