// posix_handoff: handing descriptors to another process on POSIX, a part of
// posix_policy (policy/posix.hpp) for host/handoff.hpp: SCM_RIGHTS over a
// Unix stream socket, what an inherited descriptor is (family, type,
// listening), and whether an exec'd child inherits one (FD_CLOEXEC).
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_POSIX

#  include <vmsock/detail/native.hpp>
#  include <vmsock/policy/detail/posix_calls.hpp>
#  include <vmsock/socket_types.hpp>

#  include <fcntl.h>
#  include <sys/socket.h>
#  include <sys/uio.h>
#  include <unistd.h>

#  include <cerrno>
#  include <cstddef>
#  include <cstring>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

struct posix_handoff : posix_calls {
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
#  if defined(MSG_CMSG_CLOEXEC)
    const int f = native_flags(flags) | MSG_CMSG_CLOEXEC;
#  else
    const int f = native_flags(flags);
#  endif
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
#  if !defined(MSG_CMSG_CLOEXEC)
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
#  endif
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
#  if defined(SO_DOMAIN)
    if (!check(::getsockopt(h, SOL_SOCKET, SO_DOMAIN, &v, &l), ec)) return;
    family = v;
#  else
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (!check(::getsockname(h, reinterpret_cast<sockaddr*>(&ss), &sl), ec)) return;
    family = ss.ss_family;
#  endif
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
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_POSIX
