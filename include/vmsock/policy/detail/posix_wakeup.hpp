// posix_wakeup: how cancel() ends a wait on POSIX, a part of posix_policy
// (policy/posix.hpp).  A wait in poll() watches a wake handle beside its
// socket, which cancel() signals; a call that waits inside the kernel is ended
// by interrupt().  Policy is posix_policy: where there is no eventfd the wake
// handle is a UDP socket, made by its open() and set_nonblocking().
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_POSIX

#  include <vmsock/detail/native.hpp>
#  include <vmsock/policy/detail/posix_calls.hpp>
#  include <vmsock/socket_types.hpp>

#  include <netinet/in.h>
#  include <sched.h>
#  include <sys/socket.h>
#  include <unistd.h>
#  if VMSOCK_LINUX
#    include <sys/eventfd.h>
#  endif

#  include <cstdint>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Policy> struct posix_wakeup : posix_calls {
  // ---- wake-ups for cancel() ------------------------------------------------
  // A wake handle is polled beside a socket; signal_wake makes it readable for
  // good (cancel() is final).  Linux: an eventfd.  Elsewhere: a UDP socket on
  // 127.0.0.1 connected to itself, which a one-byte send makes readable.

  static wake_handle open_wake(std::error_code& ec) noexcept {
#  if VMSOCK_LINUX
    const int w = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w < 0) {
      ec = last_error();
      return invalid_wake;
    }
    ec.clear();
    return w;
#  else
    const int w = Policy::open(AF_INET, socket_type::datagram, 0, ec);
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
    Policy::set_nonblocking(w, true, ec);
    return w;
#  endif
  }
  static void signal_wake(wake_handle w) noexcept {
#  if VMSOCK_LINUX
    const std::uint64_t one = 1;
    (void)!::write(w, &one, sizeof one);
#  else
    const char one = 1;
    (void)!::send(w, &one, 1, no_sigpipe);
#  endif
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
#  if VMSOCK_LINUX
    return family == AF_INET || family == AF_INET6 || family == AF_UNIX;
#  else
    return (void)family, false;
#  endif
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_POSIX
