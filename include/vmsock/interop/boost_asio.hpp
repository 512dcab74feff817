// vmsock::boost_asio: VSOCK and Hyper-V sockets for Boost.Asio
// (<boost/asio.hpp>, Boost 1.74 or later; Debian: libboost-dev).  Not included
// by vmsock.hpp.  The same types as vmsock/asio.hpp, from the same
// implementation (detail/asio_protocols.hpp), for Boost.Asio:
//
//   vmsock::boost_asio::vsock_stream, vsock_seqpacket, hv_stream, hybrid_vsock_stream
//   vmsock::boost_asio::to_asio, to_vmsock
//
// Errors: Boost.Asio reports boost::system::error_code.  vmsock's own codes
// (errc::vsock_connection_refused from connect, resize's
// address_family_mismatch) are in vmsock::boost_asio::error_category(), a
// Boost.System category with vmsock's messages whose codes compare equal to
// the same conditions as vmsock's std ones: ec ==
// boost::system::errc::connection_refused holds, and std::error_code(ec) ==
// std::errc::connection_refused.  make_error_code(vmsock::errc) makes one;
// to_std(ec) gives vmsock's std::error_code back.  Conversions to and from
// vmsock endpoints are vmsock operations and throw std::system_error, as the
// rest of vmsock does.
//
// Without Boost.Asio on the include path (a MinGW cross build that sees only
// its own sysroot), or where standalone asio is already in the translation
// unit and this Boost predates the renaming of its global namespaces (1.74,
// 1.75: asio issue #874), this header declares nothing.
#pragma once

#include <vmsock/config.hpp>

#if defined(__has_include)
#  if !__has_include(<boost/asio.hpp>)
#    define VMSOCK_BOOST_ASIO_MISSING 1
#  endif
#endif

#if !defined(VMSOCK_BOOST_ASIO_MISSING) && defined(ASIO_DETAIL_CONFIG_HPP)
#  include <boost/version.hpp>
#  if BOOST_VERSION >= 107400 && BOOST_VERSION < 107600
#    define VMSOCK_BOOST_ASIO_CLASHES_WITH_ASIO 1
#  endif
#endif

#if !defined(VMSOCK_BOOST_ASIO_MISSING) && !defined(VMSOCK_BOOST_ASIO_CLASHES_WITH_ASIO)

#  include <vmsock/interop/detail/asio_connect_first.hpp>
#  include <vmsock/interop/detail/asio_hybrid.hpp>
#  include <vmsock/interop/detail/asio_hybrid_acceptor.hpp>
#  include <vmsock/interop/detail/asio_handover.hpp>
#  include <vmsock/interop/detail/asio_protocols.hpp>
#  include <vmsock/detail/win_error.hpp>
#  include <vmsock/error.hpp>

#  include <boost/asio.hpp>
#  include <boost/system/error_code.hpp>
#  include <boost/system/system_error.hpp>

#  include <exception>
#  include <string>
#  include <system_error>
#  include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

// vmsock::error_category() as a Boost.System category: the same name,
// messages and portable conditions.
class boost_error_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "vmsock"; }
  std::string message(int value) const override { return vmsock::error_category().message(value); }
  boost::system::error_condition default_error_condition(int value) const noexcept override {
    const std::error_condition c = vmsock::error_category().default_error_condition(value);
    if (c.category() == std::generic_category())
      return {c.value(), boost::system::generic_category()};
    return {value, *this};
  }
};

inline const boost::system::error_category& boost_error_category() noexcept {
  static const boost_error_category_impl instance;
  return instance;
}

// Where Boost.Asio's names are (see detail/asio_protocols.hpp).
struct boost_asio {
  using error_code = boost::system::error_code;
  using executor = boost::asio::any_io_executor;
  template <class P, class E> using stream_socket = boost::asio::basic_stream_socket<P, E>;
  template <class P, class E> using seq_packet_socket = boost::asio::basic_seq_packet_socket<P, E>;
  template <class P, class E> using socket_acceptor = boost::asio::basic_socket_acceptor<P, E>;
  template <class E> using default_token = boost::asio::default_completion_token_t<E>;
  using tcp = boost::asio::ip::tcp;
  using generic_stream = boost::asio::generic::stream_protocol;
#  if defined(BOOST_ASIO_HAS_LOCAL_SOCKETS)
  using local_stream = boost::asio::local::stream_protocol;
#  else
  using local_stream = void;
#  endif

  template <class Signature, class Token, class Impl, class IoObject>
  static auto compose(Impl&& impl, Token& token, IoObject& io) {
    return boost::asio::async_compose<Token, Signature>(std::forward<Impl>(impl), token, io);
  }

  // vmsock's category <-> its Boost twin; generic <-> generic; OS codes
  // (std::system_category, or vmsock's Winsock category on MinGW) <->
  // boost::system::system_category, which maps them on every platform.
  static error_code from_std(const std::error_code& ec) noexcept {
    if (!ec) return {};
    if (ec.category() == vmsock::error_category()) return {ec.value(), boost_error_category()};
    if (ec.category() == std::generic_category())
      return {ec.value(), boost::system::generic_category()};
    return {ec.value(), boost::system::system_category()};
  }
  static std::error_code to_std(const error_code& ec) noexcept {
    if (!ec) return {};
    if (ec.category() == boost_error_category()) return {ec.value(), vmsock::error_category()};
    if (ec.category() == boost::system::generic_category())
      return {ec.value(), std::generic_category()};
    if (ec.category() == boost::system::system_category()) return make_os_error(ec.value());
    return static_cast<std::error_code>(ec);
  }
  static bool is_connection_reset(const error_code& ec) noexcept {
    return ec == boost::asio::error::connection_reset ||
           ec == boost::system::errc::connection_reset;
  }
  // For hybrid_vsock_stream's handshake (detail/asio_hybrid.hpp).
  using const_buffer = boost::asio::const_buffer;
  using mutable_buffer = boost::asio::mutable_buffer;
  static bool is_eof(const error_code& ec) noexcept { return ec == boost::asio::error::eof; }
  static error_code operation_aborted() noexcept { return boost::asio::error::operation_aborted; }
  static error_code already_open() noexcept { return boost::asio::error::already_open; }
  // For async_connect_first (detail/asio_connect_first.hpp).
  using steady_timer = boost::asio::steady_timer;
  template <class Handler> static void post(Handler&& h) {
    boost::asio::post(std::forward<Handler>(h));
  }
  // `f`, to run on the executor `handler` runs on (else `fallback`).
  template <class Handler, class Executor, class F>
  static auto bind_executor_of(const Handler& handler, const Executor& fallback, F&& f) {
    return boost::asio::bind_executor(boost::asio::get_associated_executor(handler, fallback),
                                      std::forward<F>(f));
  }
  // Boost.Asio's own throw (BOOST_ASIO_NO_EXCEPTIONS reaches its hook).
  [[noreturn]] static void throw_error(const error_code& ec, const std::string& what) {
    boost::asio::detail::throw_error(ec, what.c_str());
    std::terminate();  // not reached: ec is an error
  }
};

}  // namespace detail

namespace boost_asio {

using vsock_stream = detail::asio_protocol<detail::boost_asio, detail::asio_vsock_stream_kind>;
using vsock_seqpacket =
    detail::asio_protocol<detail::boost_asio, detail::asio_vsock_seqpacket_kind>;
using hv_stream = detail::asio_protocol<detail::boost_asio, detail::asio_hv_stream_kind>;
using hybrid_vsock_stream = detail::asio_hybrid_protocol<detail::boost_asio>;

inline constexpr detail::asio_to_asio_fn<detail::boost_asio> to_asio{};
inline constexpr detail::asio_to_vmsock_fn<detail::boost_asio> to_vmsock{};
inline constexpr detail::asio_connect_first_fn<detail::boost_asio> async_connect_first{};
inline constexpr detail::asio_listen_all_fn<detail::boost_asio> listen_all{};

// vmsock's own codes as Boost.System ones, and back.
inline const boost::system::error_category& error_category() noexcept {
  return detail::boost_error_category();
}
inline boost::system::error_code make_error_code(vmsock::errc e) noexcept {
  return {static_cast<int>(e), detail::boost_error_category()};
}
inline std::error_code to_std(const boost::system::error_code& ec) noexcept {
  return detail::boost_asio::to_std(ec);
}

}  // namespace boost_asio
VMSOCK_END_NAMESPACE

#endif
