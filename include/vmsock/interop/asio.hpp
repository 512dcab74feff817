// vmsock::asio: VSOCK and Hyper-V sockets for standalone asio (<asio.hpp>).
// Not included by vmsock.hpp; needs asio on the include path (Debian:
// libasio-dev; 1.18 or later).  vmsock/boost_asio.hpp is the same for
// Boost.Asio, from the same implementation (detail/asio_protocols.hpp).
//
//   vmsock::asio::vsock_stream      AF_VSOCK SOCK_STREAM   (AF_HYPERV on Windows)
//   vmsock::asio::vsock_seqpacket   AF_VSOCK SOCK_SEQPACKET (Linux 5.16+)
//   vmsock::asio::hv_stream         AF_HYPERV SOCK_STREAM  (AF_VSOCK on Linux)
//   vmsock::asio::hybrid_vsock_stream  AF_UNIX SOCK_STREAM to a VMM's vsock socket
//                                   (Firecracker, Cloud Hypervisor): async_connect
//                                   makes the CONNECT handshake; socket.answer()
//                                   is what followed "OK "; the acceptor serves
//                                   the guest's connections on "<path>_<port>"
//
// Each is an asio Protocol and AcceptableProtocol with family(), type(),
// protocol() and nested endpoint, socket and acceptor:
//
//   asio::io_context io;
//   vmsock::asio::vsock_stream::acceptor acceptor(io,
//   vmsock::vsock_endpoint{vmsock::vsock::cid::any, 5000}); vmsock::asio::vsock_stream::socket peer
//   = co_await acceptor.async_accept(asio::use_awaitable);
//
// The endpoints convert to and from vmsock::vsock_endpoint / hv_endpoint
// implicitly; a vmsock endpoint the OS family has no form for (a CID other
// than any/host/local on Windows, a VM id other than wildcard/parent/loopback
// on Linux) throws std::system_error with errc::no_mapping at that
// conversion, before any socket exists (endpoint::from(value, ec) is the
// noexcept form).  connect/async_connect report Linux VSOCK's ECONNRESET for
// a port nobody listens on as errc::vsock_connection_refused, which compares
// equal to std::errc::connection_refused.
//
// asio 1.22's own OS codes compare equal to asio::error's values but to no
// std::errc condition (asio leaves its mapping out); vmsock::asio::to_std(ec)
// gives vmsock's code for one, which does.
//
// Hand-over: vmsock::asio::to_asio(context, std::move(vmsock_socket)) and
// vmsock::asio::to_vmsock(std::move(asio_socket)), for VSOCK and Hyper-V
// sockets and listeners; hybrid vsock ones (to_asio only) become
// hybrid_vsock_stream's; IP and Unix sockets become asio::ip::tcp's and
// asio::local's; connect_first's any_stream_socket becomes an
// asio::generic::stream_protocol::socket.  fmt: vmsock/asio_fmt.hpp.
//
// Note: with `using namespace vmsock;` the name asio is ambiguous (::asio or
// vmsock::asio); write ::asio.  Standalone asio and Boost.Asio 1.74 cannot be
// included in one translation unit at all (asio issue #874: both define the
// global namespace asio_execution_set_done_fn, ...); this header then declares
// nothing (see below), and each flavour lives in translation units of its own.
#pragma once

#include <vmsock/config.hpp>

// Boost.Asio from before it renamed its global namespaces (Boost 1.74 and
// 1.75) is already in this translation unit: including <asio.hpp> would fail
// inside asio, so vmsock::asio is left out.  (vmsock's own tests include every
// header in one translation unit.)
#if defined(BOOST_ASIO_DETAIL_CONFIG_HPP)
#  include <boost/version.hpp>
#  if BOOST_VERSION >= 107400 && BOOST_VERSION < 107600
#    define VMSOCK_ASIO_CLASHES_WITH_BOOST_ASIO 1
#  endif
#endif

#if !defined(VMSOCK_ASIO_CLASHES_WITH_BOOST_ASIO)

#  include <vmsock/interop/detail/asio_connect_first.hpp>
#  include <vmsock/interop/detail/asio_hybrid.hpp>
#  include <vmsock/interop/detail/asio_hybrid_acceptor.hpp>
#  include <vmsock/interop/detail/asio_handover.hpp>
#  include <vmsock/interop/detail/asio_protocols.hpp>
#  include <vmsock/detail/win_error.hpp>

#  include <asio.hpp>

#  include <exception>
#  include <string>
#  include <system_error>
#  include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// Where standalone asio's names are (see detail/asio_protocols.hpp).
struct standalone_asio {
  using error_code = ::asio::error_code;
  using executor = ::asio::any_io_executor;
  template <class P, class E> using stream_socket = ::asio::basic_stream_socket<P, E>;
  template <class P, class E> using seq_packet_socket = ::asio::basic_seq_packet_socket<P, E>;
  template <class P, class E> using socket_acceptor = ::asio::basic_socket_acceptor<P, E>;
  template <class E> using default_token = ::asio::default_completion_token_t<E>;
  using tcp = ::asio::ip::tcp;
  using generic_stream = ::asio::generic::stream_protocol;
#  if defined(ASIO_HAS_LOCAL_SOCKETS)
  using local_stream = ::asio::local::stream_protocol;
#  else
  using local_stream = void;
#  endif

  template <class Signature, class Token, class Impl, class IoObject>
  static auto compose(Impl&& impl, Token& token, IoObject& io) {
    return ::asio::async_compose<Token, Signature>(std::forward<Impl>(impl), token, io);
  }

  // asio's error_code is std::error_code.  Into vmsock, asio's OS codes
  // (category "asio.system", which asio 1.22 maps to no std::errc condition)
  // become vmsock's, which compare equal to the std::errc conditions.
  static error_code from_std(const std::error_code& ec) noexcept { return ec; }
  static std::error_code to_std(const error_code& ec) noexcept {
    if (ec && ec.category() == ::asio::error::get_system_category())
      return make_os_error(ec.value());
    return ec;
  }
  // asio's own codes (category "asio.system") compare equal to asio::error's
  // values; asio 1.22 maps them to no std::errc condition (its mapping is
  // behind ASIO_HAS_STD_ERROR_CODE, which nothing defines), so both are asked.
  static bool is_connection_reset(const error_code& ec) noexcept {
    return ec == ::asio::error::connection_reset || ec == std::errc::connection_reset;
  }
  // For hybrid_vsock_stream's handshake (detail/asio_hybrid.hpp).
  using const_buffer = ::asio::const_buffer;
  using mutable_buffer = ::asio::mutable_buffer;
  static bool is_eof(const error_code& ec) noexcept { return ec == ::asio::error::eof; }
  static error_code operation_aborted() noexcept { return ::asio::error::operation_aborted; }
  static error_code already_open() noexcept { return ::asio::error::already_open; }
  // For async_connect_first (detail/asio_connect_first.hpp).
  using steady_timer = ::asio::steady_timer;
  template <class Handler> static void post(Handler&& h) { ::asio::post(std::forward<Handler>(h)); }
  // `f`, to run on the executor `handler` runs on (else `fallback`).
  template <class Handler, class Executor, class F>
  static auto bind_executor_of(const Handler& handler, const Executor& fallback, F&& f) {
    return ::asio::bind_executor(::asio::get_associated_executor(handler, fallback),
                                 std::forward<F>(f));
  }
  // asio's own throw, so that a build with ASIO_NO_EXCEPTIONS reaches its hook.
  [[noreturn]] static void throw_error(const error_code& ec, const std::string& what) {
    ::asio::detail::throw_error(ec, what.c_str());
    std::terminate();  // not reached: ec is an error
  }
};

}  // namespace detail

namespace asio {

using vsock_stream = detail::asio_protocol<detail::standalone_asio, detail::asio_vsock_stream_kind>;
using vsock_seqpacket =
    detail::asio_protocol<detail::standalone_asio, detail::asio_vsock_seqpacket_kind>;
using hv_stream = detail::asio_protocol<detail::standalone_asio, detail::asio_hv_stream_kind>;
// A guest port behind a VMM's Unix socket (Firecracker, Cloud Hypervisor):
// async_connect makes the CONNECT handshake; the acceptor serves "<path>_<port>".
using hybrid_vsock_stream = detail::asio_hybrid_protocol<detail::standalone_asio>;

// to_asio(context or executor, std::move(vmsock_socket)[, ec]) -> the asio socket
// or acceptor; to_vmsock(std::move(asio_object)[, ec]) -> the vmsock one.
inline constexpr detail::asio_to_asio_fn<detail::standalone_asio> to_asio{};
inline constexpr detail::asio_to_vmsock_fn<detail::standalone_asio> to_vmsock{};

// async_connect_first(context or executor, endpoints or URIs[, per_attempt][,
// failed], token): the first that connects, as asio::generic::stream_protocol::socket;
// completion void(error_code, socket).  listen_all(context, endpoints or
// URIs[, backlog]): a generic acceptor for each.  See detail/asio_connect_first.hpp.
inline constexpr detail::asio_connect_first_fn<detail::standalone_asio> async_connect_first{};
inline constexpr detail::asio_listen_all_fn<detail::standalone_asio> listen_all{};

// asio's code as vmsock reports OS errors: asio's own OS codes (category
// "asio.system", which asio 1.22 relates to no std::errc condition) become
// std::system_category() ones (on MinGW vmsock's Winsock category), which
// compare equal to the std::errc conditions; other codes are returned as they are.
inline std::error_code to_std(const std::error_code& ec) noexcept {
  return detail::standalone_asio::to_std(ec);
}

}  // namespace asio
VMSOCK_END_NAMESPACE

#endif  // !VMSOCK_ASIO_CLASHES_WITH_BOOST_ASIO
