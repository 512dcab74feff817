// unix_endpoint: a Unix-domain socket address: a filesystem path, a Linux
// abstract name, or unnamed (an unbound socket's local address).  Stored inline:
// no heap, so it is as cheap to copy as the other endpoints.
#pragma once

#include <vmsock/config.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/detail/text.hpp>
#include <vmsock/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

VMSOCK_BEGIN_NAMESPACE

class unix_endpoint {
 public:
  static constexpr int family = AF_UNIX;
  static constexpr int protocol = 0;
  using native_type = detail::unix_sockaddr;

  // Room in sun_path: 108 bytes on Linux and Windows.  A path keeps one byte for
  // its terminating NUL; an abstract name one for its leading NUL.
  static constexpr std::size_t capacity = sizeof(native_type{}.sun_path);
  static constexpr std::size_t max_path = capacity - 1;

  enum class kind : std::uint8_t { unnamed, path, abstract };

  constexpr unix_endpoint() noexcept = default;

  // Throws vmsock::parse_error for an empty path, one that contains a NUL byte
  // or one longer than max_path: a path is never silently truncated.
  static unix_endpoint path(std::string_view p) {
    unix_endpoint ep;
    if (const char* e = ep.assign(kind::path, p))
      detail::throw_parse_error("Unix socket path", p, e);
    return ep;
  }
  // Linux abstract socket name (without the leading NUL); any bytes allowed.
  static unix_endpoint abstract(std::string_view name) {
    unix_endpoint ep;
    if (const char* e = ep.assign(kind::abstract, name))
      detail::throw_parse_error("abstract Unix socket name", name, e);
    return ep;
  }

  constexpr kind type() const noexcept { return kind_; }
  constexpr bool is_abstract() const noexcept { return kind_ == kind::abstract; }
  constexpr bool is_unnamed() const noexcept { return kind_ == kind::unnamed; }
  // The path, or the abstract name without its leading NUL.
  constexpr std::string_view name() const noexcept { return {buf_, len_}; }

  native_type to_native() const noexcept {
    native_type sa{};
    sa.sun_family = static_cast<decltype(sa.sun_family)>(family);
    const std::size_t off = kind_ == kind::abstract ? 1 : 0;
    if (len_ != 0) std::memcpy(sa.sun_path + off, buf_, len_);
    return sa;
  }
  // Exactly the bytes that name the socket: abstract names are length-delimited,
  // so trailing zeros would become part of the name.
  constexpr std::size_t native_size() const noexcept {
    switch (kind_) {
    case kind::unnamed: return offsetof(native_type, sun_path);
    case kind::path: return offsetof(native_type, sun_path) + len_ + 1;
    case kind::abstract: return offsetof(native_type, sun_path) + 1 + len_;
    }
    return sizeof(native_type);
  }

  static std::optional<unix_endpoint> from_native(const void* sa, std::size_t len) noexcept {
    int f = 0;
    constexpr std::size_t off = offsetof(native_type, sun_path);
    if (!detail::native_family(sa, len, f) || f != family || len < off) return std::nullopt;
    if (len > sizeof(native_type)) len = sizeof(native_type);
    native_type n{};
    std::memcpy(&n, sa, len);
    unix_endpoint ep;
    const std::size_t avail = len - off;
    if (avail == 0) return ep;  // unnamed
    if (n.sun_path[0] == '\0') {
      if (avail == 1) return ep;  // some systems report an unnamed socket this way
      ep.kind_ = kind::abstract;
      ep.len_ = static_cast<std::uint8_t>(avail - 1);
      std::memcpy(ep.buf_, n.sun_path + 1, ep.len_);
      return ep;
    }
    // A path ends at its NUL or at the end of the bytes given.  One that fills
    // all of sun_path with no NUL (108 bytes, which Linux accepts from other
    // programs) is refused: vmsock could not pass it back (max_path is 107)
    // and never truncates one.
    std::size_t plen = 0;
    while (plen < avail && n.sun_path[plen] != '\0') ++plen;
    if (plen > max_path) return std::nullopt;
    ep.kind_ = kind::path;
    ep.len_ = static_cast<std::uint8_t>(plen);
    std::memcpy(ep.buf_, n.sun_path, plen);
    return ep;
  }

  // "unix:///abs/path", "unix://relative/path", "unix://@abstract" (Linux); bytes
  // below 0x20, 0x7f and '%' are percent-encoded.  An unnamed endpoint (an
  // unbound socket, a client's peer as a listener sees it) is "unix:(unnamed)":
  // it has no address to connect or bind to, so its text is for readers and
  // never parses.
  VMSOCK_NOINLINE std::string to_string() const {
    if (kind_ == kind::unnamed) return "unix:(unnamed)";
    std::string s = "unix://";
    if (kind_ == kind::abstract) s += '@';
    for (std::size_t i = 0; i < len_; ++i) {
      const auto u = static_cast<unsigned char>(buf_[i]);
      if (u < 0x20 || u == 0x7f || u == '%' || (i == 0 && kind_ == kind::path && u == '@')) {
        s += '%';
        detail::append_hex(s, u, 2);
      } else {
        s += buf_[i];
      }
    }
    return s;
  }

  static std::optional<unix_endpoint> try_parse(std::string_view text) noexcept {
    unix_endpoint ep;
    std::size_t at = 0;
    if (ep.parse_into(text, at) != nullptr) return std::nullopt;
    return ep;
  }
  static unix_endpoint parse(std::string_view text) {
    const auto r = parse_detail(text);
    if (!r) detail::throw_parse_error("Unix endpoint", text, r.error, r.position);
    return r.value;
  }

  // The parser behind parse/try_parse, reporting its reason and where in
  // `text` it is (as the other endpoint types' parse_detail do).
  static detail::parsed<unix_endpoint> parse_detail(std::string_view text) noexcept {
    unix_endpoint ep;
    std::size_t at = std::string_view::npos;
    const char* why = ep.parse_into(text, at);
    if (why == nullptr) at = std::string_view::npos;
    return {ep, why, at};
  }

  friend bool operator==(const unix_endpoint& a, const unix_endpoint& b) noexcept {
    return a.kind_ == b.kind_ && a.name() == b.name();
  }
  friend bool operator!=(const unix_endpoint& a, const unix_endpoint& b) noexcept {
    return !(a == b);
  }

 private:
  const char* assign(kind k, std::string_view bytes) noexcept {
    const bool abstract_name = k == kind::abstract;
    if (bytes.empty()) return abstract_name ? "empty abstract name" : "empty path";
    if (bytes.size() > max_path)
      return abstract_name ? "abstract name longer than 107 bytes"
                           : "path longer than 107 bytes (sun_path holds 108 with its NUL)";
    if (!abstract_name && bytes.find('\0') != std::string_view::npos)
      return "path contains a NUL byte";
    kind_ = k;
    len_ = static_cast<std::uint8_t>(bytes.size());
    std::memcpy(buf_, bytes.data(), bytes.size());
    return nullptr;
  }

  // `at` is where in `s` a failure is: the scheme, the %-escape, the byte
  // that makes a name too long or that decodes to NUL, the end of an empty one.
  const char* parse_into(std::string_view s, std::size_t& at) noexcept {
    detail::uri_parts u;
    at = 0;
    if (!detail::split_scheme(s, u)) return "expected unix://PATH or unix://@NAME";
    if (!detail::equals_nocase(u.scheme, "unix")) return "unknown scheme, expected unix://";
    std::string_view rest = u.rest;
    // Nothing after "unix://" names no socket: refused here rather than by
    // the OS at connect or bind (EINVAL).  After the two slashes comes the
    // path itself, so "unix://run/a.sock" is the relative path "run/a.sock"
    // (resolved against the working directory, as the OS does) and
    // "unix:///run/a.sock" the absolute one; there is no host part.
    at = detail::offset_in(s, rest);
    if (rest.empty())
      return "empty path (expected unix:///absolute/path, unix://relative/path or unix://@name)";
    kind k = kind::path;
    if (rest[0] == '@') {
      k = kind::abstract;
      rest = rest.substr(1);
      at = detail::offset_in(s, rest);
      if (rest.empty()) return "empty abstract name";
    }
    const std::size_t base = detail::offset_in(s, rest);
    // Percent-decode into a local buffer; the length check sees decoded bytes.
    char tmp[capacity + 1] = {};
    std::size_t n = 0;
    std::size_t first_nul = std::string_view::npos;
    std::size_t one_too_many = std::string_view::npos;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      const std::size_t here = i;
      char c = rest[i];
      if (c == '%') {
        at = base + i;
        if (i + 2 >= rest.size()) return "truncated %-escape (expected %XX)";
        const int hi = detail::hex_value(rest[i + 1]);
        const int lo = detail::hex_value(rest[i + 2]);
        if (hi < 0 || lo < 0) return "bad %-escape (expected %XX with two hex digits)";
        c = static_cast<char>((hi << 4) | lo);
        i += 2;
      }
      if (n == capacity) {
        at = base + here;
        return k == kind::abstract ? "abstract name longer than 107 bytes"
                                   : "path longer than 107 bytes (sun_path holds 108 with its NUL)";
      }
      if (c == '\0' && first_nul == std::string_view::npos) first_nul = base + here;
      if (n == max_path) one_too_many = base + here;
      tmp[n++] = c;
    }
    const char* e = assign(k, std::string_view(tmp, n));
    if (e != nullptr) at = n > max_path ? one_too_many : first_nul;
    return e;
  }

  char buf_[capacity] = {};
  std::uint8_t len_ = 0;
  kind kind_ = kind::unnamed;
};

VMSOCK_END_NAMESPACE
