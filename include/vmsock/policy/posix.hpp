// posix_policy: vmsock's sockets on BSD sockets (Linux first; other POSIX
// systems without the VSOCK parts).  The only code that calls the OS on POSIX.
//
// Defaults it applies to every call: SOCK_CLOEXEC on every new descriptor,
// MSG_NOSIGNAL on every send (no SIGPIPE, and no process-wide signal change),
// EINTR retried.  It never throws: every function reports through `ec`.
//
// Its parts are bases, each a header in policy/detail: posix_calls (the handle
// types, the errors and the helpers every call ends with), posix_wakeup (the
// wake-ups of cancel()), posix_waits (poll), posix_options (the option table)
// and posix_handoff (SCM_RIGHTS, what a descriptor is).
#pragma once

#include <vmsock/config.hpp>

#if !VMSOCK_POSIX
#  error "vmsock/policy/posix.hpp is for POSIX systems; include vmsock/policy/default.hpp"
#endif

#include <vmsock/buffer.hpp>
#include <vmsock/detail/native.hpp>
#include <vmsock/error.hpp>
#include <vmsock/policy/detail/posix_calls.hpp>
#include <vmsock/policy/detail/posix_handoff.hpp>
#include <vmsock/policy/detail/posix_options.hpp>
#include <vmsock/policy/detail/posix_wakeup.hpp>
#include <vmsock/policy/detail/posix_waits.hpp>
#include <vmsock/policy/types.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <system_error>

VMSOCK_BEGIN_NAMESPACE

struct posix_policy : detail::posix_wakeup<posix_policy>,
                      detail::posix_waits,
                      detail::posix_options,
                      detail::posix_handoff {
  static constexpr int max_backlog = SOMAXCONN;
  // Listening IP sockets get SO_REUSEADDR so a restarted server can bind while
  // old connections sit in TIME_WAIT (on POSIX it does not allow port stealing).
  static constexpr bool listener_reuse_address = true;
  static constexpr std::uint32_t any_cid = 0xFFFFFFFFu;  // VMADDR_CID_ANY
  // Blocking sends and receives wait inside the system call (one call per
  // operation, as raw code makes); interrupt() is how cancel() ends such a wait.
  // Listeners and connects are non-blocking in the OS and wait in poll().
  static constexpr bool kernel_waits = true;

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

  static int ioctl(handle h, unsigned long request, void* arg, std::error_code& ec) noexcept {
    const int r = ::ioctl(h, request, arg);
    check(r, ec);
    return r;
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

  // ---- the process (systemd.hpp) ---------------------------------------------
  static std::int64_t current_process_id() noexcept {
    return static_cast<std::int64_t>(::getpid());
  }
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
  VMSOCK_NOINLINE static std::size_t send_message(handle h, const const_buffer* bufs,
                                                  std::size_t count, int f, const void* sa,
                                                  std::size_t len, std::error_code& ec) noexcept {
    iovec iov[max_buffers];
    const msghdr msg = message(iov, bufs, count, sa, static_cast<socklen_t>(len));
    for (;;) {
      const ssize_t n = ::sendmsg(h, &msg, f);
      if (n >= 0) return succeeded(n, ec);
      if (errno != EINTR) return failed(ec);
    }
  }

  VMSOCK_NOINLINE static std::size_t receive_message(handle h, const mutable_buffer* bufs,
                                                     std::size_t count, int f, void* sa,
                                                     std::size_t& len,
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

  template <class Buffer>
  static decltype(msghdr{}.msg_iovlen)
      fill_iov(iovec* iov, const Buffer* bufs, std::size_t count) noexcept {
    const std::size_t n = count < max_buffers ? count : max_buffers;
    for (std::size_t i = 0; i < n; ++i) {
      iov[i].iov_base = const_cast<void*>(static_cast<const void*>(bufs[i].data));
      iov[i].iov_len = bufs[i].size;
    }
    return static_cast<decltype(msghdr{}.msg_iovlen)>(n);
  }
};

VMSOCK_END_NAMESPACE
