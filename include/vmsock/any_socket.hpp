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
#include <vmsock/hybrid_vsock_socket.hpp>
#include <vmsock/listener.hpp>
#include <vmsock/stream_socket.hpp>
#include <vmsock/wait_for_ready.hpp>

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

namespace vmsock {

inline any_endpoint parse_uri(std::string_view uri) { return any_endpoint::parse(uri); }

namespace detail {

// The stream socket that connects to an endpoint of type E: stream_socket<E>,
// and for a hybrid vsock endpoint the socket that makes the VMM's handshake.
template <class E, class Policy>
struct any_stream_of {
  using type = stream_socket<E, Policy>;
};
template <class Policy>
struct any_stream_of<hybrid_vsock_endpoint, Policy> {
  using type = basic_hybrid_vsock_stream_socket<Policy>;
};
template <class E, class Policy>
using any_stream_t = typename any_stream_of<E, Policy>::type;

// What any_stream_socket holds of it: a hybrid connection is, after its
// handshake, a Unix stream (remote() keeps the hybrid endpoint).
template <class S>
auto&& as_plain_stream(S&& s) noexcept {
  if constexpr (std::is_base_of_v<stream_socket<unix_endpoint, typename S::policy_type>, S>)
    return static_cast<stream_socket<unix_endpoint, typename S::policy_type>&&>(s);
  else
    return std::move(s);
}

// "tcp sockets": how a family is named where an option does not apply to it.
template <class E>
const char* family_words() noexcept {
  if constexpr (is_ip_endpoint<E>) return "TCP sockets";
  else if constexpr (std::is_same_v<E, unix_endpoint> || std::is_same_v<E, hybrid_vsock_endpoint>)
    return "Unix sockets";
  else if constexpr (std::is_same_v<E, vsock_endpoint>) return "VSOCK sockets";
  else return "Hyper-V sockets";
}

[[noreturn]] VMSOCK_NOINLINE inline void throw_empty(const char* op, const char* what,
                                                     const std::error_code& ec) {
  std::string msg(op);
  msg += " an empty ";
  msg += what;
  raise(std::system_error(ec, msg));
}

}  // namespace detail

template <class Policy = default_policy>
class basic_any_stream_socket {
 public:
  using variant_type =
      std::variant<stream_socket<inet4_endpoint, Policy>, stream_socket<inet6_endpoint, Policy>,
                   stream_socket<unix_endpoint, Policy>, stream_socket<vsock_endpoint, Policy>,
                   stream_socket<hv_endpoint, Policy>>;

  // Empty: every operation reports a bad handle, and the message says "empty".
  basic_any_stream_socket() noexcept = default;
  template <class E>
  basic_any_stream_socket(stream_socket<E, Policy>&& s, const any_endpoint& remote) noexcept
      : socket_(std::move(s)), remote_(remote), empty_(false) {}

  // Connects to one endpoint of a stream scheme (udp:// is wrong_protocol_type),
  // by `when`.
  static basic_any_stream_socket connect(const any_endpoint& remote, deadline when,
                                         std::error_code& ec) noexcept {
    if (remote.type() != socket_type::stream) {
      ec = std::make_error_code(std::errc::wrong_protocol_type);
      return {};
    }
    return detail::visit_nothrow(
        [&](const auto& ep) -> basic_any_stream_socket {
          using E = std::decay_t<decltype(ep)>;
          auto s = detail::any_stream_t<E, Policy>::connect(ep, when, ec);
          if (ec) return {};
          return basic_any_stream_socket(detail::as_plain_stream(std::move(s)), remote);
        },
        remote.value());
  }
  static basic_any_stream_socket connect(const any_endpoint& remote,
                                         deadline when = deadline::never()) {
    std::error_code ec;
    auto s = connect(remote, when, ec);
    if (ec) detail::throw_error(ec, "connect to", remote.to_string());
    return s;
  }

  // With vmsock::wait_for_ready{}: again while the peer is not up yet, by
  // `when`, which is required here (see wait_for_ready.hpp; any_connector's
  // connects can be cancelled instead).
  static basic_any_stream_socket connect(const any_endpoint& remote, deadline when,
                                         const wait_for_ready& w, std::error_code& ec) noexcept {
    detail::ready_outcome r;
    return connect_ready(remote, when, w, r, ec);
  }
  static basic_any_stream_socket connect(const any_endpoint& remote, deadline when,
                                         const wait_for_ready& w) {
    std::error_code ec;
    detail::ready_outcome r;
    auto s = connect_ready(remote, when, w, r, ec);
    if (ec) detail::throw_ready_error(ec, remote, r);
    return s;
  }

  // Where this socket was connected to (for connect_first: which transport won).
  const any_endpoint& remote() const noexcept { return remote_; }
  uri_scheme scheme() const noexcept { return remote_.scheme(); }
  // What it holds, to use the concrete socket's whole API.
  const variant_type& value() const noexcept { return socket_; }
  variant_type& value() noexcept { return socket_; }
  template <class E>
  stream_socket<E, Policy>* get_if() noexcept {
    return std::get_if<stream_socket<E, Policy>>(&socket_);
  }
  template <class E>
  const stream_socket<E, Policy>* get_if() const noexcept {
    return std::get_if<stream_socket<E, Policy>>(&socket_);
  }
  // Never connected (default-constructed), as opposed to closed.
  bool empty() const noexcept { return empty_; }

  bool is_open() const noexcept {
    return detail::visit_nothrow([](const auto& s) { return s.is_open(); }, socket_);
  }
  void close(std::error_code& ec) noexcept {
    detail::visit_nothrow([&](auto& s) { s.close(ec); }, socket_);
  }
  void close() {
    detail::visit_nothrow([](auto& s) { s.close(); }, socket_);
  }
  // basic_socket::cancel() on what it holds: thread-safe.
  void cancel() noexcept {
    detail::visit_nothrow([](auto& s) { s.cancel(); }, socket_);
  }
  // Whether cancel() was called (a receive that then reads 0 bytes was the
  // cancel, not the peer's end of stream).
  bool is_cancelled() const noexcept {
    return detail::visit_nothrow([](const auto& s) { return s.is_cancelled(); }, socket_);
  }
  typename Policy::handle native_handle() const noexcept {
    return detail::visit_nothrow([](const auto& s) { return s.native_handle(); }, socket_);
  }
  typename Policy::handle release() noexcept {
    return detail::visit_nothrow([](auto& s) { return s.release(); }, socket_);
  }

  // An option that does not apply to the family that won is
  // errc::option_not_applicable (a VSOCK option on a TCP connection), never
  // a silent no-op.
  template <class Option>
  void set_option(const Option& opt, std::error_code& ec) noexcept {
    if (!usable(ec)) return;
    detail::visit_nothrow(
        [&](auto& s) {
          using E = typename std::decay_t<decltype(s)>::endpoint_type;
          if constexpr (Option::template applies_to<E>)
            s.set_option(opt, ec);
          else
            ec = make_error_code(errc::option_not_applicable);
        },
        socket_);
  }
  template <class Option>
  void set_option(const Option& opt) {
    std::error_code ec;
    set_option(opt, ec);
    if (ec) option_failed(ec, "set_option " + detail::option_text(opt));
  }
  template <class Option>
  Option get_option(std::error_code& ec) const noexcept {
    if (!usable(ec)) return Option{};
    return detail::visit_nothrow(
        [&](const auto& s) -> Option {
          using E = typename std::decay_t<decltype(s)>::endpoint_type;
          if constexpr (Option::template applies_to<E>) {
            return s.template get_option<Option>(ec);
          } else {
            ec = make_error_code(errc::option_not_applicable);
            return Option{};
          }
        },
        socket_);
  }
  template <class Option>
  Option get_option() const {
    std::error_code ec;
    auto o = get_option<Option>(ec);
    if (ec) option_failed(ec, std::string("get_option ") + Option::name);
    return o;
  }

  // The buffer forms of stream_socket: (pointer, size), a range or a buffer, an
  // initializer_list of buffers, (pointer to buffers, count); each with and
  // without a deadline, each throwing and with a trailing std::error_code&.
  // Every alternative is a socket_core<Policy> underneath, and the transfers are
  // the core's: no visit of five socket types per call (one, to find the core),
  // and the same code for every family.  Only an error's message asks the
  // concrete socket for its name.  receive_exact ends as stream_socket's does:
  // errc::end_of_stream, and errc::clean_end_of_stream (end_of_stream too) when
  // no byte had arrived.
  std::size_t send(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return op(kind::send, const_buffer{data, size}, detail::forever{}, ec);
  }
  std::size_t send(const void* data, std::size_t size, deadline when, std::error_code& ec) noexcept {
    return op(kind::send, const_buffer{data, size}, when, ec);
  }
  template <class B>
  std::size_t send(const B& b, std::error_code& ec) noexcept {
    return op(kind::send, cbuf(b), detail::forever{}, ec);
  }
  template <class B>
  std::size_t send(const B& b, deadline when, std::error_code& ec) noexcept {
    return op(kind::send, cbuf(b), when, ec);
  }
  std::size_t send(std::initializer_list<const_buffer> b, std::error_code& ec) noexcept {
    return ops(kind::send, b.begin(), b.size(), ec);
  }
  std::size_t send(std::initializer_list<const_buffer> b, deadline when, std::error_code& ec) noexcept {
    return ops(kind::send, b.begin(), b.size(), when, ec);
  }
  std::size_t send(const const_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return ops(kind::send, bufs, count, ec);
  }
  std::size_t send(const const_buffer* bufs, std::size_t count, deadline when,
                     std::error_code& ec) noexcept {
    return ops(kind::send, bufs, count, when, ec);
  }
  std::size_t send(const void* data, std::size_t size) { return thrown(kind::send, const_buffer{data, size}); }
  std::size_t send(const void* data, std::size_t size, deadline when) {
    return thrown(kind::send, const_buffer{data, size}, when);
  }
  template <class B>
  std::size_t send(const B& b) { return thrown(kind::send, cbuf(b)); }
  template <class B>
  std::size_t send(const B& b, deadline when) { return thrown(kind::send, cbuf(b), when); }
  std::size_t send(std::initializer_list<const_buffer> b) {
    return thrown_list(kind::send, b.begin(), b.size());
  }
  std::size_t send(std::initializer_list<const_buffer> b, deadline when) {
    return thrown_list(kind::send, b.begin(), b.size(), when);
  }
  std::size_t send(const const_buffer* bufs, std::size_t count) { return thrown_list(kind::send, bufs, count); }
  std::size_t send(const const_buffer* bufs, std::size_t count, deadline when) {
    return thrown_list(kind::send, bufs, count, when);
  }

  std::size_t send_all(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return op(kind::send_all, const_buffer{data, size}, detail::forever{}, ec);
  }
  std::size_t send_all(const void* data, std::size_t size, deadline when, std::error_code& ec) noexcept {
    return op(kind::send_all, const_buffer{data, size}, when, ec);
  }
  template <class B>
  std::size_t send_all(const B& b, std::error_code& ec) noexcept {
    return op(kind::send_all, cbuf(b), detail::forever{}, ec);
  }
  template <class B>
  std::size_t send_all(const B& b, deadline when, std::error_code& ec) noexcept {
    return op(kind::send_all, cbuf(b), when, ec);
  }
  std::size_t send_all(std::initializer_list<const_buffer> b, std::error_code& ec) noexcept {
    return ops(kind::send_all, b.begin(), b.size(), ec);
  }
  std::size_t send_all(std::initializer_list<const_buffer> b, deadline when, std::error_code& ec) noexcept {
    return ops(kind::send_all, b.begin(), b.size(), when, ec);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return ops(kind::send_all, bufs, count, ec);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count, deadline when,
                     std::error_code& ec) noexcept {
    return ops(kind::send_all, bufs, count, when, ec);
  }
  std::size_t send_all(const void* data, std::size_t size) { return thrown(kind::send_all, const_buffer{data, size}); }
  std::size_t send_all(const void* data, std::size_t size, deadline when) {
    return thrown(kind::send_all, const_buffer{data, size}, when);
  }
  template <class B>
  std::size_t send_all(const B& b) { return thrown(kind::send_all, cbuf(b)); }
  template <class B>
  std::size_t send_all(const B& b, deadline when) { return thrown(kind::send_all, cbuf(b), when); }
  std::size_t send_all(std::initializer_list<const_buffer> b) {
    return thrown_list(kind::send_all, b.begin(), b.size());
  }
  std::size_t send_all(std::initializer_list<const_buffer> b, deadline when) {
    return thrown_list(kind::send_all, b.begin(), b.size(), when);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count) { return thrown_list(kind::send_all, bufs, count); }
  std::size_t send_all(const const_buffer* bufs, std::size_t count, deadline when) {
    return thrown_list(kind::send_all, bufs, count, when);
  }

  std::size_t receive(void* data, std::size_t size, std::error_code& ec) noexcept {
    return op(kind::receive, mutable_buffer{data, size}, detail::forever{}, ec);
  }
  std::size_t receive(void* data, std::size_t size, deadline when, std::error_code& ec) noexcept {
    return op(kind::receive, mutable_buffer{data, size}, when, ec);
  }
  template <class B>
  std::size_t receive(B& b, std::error_code& ec) noexcept {
    return op(kind::receive, mbuf(b), detail::forever{}, ec);
  }
  template <class B>
  std::size_t receive(B& b, deadline when, std::error_code& ec) noexcept {
    return op(kind::receive, mbuf(b), when, ec);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> b, std::error_code& ec) noexcept {
    return ops(kind::receive, b.begin(), b.size(), ec);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> b, deadline when, std::error_code& ec) noexcept {
    return ops(kind::receive, b.begin(), b.size(), when, ec);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return ops(kind::receive, bufs, count, ec);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, deadline when,
                     std::error_code& ec) noexcept {
    return ops(kind::receive, bufs, count, when, ec);
  }
  std::size_t receive(void* data, std::size_t size) { return thrown(kind::receive, mutable_buffer{data, size}); }
  std::size_t receive(void* data, std::size_t size, deadline when) {
    return thrown(kind::receive, mutable_buffer{data, size}, when);
  }
  template <class B>
  std::size_t receive(B& b) { return thrown(kind::receive, mbuf(b)); }
  template <class B>
  std::size_t receive(B& b, deadline when) { return thrown(kind::receive, mbuf(b), when); }
  std::size_t receive(std::initializer_list<mutable_buffer> b) {
    return thrown_list(kind::receive, b.begin(), b.size());
  }
  std::size_t receive(std::initializer_list<mutable_buffer> b, deadline when) {
    return thrown_list(kind::receive, b.begin(), b.size(), when);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count) { return thrown_list(kind::receive, bufs, count); }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, deadline when) {
    return thrown_list(kind::receive, bufs, count, when);
  }

  std::size_t receive_exact(void* data, std::size_t size, std::error_code& ec) noexcept {
    return op(kind::receive_exact, mutable_buffer{data, size}, detail::forever{}, ec);
  }
  std::size_t receive_exact(void* data, std::size_t size, deadline when, std::error_code& ec) noexcept {
    return op(kind::receive_exact, mutable_buffer{data, size}, when, ec);
  }
  template <class B>
  std::size_t receive_exact(B& b, std::error_code& ec) noexcept {
    return op(kind::receive_exact, mbuf(b), detail::forever{}, ec);
  }
  template <class B>
  std::size_t receive_exact(B& b, deadline when, std::error_code& ec) noexcept {
    return op(kind::receive_exact, mbuf(b), when, ec);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b, std::error_code& ec) noexcept {
    return ops(kind::receive_exact, b.begin(), b.size(), ec);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b, deadline when, std::error_code& ec) noexcept {
    return ops(kind::receive_exact, b.begin(), b.size(), when, ec);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return ops(kind::receive_exact, bufs, count, ec);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count, deadline when,
                     std::error_code& ec) noexcept {
    return ops(kind::receive_exact, bufs, count, when, ec);
  }
  std::size_t receive_exact(void* data, std::size_t size) { return thrown(kind::receive_exact, mutable_buffer{data, size}); }
  std::size_t receive_exact(void* data, std::size_t size, deadline when) {
    return thrown(kind::receive_exact, mutable_buffer{data, size}, when);
  }
  template <class B>
  std::size_t receive_exact(B& b) { return thrown(kind::receive_exact, mbuf(b)); }
  template <class B>
  std::size_t receive_exact(B& b, deadline when) { return thrown(kind::receive_exact, mbuf(b), when); }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b) {
    return thrown_list(kind::receive_exact, b.begin(), b.size());
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b, deadline when) {
    return thrown_list(kind::receive_exact, b.begin(), b.size(), when);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count) { return thrown_list(kind::receive_exact, bufs, count); }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count, deadline when) {
    return thrown_list(kind::receive_exact, bufs, count, when);
  }

  void shutdown(shutdown_type how, std::error_code& ec) noexcept {
    if (usable(ec)) detail::visit_nothrow([&](auto& s) { s.shutdown(how, ec); }, socket_);
  }
  void shutdown(shutdown_type how) {
    check_not_empty("shutdown of");
    detail::visit_nothrow([&](auto& s) { s.shutdown(how); }, socket_);
  }
  bool wait_readable(deadline when, std::error_code& ec) const noexcept {
    if (!usable(ec)) return false;
    return detail::visit_nothrow([&](const auto& s) { return s.wait_readable(when, ec); }, socket_);
  }
  bool wait_readable(deadline when = deadline::never()) const {
    check_not_empty("wait_readable on");
    return detail::visit_nothrow([&](const auto& s) { return s.wait_readable(when); }, socket_);
  }
  bool wait_writable(deadline when, std::error_code& ec) const noexcept {
    if (!usable(ec)) return false;
    return detail::visit_nothrow([&](const auto& s) { return s.wait_writable(when, ec); }, socket_);
  }
  bool wait_writable(deadline when = deadline::never()) const {
    check_not_empty("wait_writable on");
    return detail::visit_nothrow([&](const auto& s) { return s.wait_writable(when); }, socket_);
  }
  void set_nonblocking(bool on, std::error_code& ec) noexcept {
    if (usable(ec)) detail::visit_nothrow([&](auto& s) { s.set_nonblocking(on, ec); }, socket_);
  }
  void set_nonblocking(bool on) {
    check_not_empty("set_nonblocking on");
    detail::visit_nothrow([&](auto& s) { s.set_nonblocking(on); }, socket_);
  }

  any_endpoint local_endpoint(std::error_code& ec) const noexcept { return name_of(false, &ec); }
  any_endpoint local_endpoint() const { return name_of(false, nullptr); }
  any_endpoint peer_endpoint(std::error_code& ec) const noexcept { return name_of(true, &ec); }
  any_endpoint peer_endpoint() const { return name_of(true, nullptr); }

 private:
  static basic_any_stream_socket connect_ready(const any_endpoint& remote, const deadline& when,
                                               const wait_for_ready& w, detail::ready_outcome& r,
                                               std::error_code& ec) noexcept {
    basic_any_stream_socket out;
    detail::connect_when_ready<Policy>(
        detail::ready_transport_of(remote), when, r, ec,
        [&](std::error_code& e) { out = connect(remote, when, e); }, w);
    return out;
  }

  bool usable(std::error_code& ec) const noexcept {
    if (empty_) {
      ec = Policy::closed_error();
      return false;
    }
    return true;
  }
  void check_not_empty(const char* op) const {
    if (empty_) detail::throw_empty(op, "any_stream_socket", Policy::closed_error());
  }
  [[noreturn]] VMSOCK_NOINLINE void option_failed(const std::error_code& ec, std::string op) const {
    if (empty_) detail::throw_empty((op + " on").c_str(), "any_stream_socket", ec);
    std::string where = remote_.to_string();
    if (ec == errc::option_not_applicable) {
      where += " (the option does not apply to ";
      where += detail::visit_nothrow(
          [](const auto& s) {
            return detail::family_words<typename std::decay_t<decltype(s)>::endpoint_type>();
          },
          socket_);
      where += ')';
    }
    detail::throw_error(ec, op + " on", where);
  }

  any_endpoint name_of(bool peer, std::error_code* ec) const {
    if (empty_) {
      if (ec) {
        *ec = Policy::closed_error();
        return {};
      }
      detail::throw_empty(peer ? "peer_endpoint of" : "local_endpoint of", "any_stream_socket",
                          Policy::closed_error());
    }
    return detail::visit_nothrow(
        [&](const auto& s) -> any_endpoint {
          if (ec) return peer ? any_endpoint(s.peer_endpoint(*ec)) : any_endpoint(s.local_endpoint(*ec));
          return peer ? any_endpoint(s.peer_endpoint()) : any_endpoint(s.local_endpoint());
        },
        socket_);
  }

  // ---- the transfers, on the core ----
  using core_type = detail::socket_core<Policy>;
  enum class kind { send, send_all, receive, receive_exact };

  core_type& core() noexcept {
    return detail::visit_nothrow([](auto& s) -> core_type& { return s; }, socket_);
  }
  static const_buffer cbuf(const_buffer b) noexcept { return b; }
  template <class B, std::enable_if_t<detail::is_const_range<B>, int> = 0>
  static const_buffer cbuf(const B& b) noexcept {
    return buffer(b);
  }
  static mutable_buffer mbuf(mutable_buffer b) noexcept { return b; }
  template <class B, std::enable_if_t<detail::is_mutable_range<B>, int> = 0>
  static mutable_buffer mbuf(B& b) noexcept {
    return buffer(b);
  }

  template <class Buffer, class When>
  std::size_t ops(kind k, const Buffer* bufs, std::size_t count, const When& when,
                  std::error_code& ec) noexcept {
    if (!usable(ec)) return 0;
    core_type& c = core();
    if constexpr (std::is_same_v<Buffer, const_buffer>) {
      return k == kind::send ? c.send_until(bufs, count, message_flags::none, when, ec)
                             : c.template transfer_all<true>(bufs, count, when, ec);
    } else {
      return k == kind::receive ? c.receive_until(bufs, count, message_flags::none, when, ec)
                                : c.template transfer_all<false>(bufs, count, when, ec);
    }
  }
  template <class Buffer>
  std::size_t ops(kind k, const Buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return ops(k, bufs, count, detail::forever{}, ec);
  }
  template <class Buffer, class When>
  std::size_t op(kind k, const Buffer& b, const When& when, std::error_code& ec) noexcept {
    return ops(k, &b, 1, when, ec);
  }

  template <class Buffer, class When = detail::forever>
  std::size_t thrown(kind k, const Buffer& b, const When& when = When{}) {
    return thrown_list(k, &b, 1, when);
  }
  template <class Buffer, class When = detail::forever>
  std::size_t thrown_list(kind k, const Buffer* bufs, std::size_t count, const When& when = When{}) {
    std::error_code ec;
    const std::size_t n = ops(k, bufs, count, when, ec);
    if (ec) transfer_failed(k, ec, n, total_size(bufs, count));
    return n;
  }

  // The concrete socket's messages: "send_all to tcp://... (3 of 8 bytes
  // sent): ...", "receive from unix:///run/agent.sock: ...".
  [[noreturn]] VMSOCK_NOINLINE void transfer_failed(kind k, const std::error_code& ec,
                                                    std::size_t n, std::size_t total) const {
    static constexpr const char* ops_text[] = {"send to", "send_all to", "receive from",
                                               "receive_exact from"};
    const char* what = ops_text[static_cast<int>(k)];
    if (empty_) detail::throw_empty(what, "any_stream_socket", ec);
    const std::string name =
        detail::visit_nothrow([](const auto& s) { return s.describe_self(); }, socket_);
    if (k == kind::send_all) detail::throw_partial(ec, what, name, n, total, "sent");
    if (k == kind::receive_exact) detail::throw_partial(ec, what, name, n, total, "received");
    detail::throw_error(ec, what, name);
  }

  variant_type socket_;
  any_endpoint remote_;
  bool empty_ = true;
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
         ec == std::errc::protocol_not_supported;
}

[[noreturn]] VMSOCK_NOINLINE inline void throw_entry_error(const char* who, std::size_t i,
                                                           std::size_t n, const std::string& why) {
  raise(parse_error(std::string(who) + ": entry " + std::to_string(i + 1) + " of " +
                    std::to_string(n) + ": " + why));
}

// Stream endpoints only: udp:// in a list of connect_first or listen_all is a
// mistake in the list, refused before anything is tried.
inline void check_stream_entries(const char* who, const std::vector<any_endpoint>& eps) {
  for (std::size_t i = 0; i < eps.size(); ++i) {
    if (eps[i].type() != socket_type::stream)
      throw_entry_error(who, i, eps.size(),
                        eps[i].to_string() + " is a datagram endpoint; " + who +
                            " takes stream endpoints (tcp, unix, vsock, hvsock)");
  }
}
inline bool stream_entries(const std::vector<any_endpoint>& eps, std::error_code& ec) noexcept {
  for (const auto& ep : eps) {
    if (ep.type() != socket_type::stream) {
      ec = std::make_error_code(std::errc::wrong_protocol_type);
      return false;
    }
  }
  return true;
}

// A list of URIs: any range of things that convert to std::string_view
// (std::string, std::string_view, const char*, and argv's char*), so that
// connect_first(std::vector<std::string>(argv + 1, argv + argc), ...) works.
// Not a string itself, which is a range of chars.
// (Member begin()/end() or a C array, as a range-for sees them; without
// <iterator>, which buffer.hpp keeps out for its compile time.)
template <class R, class = void>
struct uri_range_entry {
  using type = void;
};
template <class R>
struct uri_range_entry<R, std::void_t<decltype(std::declval<const R&>().begin() !=
                                               std::declval<const R&>().end())>> {
  using type = decltype(*std::declval<const R&>().begin());
};
template <class T, std::size_t N>
struct uri_range_entry<T[N], void> {
  using type = const T&;
};
template <class R>
inline constexpr bool is_uri_range_v =
    !std::is_void_v<typename uri_range_entry<R>::type> &&
    std::is_convertible_v<typename uri_range_entry<R>::type, std::string_view> &&
    !std::is_convertible_v<const R&, std::string_view>;

// One entry's text; a null char* (an argv read one past its end) is "".
template <class T>
std::string_view uri_text(const T& entry) noexcept {
  if constexpr (std::is_pointer_v<T>)
    return entry != nullptr ? std::string_view(entry) : std::string_view();
  else
    return std::string_view(entry);
}

// Every URI of a list parsed before anything is done with any of them; a bad
// one is a parse_error naming the entry: "<who>: entry 2 of 3: endpoint URI ...".
template <class R>
std::vector<any_endpoint> parse_uri_list(const char* who, const R& uris) {
  std::vector<std::string_view> texts;
  for (const auto& entry : uris) texts.push_back(uri_text(entry));
  std::vector<any_endpoint> eps;
  eps.reserve(texts.size());
  for (const std::string_view uri : texts) {
    const auto r = any_endpoint::parse_detail(uri);
    if (!r) {
      std::string why = "endpoint URI " + quote(uri) + ": " + r.error;
      if (r.position != std::string_view::npos) why += " (at offset " + std::to_string(r.position) + ')';
      throw_entry_error(who, eps.size(), texts.size(), why);
    }
    eps.push_back(r.value);
  }
  check_stream_entries(who, eps);
  return eps;
}

// connect_one(endpoint, deadline, ec) makes each attempt; a cancelled one
// (any_connector) ends the list.
template <class Policy, class OnAttempt, class ConnectOne>
basic_any_stream_socket<Policy> connect_first_impl(const any_endpoint* eps, std::size_t n,
                                                   timeout per_attempt, std::error_code& ec,
                                                   OnAttempt&& on_attempt,
                                                   ConnectOne&& connect_one) {
  ec = make_error_code(std::errc::invalid_argument);  // an empty list
  const startup_hold<Policy> hold;  // Winsock stays up from one attempt to the next
  for (std::size_t i = 0; i < n; ++i) {
    auto s = connect_one(eps[i], deadline(per_attempt), ec);
    if (!ec) return s;
    on_attempt(eps[i], ec, transport_unavailable(ec));
    if (ec == std::errc::operation_canceled) break;
  }
  return {};
}
template <class Policy, class OnAttempt>
basic_any_stream_socket<Policy> connect_first_impl(const any_endpoint* eps, std::size_t n,
                                                   timeout per_attempt, std::error_code& ec,
                                                   OnAttempt&& on_attempt) {
  return connect_first_impl<Policy>(
      eps, n, per_attempt, ec, std::forward<OnAttempt>(on_attempt),
      [](const any_endpoint& ep, deadline when, std::error_code& e) {
        return basic_any_stream_socket<Policy>::connect(ep, when, e);
      });
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
  raise(connect_error(last, what, std::move(attempts)));
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
      [&](const any_endpoint& ep, const std::error_code& e, bool skipped) {
        failed.push_back({ep, e, skipped});
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
  return detail::connect_first_throwing<Policy>(
      endpoints, per_attempt, failed,
      [](const any_endpoint& ep, deadline when, std::error_code& e) {
        return basic_any_stream_socket<Policy>::connect(ep, when, e);
      });
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
                                            [](const any_endpoint&, const std::error_code&, bool) {});
}

// ---- connect_first with wait_for_ready --------------------------------------------

namespace detail {

// One deadline for the whole list, tried round after round: each round tries
// every entry still waited for, in order, then pauses.  An entry that fails
// for another reason than "not up yet" (or whose transport this platform
// lacks) is not tried again; when none is left, the last error ends it.
// on_attempt(index, ec, skipped) sees every failed attempt.
template <class Policy, class OnAttempt, class ConnectOne, class Pause>
basic_any_stream_socket<Policy> connect_first_ready(const any_endpoint* eps, std::size_t n,
                                                    const wait_for_ready& w, const deadline& when,
                                                    ready_outcome& r, std::error_code& ec,
                                                    OnAttempt&& on_attempt,
                                                    ConnectOne&& connect_one, Pause&& pause) {
  ec = make_error_code(std::errc::invalid_argument);  // an empty list
  if (n == 0) return {};
  std::vector<bool> given_up;
  VMSOCK_TRY {
    given_up.assign(n, false);
  } VMSOCK_CATCH(...) {
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
      auto s = connect_one(eps[i], when, ec);
      if (!ec) return s;
      r.last = ec;
      const bool skipped = transport_unavailable(ec);
      on_attempt(i, ec, skipped);
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
    what += "wait_for_ready needs a deadline here (nothing can cancel this connect; give a "
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
    what += failed[i].endpoint.to_string();
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
      [&](std::size_t i, const std::error_code& e, bool skipped) {
        if (slot[i] == none) {
          slot[i] = failed.size();
          failed.push_back({endpoints[i], e, skipped});
        } else {
          failed[slot[i]].error = e;
        }
        last = slot[i];
      },
      std::forward<ConnectOne>(connect_one), std::forward<Pause>(pause));
  if (ec) throw_list_not_ready(ec, r, failed, last);
  return s;
}

template <class Policy>
basic_any_stream_socket<Policy> connect_one_any(const any_endpoint& ep, deadline when,
                                                std::error_code& ec) noexcept {
  return basic_any_stream_socket<Policy>::connect(ep, when, ec);
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
      endpoints.data(), endpoints.size(), w, when, r, ec,
      [](std::size_t, const std::error_code&, bool) {}, detail::connect_one_any<Policy>,
      [&](const deadline& until, std::error_code& e) { return sleeper.pause(until, e); });
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

  // Empty: accept reports a bad handle, and the message says "empty".
  basic_any_listener() noexcept = default;
  basic_any_listener(basic_any_listener&& o) noexcept
      : listeners_(std::move(o.listeners_)),
        local_(std::move(o.local_)),
        next_(o.next_),
        cancel_(std::move(o.cancel_)),
        filter_(std::exchange(o.filter_, nullptr)),
        rejected_(o.rejected_.exchange(0, std::memory_order_relaxed)) {}
  basic_any_listener& operator=(basic_any_listener&& o) noexcept {
    if (this != &o) {
      cancel_.detach();
      listeners_ = std::move(o.listeners_);
      local_ = std::move(o.local_);
      next_ = o.next_;
      cancel_ = std::move(o.cancel_);
      delete filter_;
      filter_ = std::exchange(o.filter_, nullptr);
      rejected_.store(o.rejected_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
    }
    return *this;
  }
  ~basic_any_listener() {
    cancel_.detach();
    delete filter_;
  }

  // Who may connect, on every transport: `pred` is any callable taking
  // (const any_endpoint& peer) or (const any_endpoint& peer, const
  // basic_any_stream_socket& connection) whose result converts to bool; the
  // second form lets peer::uids and peer::gids read a Unix connection's
  // credentials (they answer for a connection of another family by their
  // `others`: refused by default).  A refused peer is closed before accept
  // returns, and accept goes on waiting, its deadline included;
  // rejected_peers() counts them.  A filter that throws refuses the peer
  // (counted too).  See listener::set_peer_filter and peer_filter.hpp.
  template <class F>
  void set_peer_filter(F pred) {
    static_assert(detail::is_peer_predicate<F, any_endpoint, basic_any_stream_socket<Policy>>,
                  "vmsock: an any_listener's peer filter is callable as bool(const any_endpoint&) "
                  "or bool(const any_endpoint&, const any_stream_socket&)");
    auto* made = new detail::peer_filter_of<any_endpoint, basic_any_stream_socket<Policy>, F>(
        std::move(pred));
    delete std::exchange(filter_, made);
  }
  void clear_peer_filter() noexcept { delete std::exchange(filter_, nullptr); }
  std::uint64_t rejected_peers() const noexcept { return rejected_.load(std::memory_order_relaxed); }

  // Listens on every endpoint (stream schemes only).  All or nothing: on the
  // first failure the listeners already opened are closed again.
  static basic_any_listener listen_all(const std::vector<any_endpoint>& endpoints, int backlog,
                                       std::error_code& ec, std::size_t* failed = nullptr) noexcept {
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
    } VMSOCK_CATCH(...) {
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
      detail::throw_error(ec, "listen_all: listen on",
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
  static basic_any_listener adopt(std::vector<variant_type> listeners, std::error_code& ec) noexcept {
    basic_any_listener all;
    ec.clear();
    if (listeners.empty() || listeners.size() > max_listeners) {
      ec = make_error_code(std::errc::invalid_argument);
      return all;
    }
    VMSOCK_TRY {
      all.local_.reserve(listeners.size());
    } VMSOCK_CATCH(...) {
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
      detail::visit_nothrow(
          [&](auto& l) {
            using E = typename std::decay_t<decltype(l)>::endpoint_type;
            if constexpr (Option::template applies_to<E>)
              l.set_option(opt, ec);
            else
              ec = make_error_code(errc::option_not_applicable);
          },
          listeners_[i]);
      if (ec) {
        if (failed) *failed = i;
        return;
      }
    }
  }
  template <class Option>
  void set_option(const Option& opt) {
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
      handles[i] = detail::visit_nothrow([](const auto& l) { return l.native_handle(); },
                                         listeners_[i]);
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
            auto c = l.accept(deadline(timeout(-1000)), from, ec);
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
  detail::peer_filter<any_endpoint, basic_any_stream_socket<Policy>>* filter_ = nullptr;
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

}  // namespace vmsock
