// The relay: both directions, splice(2) where it pays, a copy loop elsewhere.
#include "relay.hpp"

#include <vmsock/config.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <thread>

#if VMSOCK_LINUX
#  include <cerrno>
#  include <fcntl.h>
#  include <unistd.h>
#endif

namespace vmsock_cli {

const char* to_string(side_kind k) noexcept {
  switch (k) {
  case side_kind::tcp: return "tcp";
  case side_kind::unix_stream: return "unix";
  case side_kind::vsock: return "vsock";
  case side_kind::udp: return "udp";
  case side_kind::stdio: return "stdio";
  case side_kind::exec: return "exec";
  }
  return "?";
}

// Measured on loopback (benchmarks/RESULTS.md, "vmsock cat"): splice(2) pays
// where the receiving socket is a Unix stream: TCP -> Unix and Unix -> Unix
// move page references and cost the relay half of the copy loop's CPU or
// less, at the copy loop's throughput.  Into TCP, the copy loop is faster end
// to end (the pages the receiver then copies out are cold in the cache, and
// Unix -> TCP costs the relay more than copying), so it stays the default
// there.  AF_VSOCK has no splice_read of its own (the kernel copies through
// a pipe) and gains nothing (measured in the test guest).
bool splice_by_default(side_kind from, side_kind to) noexcept {
  return to == side_kind::unix_stream && (from == side_kind::tcp || from == side_kind::unix_stream);
}

namespace {

// How long a side with no end of stream (UDP) goes on after the other
// direction ended and it fell quiet: socat's -t default.
constexpr auto quiet_linger = std::chrono::milliseconds(500);
// The longest a read of such a side waits before it looks again.
constexpr auto quiet_poll = std::chrono::milliseconds(100);

std::string message(const char* op, const side& s, const std::error_code& ec) {
  std::string m(op);
  m += ' ';
  m += s.name();
  m += ": ";
  m += ec.message();
  return m;
}

bool timed_out(const std::error_code& ec) noexcept { return ec == std::errc::timed_out; }

#if VMSOCK_LINUX
// The pipe a spliced direction moves its bytes through.
struct splice_pipe {
  int r = -1, w = -1;
  std::size_t capacity = 0;
  ~splice_pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  bool open(std::size_t want) noexcept {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    r = fds[0];
    w = fds[1];
    // As large as asked (up to /proc/sys/fs/pipe-max-size, 1 MiB by default);
    // the default 64 KiB otherwise.
    if (want > 65536)
      (void)::fcntl(w, F_SETPIPE_SZ, static_cast<int>(std::min<std::size_t>(want, 1u << 30)));
    const int got = ::fcntl(w, F_GETPIPE_SZ);
    capacity = got > 0 ? static_cast<std::size_t>(got) : 65536;
    return true;
  }
};
#endif

}  // namespace

vmsock::deadline relay::wait_until(int direction) const noexcept {
  vmsock::deadline when = vmsock::deadline::never();
  if (opts_.idle) {
    const clock::time_point last{clock::duration{last_activity_.load(std::memory_order_relaxed)}};
    when = vmsock::deadline(last + *opts_.idle);
  }
  if (!sides_[direction]->has_end())
    when = earlier(when, vmsock::deadline(clock::now() + quiet_poll));
  return when;
}

bool relay::idle_now() const noexcept {
  if (!opts_.idle) return false;
  const clock::time_point last{clock::duration{last_activity_.load(std::memory_order_relaxed)}};
  return clock::now() - last >= *opts_.idle;
}

void relay::touch() noexcept {
  last_activity_.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

void relay::stop(relay_end why) noexcept {
  int expected = static_cast<int>(relay_end::normal);
  end_.compare_exchange_strong(expected, static_cast<int>(why));
  stopping_.store(true, std::memory_order_release);
  sides_[0]->cancel();
  sides_[1]->cancel();
}

void relay::fail(std::string msg) noexcept {
  {
    std::lock_guard<std::mutex> g(m_);
    if (stopping()) return;  // a consequence of the stop, not a cause
    try {
      error_ = std::move(msg);
    } catch (...) {
    }
  }
  stop(relay_end::failed);
}

// The end of direction `d`'s stream: passed on to the side it writes to.
void relay::direction_ended(int d) noexcept {
  side& to = *sides_[1 - d];
  std::error_code ec;
  to.close_write(ec);  // a peer already gone (ENOTCONN) has nothing to be told
  ended_at_[d].store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  ended_[d].store(true, std::memory_order_release);
}

void relay::pump(int d) noexcept {
#if VMSOCK_LINUX
  if (splice_[d] && pump_splice(d)) return;
  splice_[d] = false;
#endif
  pump_copy(d);
}

void relay::pump_copy(int d) noexcept {
  side& from = *sides_[d];
  side& to = *sides_[1 - d];
  std::size_t size = opts_.buffer;
  if (to.max_write() != 0) size = std::min(size, to.max_write());
  if (!from.has_end()) size = std::max<std::size_t>(size, 65536);  // a whole datagram
  std::unique_ptr<char[]> buf(new (std::nothrow) char[size]);
  if (!buf) {
    fail("relay: no memory for a buffer of " + std::to_string(size) + " bytes");
    return;
  }
  for (;;) {
    std::error_code ec;
    const std::size_t n = from.read(buf.get(), size, wait_until(d), ec);
    if (ec) {
      if (timed_out(ec)) {
        if (idle_now()) return stop(relay_end::idle);
        if (!from.has_end() && ended_[1 - d].load(std::memory_order_acquire)) {
          const clock::time_point quiet_since{
              clock::duration{std::max(last_activity_.load(std::memory_order_relaxed),
                                       ended_at_[1 - d].load(std::memory_order_relaxed))}};
          if (clock::now() - quiet_since >= quiet_linger) return direction_ended(d);
        }
        continue;
      }
      if (stopping()) return;
      return fail(message("receive from", from, ec));
    }
    if (n == 0) {
      if (!from.has_end()) continue;  // an empty datagram
      if (stopping()) return;         // cancel() shut the socket down
      return direction_ended(d);
    }
    touch();
    std::size_t done = 0;
    while (done < n) {
      const std::size_t m = to.write(buf.get() + done, n - done, wait_until(1 - d), ec);
      done += m;
      bytes_[d].fetch_add(m, std::memory_order_relaxed);
      if (m != 0) touch();
      if (!ec) continue;
      if (timed_out(ec)) {
        if (idle_now()) return stop(relay_end::idle);
        continue;
      }
      if (stopping()) return;
      return fail(message("send to", to, ec));
    }
  }
}

#if VMSOCK_LINUX
// splice(2) from one socket into a pipe and from the pipe into the other.
// Without an idle timeout both sockets are blocking and each splice waits in
// the kernel (cancel() shuts the sockets down, which ends it); with one, they
// are non-blocking and the waits are vmsock's, with the idle deadline.  (A
// socket that is non-blocking anyway, say one handed over by another
// program, waits there too.)
bool relay::pump_splice(int d) noexcept {
  side& from = *sides_[d];
  side& to = *sides_[1 - d];
  const int in = from.splice_handle();
  const int out = to.splice_handle();
  splice_pipe p;
  if (!p.open(opts_.buffer)) return false;
  const bool waits_here = opts_.idle.has_value();
  const unsigned flags = SPLICE_F_MOVE | (waits_here ? SPLICE_F_NONBLOCK : 0u);
  bool moved = false;
  for (;;) {
    const ssize_t n = ::splice(in, nullptr, p.w, nullptr, p.capacity, flags);
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN) {  // non-blocking: wait in vmsock's wait, with the deadline
        std::error_code ec;
        from.wait(true, wait_until(d), ec);
        if (!ec) {
          if (idle_now()) {
            stop(relay_end::idle);
            return true;
          }
          continue;  // ready, or the deadline passed without the relay being idle
        }
        if (!stopping()) fail(message("receive from", from, ec));
        return true;
      }
      if (!moved && (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP)) return false;  // copy instead
      if (!stopping())
        fail(message("receive from", from, std::error_code(e, std::system_category())));
      return true;
    }
    if (n == 0) {
      if (!stopping()) direction_ended(d);
      return true;
    }
    moved = true;
    touch();
    auto left = static_cast<std::size_t>(n);
    while (left > 0) {
      const ssize_t m = ::splice(p.r, nullptr, out, nullptr, left, flags);
      if (m < 0) {
        const int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN) {  // non-blocking: wait in vmsock's wait, with the deadline
          std::error_code ec;
          to.wait(false, wait_until(1 - d), ec);
          if (!ec) {
            if (idle_now()) {
              stop(relay_end::idle);
              return true;
            }
            continue;
          }
          if (!stopping()) fail(message("send to", to, ec));
          return true;
        }
        if (!stopping()) fail(message("send to", to, std::error_code(e, std::system_category())));
        return true;
      }
      left -= static_cast<std::size_t>(m);
      bytes_[d].fetch_add(static_cast<std::uint64_t>(m), std::memory_order_relaxed);
      touch();
    }
  }
}
#else
bool relay::pump_splice(int) noexcept { return false; }
#endif

relay_result relay::run() {
  const auto start = clock::now();
  touch();
#if VMSOCK_LINUX
  // Per direction: splice(2) between two stream sockets, where it pays or
  // where it is asked for.
  const bool sockets = sides_[0]->splice_handle() >= 0 && sides_[1]->splice_handle() >= 0 &&
                       sides_[0]->has_end() && sides_[1]->has_end();
  for (int d = 0; d < 2; ++d) {
    splice_[d] = sockets && (opts_.splice == splice_mode::always ||
                             (opts_.splice == splice_mode::automatic &&
                              splice_by_default(sides_[d]->kind(), sides_[1 - d]->kind())));
  }
  // With an idle timeout a spliced direction waits in vmsock's waits, with
  // the deadline: the sockets are non-blocking (the copy loop's calls all have
  // a deadline then, and wait in either mode).
  if ((splice_[0] || splice_[1]) && opts_.idle) {
    std::error_code ec;
    sides_[0]->set_nonblocking(true, ec);
    if (!ec) sides_[1]->set_nonblocking(true, ec);
    if (ec) {
      splice_[0] = splice_[1] = false;
      std::error_code ignored;
      sides_[0]->set_nonblocking(false, ignored);
      sides_[1]->set_nonblocking(false, ignored);
    }
  }
#endif

  // A side that cannot wait with a deadline: this thread watches the idle time.
  const bool watch =
      opts_.idle && !(sides_[0]->honours_deadlines() && sides_[1]->honours_deadlines());
  std::mutex m;
  std::condition_variable cv;
  int finished = 0;
  auto runner = [&](int d) {
    pump(d);
    std::lock_guard<std::mutex> g(m);
    ++finished;
    cv.notify_all();
  };
  std::thread back;
  std::thread forth;
  try {
    back = std::thread(runner, 1);
    if (watch) forth = std::thread(runner, 0);
  } catch (const std::system_error& e) {
    fail(std::string("relay: cannot start a thread: ") + e.what());
  }
  if (watch) {
    std::unique_lock<std::mutex> l(m);
    while (finished < 2) {
      const clock::time_point last{clock::duration{last_activity_.load(std::memory_order_relaxed)}};
      cv.wait_until(l, last + *opts_.idle);
      if (finished < 2 && idle_now()) stop(relay_end::idle);
    }
  } else if (back.joinable()) {
    runner(0);
  }
  if (back.joinable()) back.join();
  if (forth.joinable()) forth.join();

  relay_result r;
  r.seconds = std::chrono::duration<double>(clock::now() - start).count();
  r.bytes[0] = bytes_[0].load();
  r.bytes[1] = bytes_[1].load();
  r.end = static_cast<relay_end>(end_.load());
  r.method[0] = splice_[0] ? "splice" : "copy";
  r.method[1] = splice_[1] ? "splice" : "copy";
  {
    std::lock_guard<std::mutex> g(m_);
    r.error = error_;
  }
  return r;
}

}  // namespace vmsock_cli
