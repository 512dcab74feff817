// vmsock's own error codes, their category, the parse exception and the
// out-of-line throw helpers used by every throwing overload.
#pragma once

#include <vmsock/config.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

// Failures that come from vmsock itself rather than from the OS.  Codes from the
// OS stay in std::system_category(); these live in vmsock::error_category().
enum class errc {
  no_mapping = 1,               // hv_endpoint <-> vsock_endpoint has no translation
  not_a_template_service_id,    // a Hyper-V service GUID that does not carry a port
  unsupported_on_platform,      // this operation does not exist on this OS
  address_family_mismatch,      // a sockaddr of another family than the endpoint's
  timed_out,                    // a vmsock-side timeout (poll) expired
  end_of_stream,                // the peer closed before receive_exact was satisfied
  message_truncated,            // a datagram/seqpacket message was larger than the buffer
  invalid_option_value,         // an option value outside what the OS accepts
  vsock_connection_refused,     // Linux VSOCK's ECONNRESET at connect: nothing listens
  option_not_applicable,        // an option for another family (any_stream_socket, any_listener)
  hv_connect_timeout_too_long,  // a Hyper-V connect's deadline beyond HVSOCKET_CONNECT_TIMEOUT_MAX
  hybrid_vsock_refused,         // a hybrid vsock VMM closed the socket without answering CONNECT
  hybrid_vsock_bad_answer,      // a hybrid vsock VMM answered CONNECT with something other than OK
  // The peer closed the stream before receive_exact got its first byte: a
  // clean end between messages, where end_of_stream is a message cut short.
  // It is also end_of_stream: `ec == errc::end_of_stream` holds for both, and
  // `ec == errc::clean_end_of_stream` only for this one (see operator== below).
  clean_end_of_stream,
};

VMSOCK_END_NAMESPACE

// Before anything compares with the enum (the operators below).
namespace std {
template <> struct is_error_code_enum<vmsock::errc> : true_type {};
}  // namespace std

VMSOCK_BEGIN_NAMESPACE

namespace detail {

class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "vmsock"; }

  std::string message(int value) const override {
    if (const char* m = text(value)) return m;  // one string construction, not one per case
    return "unknown vmsock error " + std::to_string(value);
  }

  static const char* text(int value) noexcept {
    switch (static_cast<errc>(value)) {
    case errc::no_mapping:
      return "no mapping between the Hyper-V and VSOCK address families for this endpoint";
    case errc::not_a_template_service_id:
      return "service id is not a VSOCK-template GUID (xxxxxxxx-facb-11e6-bd58-64006a7986d3)";
    case errc::unsupported_on_platform: return "operation not supported on this platform";
    case errc::address_family_mismatch: return "address family does not match the endpoint type";
    case errc::timed_out: return "operation timed out";
    case errc::end_of_stream: return "peer closed the stream before all bytes arrived";
    case errc::message_truncated: return "message larger than the receive buffer; it was truncated";
    case errc::invalid_option_value: return "socket option value out of range";
    case errc::vsock_connection_refused:
      return "connection refused: nothing listens on that port (Linux VSOCK answers "
             "ECONNRESET, \"Connection reset by peer\")";
    case errc::option_not_applicable:
      return "socket option does not apply to this socket's address family";
    case errc::hv_connect_timeout_too_long:
      return "a Hyper-V connect waits at most 300000 ms (HVSOCKET_CONNECT_TIMEOUT_MAX): give it "
             "a nearer deadline";
    case errc::hybrid_vsock_refused:
      return "connection refused: the VMM closed its vsock socket without answering CONNECT "
             "(nothing listens on that guest port, or the VM is not running or not booted yet)";
    case errc::hybrid_vsock_bad_answer:
      return "the VMM's answer to CONNECT is not \"OK ...\" (not a hybrid vsock socket, or "
             "a protocol this client does not know)";
    case errc::clean_end_of_stream:
      return "peer closed the stream before the first byte (a clean end between messages)";
    }
    return nullptr;
  }

  // Lets `ec == std::errc::timed_out` hold for vmsock's own timeout, and so on,
  // wherever a portable condition means the same thing.
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
    case errc::timed_out: return std::make_error_condition(std::errc::timed_out);
    case errc::unsupported_on_platform: return std::make_error_condition(std::errc::not_supported);
    case errc::address_family_mismatch:
      return std::make_error_condition(std::errc::address_family_not_supported);
    case errc::message_truncated: return std::make_error_condition(std::errc::message_size);
    case errc::invalid_option_value: return std::make_error_condition(std::errc::invalid_argument);
    case errc::vsock_connection_refused:
      return std::make_error_condition(std::errc::connection_refused);
    case errc::option_not_applicable:
      return std::make_error_condition(std::errc::no_protocol_option);
    case errc::hv_connect_timeout_too_long:
      return std::make_error_condition(std::errc::invalid_argument);
    case errc::hybrid_vsock_refused:
      return std::make_error_condition(std::errc::connection_refused);
    case errc::hybrid_vsock_bad_answer: return std::make_error_condition(std::errc::protocol_error);
    case errc::clean_end_of_stream:  // an end of stream, one that cut nothing
      return {static_cast<int>(errc::end_of_stream), *this};
    default: return {value, *this};
    }
  }
};

}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

inline std::error_condition make_error_condition(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// `ec == vmsock::errc::X` holds for the code X and for every code whose
// condition is X, as a comparison with a condition does: clean_end_of_stream
// is also end_of_stream.  (The standard compares an error_code with a code
// enum exactly; for every other code the two agree.)  Comparing two
// error_codes stays exact: std::error_code(errc::end_of_stream) is not equal
// to a clean_end_of_stream code; compare with the enum.
inline bool operator==(const std::error_code& ec, errc e) noexcept {
  return ec == make_error_code(e) || ec == make_error_condition(e);
}
inline bool operator==(errc e, const std::error_code& ec) noexcept { return ec == e; }
inline bool operator!=(const std::error_code& ec, errc e) noexcept { return !(ec == e); }
inline bool operator!=(errc e, const std::error_code& ec) noexcept { return !(ec == e); }

// Thrown by the parse() functions of guid and of every endpoint type.  what()
// names the kind of text, quotes the input and says what is wrong with it.
class parse_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

#if VMSOCK_NO_EXCEPTIONS
// Without exceptions (-fno-exceptions, or VMSOCK_NO_EXCEPTIONS defined), a
// throwing form calls this with what it would have thrown (a std::system_error,
// a vmsock::parse_error, a vmsock::connect_error: what() is the same text).
// The program defines it, once; it must not return:
//   [[noreturn]] void vmsock::throw_exception(const std::exception& e) {
//     std::fprintf(stderr, "%s\n", e.what());
//     std::abort();
//   }
// The error_code forms and try_parse never call it.  Outside the versioned
// namespace: one definition serves every copy of vmsock in the program.
VMSOCK_END_NAMESPACE
namespace vmsock {
[[noreturn]] void throw_exception(const std::exception& e);
}  // namespace vmsock
VMSOCK_BEGIN_NAMESPACE
#endif

namespace detail {

// Every throw of vmsock goes through here.
template <class E> [[noreturn]] VMSOCK_NOINLINE void raise(const E& e) {
#if VMSOCK_NO_EXCEPTIONS
  ::vmsock::throw_exception(e);
#else
  throw e;
#endif
}

// Quotes user text for an error message: control bytes (NUL included) are shown
// as \xNN so that a message never hides or truncates what was given.
inline std::string quote(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\') {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else {
        out += "\\x";
        out += hex[u >> 4];
        out += hex[u & 0xf];
      }
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

[[noreturn]] VMSOCK_NOINLINE inline void throw_parse_error(std::string_view what,
                                                           std::string_view text,
                                                           std::string_view why) {
  std::string msg(what);
  msg += ' ';
  msg += quote(text);
  msg += ": ";
  msg += why;
  raise(parse_error(msg));
}
// As above, with where in `text` the parser stopped (a byte offset; npos:
// not known).
[[noreturn]] VMSOCK_NOINLINE inline void throw_parse_error(std::string_view what,
                                                           std::string_view text,
                                                           std::string_view why,
                                                           std::size_t position) {
  if (position == std::string_view::npos) throw_parse_error(what, text, why);
  std::string w(why);
  w += " (at offset ";
  w += std::to_string(position);
  w += ')';
  throw_parse_error(what, text, w);
}

// "connect_first: entry 2 of 3": which entry of a list a message is about.
inline std::string entry_of(std::string_view who, std::size_t i, std::size_t n) {
  std::string s(who);
  s += ": entry ";
  s += std::to_string(i + 1);
  s += " of ";
  s += std::to_string(n);
  return s;
}

// "connect to vsock://2:5000: Connection refused"
[[noreturn]] VMSOCK_NOINLINE inline void throw_error(const std::error_code& ec,
                                                     std::string_view operation,
                                                     std::string_view endpoint = {}) {
  std::string msg(operation);
  if (!endpoint.empty()) {
    msg += ' ';
    msg += endpoint;
  }
  raise(std::system_error(ec, msg));
}

}  // namespace detail
VMSOCK_END_NAMESPACE
