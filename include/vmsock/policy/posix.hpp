// posix_policy: vmsock's sockets on BSD sockets (Linux first; other POSIX
// systems without the VSOCK parts).  The only code that calls the OS on POSIX.
//
// Defaults it applies to every call: SOCK_CLOEXEC on every new descriptor,
// MSG_NOSIGNAL on every send (no SIGPIPE, and no process-wide signal change),
// EINTR retried.  It never throws: every function reports through `ec`.
#pragma once

#include <vmsock/config.hpp>

#if !VMSOCK_POSIX
#  error "vmsock/policy/posix.hpp is for POSIX systems; include vmsock/policy/default.hpp"
#endif

#include <vmsock/buffer.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/types.hpp>

#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>
#if VMSOCK_LINUX
#  include <sys/eventfd.h>
#endif

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE

struct posix_policy {
  using handle = int;
  static constexpr handle invalid_handle = -1;
  // Buffers per scatter/gather call; more are sent or filled by later calls.
  static constexpr std::size_t max_buffers = 64;
  static constexpr int max_backlog = SOMAXCONN;
  // Listening IP sockets get SO_REUSEADDR so a restarted server can bind while
  // old connections sit in TIME_WAIT (on POSIX it does not allow port stealing).
  static constexpr bool listener_reuse_address = true;
  static constexpr std::uint32_t any_cid = 0xFFFFFFFFu;  // VMADDR_CID_ANY
  // Blocking sends and receives wait inside the system call (one call per
  // operation, as raw code makes); interrupt() is how cancel() ends such a wait.
  // Listeners and connects are non-blocking in the OS and wait in poll().
  static constexpr bool kernel_waits = true;

  static std::error_code os_error(int code) noexcept { return {code, std::system_category()}; }
  static std::error_code last_error() noexcept { return os_error(errno); }
  // What an operation on a closed socket reports (the OS's answer for a bad handle).
  static std::error_code closed_error() noexcept { return os_error(EBADF); }

  // ---- wake-ups for cancel() ------------------------------------------------
  // A wake handle is polled beside a socket; signal_wake makes it readable for
  // good (cancel() is final).  Linux: an eventfd.  Elsewhere: a UDP socket on
  // 127.0.0.1 connected to itself, which a one-byte send makes readable.
  using wake_handle = int;
  static constexpr wake_handle invalid_wake = -1;

  static wake_handle open_wake(std::error_code& ec) noexcept {
#if VMSOCK_LINUX
    const int w = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w < 0) {
      ec = last_error();
      return invalid_wake;
    }
    ec.clear();
    return w;
#else
    const int w = open(AF_INET, socket_type::datagram, 0, ec);
    if (ec) return invalid_wake;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof sa;
    if (::bind(w, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::getsockname(w, reinterpret_cast<sockaddr*>(&sa), &l) != 0 ||
        ::connect(w, reinterpret_cast<sockaddr*>(&sa), l) != 0) {
      ec = last_error();
      ::close(w);
      return invalid_wake;
    }
    set_nonblocking(w, true, ec);
    return w;
#endif
  }
  static void signal_wake(wake_handle w) noexcept {
#if VMSOCK_LINUX
    const std::uint64_t one = 1;
    (void)!::write(w, &one, sizeof one);
#else
    const char one = 1;
    (void)!::send(w, &one, 1, no_sigpipe);
#endif
  }
  static void close_wake(wake_handle w) noexcept { ::close(w); }
  // Lets another thread run (close() waiting for a cancel() in progress).
  static void yield() noexcept { ::sched_yield(); }

  // Ends a system call that is waiting on `h` in another thread: after
  // shutdown(SHUT_RDWR) a blocked receive returns 0 and a blocked send EPIPE,
  // and so does every later one.  (The peer sees the end of the stream.)
  static void interrupt(handle h) noexcept { ::shutdown(h, SHUT_RDWR); }
  // Whether that shutdown also ends a poll() on the socket, so that a wait
  // needs no wake-up descriptor of its own beside it.  Linux wakes every
  // poller of an IP or Unix socket of any type and state at shutdown
  // (listening, connecting, unconnected datagram included) and the state
  // stays, so a poll that starts later returns at once.  A VSOCK listener's
  // poll is not woken: AF_VSOCK keeps the eventfd.
  static constexpr bool shutdown_wakes_poll(int family) noexcept {
#if VMSOCK_LINUX
    return family == AF_INET || family == AF_INET6 || family == AF_UNIX;
#else
    return (void)family, false;
#endif
  }

  static handle open(int family, socket_type type, int protocol, std::error_code& ec) noexcept {
    int t = SOCK_STREAM;
    switch (type) {
      case socket_type::stream: t = SOCK_STREAM; break;
      case socket_type::datagram: t = SOCK_DGRAM; break;
      case socket_type::seqpacket: t = SOCK_SEQPACKET; break;
    }
#if defined(SOCK_CLOEXEC)
    const int h = ::socket(family, t | SOCK_CLOEXEC, protocol);
#else
    const int h = ::socket(family, t, protocol);
    if (h >= 0) ::fcntl(h, F_SETFD, FD_CLOEXEC);
#endif
    if (h < 0) {
      ec = last_error();
      return invalid_handle;
    }
    ec.clear();
    return h;
  }

  // The descriptor is released even when close reports an error (Linux frees it
  // before returning EINTR or EIO), so close is never retried.
  static void close(handle h, std::error_code& ec) noexcept {
    if (::close(h) != 0 && errno != EINTR)
      ec = last_error();
    else
      ec.clear();
  }

  static void bind(handle h, const void* sa, std::size_t len, std::error_code& ec) noexcept {
    check(::bind(h, static_cast<const sockaddr*>(sa), static_cast<socklen_t>(len)), ec);
  }

  static void listen(handle h, int backlog, std::error_code& ec) noexcept {
    check(::listen(h, backlog), ec);
  }

  // ECONNABORTED and EPROTO mean a client gave up before we accepted it: not a
  // failure of the listener, so the call waits for the next one.
  static handle accept(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    for (;;) {
      socklen_t l = static_cast<socklen_t>(len);
#if defined(SOCK_CLOEXEC) && VMSOCK_LINUX
      const int c = ::accept4(h, static_cast<sockaddr*>(sa), sa ? &l : nullptr, SOCK_CLOEXEC);
#else
      const int c = ::accept(h, static_cast<sockaddr*>(sa), sa ? &l : nullptr);
      if (c >= 0) ::fcntl(c, F_SETFD, FD_CLOEXEC);
#endif
      if (c >= 0) {
        len = sa ? static_cast<std::size_t>(l) : 0;
        ec.clear();
        return c;
      }
      const int e = errno;
      if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
      ec = os_error(e);
      return invalid_handle;
    }
  }

  // A connect interrupted by a signal is issued again.  Where the attempt goes
  // on in the background (POSIX; Linux TCP) the second call waits for it, or
  // reports EISCONN once it is done, or EALREADY (the BSDs): then it is awaited
  // and its result read from SO_ERROR.  Linux's AF_UNIX (and, by af_vsock.c,
  // AF_VSOCK) abandon an interrupted attempt and leave the socket unconnected,
  // which poll reports writable with SO_ERROR 0: waiting instead of connecting
  // again would report success on a socket that is not connected.
  static void connect(handle h, const void* sa, std::size_t len, std::error_code& ec) noexcept {
    bool interrupted = false;
    for (;;) {
      if (::connect(h, static_cast<const sockaddr*>(sa), static_cast<socklen_t>(len)) == 0) {
        ec.clear();
        return;
      }
      const int e = errno;
      if (e == EINTR) {
        interrupted = true;
        continue;
      }
      if (interrupted && e == EISCONN) {
        ec.clear();
        return;
      }
      if (interrupted && e == EALREADY) {
        // Not reached from vmsock's sockets (their connects are non-blocking).
        pollfd p{h, POLLOUT, 0};
        if (wait(&p, 1, deadline::never(), ec) < 0) return;
        pending_error(h, ec);
        return;
      }
      ec = os_error(e);
      return;
    }
  }

  // The result of a non-blocking connect, once the socket is writable.
  static void pending_error(handle h, std::error_code& ec) noexcept {
    int err = 0;
    socklen_t l = sizeof err;
    if (::getsockopt(h, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
      ec = last_error();
    else if (err != 0)
      ec = os_error(err);
    else
      ec.clear();
  }

  // One buffer is one send(2)/recv(2), small enough to inline into the
  // caller; several, or an address, go through sendmsg/recvmsg.
  VMSOCK_ALWAYS_INLINE static std::size_t send(handle h, const const_buffer* bufs,
                                               std::size_t count, message_flags flags,
                                               std::error_code& ec) noexcept {
    const int f = native_flags(flags) | no_sigpipe;
    if (count != 1) return send_message(h, bufs, count, f, nullptr, 0, ec);
    for (;;) {
      const ssize_t n = ::send(h, bufs[0].data, bufs[0].size, f);
      if (n >= 0) return succeeded(n, ec);
      if (errno != EINTR) return failed(ec);
    }
  }

  static std::size_t send_to(handle h, const const_buffer* bufs, std::size_t count,
                             message_flags flags, const void* sa, std::size_t len,
                             std::error_code& ec) noexcept {
    if (sa == nullptr) return send(h, bufs, count, flags, ec);
    return send_message(h, bufs, count, native_flags(flags) | no_sigpipe, sa, len, ec);
  }

  VMSOCK_ALWAYS_INLINE static std::size_t receive(handle h, const mutable_buffer* bufs,
                                                  std::size_t count, message_flags flags,
                                                  std::error_code& ec) noexcept {
    const int f = native_flags(flags);
    if (count != 1) {
      std::size_t none = 0;
      return receive_message(h, bufs, count, f, nullptr, none, ec);
    }
    for (;;) {
      const ssize_t n = ::recv(h, bufs[0].data, bufs[0].size, f);
      if (n >= 0) return succeeded(n, ec);
      if (errno != EINTR) return failed(ec);
    }
  }

  // With message_flags::report_full_length the result is the message's full
  // length, which exceeds the buffers' total when it was truncated (MSG_TRUNC).
  static std::size_t receive_from(handle h, const mutable_buffer* bufs, std::size_t count,
                                  message_flags flags, void* sa, std::size_t& len,
                                  std::error_code& ec) noexcept {
    if (sa == nullptr) return receive(h, bufs, count, flags, ec);
    return receive_message(h, bufs, count, native_flags(flags), sa, len, ec);
  }

  static void shutdown(handle h, shutdown_type how, std::error_code& ec) noexcept {
    const int w = how == shutdown_type::receive ? SHUT_RD
                  : how == shutdown_type::send  ? SHUT_WR
                                                : SHUT_RDWR;
    check(::shutdown(h, w), ec);
  }

  static void set_option(handle h, option_id id, const option_value& v, std::error_code& ec) noexcept {
    native_option o;
    if (!lookup(id, o, ec)) return;
    switch (o.kind) {
      case value_kind::boolean:
      case value_kind::integer: {
        const int x = o.kind == value_kind::boolean ? (v.on ? 1 : 0) : static_cast<int>(v.value);
        check(::setsockopt(h, o.level, o.name, &x, sizeof x), ec);
        return;
      }
      case value_kind::u64: {
        const unsigned long long x = static_cast<unsigned long long>(v.value);
        check(::setsockopt(h, o.level, o.name, &x, sizeof x), ec);
        return;
      }
      case value_kind::duration_us: {
        timeval tv{};
        tv.tv_sec = static_cast<decltype(tv.tv_sec)>(v.value / 1000000);
        tv.tv_usec = static_cast<decltype(tv.tv_usec)>(v.value % 1000000);
        check(::setsockopt(h, o.level, o.name, &tv, sizeof tv), ec);
        return;
      }
      case value_kind::linger: {
        ::linger l{};
        l.l_onoff = v.on ? 1 : 0;
        l.l_linger = static_cast<int>(v.value);
        check(::setsockopt(h, o.level, o.name, &l, sizeof l), ec);
        return;
      }
    }
  }

  static void get_option(handle h, option_id id, option_value& v, std::error_code& ec) noexcept {
    native_option o;
    if (!lookup(id, o, ec)) return;
    v = option_value{};
    switch (o.kind) {
      case value_kind::boolean:
      case value_kind::integer: {
        int x = 0;
        socklen_t l = sizeof x;
        if (!check(::getsockopt(h, o.level, o.name, &x, &l), ec)) return;
        v.on = x != 0;
        v.value = x;
        return;
      }
      case value_kind::u64: {
        unsigned long long x = 0;
        socklen_t l = sizeof x;
        if (!check(::getsockopt(h, o.level, o.name, &x, &l), ec)) return;
        v.value = static_cast<std::int64_t>(x);
        return;
      }
      case value_kind::duration_us: {
        timeval tv{};
        socklen_t l = sizeof tv;
        if (!check(::getsockopt(h, o.level, o.name, &tv, &l), ec)) return;
        v.value = static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
        return;
      }
      case value_kind::linger: {
        ::linger lg{};
        socklen_t l = sizeof lg;
        if (!check(::getsockopt(h, o.level, o.name, &lg, &l), ec)) return;
        v.on = lg.l_onoff != 0;
        v.value = lg.l_linger;
        return;
      }
    }
  }

  static int ioctl(handle h, unsigned long request, void* arg, std::error_code& ec) noexcept {
    const int r = ::ioctl(h, request, arg);
    check(r, ec);
    return r;
  }

  // Waits until `h` is ready for `what`, `wake` fires (cancel()) or `when`
  // passes.  Errors and hang-ups count as ready: the next operation reports
  // them.  `wake` may be invalid_wake.
  static wait_result poll(handle h, wait_type what, wake_handle wake, const deadline& when,
                          std::error_code& ec) noexcept {
    // Never POLLPRI (urgent data), for the reason interest_of gives.
    pollfd p[2] = {{h, static_cast<short>(interest_of(what).readable ? POLLIN : POLLOUT), 0},
                   {wake, POLLIN, 0}};
    const std::size_t n = wake == invalid_wake ? 1 : 2;
    const int r = wait(p, n, when, ec);
    if (r < 0) return wait_result::ready;  // ec says why
    if (n == 2 && p[1].revents != 0) return wait_result::woken;
    return r > 0 ? wait_result::ready : wait_result::timed_out;
  }

  // Waits until one of `count` handles is readable.  `ready` is the first
  // ready one at or after index `start` (wrapping), so callers can take turns.
  // At most max_buffers handles.
  static wait_result poll_any(const handle* hs, std::size_t count, std::size_t start,
                              wake_handle wake, const deadline& when, std::size_t& ready,
                              std::error_code& ec) noexcept {
    if (count == 0 || count > max_buffers) {
      ec = os_error(EINVAL);
      return wait_result::ready;
    }
    pollfd p[max_buffers + 1];
    for (std::size_t i = 0; i < count; ++i) p[i] = pollfd{hs[i], POLLIN, 0};
    std::size_t n = count;
    if (wake != invalid_wake) p[n++] = pollfd{wake, POLLIN, 0};
    const int r = wait(p, n, when, ec);
    if (r < 0) return wait_result::ready;
    if (r == 0) return wait_result::timed_out;
    if (n > count && p[count].revents != 0) return wait_result::woken;
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t i = (start + k) % count;
      if (p[i].revents != 0) {
        ready = i;
        return wait_result::ready;
      }
    }
    return wait_result::timed_out;  // not reached: poll counted a ready entry
  }

  static void local_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    socklen_t l = static_cast<socklen_t>(len);
    if (check(::getsockname(h, static_cast<sockaddr*>(sa), &l), ec)) len = l;
  }

  static void peer_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    socklen_t l = static_cast<socklen_t>(len);
    if (check(::getpeername(h, static_cast<sockaddr*>(sa), &l), ec)) len = l;
  }

  static void set_nonblocking(handle h, bool on, std::error_code& ec) noexcept {
    const int fl = ::fcntl(h, F_GETFL, 0);
    if (!check(fl, ec)) return;
    const int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl) check(::fcntl(h, F_SETFL, want), ec);
  }
  // Whether a handle someone else made is non-blocking (false if unknown).
  static bool is_nonblocking(handle h) noexcept {
    const int fl = ::fcntl(h, F_GETFL, 0);
    return fl >= 0 && (fl & O_NONBLOCK) != 0;
  }

  // The timeout SO_RCVTIMEO (readable) or SO_SNDTIMEO (writable) sets for a
  // blocking call, for the calls vmsock waits for itself (accept); no_timeout
  // when none is set.
  static timeout blocking_timeout(handle h, wait_type what) noexcept {
    timeval tv{};
    socklen_t l = sizeof tv;
    if (::getsockopt(h, SOL_SOCKET, what == wait_type::readable ? SO_RCVTIMEO : SO_SNDTIMEO, &tv,
                     &l) != 0)
      return no_timeout;
    const auto us = static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
    if (us <= 0) return no_timeout;
    return timeout{(us + 999) / 1000};
  }

  // Before a connect that must end by `when`: on VSOCK the kernel has its own
  // connect timeout (SO_VM_SOCKETS_CONNECT_TIMEOUT, 2 s by default) that also
  // ends a non-blocking connect; it is set to the time the caller gave, so that
  // 10 s means 10 s.  Without a deadline the socket's setting stays.
  static void prepare_connect(handle h, int family, const deadline& when,
                              std::error_code& ec) noexcept {
    ec.clear();
#if VMSOCK_LINUX
    if (family != AF_VSOCK || when.is_never()) return;
    const timeout left = when.remaining();
    if (left <= timeout::zero()) return;  // one try, no wait: the kernel's value is moot
    option_value v;
    v.value = static_cast<std::int64_t>(left.count()) * 1000;
    set_option(h, option_id::vsock_connect_timeout, v, ec);
#else
    (void)h, (void)family, (void)when;
#endif
  }

  // Whether a connect of this family goes through start_connect/wait_connect/
  // abort_connect/finish_connect (Windows' AF_HYPERV: an overlapped
  // ConnectEx); never on POSIX, which waits for every family in poll().
  static constexpr bool connect_overlapped(int) noexcept { return false; }
  struct pending_connect {};
  static bool start_connect(handle, const void*, std::size_t, pending_connect&,
                            std::error_code& ec) noexcept {
    ec = std::make_error_code(std::errc::operation_not_supported);
    return false;
  }
  static wait_result wait_connect(handle, pending_connect&, const deadline&,
                                  std::error_code& ec) noexcept {
    ec = std::make_error_code(std::errc::operation_not_supported);
    return wait_result::ready;
  }
  static void abort_connect(handle, pending_connect&) noexcept {}
  static void finish_connect(handle, pending_connect&, std::error_code& ec) noexcept {
    ec = std::make_error_code(std::errc::operation_not_supported);
  }

  // ---- Unix socket files --------------------------------------------------
  // Identity of the socket file at `path`: false when there is none, or the
  // path names something that is not a socket.
  struct file_id {
    std::uint64_t device = 0, inode = 0;
    friend bool operator==(const file_id& a, const file_id& b) noexcept {
      return a.device == b.device && a.inode == b.inode;
    }
  };
  static bool socket_file(const char* path, file_id& id) noexcept {
    struct stat st {};
    if (::lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    id.device = static_cast<std::uint64_t>(st.st_dev);
    id.inode = static_cast<std::uint64_t>(st.st_ino);
    return true;
  }
  static void remove_file(const char* path, std::error_code& ec) noexcept {
    check(::unlink(path), ec);
  }

  // IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock.
  static std::uint32_t local_vsock_cid(std::error_code& ec) noexcept {
#if VMSOCK_LINUX
    const int fd = ::open("/dev/vsock", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      ec = last_error();
      return any_cid;
    }
    unsigned int cid = any_cid;
    const int r = ::ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid);
    const int e = errno;
    ::close(fd);
    if (r != 0) {
      ec = os_error(e);
      return any_cid;
    }
    ec.clear();
    return cid;
#else
    ec = make_error_code(errc::unsupported_on_platform);
    return any_cid;
#endif
  }

  // Windows' SIO_UDP_CONNRESET: POSIX never reports ICMP errors to an
  // unconnected UDP socket, so there is nothing to turn off.
  static void set_udp_connreset(handle, bool, std::error_code& ec) noexcept { ec.clear(); }

  // SO_PEERCRED (Linux): the credentials of a Unix socket's peer.
  static credentials peer_credentials(handle h, std::error_code& ec) noexcept {
    credentials out;
#if VMSOCK_LINUX
    ::ucred c{};
    socklen_t l = sizeof c;
    if (!check(::getsockopt(h, SOL_SOCKET, SO_PEERCRED, &c, &l), ec)) return out;
    out.pid = c.pid;
    out.uid = c.uid;
    out.gid = c.gid;
#else
    (void)h;
    ec = make_error_code(errc::unsupported_on_platform);
#endif
    return out;
  }

  // ---- handing sockets to another process (handoff.hpp) --------------------
  // Sends descriptor `h` over the Unix stream socket `channel`: one data byte
  // carrying it in an SCM_RIGHTS message.  Returns the bytes sent (1, or 0
  // with ec set).
  static std::size_t send_handle(handle channel, handle h, message_flags flags,
                                 std::error_code& ec) noexcept {
    char byte = 'V';
    iovec iov{&byte, 1};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &h, sizeof(int));
    const int f = native_flags(flags) | no_sigpipe;
    for (;;) {
      const ssize_t n = ::sendmsg(channel, &msg, f);
      if (n >= 0) return succeeded(n, ec);
      if (errno != EINTR) return failed(ec);
    }
  }

  // The most descriptors one hand-off message is read with; a message with
  // more is MSG_CTRUNC (the kernel drops those that did not fit).
  static constexpr std::size_t max_received_handles = 16;

  // Receives one data byte from `channel` and the descriptors that came with
  // it (MSG_CMSG_CLOEXEC: never inherited).  Returns the bytes received (0:
  // the stream ended).  `count` is how many descriptors arrived; exactly one,
  // with no truncation, is handed out in `out`; any other number, or control
  // data the kernel truncated (`truncated`), closes every one that arrived.
  static std::size_t receive_handle(handle channel, handle& out, std::size_t& count,
                                    bool& truncated, message_flags flags,
                                    std::error_code& ec) noexcept {
    out = invalid_handle;
    count = 0;
    truncated = false;
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * max_received_handles)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
#if defined(MSG_CMSG_CLOEXEC)
    const int f = native_flags(flags) | MSG_CMSG_CLOEXEC;
#else
    const int f = native_flags(flags);
#endif
    ssize_t n = 0;
    for (;;) {
      n = ::recvmsg(channel, &msg, f);
      if (n >= 0) break;
      if (errno != EINTR) return failed(ec);
    }
    truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    handle first = invalid_handle;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t bytes = c->cmsg_len - CMSG_LEN(0);
      const unsigned char* data = CMSG_DATA(c);
      for (std::size_t i = 0; i + sizeof(int) <= bytes; i += sizeof(int)) {
        int fd = -1;
        std::memcpy(&fd, data + i, sizeof fd);
#if !defined(MSG_CMSG_CLOEXEC)
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
        if (++count == 1)
          first = fd;
        else
          ::close(fd);
      }
    }
    if (count == 1 && !truncated)
      out = first;
    else if (first != invalid_handle)
      ::close(first);
    return succeeded(n, ec);
  }

  // What an open descriptor is: its family (SO_DOMAIN), type (SO_TYPE) and
  // whether it listens (SO_ACCEPTCONN).  EBADF for a descriptor that is not
  // open, ENOTSOCK for one that is not a socket, EPROTOTYPE for a socket that
  // is neither stream, datagram nor seqpacket.
  static void socket_identity(handle h, int& family, socket_type& type, bool& listening,
                              std::error_code& ec) noexcept {
    int v = 0;
    socklen_t l = sizeof v;
#if defined(SO_DOMAIN)
    if (!check(::getsockopt(h, SOL_SOCKET, SO_DOMAIN, &v, &l), ec)) return;
    family = v;
#else
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (!check(::getsockname(h, reinterpret_cast<sockaddr*>(&ss), &sl), ec)) return;
    family = ss.ss_family;
#endif
    l = sizeof v;
    if (!check(::getsockopt(h, SOL_SOCKET, SO_TYPE, &v, &l), ec)) return;
    switch (v) {
      case SOCK_STREAM: type = socket_type::stream; break;
      case SOCK_DGRAM: type = socket_type::datagram; break;
      case SOCK_SEQPACKET: type = socket_type::seqpacket; break;
      default: ec = os_error(EPROTOTYPE); return;
    }
    l = sizeof v;
    v = 0;
    if (!check(::getsockopt(h, SOL_SOCKET, SO_ACCEPTCONN, &v, &l), ec)) return;
    listening = v != 0;
  }

  // Whether a child process started with exec inherits `h` (FD_CLOEXEC).
  static void set_inheritable(handle h, bool on, std::error_code& ec) noexcept {
    const int fl = ::fcntl(h, F_GETFD, 0);
    if (!check(fl, ec)) return;
    const int want = on ? (fl & ~FD_CLOEXEC) : (fl | FD_CLOEXEC);
    if (want != fl) check(::fcntl(h, F_SETFD, want), ec);
  }

  // ---- the process (systemd.hpp) ---------------------------------------------
  static std::int64_t current_process_id() noexcept { return static_cast<std::int64_t>(::getpid()); }
  // An environment variable, or nullptr.  Not thread-safe against a change of
  // the environment (as getenv).
  static const char* environment(const char* name) noexcept { return ::getenv(name); }
  static void unset_environment(const char* name) noexcept { ::unsetenv(name); }

  // Port reservations are a Windows feature (SIO_ACQUIRE_PORT_RESERVATION).
  static port_reservation acquire_port_reservation(handle, std::uint16_t, std::uint16_t,
                                                   std::error_code& ec) noexcept {
    ec = make_error_code(errc::unsupported_on_platform);
    return {};
  }
  static void associate_port_reservation(handle, std::uint64_t, std::error_code& ec) noexcept {
    ec = make_error_code(errc::unsupported_on_platform);
  }
  static void release_port_reservation(handle, std::uint64_t, std::error_code& ec) noexcept {
    ec = make_error_code(errc::unsupported_on_platform);
  }

 private:
#if defined(MSG_NOSIGNAL)
  static constexpr int no_sigpipe = MSG_NOSIGNAL;
#else
  static constexpr int no_sigpipe = 0;  // SO_NOSIGPIPE would be set at open()
#endif

  // The success and failure ends of a transfer.  ec is cleared only when set:
  // clearing calls std::system_category(), out of line, on every transfer.
  static std::size_t succeeded(ssize_t n, std::error_code& ec) noexcept {
    if (ec) ec.clear();
    return static_cast<std::size_t>(n);
  }
  VMSOCK_NOINLINE static std::size_t failed(std::error_code& ec) noexcept {
    ec = last_error();
    return 0;
  }

  VMSOCK_NOINLINE static std::size_t send_message(handle h, const const_buffer* bufs, std::size_t count, int f,
                                  const void* sa, std::size_t len, std::error_code& ec) noexcept {
    iovec iov[max_buffers];
    const msghdr msg = message(iov, bufs, count, sa, static_cast<socklen_t>(len));
    for (;;) {
      const ssize_t n = ::sendmsg(h, &msg, f);
      if (n >= 0) return succeeded(n, ec);
      if (errno != EINTR) return failed(ec);
    }
  }

  VMSOCK_NOINLINE static std::size_t receive_message(handle h, const mutable_buffer* bufs, std::size_t count,
                                     int f, void* sa, std::size_t& len,
                                     std::error_code& ec) noexcept {
    iovec iov[max_buffers];
    for (;;) {
      msghdr msg = message(iov, bufs, count, sa, static_cast<socklen_t>(len));
      const ssize_t n = ::recvmsg(h, &msg, f);
      if (n >= 0) {
        if (sa) len = static_cast<std::size_t>(msg.msg_namelen);
        return succeeded(n, ec);
      }
      if (errno != EINTR) return failed(ec);
    }
  }

  static bool check(int r, std::error_code& ec) noexcept {
    if (r < 0) {
      ec = last_error();
      return false;
    }
    ec.clear();
    return true;
  }

  // poll(2) until something is ready or `when` passes, resuming after EINTR
  // with the time left.  The count of ready entries, 0 on timeout, -1 on error.
  static int wait(pollfd* p, std::size_t count, const deadline& when, std::error_code& ec) noexcept {
    for (;;) {
      const timeout left = when.remaining();
      bool clamped = false;
      int ms = -1;
      if (left >= timeout::zero()) {
        clamped = left.count() > INT_MAX;
        ms = clamped ? INT_MAX : static_cast<int>(left.count());
      }
      const int r = ::poll(p, static_cast<nfds_t>(count), ms);
      if (r > 0 || (r == 0 && !clamped)) {
        ec.clear();
        return r;
      }
      if (r < 0 && errno != EINTR) {
        ec = last_error();
        return -1;
      }
    }
  }

  // A msghdr over the buffers (at most max_buffers of them) and an address.
  template <class Buffer>
  static msghdr message(iovec* iov, const Buffer* bufs, std::size_t count, const void* sa,
                        socklen_t len) noexcept {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = fill_iov(iov, bufs, count);
    msg.msg_name = const_cast<void*>(sa);
    msg.msg_namelen = sa ? len : 0;
    return msg;
  }

  // vmsock's four flags to the OS's: a table, looked up once per call.
  struct flag_table {
    int native[16] = {};
    constexpr flag_table() {
      for (unsigned i = 0; i < 16; ++i) {
        const auto f = static_cast<message_flags>(i);
        int n = 0;
        if (has_flag(f, message_flags::peek)) n |= MSG_PEEK;
        if (has_flag(f, message_flags::out_of_band)) n |= MSG_OOB;
        if (has_flag(f, message_flags::report_full_length)) n |= MSG_TRUNC;
        if (has_flag(f, message_flags::dont_wait)) n |= MSG_DONTWAIT;
        native[i] = n;
      }
    }
  };
  static int native_flags(message_flags f) noexcept {
    static constexpr flag_table table{};
    return table.native[static_cast<unsigned>(f) & 15u];
  }

  template <class Buffer>
  static decltype(msghdr{}.msg_iovlen) fill_iov(iovec* iov, const Buffer* bufs,
                                                std::size_t count) noexcept {
    const std::size_t n = count < max_buffers ? count : max_buffers;
    for (std::size_t i = 0; i < n; ++i) {
      iov[i].iov_base = const_cast<void*>(static_cast<const void*>(bufs[i].data));
      iov[i].iov_len = bufs[i].size;
    }
    return static_cast<decltype(msghdr{}.msg_iovlen)>(n);
  }

  enum class value_kind { boolean, integer, u64, duration_us, linger };
  struct native_option {
    int level = 0;
    int name = 0;
    value_kind kind = value_kind::integer;
  };

  static bool lookup(option_id id, native_option& o, std::error_code& ec) noexcept {
    switch (id) {
      case option_id::reuse_address: o = {SOL_SOCKET, SO_REUSEADDR, value_kind::boolean}; return true;
      case option_id::keep_alive: o = {SOL_SOCKET, SO_KEEPALIVE, value_kind::boolean}; return true;
      case option_id::linger: o = {SOL_SOCKET, SO_LINGER, value_kind::linger}; return true;
      case option_id::receive_buffer_size: o = {SOL_SOCKET, SO_RCVBUF, value_kind::integer}; return true;
      case option_id::send_buffer_size: o = {SOL_SOCKET, SO_SNDBUF, value_kind::integer}; return true;
      case option_id::receive_timeout: o = {SOL_SOCKET, SO_RCVTIMEO, value_kind::duration_us}; return true;
      case option_id::send_timeout: o = {SOL_SOCKET, SO_SNDTIMEO, value_kind::duration_us}; return true;
      case option_id::tcp_no_delay: o = {IPPROTO_TCP, TCP_NODELAY, value_kind::boolean}; return true;
      case option_id::socket_error: o = {SOL_SOCKET, SO_ERROR, value_kind::integer}; return true;
      case option_id::v6_only: o = {IPPROTO_IPV6, IPV6_V6ONLY, value_kind::boolean}; return true;
#if defined(SO_REUSEPORT)
      case option_id::reuse_port: o = {SOL_SOCKET, SO_REUSEPORT, value_kind::boolean}; return true;
#endif
#if VMSOCK_LINUX
      case option_id::vsock_buffer_size: o = {AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, value_kind::u64}; return true;
      case option_id::vsock_buffer_min_size: o = {AF_VSOCK, SO_VM_SOCKETS_BUFFER_MIN_SIZE, value_kind::u64}; return true;
      case option_id::vsock_buffer_max_size: o = {AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, value_kind::u64}; return true;
      // On Linux a Hyper-V socket is an AF_VSOCK socket (hv_sock transport), so
      // HVSOCKET_CONNECT_TIMEOUT becomes the VSOCK connect timeout.
      case option_id::vsock_connect_timeout:
      case option_id::hv_connect_timeout:
        o = {AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, value_kind::duration_us};
        return true;
#endif
      default:
        ec = make_error_code(errc::unsupported_on_platform);
        return false;
    }
  }
};

VMSOCK_END_NAMESPACE
