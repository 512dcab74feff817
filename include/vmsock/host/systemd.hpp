// Socket activation: the listening sockets systemd (or systemd-socket-activate,
// or any launcher that follows sd_listen_fds(3)) passed to this process.
//
//   auto server = vmsock::systemd_listeners();      // every one, in an any_listener
//   auto conn = server.accept();
//
//   auto passed = vmsock::systemd_sockets::from_environment();   // one by one, typed
//   auto agent = passed.take<vmsock::vsock_listener>("agent");    // FileDescriptorName=agent
//   auto web = passed.take<vmsock::tcp6_listener>("web");
//
// The protocol (sd_listen_fds): LISTEN_PID is this process's id, LISTEN_FDS
// the number of descriptors, which start at 3, and LISTEN_FDNAMES (optional)
// their names separated by ':' (without it every one is "unknown").
// from_environment checks all of it: a LISTEN_PID of another process, a count
// that is not a decimal number or names descriptors that are not open sockets,
// a LISTEN_FDNAMES with another number of names, LISTEN_PID without
// LISTEN_FDS (or the reverse) are errors whose messages say which and why.
// No LISTEN_PID and no LISTEN_FDS: the process was not socket-activated, and
// the set is empty.  As sd_listen_fds(1) it unsets the three variables (so
// that children do not take the sockets for theirs; read the environment
// before starting threads) and makes the descriptors close-on-exec.
//
// take<Listener>(name) checks the descriptor's family and type
// (SO_DOMAIN/SO_TYPE) and that it listens (SO_ACCEPTCONN) against Listener,
// and refuses a mismatch naming both; take_all() puts every one not taken
// yet into an any_listener (all or nothing: each must be a listening stream
// socket of a family any_listener holds).  A socket no one took is closed
// with the set.  POSIX only: on Windows errc::unsupported_on_platform.
#pragma once

#include <vmsock/any/listener.hpp>
#include <vmsock/config.hpp>
#include <vmsock/error.hpp>
#include <vmsock/host/detail/handoff_target.hpp>
#include <vmsock/socket/listener.hpp>
#include <vmsock/policy/default.hpp>
#include <vmsock/policy/types.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class P, class = void> struct has_activation : std::false_type {};
template <class P>
struct has_activation<P,
                      std::void_t<decltype(P::environment("")), decltype(P::current_process_id()),
                                  decltype(P::unset_environment(""))>> : std::true_type {};

// Runs `f`, which may allocate, in a noexcept function: std::bad_alloc
// becomes not_enough_memory.  (Without exceptions an allocation failure ends
// the program anyway.)
template <class F> void allocating(std::error_code& ec, F&& f) noexcept {
  VMSOCK_TRY { f(); }
  VMSOCK_CATCH(...) { ec = std::make_error_code(std::errc::not_enough_memory); }
}

// `*why = make()` if the caller asked why (and memory allows).
template <class F> void explain(std::string* why, F&& make) noexcept {
  if (why == nullptr) return;
  std::error_code ignored;
  allocating(ignored, [&] { *why = make(); });
}

// A decimal without sign or leading zeros, at most `max`; false otherwise.
inline bool activation_number(std::string_view s, std::uint64_t max, std::uint64_t& out) noexcept {
  const auto r = parse_decimal(s, max, "too large");
  if (!r) return false;
  out = r.value;
  return true;
}

}  // namespace detail

template <class Policy = default_policy> class basic_systemd_sockets {
 public:
  using handle = typename Policy::handle;
  // SD_LISTEN_FDS_START.
  static constexpr int first_descriptor = 3;
  // More than this many descriptors is taken for a mistake.
  static constexpr std::size_t max_descriptors = 4096;

  // One passed descriptor and what it is.
  struct entry {
    handle native = Policy::invalid_handle;  // invalid once taken
    std::string name;
    int family = 0;
    socket_type type = socket_type::stream;
    bool listening = false;
  };

  basic_systemd_sockets() noexcept = default;
  basic_systemd_sockets(basic_systemd_sockets&& o) noexcept
      : entries_(std::move(o.entries_)), activated_(o.activated_) {
    o.entries_.clear();
  }
  basic_systemd_sockets& operator=(basic_systemd_sockets&& o) noexcept {
    if (this != &o) {
      close_untaken();
      entries_ = std::move(o.entries_);
      activated_ = o.activated_;
      o.entries_.clear();
    }
    return *this;
  }
  basic_systemd_sockets(const basic_systemd_sockets&) = delete;
  basic_systemd_sockets& operator=(const basic_systemd_sockets&) = delete;
  ~basic_systemd_sockets() { close_untaken(); }

  // Reads and checks LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (see the top
  // of this file); `why`, if given, receives the reason of a failure.
  static basic_systemd_sockets from_environment(std::error_code& ec, std::string* why = nullptr,
                                                bool unset_environment = true) noexcept {
    basic_systemd_sockets out;
    std::string reason;
    ec.clear();
    detail::allocating(ec, [&] { out.read(ec, reason, unset_environment); });
    if (ec) {
      if (why != nullptr) *why = std::move(reason);
      return basic_systemd_sockets{};
    }
    return out;
  }
  static basic_systemd_sockets from_environment(bool unset_environment = true) {
    std::error_code ec;
    std::string why;
    auto out = from_environment(ec, &why, unset_environment);
    if (ec) detail::throw_error(ec, "socket activation: " + why);
    return out;
  }

  // Whether LISTEN_PID and LISTEN_FDS were there (even with no descriptor).
  bool activated() const noexcept { return activated_; }
  std::size_t size() const noexcept { return entries_.size(); }
  const entry& at(std::size_t i) const { return entries_.at(i); }
  const std::vector<entry>& entries() const noexcept { return entries_; }
  // How many are still to be taken.
  std::size_t untaken() const noexcept {
    std::size_t n = 0;
    for (const auto& e : entries_) n += e.native != Policy::invalid_handle ? 1 : 0;
    return n;
  }

  // The first untaken descriptor named `name`, as a Listener (vsock_listener,
  // tcp6_listener, unix_listener, vsock_seqpacket_listener, ...).
  template <class Listener>
  Listener take(std::string_view name, std::error_code& ec, std::string* why = nullptr) noexcept {
    for (auto& e : entries_) {
      if (e.native != Policy::invalid_handle && e.name == name)
        return take_entry<Listener>(e, ec, why);
    }
    ec = std::make_error_code(std::errc::no_such_file_or_directory);
    detail::explain(why, [&] { return missing(name); });
    return Listener{};
  }
  template <class Listener> Listener take(std::string_view name) {
    std::error_code ec;
    std::string why;
    auto l = take<Listener>(name, ec, &why);
    if (ec) detail::throw_error(ec, "socket activation: " + why);
    return l;
  }
  // By position (0 is descriptor 3).
  template <class Listener>
  Listener take(std::size_t index, std::error_code& ec, std::string* why = nullptr) noexcept {
    if (index >= entries_.size() || entries_[index].native == Policy::invalid_handle) {
      ec = std::make_error_code(std::errc::no_such_file_or_directory);
      detail::explain(why, [&] {
        return "no untaken descriptor " + std::to_string(index + first_descriptor) + " (" +
               std::to_string(entries_.size()) + " passed)";
      });
      return Listener{};
    }
    return take_entry<Listener>(entries_[index], ec, why);
  }
  template <class Listener> Listener take(std::size_t index) {
    std::error_code ec;
    std::string why;
    auto l = take<Listener>(index, ec, &why);
    if (ec) detail::throw_error(ec, "socket activation: " + why);
    return l;
  }

  // Every descriptor not taken yet, in one any_listener.
  basic_any_listener<Policy> take_all(std::error_code& ec, std::string* why = nullptr) noexcept {
    using any = basic_any_listener<Policy>;
    std::vector<typename any::variant_type> listeners;
    std::string reason;
    ec.clear();
    detail::allocating(ec, [&] {
      listeners.reserve(entries_.size());
      for (const auto& e : entries_) {
        if (e.native == Policy::invalid_handle) continue;
        if (!e.listening || e.type != socket_type::stream || !holds_family(e.family)) {
          ec = std::make_error_code(std::errc::wrong_protocol_type);
          reason = describe(e) + " is " + detail::socket_text(e.family, e.type, e.listening) +
                   "; an any_listener takes listening stream sockets (IPv4, IPv6, Unix, VSOCK)";
          break;
        }
      }
      if (!ec && untaken() == 0) {
        ec = std::make_error_code(std::errc::no_such_file_or_directory);
        reason = activated_ ? "no listening socket was passed (LISTEN_FDS=0), or all were taken"
                            : "LISTEN_FDS is not set: the process was not socket-activated";
      }
      if (!ec && untaken() > any::max_listeners) {
        ec = std::make_error_code(std::errc::invalid_argument);
        reason = std::to_string(untaken()) + " sockets, more than an any_listener holds (" +
                 std::to_string(any::max_listeners) + ")";
      }
    });
    if (ec) {
      if (why != nullptr) *why = std::move(reason);
      return any{};
    }
    for (auto& e : entries_) {
      if (e.native == Policy::invalid_handle) continue;
      const handle h = std::exchange(e.native, Policy::invalid_handle);
      if (e.family == inet4_endpoint::family)
        listeners.emplace_back(listener<inet4_endpoint, Policy>(h));
      else if (e.family == inet6_endpoint::family)
        listeners.emplace_back(listener<inet6_endpoint, Policy>(h));
      else if (e.family == unix_endpoint::family)
        listeners.emplace_back(listener<unix_endpoint, Policy>(h));
      else
        listeners.emplace_back(listener<vsock_endpoint, Policy>(h));
    }
    auto all = any::adopt(std::move(listeners), ec);
    if (ec) detail::explain(why, [] { return std::string("adopting the passed sockets"); });
    return all;
  }
  basic_any_listener<Policy> take_all() {
    std::error_code ec;
    std::string why;
    auto all = take_all(ec, &why);
    if (ec) detail::throw_error(ec, "socket activation: " + why);
    return all;
  }

 private:
  static bool holds_family(int family) noexcept {
    return family == inet4_endpoint::family || family == inet6_endpoint::family ||
           family == unix_endpoint::family ||
           family == basic_socket<vsock_endpoint, Policy>::native_family;
  }

  // "descriptor 3 (\"web\")"
  static std::string describe(const entry& e, std::size_t fd) {
    std::string s = "descriptor ";
    s += std::to_string(fd);
    s += " (";
    s += detail::quote(e.name);
    s += ')';
    return s;
  }
  std::string describe(const entry& e) const { return describe(e, index_of(e) + first_descriptor); }
  std::size_t index_of(const entry& e) const noexcept {
    return static_cast<std::size_t>(&e - entries_.data());
  }

  std::string missing(std::string_view name) const {
    std::string s = "no untaken descriptor named ";
    s += detail::quote(name);
    if (!activated_) {
      s += " (LISTEN_FDS is not set: the process was not socket-activated)";
      return s;
    }
    s += " (passed: ";
    if (entries_.empty()) s += "none";
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (i != 0) s += ", ";
      s += detail::quote(entries_[i].name);
      if (entries_[i].native == Policy::invalid_handle) s += " (taken)";
    }
    s += ')';
    return s;
  }

  template <class Listener>
  Listener take_entry(entry& e, std::error_code& ec, std::string* why) noexcept {
    using target = detail::handoff_target<Listener>;
    static_assert(target::listening,
                  "vmsock::systemd_sockets::take<L>: L is a listener type (tcp4_listener, "
                  "vsock_listener...)");
    if (e.family != Listener::native_family || e.type != target::type || !e.listening) {
      ec = e.family != Listener::native_family
               ? make_error_code(errc::address_family_mismatch)
               : std::make_error_code(std::errc::wrong_protocol_type);
      detail::explain(why, [&] {
        return describe(e) + " is " + detail::socket_text(e.family, e.type, e.listening) +
               ", not " + detail::target_text<Listener>();
      });
      return Listener{};
    }
    ec.clear();
    return Listener(std::exchange(e.native, Policy::invalid_handle), target::type);
  }

  void close_untaken() noexcept {
    for (auto& e : entries_) {
      if (e.native == Policy::invalid_handle) continue;
      std::error_code ignored;
      Policy::close(std::exchange(e.native, Policy::invalid_handle), ignored);
    }
  }

  void read(std::error_code& ec, std::string& why, bool unset) {
    ec.clear();
    if constexpr (!detail::has_activation<Policy>::value) {
      (void)unset;
      ec = make_error_code(errc::unsupported_on_platform);
      why = "systemd socket activation is a POSIX (Linux) protocol";
      return;
    } else {
      const char* pid_text = Policy::environment("LISTEN_PID");
      const char* fds_text = Policy::environment("LISTEN_FDS");
      const char* names_text = Policy::environment("LISTEN_FDNAMES");
      const std::string pid_s = pid_text ? pid_text : "";
      const std::string fds_s = fds_text ? fds_text : "";
      const std::string names_s = names_text ? names_text : "";
      if (unset) {
        Policy::unset_environment("LISTEN_PID");
        Policy::unset_environment("LISTEN_FDS");
        Policy::unset_environment("LISTEN_FDNAMES");
      }
      if (pid_text == nullptr && fds_text == nullptr) return;  // not activated
      const auto invalid = [&](std::string reason) {
        ec = std::make_error_code(std::errc::invalid_argument);
        why = std::move(reason);
      };
      if (pid_text == nullptr) return invalid("LISTEN_FDS is set but LISTEN_PID is not");
      if (fds_text == nullptr) return invalid("LISTEN_PID is set but LISTEN_FDS is not");
      std::uint64_t pid = 0;
      if (!detail::activation_number(pid_s, 0x7FFFFFFFFFFFFFFFull, pid) || pid == 0)
        return invalid("LISTEN_PID=" + detail::quote(pid_s) + " is not a process id");
      const auto self = static_cast<std::uint64_t>(Policy::current_process_id());
      if (pid != self)
        return invalid("LISTEN_PID=" + pid_s + " names another process (this one is " +
                       std::to_string(self) +
                       "): the sockets were passed to that process, not to this one");
      std::uint64_t count = 0;
      if (!detail::activation_number(fds_s, max_descriptors, count)) {
        if (detail::activation_number(fds_s, 0xFFFFFFFFull, count))
          return invalid("LISTEN_FDS=" + fds_s + " is more descriptors than " +
                         std::to_string(max_descriptors));
        return invalid("LISTEN_FDS=" + detail::quote(fds_s) +
                       " is not a count of descriptors (a decimal number)");
      }
      activated_ = true;
      std::vector<std::string> names;
      if (names_text != nullptr) {
        std::size_t start = 0;
        for (;;) {
          const std::size_t colon = names_s.find(':', start);
          names.push_back(names_s.substr(
              start, colon == std::string::npos ? std::string::npos : colon - start));
          if (colon == std::string::npos) break;
          start = colon + 1;
        }
        if (names.size() != count)
          return invalid("LISTEN_FDNAMES=" + detail::quote(names_s) + " names " +
                         std::to_string(names.size()) +
                         (names.size() == 1 ? " descriptor" : " descriptors") +
                         ", LISTEN_FDS=" + fds_s + " passes " + std::to_string(count));
      }
      std::vector<entry> found;
      found.reserve(static_cast<std::size_t>(count));
      for (std::uint64_t i = 0; i < count; ++i) {
        entry e;
        const int fd = first_descriptor + static_cast<int>(i);
        e.name = names.empty() ? std::string("unknown") : names[static_cast<std::size_t>(i)];
        const auto h = static_cast<handle>(fd);
        Policy::socket_identity(h, e.family, e.type, e.listening, ec);
        if (ec) {
          why = describe(e, static_cast<std::size_t>(fd));
          why += ec == std::errc::bad_file_descriptor ? " is not open"
                 : ec == std::errc::not_a_socket      ? " is not a socket"
                                                      : " cannot be read";
          why += " (LISTEN_FDS=" + fds_s + ")";
          return;
        }
        found.push_back(std::move(e));
        found.back().native = h;  // from here on, closed with the set unless taken
      }
      for (auto& e : found) {
        std::error_code ignored;
        Policy::set_inheritable(e.native, false, ignored);
      }
      entries_ = std::move(found);
    }
  }

  std::vector<entry> entries_;
  bool activated_ = false;
};

using systemd_sockets = basic_systemd_sockets<>;

// Every socket passed by socket activation, in one any_listener (see the top
// of this file): systemd_sockets::from_environment().take_all().
template <class Policy = default_policy>
basic_any_listener<Policy> systemd_listeners(std::error_code& ec,
                                             std::string* why = nullptr) noexcept {
  auto passed = basic_systemd_sockets<Policy>::from_environment(ec, why);
  if (ec) return {};
  return passed.take_all(ec, why);
}
template <class Policy = default_policy> basic_any_listener<Policy> systemd_listeners() {
  std::error_code ec;
  std::string why;
  auto all = systemd_listeners<Policy>(ec, &why);
  if (ec) detail::throw_error(ec, "systemd_listeners: " + why);
  return all;
}

VMSOCK_END_NAMESPACE
