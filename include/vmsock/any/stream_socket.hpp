// any_stream_socket: a connected stream of any family, chosen at run time
// (a variant: no virtual call per byte moved); parse_uri, any_endpoint::parse.
#pragma once

#include <vmsock/any/detail/stream_errors.hpp>
#include <vmsock/any/detail/stream_of.hpp>
#include <vmsock/any/detail/stream_options.hpp>
#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/socket/stream_socket.hpp>
#include <vmsock/any/detail/connect_any.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

VMSOCK_BEGIN_NAMESPACE

inline any_endpoint parse_uri(std::string_view uri) { return any_endpoint::parse(uri); }

template <class Policy = default_policy> class basic_any_stream_socket {
 public:
  using policy_type = Policy;
  using variant_type =
      std::variant<stream_socket<inet4_endpoint, Policy>, stream_socket<inet6_endpoint, Policy>,
                   stream_socket<unix_endpoint, Policy>, stream_socket<vsock_endpoint, Policy>,
                   stream_socket<hv_endpoint, Policy>>;

  // Empty: every operation reports a bad handle, and the message says "empty".
  basic_any_stream_socket() noexcept = default;
  template <class E>
  basic_any_stream_socket(stream_socket<E, Policy>&& s, const any_endpoint& remote) noexcept
      : socket_(std::move(s)), remote_(remote), empty_(false) {}
  // A hybrid vsock connection: a Unix stream after its handshake, with the
  // VMM's answer kept (hybrid_answer(); only the Unix stream was moved from).
  basic_any_stream_socket(basic_hybrid_vsock_stream_socket<Policy>&& s,
                          const any_endpoint& remote) noexcept
      : basic_any_stream_socket(static_cast<stream_socket<unix_endpoint, Policy>&&>(s), remote) {
    answer_len_ = static_cast<std::uint8_t>(s.answer().copy(answer_, sizeof answer_));
  }

  // Connects to one endpoint of a stream scheme (udp:// is wrong_protocol_type),
  // by `when`.
  static basic_any_stream_socket connect(const any_endpoint& remote, deadline when,
                                         std::error_code& ec) noexcept {
    detail::hybrid_answer a;
    return detail::connect_any_once<basic_any_stream_socket>(remote, when, ec, a);
  }
  static basic_any_stream_socket connect(const any_endpoint& remote,
                                         deadline when = deadline::never()) {
    std::error_code ec;
    detail::hybrid_answer a;
    auto s = detail::connect_any_once<basic_any_stream_socket>(remote, when, ec, a);
    if (ec) detail::throw_any_connect_error(ec, remote, a);
    return s;
  }

  // With vmsock::wait_for_ready{}: again while the peer is not up yet, by
  // `when`, which is required here (see wait_for_ready.hpp; any_connector's
  // connects can be cancelled instead).
  static basic_any_stream_socket connect(const any_endpoint& remote, deadline when,
                                         const wait_for_ready& w, std::error_code& ec) noexcept {
    detail::ready_outcome r;
    detail::hybrid_answer a;
    return detail::connect_any_when_ready<basic_any_stream_socket>(remote, when, w, r, ec, a);
  }
  static basic_any_stream_socket connect(const any_endpoint& remote, deadline when,
                                         const wait_for_ready& w) {
    std::error_code ec;
    detail::ready_outcome r;
    detail::hybrid_answer a;
    auto s = detail::connect_any_when_ready<basic_any_stream_socket>(remote, when, w, r, ec, a);
    if (ec) detail::throw_ready_error(ec, remote, r, a);
    return s;
  }

  // Where this socket was connected to (for connect_first: which transport won).
  const any_endpoint& remote() const noexcept { return remote_; }
  uri_scheme scheme() const noexcept { return remote_.scheme(); }
  // What it holds, to use the concrete socket's whole API.
  const variant_type& value() const noexcept { return socket_; }
  variant_type& value() noexcept { return socket_; }
  template <class E> stream_socket<E, Policy>* get_if() noexcept {
    return std::get_if<stream_socket<E, Policy>>(&socket_);
  }
  template <class E> const stream_socket<E, Policy>* get_if() const noexcept {
    return std::get_if<stream_socket<E, Policy>>(&socket_);
  }
  // Never connected (default-constructed), as opposed to closed.
  bool empty() const noexcept { return empty_; }
  // What followed "OK " in the VMM's answer when remote() is hybrid vsock
  // (Firecracker's host-side port, vhost-device-vsock's guest port, OpenVMM's
  // GUID); empty otherwise.  hybrid_answer_port(): that, when it is a number.
  std::string_view hybrid_answer() const noexcept { return {answer_, answer_len_}; }
  std::optional<std::uint32_t> hybrid_answer_port() const noexcept {
    const auto p = detail::parse_decimal(hybrid_answer(), 0xFFFFFFFFu, "");
    return p ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(p.value)) : std::nullopt;
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
  template <class Option> void set_option(const Option& opt, std::error_code& ec) noexcept {
    if (usable(ec)) detail::any_set_option(socket_, opt, ec);
  }
  template <class Option> void set_option(const Option& opt) {
    std::error_code ec;
    set_option(opt, ec);
    if (ec) detail::throw_any_option(ec, "set_option " + detail::option_text(opt), *this);
  }
  template <class Option> Option get_option(std::error_code& ec) const noexcept {
    return usable(ec) ? detail::any_get_option<Option>(socket_, ec) : Option{};
  }
  template <class Option> Option get_option() const {
    std::error_code ec;
    auto o = get_option<Option>(ec);
    if (ec) detail::throw_any_option(ec, std::string("get_option ") + Option::name, *this);
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
  std::size_t send(const void* data, std::size_t size, deadline when,
                   std::error_code& ec) noexcept {
    return op(kind::send, const_buffer{data, size}, when, ec);
  }
  template <class B> std::size_t send(const B& b, std::error_code& ec) noexcept {
    return op(kind::send, cbuf(b), detail::forever{}, ec);
  }
  template <class B> std::size_t send(const B& b, deadline when, std::error_code& ec) noexcept {
    return op(kind::send, cbuf(b), when, ec);
  }
  std::size_t send(std::initializer_list<const_buffer> b, std::error_code& ec) noexcept {
    return ops(kind::send, b.begin(), b.size(), ec);
  }
  std::size_t send(std::initializer_list<const_buffer> b, deadline when,
                   std::error_code& ec) noexcept {
    return ops(kind::send, b.begin(), b.size(), when, ec);
  }
  std::size_t send(const const_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return ops(kind::send, bufs, count, ec);
  }
  std::size_t send(const const_buffer* bufs, std::size_t count, deadline when,
                   std::error_code& ec) noexcept {
    return ops(kind::send, bufs, count, when, ec);
  }
  std::size_t send(const void* data, std::size_t size) {
    return thrown(kind::send, const_buffer{data, size});
  }
  std::size_t send(const void* data, std::size_t size, deadline when) {
    return thrown(kind::send, const_buffer{data, size}, when);
  }
  template <class B> std::size_t send(const B& b) { return thrown(kind::send, cbuf(b)); }
  template <class B> std::size_t send(const B& b, deadline when) {
    return thrown(kind::send, cbuf(b), when);
  }
  std::size_t send(std::initializer_list<const_buffer> b) {
    return thrown_list(kind::send, b.begin(), b.size());
  }
  std::size_t send(std::initializer_list<const_buffer> b, deadline when) {
    return thrown_list(kind::send, b.begin(), b.size(), when);
  }
  std::size_t send(const const_buffer* bufs, std::size_t count) {
    return thrown_list(kind::send, bufs, count);
  }
  std::size_t send(const const_buffer* bufs, std::size_t count, deadline when) {
    return thrown_list(kind::send, bufs, count, when);
  }

  std::size_t send_all(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return op(kind::send_all, const_buffer{data, size}, detail::forever{}, ec);
  }
  std::size_t send_all(const void* data, std::size_t size, deadline when,
                       std::error_code& ec) noexcept {
    return op(kind::send_all, const_buffer{data, size}, when, ec);
  }
  template <class B> std::size_t send_all(const B& b, std::error_code& ec) noexcept {
    return op(kind::send_all, cbuf(b), detail::forever{}, ec);
  }
  template <class B> std::size_t send_all(const B& b, deadline when, std::error_code& ec) noexcept {
    return op(kind::send_all, cbuf(b), when, ec);
  }
  std::size_t send_all(std::initializer_list<const_buffer> b, std::error_code& ec) noexcept {
    return ops(kind::send_all, b.begin(), b.size(), ec);
  }
  std::size_t send_all(std::initializer_list<const_buffer> b, deadline when,
                       std::error_code& ec) noexcept {
    return ops(kind::send_all, b.begin(), b.size(), when, ec);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return ops(kind::send_all, bufs, count, ec);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count, deadline when,
                       std::error_code& ec) noexcept {
    return ops(kind::send_all, bufs, count, when, ec);
  }
  std::size_t send_all(const void* data, std::size_t size) {
    return thrown(kind::send_all, const_buffer{data, size});
  }
  std::size_t send_all(const void* data, std::size_t size, deadline when) {
    return thrown(kind::send_all, const_buffer{data, size}, when);
  }
  template <class B> std::size_t send_all(const B& b) { return thrown(kind::send_all, cbuf(b)); }
  template <class B> std::size_t send_all(const B& b, deadline when) {
    return thrown(kind::send_all, cbuf(b), when);
  }
  std::size_t send_all(std::initializer_list<const_buffer> b) {
    return thrown_list(kind::send_all, b.begin(), b.size());
  }
  std::size_t send_all(std::initializer_list<const_buffer> b, deadline when) {
    return thrown_list(kind::send_all, b.begin(), b.size(), when);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count) {
    return thrown_list(kind::send_all, bufs, count);
  }
  std::size_t send_all(const const_buffer* bufs, std::size_t count, deadline when) {
    return thrown_list(kind::send_all, bufs, count, when);
  }

  std::size_t receive(void* data, std::size_t size, std::error_code& ec) noexcept {
    return op(kind::receive, mutable_buffer{data, size}, detail::forever{}, ec);
  }
  std::size_t receive(void* data, std::size_t size, deadline when, std::error_code& ec) noexcept {
    return op(kind::receive, mutable_buffer{data, size}, when, ec);
  }
  template <class B> std::size_t receive(B& b, std::error_code& ec) noexcept {
    return op(kind::receive, mbuf(b), detail::forever{}, ec);
  }
  template <class B> std::size_t receive(B& b, deadline when, std::error_code& ec) noexcept {
    return op(kind::receive, mbuf(b), when, ec);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> b, std::error_code& ec) noexcept {
    return ops(kind::receive, b.begin(), b.size(), ec);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> b, deadline when,
                      std::error_code& ec) noexcept {
    return ops(kind::receive, b.begin(), b.size(), when, ec);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, std::error_code& ec) noexcept {
    return ops(kind::receive, bufs, count, ec);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, deadline when,
                      std::error_code& ec) noexcept {
    return ops(kind::receive, bufs, count, when, ec);
  }
  std::size_t receive(void* data, std::size_t size) {
    return thrown(kind::receive, mutable_buffer{data, size});
  }
  std::size_t receive(void* data, std::size_t size, deadline when) {
    return thrown(kind::receive, mutable_buffer{data, size}, when);
  }
  template <class B> std::size_t receive(B& b) { return thrown(kind::receive, mbuf(b)); }
  template <class B> std::size_t receive(B& b, deadline when) {
    return thrown(kind::receive, mbuf(b), when);
  }
  std::size_t receive(std::initializer_list<mutable_buffer> b) {
    return thrown_list(kind::receive, b.begin(), b.size());
  }
  std::size_t receive(std::initializer_list<mutable_buffer> b, deadline when) {
    return thrown_list(kind::receive, b.begin(), b.size(), when);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count) {
    return thrown_list(kind::receive, bufs, count);
  }
  std::size_t receive(const mutable_buffer* bufs, std::size_t count, deadline when) {
    return thrown_list(kind::receive, bufs, count, when);
  }

  std::size_t receive_exact(void* data, std::size_t size, std::error_code& ec) noexcept {
    return op(kind::receive_exact, mutable_buffer{data, size}, detail::forever{}, ec);
  }
  std::size_t receive_exact(void* data, std::size_t size, deadline when,
                            std::error_code& ec) noexcept {
    return op(kind::receive_exact, mutable_buffer{data, size}, when, ec);
  }
  template <class B> std::size_t receive_exact(B& b, std::error_code& ec) noexcept {
    return op(kind::receive_exact, mbuf(b), detail::forever{}, ec);
  }
  template <class B> std::size_t receive_exact(B& b, deadline when, std::error_code& ec) noexcept {
    return op(kind::receive_exact, mbuf(b), when, ec);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b, std::error_code& ec) noexcept {
    return ops(kind::receive_exact, b.begin(), b.size(), ec);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b, deadline when,
                            std::error_code& ec) noexcept {
    return ops(kind::receive_exact, b.begin(), b.size(), when, ec);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count,
                            std::error_code& ec) noexcept {
    return ops(kind::receive_exact, bufs, count, ec);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count, deadline when,
                            std::error_code& ec) noexcept {
    return ops(kind::receive_exact, bufs, count, when, ec);
  }
  std::size_t receive_exact(void* data, std::size_t size) {
    return thrown(kind::receive_exact, mutable_buffer{data, size});
  }
  std::size_t receive_exact(void* data, std::size_t size, deadline when) {
    return thrown(kind::receive_exact, mutable_buffer{data, size}, when);
  }
  template <class B> std::size_t receive_exact(B& b) {
    return thrown(kind::receive_exact, mbuf(b));
  }
  template <class B> std::size_t receive_exact(B& b, deadline when) {
    return thrown(kind::receive_exact, mbuf(b), when);
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b) {
    return thrown_list(kind::receive_exact, b.begin(), b.size());
  }
  std::size_t receive_exact(std::initializer_list<mutable_buffer> b, deadline when) {
    return thrown_list(kind::receive_exact, b.begin(), b.size(), when);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count) {
    return thrown_list(kind::receive_exact, bufs, count);
  }
  std::size_t receive_exact(const mutable_buffer* bufs, std::size_t count, deadline when) {
    return thrown_list(kind::receive_exact, bufs, count, when);
  }

  void shutdown(shutdown_type how, std::error_code& ec) noexcept {
    if (usable(ec)) detail::visit_nothrow([&](auto& s) { s.shutdown(how, ec); }, socket_);
  }
  void shutdown(shutdown_type how) {
    std::error_code ec;
    shutdown(how, ec);
    if (ec) fail(ec, "shutdown of");
  }
  bool wait_readable(deadline when, std::error_code& ec) const noexcept {
    if (!usable(ec)) return false;
    return detail::visit_nothrow([&](const auto& s) { return s.wait_readable(when, ec); }, socket_);
  }
  bool wait_readable(deadline when = deadline::never()) const {
    std::error_code ec;
    const bool ready = wait_readable(when, ec);
    if (ec) fail(ec, "wait_readable on");
    return ready;
  }
  bool wait_writable(deadline when, std::error_code& ec) const noexcept {
    if (!usable(ec)) return false;
    return detail::visit_nothrow([&](const auto& s) { return s.wait_writable(when, ec); }, socket_);
  }
  bool wait_writable(deadline when = deadline::never()) const {
    std::error_code ec;
    const bool ready = wait_writable(when, ec);
    if (ec) fail(ec, "wait_writable on");
    return ready;
  }
  void set_nonblocking(bool on, std::error_code& ec) noexcept {
    if (usable(ec)) detail::visit_nothrow([&](auto& s) { s.set_nonblocking(on, ec); }, socket_);
  }
  void set_nonblocking(bool on) {
    std::error_code ec;
    set_nonblocking(on, ec);
    if (ec) fail(ec, "set_nonblocking on");
  }

  any_endpoint local_endpoint(std::error_code& ec) const noexcept { return name_of(false, &ec); }
  any_endpoint local_endpoint() const { return name_of(false, nullptr); }
  any_endpoint peer_endpoint(std::error_code& ec) const noexcept { return name_of(true, &ec); }
  any_endpoint peer_endpoint() const { return name_of(true, nullptr); }

 private:
  bool usable(std::error_code& ec) const noexcept {
    if (empty_) ec = Policy::closed_error();
    return !empty_;
  }
  // An error's name for this socket: the peer the kernel reports, but an open
  // hybrid vsock connection's hybrid endpoint (its Unix socket knows no port).
  std::string describe() const {
    if (remote_.scheme() == uri_scheme::hybrid_vsock && is_open()) return remote_.to_string();
    return detail::visit_nothrow([](const auto& s) { return s.describe_self(); }, socket_);
  }
  [[noreturn]] VMSOCK_NOINLINE void fail(const std::error_code& ec, const char* op) const {
    if (empty_) detail::throw_empty(op, "any_stream_socket", ec);
    detail::throw_error(ec, op, describe());
  }

  any_endpoint name_of(bool peer, std::error_code* ec) const {
    if (empty_ && ec) {
      *ec = Policy::closed_error();
      return {};
    }
    if (empty_) fail(Policy::closed_error(), peer ? "peer_endpoint of" : "local_endpoint of");
    return detail::name_of_any(socket_, peer, ec);
  }

  // ---- the transfers, on the core ----
  using core_type = detail::socket_core<Policy>;
  using kind = detail::any_transfer;

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
  std::size_t thrown_list(kind k, const Buffer* bufs, std::size_t count,
                          const When& when = When{}) {
    std::error_code ec;
    const std::size_t n = ops(k, bufs, count, when, ec);
    if (ec)
      detail::throw_any_transfer(k, ec, n, total_size(bufs, count), empty_,
                                 [this] { return describe(); });
    return n;
  }

  variant_type socket_;
  any_endpoint remote_;
  bool empty_ = true;
  std::uint8_t answer_len_ = 0;
  char answer_[detail::hybrid_answer::max] = {};
};

using any_stream_socket = basic_any_stream_socket<>;

VMSOCK_END_NAMESPACE
