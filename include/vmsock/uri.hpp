// One socket over any transport, chosen at run time:
//   any_stream_socket  a connected stream of any family (a variant: no virtual
//                      call per byte moved)
//   connect_first      try endpoints in order, first that connects wins; the
//                      decision is made before the connection exists, never after
//   any_listener       listen on several transports at once (listen_all)
//   parse_uri          any_endpoint::parse
#pragma once

#include <vmsock/any_endpoint.hpp>
#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace vmsock {

inline any_endpoint parse_uri(std::string_view uri) { return any_endpoint::parse(uri); }

template <class Policy = default_policy>
class basic_any_stream_socket {
 public:
  using variant_type =
      std::variant<stream_socket<inet4_endpoint, Policy>, stream_socket<inet6_endpoint, Policy>,
                   stream_socket<unix_endpoint, Policy>, stream_socket<vsock_endpoint, Policy>,
                   stream_socket<hv_endpoint, Policy>>;

  // Not connected (holds a closed TCP socket: every operation reports a bad handle).
  basic_any_stream_socket() noexcept = default;
  template <class E>
  basic_any_stream_socket(stream_socket<E, Policy>&& s, const any_endpoint& remote) noexcept
      : socket_(std::move(s)), remote_(remote) {}

  // Connects to one endpoint of a stream scheme; udp:// is wrong_protocol_type.
  static basic_any_stream_socket connect(const any_endpoint& remote, timeout t,
                                         std::error_code& ec) noexcept {
    if (remote.type() != socket_type::stream) {
      ec = std::make_error_code(std::errc::wrong_protocol_type);
      return {};
    }
    return detail::visit_nothrow(
        [&](const auto& ep) -> basic_any_stream_socket {
          using E = std::decay_t<decltype(ep)>;
          auto s = stream_socket<E, Policy>::connect(ep, t, ec);
          if (ec) return {};
          return basic_any_stream_socket(std::move(s), remote);
        },
        remote.value());
  }
  static basic_any_stream_socket connect(const any_endpoint& remote, timeout t = no_timeout) {
    std::error_code ec;
    auto s = connect(remote, t, ec);
    if (ec) detail::throw_error(ec, "connect to", remote.to_string());
    return s;
  }

  // Where this socket was connected to (for connect_first: which transport won).
  const any_endpoint& remote() const noexcept { return remote_; }
  uri_scheme scheme() const noexcept { return remote_.scheme(); }
  const variant_type& value() const noexcept { return socket_; }
  template <class E>
  stream_socket<E, Policy>* get_if() noexcept {
    return std::get_if<stream_socket<E, Policy>>(&socket_);
  }

  bool is_open() const noexcept {
    return detail::visit_nothrow([](const auto& s) { return s.is_open(); }, socket_);
  }
  void close(std::error_code& ec) noexcept {
    detail::visit_nothrow([&](auto& s) { s.close(ec); }, socket_);
  }
  void close() {
    detail::visit_nothrow([](auto& s) { s.close(); }, socket_);
  }

  // The buffer forms of stream_socket, forwarded: (pointer, size), a range or
  // a buffer, a list of buffers; each with an optional std::error_code&.  One
  // visit per call; the per-byte work is the concrete socket's.
  std::size_t send(const void* data, std::size_t size) { return fwd_send(data, size); }
  std::size_t send(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return fwd_send(data, size, ec);
  }
  template <class B>
  std::size_t send(const B& b) { return fwd_send(b); }
  template <class B>
  std::size_t send(const B& b, std::error_code& ec) noexcept { return fwd_send(b, ec); }
  std::size_t send(std::initializer_list<const_buffer> b) { return fwd_send(b); }
  std::size_t send(std::initializer_list<const_buffer> b, std::error_code& ec) noexcept {
    return fwd_send(b, ec);
  }

  std::size_t send_all(const void* data, std::size_t size) { return fwd_send_all(data, size); }
  std::size_t send_all(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return fwd_send_all(data, size, ec);
  }
  template <class B>
  std::size_t send_all(const B& b) { return fwd_send_all(b); }
  template <class B>
  std::size_t send_all(const B& b, std::error_code& ec) noexcept { return fwd_send_all(b, ec); }
  std::size_t send_all(std::initializer_list<const_buffer> b) { return fwd_send_all(b); }
  std::size_t send_all(std::initializer_list<const_buffer> b, std::error_code& ec) noexcept {
    return fwd_send_all(b, ec);
  }

  std::size_t receive(void* data, std::size_t size) { return fwd_receive(data, size); }
  std::size_t receive(void* data, std::size_t size, std::error_code& ec) noexcept {
    return fwd_receive(data, size, ec);
  }
  template <class B>
  std::size_t receive(B& b) { return fwd_receive(b); }
  template <class B>
  std::size_t receive(B& b, std::error_code& ec) noexcept { return fwd_receive(b, ec); }
  std::size_t receive(std::initializer_list<mutable_buffer> b) { return fwd_receive(b); }
  std::size_t receive(std::initializer_list<mutable_buffer> b, std::error_code& ec) noexcept {
    return fwd_receive(b, ec);
  }

  std::size_t receive_exact(void* data, std::size_t size) { return fwd_receive_exact(data, size); }
  std::size_t receive_exact(void* data, std::size_t size, std::error_code& ec) noexcept {
    return fwd_receive_exact(data, size, ec);
  }
  template <class B>
  std::size_t receive_exact(B& b) { return fwd_receive_exact(b); }
  template <class B>
  std::size_t receive_exact(B& b, std::error_code& ec) noexcept { return fwd_receive_exact(b, ec); }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b) { return fwd_receive_exact(b); }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b, std::error_code& ec) noexcept {
    return fwd_receive_exact(b, ec);
  }

  template <class... A>
  void shutdown(A&&... a) {
    detail::visit_nothrow([&](auto& s) { s.shutdown(std::forward<A>(a)...); }, socket_);
  }
  template <class... A>
  bool wait_readable(A&&... a) const {
    return detail::visit_nothrow([&](const auto& s) { return s.wait_readable(std::forward<A>(a)...); }, socket_);
  }
  template <class... A>
  bool wait_writable(A&&... a) const {
    return detail::visit_nothrow([&](const auto& s) { return s.wait_writable(std::forward<A>(a)...); }, socket_);
  }
  template <class... A>
  void set_nonblocking(A&&... a) {
    detail::visit_nothrow([&](auto& s) { s.set_nonblocking(std::forward<A>(a)...); }, socket_);
  }

  any_endpoint local_endpoint(std::error_code& ec) const noexcept { return name_of(false, &ec); }
  any_endpoint local_endpoint() const { return name_of(false, nullptr); }
  any_endpoint peer_endpoint(std::error_code& ec) const noexcept { return name_of(true, &ec); }
  any_endpoint peer_endpoint() const { return name_of(true, nullptr); }

  typename Policy::handle native_handle() const noexcept {
    return detail::visit_nothrow([](const auto& s) { return s.native_handle(); }, socket_);
  }

 private:
  any_endpoint name_of(bool peer, std::error_code* ec) const {
    return detail::visit_nothrow(
        [&](const auto& s) -> any_endpoint {
          if (ec) return peer ? any_endpoint(s.peer_endpoint(*ec)) : any_endpoint(s.local_endpoint(*ec));
          return peer ? any_endpoint(s.peer_endpoint()) : any_endpoint(s.local_endpoint());
        },
        socket_);
  }

#define VMSOCK_ANY_FORWARD(name)                                                          \
  template <class... A>                                                                   \
  std::size_t fwd_##name(A&&... a) {                                                      \
    return detail::visit_nothrow([&](auto& s) -> std::size_t { return s.name(std::forward<A>(a)...); }, \
                      socket_);                                                           \
  }
  VMSOCK_ANY_FORWARD(send)
  VMSOCK_ANY_FORWARD(send_all)
  VMSOCK_ANY_FORWARD(receive)
  VMSOCK_ANY_FORWARD(receive_exact)
#undef VMSOCK_ANY_FORWARD

  variant_type socket_;
  any_endpoint remote_;
};

using any_stream_socket = basic_any_stream_socket<>;

// ---- connect_first ------------------------------------------------------------

// One try of connect_first: where, what happened, and whether it was skipped
// because the platform lacks the transport (rather than tried and failed).
struct connect_attempt {
  any_endpoint endpoint;
  std::error_code error;
  bool skipped = false;
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

// A transport this platform (or this kernel) does not have: skipped, not failed.
inline bool transport_unavailable(const std::error_code& ec) noexcept {
  return ec == errc::no_mapping || ec == errc::not_a_template_service_id ||
         ec == errc::unsupported_on_platform ||
         ec == std::errc::address_family_not_supported ||
         ec == std::errc::protocol_not_supported || ec == std::errc::wrong_protocol_type;
}

// Every URI of a list parsed before anything is done with any of them; a bad
// one is a parse_error naming the entry: "<who>: entry 2 of 3: endpoint URI ...".
inline std::vector<any_endpoint> parse_uri_list(const char* who,
                                                std::initializer_list<std::string_view> uris) {
  std::vector<any_endpoint> eps;
  eps.reserve(uris.size());
  for (const auto uri : uris) {
    try {
      eps.push_back(any_endpoint::parse(uri));
    } catch (const parse_error& e) {
      throw parse_error(std::string(who) + ": entry " + std::to_string(eps.size() + 1) + " of " +
                        std::to_string(uris.size()) + ": " + e.what());
    }
  }
  return eps;
}

template <class Policy, class OnAttempt>
basic_any_stream_socket<Policy> connect_first_impl(const any_endpoint* eps, std::size_t n,
                                                   timeout per_attempt, std::error_code& ec,
                                                   OnAttempt&& on_attempt) {
  ec = make_error_code(std::errc::invalid_argument);  // an empty list
  for (std::size_t i = 0; i < n; ++i) {
    auto s = basic_any_stream_socket<Policy>::connect(eps[i], per_attempt, ec);
    if (!ec) return s;
    on_attempt(eps[i], ec, transport_unavailable(ec));
  }
  return {};
}

[[noreturn]] VMSOCK_NOINLINE inline void throw_connect_error(std::error_code last,
                                                             std::vector<connect_attempt> attempts) {
  std::string what = "connect_first: ";
  if (attempts.empty()) what += "no endpoints given";
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    if (i != 0) what += "; ";
    what += attempts[i].endpoint.to_string();
    if (attempts[i].skipped) what += ": skipped";
    // std::system_error appends ": <message>" of its code, the last attempt's.
    if (i + 1 < attempts.size()) {
      what += ": ";
      what += attempts[i].error.message();
    }
  }
  throw connect_error(last, what, std::move(attempts));
}

}  // namespace detail

// Tries each endpoint in order with `per_attempt` as its connect timeout and
// returns the first connection (its remote() says which won).  A transport the
// platform lacks is skipped with its reason; when every endpoint fails, throws
// connect_error listing every attempt and why.  `failed` receives the attempts
// before the winner (empty when the first entry connected), so a caller can say
// why a fallback was taken.
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout per_attempt,
                                              std::vector<connect_attempt>& failed) {
  failed.clear();
  std::error_code ec;
  auto s = detail::connect_first_impl<Policy>(
      endpoints.data(), endpoints.size(), per_attempt, ec,
      [&](const any_endpoint& ep, const std::error_code& e, bool skipped) {
        failed.push_back({ep, e, skipped});
      });
  if (ec) detail::throw_connect_error(ec, failed);
  return s;
}

template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout per_attempt = no_timeout) {
  std::vector<connect_attempt> failed;
  return connect_first<Policy>(endpoints, per_attempt, failed);
}

// The URIs are all parsed before anything is tried: a bad entry is a
// parse_error naming it, and no connection is attempted.
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(std::initializer_list<std::string_view> uris,
                                              timeout per_attempt = no_timeout) {
  const auto eps = detail::parse_uri_list("connect_first", uris);
  return connect_first<Policy>(eps, per_attempt);
}

// noexcept: on failure `ec` is the last attempt's error.
template <class Policy = default_policy>
basic_any_stream_socket<Policy> connect_first(const std::vector<any_endpoint>& endpoints,
                                              timeout per_attempt, std::error_code& ec) noexcept {
  return detail::connect_first_impl<Policy>(endpoints.data(), endpoints.size(), per_attempt, ec,
                                            [](const any_endpoint&, const std::error_code&, bool) {});
}

// ---- any_listener ---------------------------------------------------------------

template <class Policy = default_policy>
class basic_any_listener {
 public:
  using variant_type =
      std::variant<listener<inet4_endpoint, Policy>, listener<inet6_endpoint, Policy>,
                   listener<unix_endpoint, Policy>, listener<vsock_endpoint, Policy>,
                   listener<hv_endpoint, Policy>>;
  static constexpr std::size_t max_listeners = Policy::max_buffers;

  basic_any_listener() = default;

  // Listens on every endpoint (stream schemes only).  All or nothing: on the
  // first failure the listeners already opened are closed again.
  static basic_any_listener listen_all(const std::vector<any_endpoint>& endpoints, int backlog,
                                       std::error_code& ec, std::size_t* failed = nullptr) {
    basic_any_listener all;
    ec.clear();
    if (endpoints.empty() || endpoints.size() > max_listeners) {
      ec = make_error_code(std::errc::invalid_argument);
      return all;
    }
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      const any_endpoint& ep = endpoints[i];
      if (ep.type() != socket_type::stream) {
        ec = std::make_error_code(std::errc::wrong_protocol_type);
      } else {
        detail::visit_nothrow(
            [&](const auto& e) {
              using E = std::decay_t<decltype(e)>;
              auto l = listener<E, Policy>::listen(e, backlog, ec);
              if (ec) return;
              auto local = l.local_endpoint(ec);
              if (ec) return;
              all.local_.push_back(any_endpoint(local));
              all.listeners_.emplace_back(std::move(l));
            },
            ep.value());
      }
      if (ec) {
        if (failed) *failed = i;
        return basic_any_listener{};
      }
    }
    return all;
  }
  static basic_any_listener listen_all(const std::vector<any_endpoint>& endpoints,
                                       int backlog = Policy::max_backlog) {
    std::error_code ec;
    std::size_t failed = 0;
    auto all = listen_all(endpoints, backlog, ec, &failed);
    if (ec) {
      if (endpoints.empty()) detail::throw_error(ec, "listen_all", "(no endpoints)");
      detail::throw_error(ec, "listen_all: listen on",
                          failed < endpoints.size() ? endpoints[failed].to_string() : std::string());
    }
    return all;
  }
  static basic_any_listener listen_all(std::initializer_list<std::string_view> uris,
                                       int backlog = Policy::max_backlog) {
    return listen_all(detail::parse_uri_list("listen_all", uris), backlog);
  }

  std::size_t size() const noexcept { return listeners_.size(); }
  // Where each listener is bound (ports the OS chose are filled in), in order.
  const std::vector<any_endpoint>& local_endpoints() const noexcept { return local_; }
  const variant_type& listener_at(std::size_t i) const { return listeners_.at(i); }

  // The first connection ready on any transport; listeners take turns, so
  // that one busy transport cannot starve another.  Expiry is errc::timed_out.
  basic_any_stream_socket<Policy> accept(timeout t, any_endpoint* peer,
                                         std::error_code& ec) noexcept {
    if (listeners_.empty()) {
      ec = make_error_code(std::errc::bad_file_descriptor);
      return {};
    }
    typename Policy::handle handles[max_listeners];
    for (std::size_t i = 0; i < listeners_.size(); ++i)
      handles[i] = detail::visit_nothrow([](const auto& l) { return l.native_handle(); },
                                         listeners_[i]);
    std::size_t ready = 0;
    if (!Policy::poll_any(handles, listeners_.size(), next_, t, ready, ec)) {
      if (!ec) ec = make_error_code(errc::timed_out);
      return {};
    }
    next_ = (ready + 1) % listeners_.size();
    return detail::visit_nothrow(
        [&](auto& l) -> basic_any_stream_socket<Policy> {
          using L = std::decay_t<decltype(l)>;
          typename L::endpoint_type from{};
          auto s = l.accept(from, ec);
          if (ec) return {};
          const any_endpoint remote(from);
          if (peer) *peer = remote;
          return basic_any_stream_socket<Policy>(std::move(s), remote);
        },
        listeners_[ready]);
  }
  basic_any_stream_socket<Policy> accept(timeout t, std::error_code& ec) noexcept {
    return accept(t, nullptr, ec);
  }
  basic_any_stream_socket<Policy> accept(timeout t = no_timeout, any_endpoint* peer = nullptr) {
    std::error_code ec;
    auto s = accept(t, peer, ec);
    if (ec) {
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

}  // namespace vmsock
