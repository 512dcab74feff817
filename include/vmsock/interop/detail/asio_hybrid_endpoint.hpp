// The endpoint of the asio adapters' hybrid vsock protocol
// (detail/asio_hybrid.hpp): the VMM's Unix socket and the guest port.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Lib> class asio_hybrid_protocol;

// asio's Endpoint for hybrid_vsock_stream: a Unix address (what the OS sees)
// and the vsock port (what the handshake sends).  From a
// hybrid_vsock_endpoint it is the VMM's socket and the guest port.  An
// address the OS reports (local_endpoint(), remote_endpoint(), an accepted
// peer) is a Unix address alone: has_port() is false, to_string() is its
// unix:// text and value() fails (std::errc::invalid_argument).
template <class Lib> class asio_hybrid_endpoint {
  using native = unix_endpoint::native_type;

 public:
  using protocol_type = asio_hybrid_protocol<Lib>;
  using value_type = hybrid_vsock_endpoint;
  using data_type = ::sockaddr;

  // An unnamed Unix address, no port: what the OS writes over.
  asio_hybrid_endpoint() noexcept { store(unix_endpoint{}); }
  // The VMM's socket (value.uds()) and the guest port.  Implicit, as the
  // other protocols' endpoints are; it cannot fail.
  asio_hybrid_endpoint(
      const hybrid_vsock_endpoint& v) noexcept  // NOLINT(google-explicit-constructor)
      : port_(v.port()), has_port_(true) {
    store(v.uds());
  }
  // Throws vmsock::parse_error as hybrid_vsock_endpoint's constructor does.
  asio_hybrid_endpoint(std::string_view path, std::uint32_t port)
      : asio_hybrid_endpoint(hybrid_vsock_endpoint(path, port)) {}
  // "hybrid-vsock:///run/fc.vsock:5000".
  static asio_hybrid_endpoint parse(std::string_view text) {
    return asio_hybrid_endpoint(hybrid_vsock_endpoint::parse(text));
  }

  // ---- asio's Endpoint requirements ----
  protocol_type protocol() const noexcept { return protocol_type{}; }
  data_type* data() noexcept { return &data_.base; }
  const data_type* data() const noexcept { return &data_.base; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return sizeof(native); }
  // After the OS wrote a Unix address into data(): any length from the
  // family's field to the whole struct, AF_UNIX, and a name vmsock can hold;
  // else the endpoint goes back to the default and asio's system_error is
  // thrown (invalid_argument for the length, address_family_mismatch for the
  // family).  The port is gone: the OS does not know it.
  void resize(std::size_t new_size) {
    int family = 0;
    std::error_code ec;
    if (new_size < offsetof(native, sun_path) || new_size > sizeof(native))
      ec = std::make_error_code(std::errc::invalid_argument);
    else if (!native_family(&data_, new_size, family) || family != unix_endpoint::family)
      ec = make_error_code(errc::address_family_mismatch);
    else if (!unix_endpoint::from_native(&data_, new_size))
      ec = std::make_error_code(std::errc::invalid_argument);
    if (ec) {
      *this = asio_hybrid_endpoint{};
      Lib::throw_error(Lib::from_std(ec), "vmsock: endpoint resize");
    }
    size_ = new_size;
    port_ = 0;
    has_port_ = false;
  }

  // ---- back to vmsock ----
  // Whether the port is known (made from a hybrid_vsock_endpoint).
  bool has_port() const noexcept { return has_port_; }
  std::uint32_t port() const noexcept { return port_; }
  // The Unix address the OS sees: the VMM's socket, or what the OS reported.
  unix_endpoint address() const noexcept {
    const auto u = unix_endpoint::from_native(&data_, size_);
    return u ? *u : unix_endpoint{};
  }
  // The hybrid vsock endpoint; invalid_argument for an address without a port.
  value_type value(std::error_code& ec) const noexcept {
    const unix_endpoint u = address();
    if (!has_port_ || u.type() != unix_endpoint::kind::path) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return value_type{};
    }
    ec.clear();
    // A path that came from a hybrid_vsock_endpoint fits it again.
    return value_type(u.name(), port_);
  }
  value_type value() const {
    std::error_code ec;
    const value_type v = value(ec);
    if (ec)
      throw_error(ec, "hybrid vsock endpoint from",
                  address().to_string() + " (an address the OS reports carries no vsock port)");
    return v;
  }
  operator value_type() const { return value(); }  // NOLINT(google-explicit-constructor)

  // hybrid-vsock:///run/fc.vsock:5000, or the unix:// text of an address without a port.
  std::string to_string() const {
    std::error_code ec;
    const value_type v = value(ec);
    return ec ? address().to_string() : v.to_string();
  }

  friend bool operator==(const asio_hybrid_endpoint& a, const asio_hybrid_endpoint& b) noexcept {
    return a.has_port_ == b.has_port_ && a.port_ == b.port_ && a.address() == b.address();
  }
  friend bool operator!=(const asio_hybrid_endpoint& a, const asio_hybrid_endpoint& b) noexcept {
    return !(a == b);
  }
  friend bool operator==(const asio_hybrid_endpoint& a, const value_type& b) noexcept {
    return a == asio_hybrid_endpoint(b);
  }
  friend bool operator==(const value_type& a, const asio_hybrid_endpoint& b) noexcept {
    return b == a;
  }
  friend bool operator!=(const asio_hybrid_endpoint& a, const value_type& b) noexcept {
    return !(a == b);
  }
  friend bool operator!=(const value_type& a, const asio_hybrid_endpoint& b) noexcept {
    return !(b == a);
  }

  template <class Elem, class Traits>
  friend std::basic_ostream<Elem, Traits>& operator<<(std::basic_ostream<Elem, Traits>& out,
                                                      const asio_hybrid_endpoint& ep) {
    return out << ep.to_string().c_str();
  }

 private:
  void store(const unix_endpoint& u) noexcept {
    data_.sun = u.to_native();
    size_ = u.native_size();
  }

  union storage {
    ::sockaddr base;
    native sun;
  } data_{};
  std::size_t size_ = 0;
  std::uint32_t port_ = 0;
  bool has_port_ = false;
};

}  // namespace detail
VMSOCK_END_NAMESPACE
