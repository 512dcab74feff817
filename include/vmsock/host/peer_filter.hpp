// Ready-made peer filters for listener::set_peer_filter and
// any_listener::set_peer_filter (namespace vmsock::peer):
//
//   peer::cids{vsock::cid::host}               VSOCK peers by context id
//   peer::vm_ids{vm}                           Hyper-V peers by VM id
//   peer::networks{"127.0.0.0/8", "::1/128"}   IP peers by CIDR network
//   peer::uids{0, 1000}, peer::gids{...}       Unix peers by their credentials
//   peer::any_of(f, g...), peer::all_of(...)   combinations
//
//   auto l = vmsock::vsock_listener::listen({vmsock::vsock::cid::any, 5000});
//   l.set_peer_filter(vmsock::peer::cids{vmsock::vsock::cid::host});  // the host only
//
// Each filter is a function object called with the peer endpoint (and, where
// it must look at the connection, with the accepted socket too): it allocates
// nothing per peer (its lists are made once, when it is built) and never
// throws.  A callable of your own works as well, noexcept or not (one that
// throws refuses the peer), alone or combined with these.  On a typed listener it takes that
// listener's endpoint type only: a CID filter on a TCP listener does not compile.  On an
// any_listener it takes the any_endpoint, and a peer of another family than the filter's is decided
// by `others`, given when the filter is made: refused by default, so that
// any_of(cids{host}, networks{"127.0.0.0/8"}) lets each filter speak for its
// own family; peer::others::allow makes a filter pass the families it does
// not know (for all_of).
//
// Credentials need the connection: uids and gids take (unix_endpoint,
// socket), which a Unix listener gives its filter, and (any_endpoint,
// any_stream_socket), which an any_listener gives its own: there they read a
// Unix connection's credentials and decide a connection of another family by
// `others` (refused by default; peer::uids{{0}, peer::others::allow} lets the
// other transports through, for all_of).  The other filters take both forms
// too.
#pragma once

#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/any/listener.hpp>
#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/endpoint/inet.hpp>
#include <vmsock/endpoint/ip_network.hpp>
#include <vmsock/policy/types.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace peer {

// What a filter says of a peer of a family it does not filter (any_listener).
enum class others : unsigned char { refuse, allow };

namespace detail {

template <class T> bool in(const std::vector<T>& list, const T& x) noexcept {
  for (const T& v : list)
    if (v == x) return true;
  return false;
}

// Only any_endpoint itself (a template parameter, so that no endpoint type
// converts to it and a filter of one family never compiles for another).
template <class A> inline constexpr bool is_any = std::is_same_v<A, any_endpoint>;

template <class S, class = void> struct has_credentials : std::false_type {};
template <class S>
struct has_credentials<S, std::void_t<decltype(std::declval<const S&>().peer_credentials(
                              std::declval<std::error_code&>()))>> : std::true_type {};

template <class S, class = void> struct has_peer_hv : std::false_type {};
template <class S>
struct has_peer_hv<S, std::void_t<decltype(std::declval<const S&>().peer_hv_endpoint(
                          std::declval<std::error_code&>()))>> : std::true_type {};

template <class S> credentials credentials_of(const S& s, bool& ok) noexcept {
  std::error_code ec;
  const credentials c = s.peer_credentials(ec);
  ok = !ec;
  return c;
}

// A parse_error naming a bad entry of a list: "peer::networks: entry 2 of 3:
// IP network \"10.0.0.1/8\": ...".
[[noreturn]] VMSOCK_NOINLINE inline void throw_entry(const char* who, std::size_t i, std::size_t n,
                                                     std::string_view text,
                                                     const vmsock::detail::parsed<ip_network>& r) {
  vmsock::detail::throw_parse_error(vmsock::detail::entry_of(who, i, n) + ": IP network", text,
                                    ip_network::reason(r), r.position);
}

}  // namespace detail

// VSOCK peers by context id: peer::cids{vsock::cid::host} admits the host
// only (a guest agent), peer::cids{3, 4} two guests (a host service).  On a
// Windows host VMs have no CID (their peers read as cid::any): use vm_ids.
class cids {
 public:
  cids(std::initializer_list<std::uint32_t> ids, others o = others::refuse)
      : ids_(ids), others_(o) {}
  explicit cids(std::vector<std::uint32_t> ids, others o = others::refuse)
      : ids_(std::move(ids)), others_(o) {}

  bool operator()(const vsock_endpoint& peer) const noexcept { return detail::in(ids_, peer.cid); }
  template <class A, std::enable_if_t<detail::is_any<A>, int> = 0>
  bool operator()(const A& peer) const noexcept {
    if (const auto* v = peer.template get_if<vsock_endpoint>()) return (*this)(*v);
    return others_ == others::allow;
  }
  template <class A, class P, std::enable_if_t<detail::is_any<A>, int> = 0>
  bool operator()(const A& peer, const basic_any_stream_socket<P>&) const noexcept {
    return (*this)(peer);
  }

  const std::vector<std::uint32_t>& values() const noexcept { return ids_; }

 private:
  std::vector<std::uint32_t> ids_;
  others others_;
};

// Hyper-V peers by VM id (a Windows host: (Get-VM -Name guest).Id; a guest:
// hv::vm_id::parent).  On an hv_listener the peer's VM id is its endpoint's;
// on a vsock_listener it is read from the connection (peer_hv_endpoint(): on
// Windows the VM's own GUID, on Linux the CID's mapping, so cid::host is
// hv::vm_id::parent and other CIDs match nothing).  On an any_listener
// (endpoint only) a VSOCK peer is refused: its VM id is not in its endpoint.
class vm_ids {
 public:
  vm_ids(std::initializer_list<guid> ids, others o = others::refuse) : ids_(ids), others_(o) {}
  explicit vm_ids(std::vector<guid> ids, others o = others::refuse)
      : ids_(std::move(ids)), others_(o) {}

  bool operator()(const hv_endpoint& peer) const noexcept { return detail::in(ids_, peer.vm_id); }
  template <class S, std::enable_if_t<detail::has_peer_hv<S>::value, int> = 0>
  bool operator()(const vsock_endpoint&, const S& connection) const noexcept {
    std::error_code ec;
    const hv_endpoint hv = connection.peer_hv_endpoint(ec);
    return !ec && detail::in(ids_, hv.vm_id);
  }
  template <class A, std::enable_if_t<detail::is_any<A>, int> = 0>
  bool operator()(const A& peer) const noexcept {
    if (const auto* h = peer.template get_if<hv_endpoint>()) return (*this)(*h);
    if (peer.template holds<vsock_endpoint>()) return false;
    return others_ == others::allow;
  }
  template <class A, class P, std::enable_if_t<detail::is_any<A>, int> = 0>
  bool operator()(const A& peer, const basic_any_stream_socket<P>& connection) const noexcept {
    if (const auto* v = peer.template get_if<vsock_endpoint>()) {
      const auto* s = connection.template get_if<vsock_endpoint>();
      return s != nullptr && (*this)(*v, *s);
    }
    return (*this)(peer);
  }

  const std::vector<guid>& values() const noexcept { return ids_; }

 private:
  std::vector<guid> ids_;
  others others_;
};

// IP peers by network: peer::networks{"127.0.0.0/8", "::1/128"}.  A bad
// entry is a parse_error naming it ("peer::networks: entry 2 of 2: IP
// network \"::1/129\": prefix length above 128 for an IPv6 network").  An
// IPv4 network also matches IPv4-mapped IPv6 peers (a dual-stack listener's
// IPv4 clients); see ip_network.hpp.
class networks {
 public:
  networks(std::initializer_list<std::string_view> cidrs, others o = others::refuse) : others_(o) {
    nets_.reserve(cidrs.size());
    for (const std::string_view text : cidrs) {
      const auto r = ip_network::parse_detail(text);
      if (!r) detail::throw_entry("peer::networks", nets_.size(), cidrs.size(), text, r);
      nets_.push_back(r.value);
    }
  }
  networks(std::initializer_list<ip_network> nets, others o = others::refuse)
      : nets_(nets), others_(o) {}
  explicit networks(std::vector<ip_network> nets, others o = others::refuse)
      : nets_(std::move(nets)), others_(o) {}

  bool operator()(const inet4_endpoint& peer) const noexcept { return contains(peer.address); }
  bool operator()(const inet6_endpoint& peer) const noexcept { return contains(peer.address); }
  template <class A, std::enable_if_t<detail::is_any<A>, int> = 0>
  bool operator()(const A& peer) const noexcept {
    if (const auto* v4 = peer.template get_if<inet4_endpoint>()) return (*this)(*v4);
    if (const auto* v6 = peer.template get_if<inet6_endpoint>()) return (*this)(*v6);
    return others_ == others::allow;
  }
  template <class A, class P, std::enable_if_t<detail::is_any<A>, int> = 0>
  bool operator()(const A& peer, const basic_any_stream_socket<P>&) const noexcept {
    return (*this)(peer);
  }

  template <std::size_t N>
  bool contains(const std::array<std::uint8_t, N>& address) const noexcept {
    for (const ip_network& n : nets_)
      if (n.contains(address)) return true;
    return false;
  }
  const std::vector<ip_network>& values() const noexcept { return nets_; }

 private:
  std::vector<ip_network> nets_;
  others others_;
};

namespace detail {

// uids and gids: a Unix peer's credentials (SO_PEERCRED) read from the
// connection; a connection whose credentials cannot be read is refused
// (unsupported_on_platform on Windows: every peer).
template <bool Uid> class credential_ids {
 public:
  credential_ids(std::initializer_list<std::uint32_t> ids, others o = others::refuse)
      : ids_(ids), others_(o) {}
  explicit credential_ids(std::vector<std::uint32_t> ids, others o = others::refuse)
      : ids_(std::move(ids)), others_(o) {}

  template <class S, std::enable_if_t<has_credentials<S>::value, int> = 0>
  bool operator()(const unix_endpoint&, const S& connection) const noexcept {
    bool ok = false;
    const credentials c = credentials_of(connection, ok);
    return ok && in(ids_, Uid ? c.uid : c.gid);
  }
  template <class A, class P, std::enable_if_t<is_any<A>, int> = 0>
  bool operator()(const A& peer, const basic_any_stream_socket<P>& connection) const noexcept {
    if (const auto* u = peer.template get_if<unix_endpoint>()) {
      const auto* s = connection.template get_if<unix_endpoint>();
      return s != nullptr && (*this)(*u, *s);
    }
    return others_ == others::allow;
  }

  const std::vector<std::uint32_t>& values() const noexcept { return ids_; }

 private:
  std::vector<std::uint32_t> ids_;
  others others_;
};

}  // namespace detail

// Unix peers whose user id (SO_PEERCRED's uid) is in the list.
class uids : public detail::credential_ids<true> {
  using credential_ids::credential_ids;
};
// Unix peers whose group id (SO_PEERCRED's gid, the peer's effective group)
// is in the list.
class gids : public detail::credential_ids<false> {
  using credential_ids::credential_ids;
};

namespace detail {

template <class F, class E>
inline constexpr bool takes_endpoint = std::is_invocable_r_v<bool, const F&, const E&>;
template <class F, class E, class S>
inline constexpr bool takes_connection = std::is_invocable_r_v<bool, const F&, const E&, const S&>;
// Whether asking F (as ask() does) cannot throw: a combination is noexcept
// exactly when every filter in it is.
template <class F, class E>
inline constexpr bool asks_nothrow = std::is_nothrow_invocable_r_v<bool, const F&, const E&>;
template <class F, class E, class S>
inline constexpr bool asks_nothrow_with =
    takes_connection<F, E, S> ? std::is_nothrow_invocable_r_v<bool, const F&, const E&, const S&>
                              : asks_nothrow<F, E>;

// One filter of a combination, given the connection if it wants it.
template <class F, class E, class S>
bool ask(const F& f, const E& peer, const S& s) noexcept(asks_nothrow_with<F, E, S>) {
  if constexpr (takes_connection<F, E, S>)
    return f(peer, s);
  else
    return f(peer);
}

template <bool Any, class... F> class combination {
 public:
  explicit combination(F... f) : filters_(std::move(f)...) {}

  template <class E, std::enable_if_t<(takes_endpoint<F, E> && ...), int> = 0>
  bool operator()(const E& peer) const noexcept((asks_nothrow<F, E> && ...)) {
    return each(std::index_sequence_for<F...>{}, [&](const auto& f) -> bool { return f(peer); });
  }
  template <class E, class S,
            std::enable_if_t<((takes_endpoint<F, E> || takes_connection<F, E, S>)&&...) &&
                                 (takes_connection<F, E, S> || ...),
                             int> = 0>
  bool operator()(const E& peer, const S& connection) const
      noexcept((asks_nothrow_with<F, E, S> && ...)) {
    return each(std::index_sequence_for<F...>{},
                [&](const auto& f) { return ask(f, peer, connection); });
  }

 private:
  // noexcept as far as the filters are: the callers above say so.
  template <std::size_t... I, class Ask>
  bool each(std::index_sequence<I...>, const Ask& ask_one) const {
    if constexpr (Any)
      return (ask_one(std::get<I>(filters_)) || ...);
    else
      return (ask_one(std::get<I>(filters_)) && ...);
  }

  std::tuple<F...> filters_;
};

}  // namespace detail

// A peer that one of the filters admits (each asked in order until one does).
template <class... F> detail::combination<true, std::decay_t<F>...> any_of(F&&... filters) {
  static_assert(sizeof...(F) > 0, "vmsock::peer::any_of needs at least one filter");
  return detail::combination<true, std::decay_t<F>...>(std::forward<F>(filters)...);
}
// A peer that every filter admits.
template <class... F> detail::combination<false, std::decay_t<F>...> all_of(F&&... filters) {
  static_assert(sizeof...(F) > 0, "vmsock::peer::all_of needs at least one filter");
  return detail::combination<false, std::decay_t<F>...>(std::forward<F>(filters)...);
}

}  // namespace peer
VMSOCK_END_NAMESPACE
