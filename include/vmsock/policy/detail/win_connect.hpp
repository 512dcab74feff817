// The Hyper-V connect of winsock_policy: an overlapped ConnectEx.
//
// Microsoft documents no non-blocking connect for AF_HYPERV, so a Hyper-V
// connect cannot wait in select() as the other families' do.  A blocking
// connect() ends only by HVSOCKET_CONNECT_TIMEOUT (up to 300 s), and no other
// thread can end it: shutdown() of a socket that is still connecting fails
// with WSAENOTCONN.  Microsoft's own code (WSL) and go-winio connect with an
// overlapped ConnectEx instead, which CancelIoEx ends at once; vmsock does the
// same.  socket_core drives the four steps (start, wait, abort or finish), so
// that a scripted test policy can stand in for them on any platform.
#pragma once

#include <vmsock/config.hpp>

#if VMSOCK_WINDOWS

#  include <vmsock/detail/native.hpp>
#  include <vmsock/detail/win_error.hpp>
#  include <vmsock/endpoint/hyperv.hpp>
#  include <vmsock/policy/types.hpp>

#  include <mswsock.h>

#  include <cstddef>
#  include <system_error>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

struct win_overlapped_connect {
  // One connect in progress: the OVERLAPPED Windows writes to until the
  // operation is over, so it lives on the connecting thread's stack until
  // finish_connect or abort_connect returns.
  struct pending_connect {
    WSAOVERLAPPED ov{};
    bool started = false;
  };

  // Whether a connect of `family` goes through the steps below.
  static constexpr bool connect_overlapped(int family) noexcept {
    return family == hv::address_family;
  }

  // Binds the socket if it is not bound yet (ConnectEx needs a bound socket;
  // as go-winio does, to the address it connects to) and starts ConnectEx.
  // true: it is in progress in `p`; false: it ended at once, `ec` says how.
  static bool start_connect(SOCKET h, const void* sa, std::size_t len, pending_connect& p,
                            std::error_code& ec) noexcept {
    sockaddr_storage self{};
    int self_len = static_cast<int>(sizeof self);
    if (::getsockname(h, reinterpret_cast<sockaddr*>(&self), &self_len) != 0) {
      if (::bind(h, static_cast<const sockaddr*>(sa), static_cast<int>(len)) != 0) {
        ec = make_os_error(::WSAGetLastError());
        return false;
      }
    }
    LPFN_CONNECTEX connect_ex = nullptr;
    GUID id = WSAID_CONNECTEX;
    DWORD got = 0;
    if (::WSAIoctl(h, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &connect_ex,
                   sizeof connect_ex, &got, nullptr, nullptr) != 0) {
      ec = make_os_error(::WSAGetLastError());
      return false;
    }
    p.ov = WSAOVERLAPPED{};
    p.ov.hEvent = ::WSACreateEvent();
    if (p.ov.hEvent == WSA_INVALID_EVENT) {
      ec = make_os_error(::WSAGetLastError());
      return false;
    }
    DWORD sent = 0;
    if (connect_ex(h, static_cast<const sockaddr*>(sa), static_cast<int>(len), nullptr, 0, &sent,
                   &p.ov)) {
      p.started = true;  // done already: finish_connect reads the outcome
      ec.clear();
      return true;
    }
    const int e = ::WSAGetLastError();
    if (e == ERROR_IO_PENDING) {
      p.started = true;
      ec.clear();
      return true;
    }
    ::WSACloseEvent(p.ov.hEvent);
    p.ov.hEvent = nullptr;
    ec = make_os_error(e);
    return false;
  }

  // Waits until the connect completes (or is cancelled: CancelIoEx completes
  // it too) or `when` passes.
  static wait_result wait_connect(SOCKET, pending_connect& p, const deadline& when,
                                  std::error_code& ec) noexcept {
    ec.clear();
    constexpr long long day_ms = 24LL * 3600 * 1000;
    for (;;) {
      const timeout left = when.remaining();  // negative: no deadline
      const bool sliced = left < timeout::zero() || left.count() > day_ms;
      const DWORD ms = static_cast<DWORD>(sliced ? day_ms : left.count());
      const DWORD r = ::WaitForSingleObject(p.ov.hEvent, ms);
      if (r == WAIT_OBJECT_0) return wait_result::ready;
      if (r == WAIT_TIMEOUT) {
        if (sliced) continue;
        return wait_result::timed_out;
      }
      ec = make_os_error(static_cast<int>(::GetLastError()));
      return wait_result::ready;
    }
  }

  // Ends the connect in progress and waits until Windows no longer uses `p`.
  static void abort_connect(SOCKET h, pending_connect& p) noexcept {
    if (!p.started) return;
    ::CancelIoEx(reinterpret_cast<HANDLE>(h), &p.ov);
    DWORD bytes = 0;
    DWORD flags = 0;
    ::WSAGetOverlappedResult(h, &p.ov, &bytes, TRUE, &flags);
    release(p);
  }

  // The outcome of a completed connect; on success the socket becomes a
  // connected one for getpeername, shutdown and the rest
  // (SO_UPDATE_CONNECT_CONTEXT).
  static void finish_connect(SOCKET h, pending_connect& p, std::error_code& ec) noexcept {
    DWORD bytes = 0;
    DWORD flags = 0;
    const BOOL ok = ::WSAGetOverlappedResult(h, &p.ov, &bytes, TRUE, &flags);
    const int e = ok ? 0 : ::WSAGetLastError();
    release(p);
    if (!ok) {
      ec = make_os_error(e);
      return;
    }
    if (::setsockopt(h, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0) != 0) {
      ec = make_os_error(::WSAGetLastError());
      return;
    }
    ec.clear();
  }

 private:
  static void release(pending_connect& p) noexcept {
    if (p.ov.hEvent != nullptr) ::WSACloseEvent(p.ov.hEvent);
    p.ov.hEvent = nullptr;
    p.started = false;
  }
};

}  // namespace detail
VMSOCK_END_NAMESPACE

#endif  // VMSOCK_WINDOWS
