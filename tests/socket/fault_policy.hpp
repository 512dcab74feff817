// fault_policy: a test policy with posix_policy's full signature set.  Every
// call goes to posix_policy, on the real socket, unless the test has scheduled a
// fault for that kind of call:
//
//   fault_policy::fail(call::send, std::errc::resource_unavailable_try_again);
//       the next send reports EAGAIN without touching the socket
//   fault_policy::fail(call::close, std::errc::io_error, 1, fd);
//       close really closes fd, then reports EIO (as Linux does)
//   fault_policy::short_io(call::send, 1000, seed);
//       every send passes at most 1..1000 bytes (random, seeded) to the OS
//   fault_policy::reset_after(fd, 600);
//       receives on fd deliver 600 bytes in all, then ECONNRESET
//   fault_policy::interrupt(call::receive);
//       while a thread is inside a receive, it gets SIGUSR1 (installed without
//       SA_RESTART) every few hundred microseconds: the real system call really
//       returns EINTR, and posix_policy's own retry is what is being tested
//   fault_policy::before(call::poll, hook);
//       runs hook() before every poll (to order events between threads)
//
// The script is global (one per process, guarded by a mutex) so that faults can
// target a socket used by another thread; a fault names one handle or any.
// fault_policy::clear() removes every fault, stops the signals and restores
// SIGUSR1's previous action.  A policy never throws, and neither does this one.
#pragma once

#include <vmsock/policy/posix.hpp>

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace vmsock_test {

// The kinds of policy call a fault can be scheduled for.  `send` covers send and
// send_to, `receive` covers receive and receive_from.
enum class call : unsigned {
  open,
  close,
  bind,
  listen,
  accept,
  connect,
  pending_error,
  send,
  receive,
  shutdown,
  set_option,
  get_option,
  ioctl,
  poll,
  local_name,
  peer_name,
  set_nonblocking,
  count
};
inline constexpr std::size_t call_kinds = static_cast<std::size_t>(call::count);

inline const char* to_string(call c) noexcept {
  static constexpr const char* names[call_kinds] = {
      "open",          "close", "bind",       "listen",    "accept",         "connect",
      "pending_error", "send",  "receive",    "shutdown",  "set_option",     "get_option",
      "ioctl",         "poll",  "local_name", "peer_name", "set_nonblocking"};
  const auto i = static_cast<std::size_t>(c);
  return i < call_kinds ? names[i] : "?";
}

struct fault_policy {
  using base_policy = vmsock::posix_policy;
  using handle = base_policy::handle;
  static constexpr handle invalid_handle = base_policy::invalid_handle;
  static constexpr std::size_t max_buffers = base_policy::max_buffers;
  static constexpr int max_backlog = base_policy::max_backlog;
  static constexpr bool listener_reuse_address = base_policy::listener_reuse_address;
  static constexpr std::uint32_t any_cid = base_policy::any_cid;
  static constexpr bool kernel_waits = base_policy::kernel_waits;
  using wake_handle = base_policy::wake_handle;
  static constexpr wake_handle invalid_wake = base_policy::invalid_wake;
  using file_id = base_policy::file_id;
  // A fault for every handle.
  static constexpr handle any_handle = INT_MIN;

  // ---- the script ----------------------------------------------------------

  // The next `times` calls of kind `c` on `on` (after `after` calls that go
  // through) report `e`; times < 0: every call until clear().  The OS is not
  // called, except by close, which really closes and then reports `e`.
  static void fail(call c, std::error_code e, int times = 1, handle on = any_handle,
                   int after = 0) {
    auto r = std::make_shared<rule>();
    r->what = rule::kind::fail;
    r->c = c;
    r->on = on;
    r->error = e;
    r->times = times;
    r->skip = after;
    add(std::move(r));
  }
  static void fail(call c, std::errc e, int times = 1, handle on = any_handle, int after = 0) {
    fail(c, std::make_error_code(e), times, on, after);
  }

  // Every call of kind c (send or receive) on `on` passes at most a random
  // 1..max_chunk bytes to the OS: short writes and short reads.
  static void short_io(call c, std::size_t max_chunk, std::uint64_t seed, handle on = any_handle) {
    auto r = std::make_shared<rule>();
    r->what = rule::kind::short_io;
    r->c = c;
    r->on = on;
    r->max_chunk = max_chunk == 0 ? 1 : max_chunk;
    r->rng = seed == 0 ? 0x9E3779B97F4A7C15ull : seed;
    add(std::move(r));
  }

  // Receives on `on` deliver `bytes` bytes in all; every receive after that
  // reports ECONNRESET, as a reset connection does.
  static void reset_after(handle on, std::size_t bytes) {
    auto r = std::make_shared<rule>();
    r->what = rule::kind::reset;
    r->c = call::receive;
    r->on = on;
    r->limit = bytes;
    add(std::move(r));
  }

  // While a thread is inside a call of kind c (on `on`), it receives SIGUSR1
  // every `period`; the handler is installed without SA_RESTART, so whatever
  // system call the thread sleeps in returns EINTR.
  static void interrupt(call c, handle on = any_handle,
                        std::chrono::microseconds period = std::chrono::microseconds(200)) {
    auto r = std::make_shared<rule>();
    r->what = rule::kind::interrupt;
    r->c = c;
    r->on = on;
    add(std::move(r));
    storm().start(period);
  }

  // Runs before every call of kind c (any handle), outside the script's lock.
  static void before(call c, std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(state().m);
    state().hooks[static_cast<std::size_t>(c)] = std::move(hook);
  }

  // Removes every fault and hook, stops the signals, zeroes the counters.
  static void clear() {
    storm().stop();
    std::lock_guard<std::mutex> lock(state().m);
    auto& s = state();
    s.rules.clear();
    for (auto& h : s.hooks) h = nullptr;
    for (auto& n : s.calls) n = 0;
    for (auto& n : s.injected) n = 0;
    for (auto& n : s.bytes) n = 0;
    storm().sent = 0;
    storm_handled() = 0;
  }

  // Calls of kind c made through the policy, faults injected into them, bytes
  // they moved (send and receive), signals sent by interrupt().
  static std::size_t calls(call c) noexcept { return state().calls[index(c)].load(); }
  static std::size_t injected(call c) noexcept { return state().injected[index(c)].load(); }
  static std::size_t bytes(call c) noexcept { return state().bytes[index(c)].load(); }
  static std::size_t signals_sent() noexcept { return storm().sent.load(); }
  static std::size_t signals_handled() noexcept { return storm_handled().load(); }

  // ---- posix_policy's signature set ----------------------------------------

  static std::error_code os_error(int code) noexcept { return base_policy::os_error(code); }
  static std::error_code last_error() noexcept { return base_policy::last_error(); }
  static std::error_code closed_error() noexcept { return base_policy::closed_error(); }

  // Wake-ups, interrupts and the rest pass straight through (no faults).
  static wake_handle open_wake(std::error_code& ec) noexcept { return base_policy::open_wake(ec); }
  static void signal_wake(wake_handle w) noexcept { base_policy::signal_wake(w); }
  static void close_wake(wake_handle w) noexcept { base_policy::close_wake(w); }
  static void yield() noexcept { base_policy::yield(); }
  static void interrupt(handle h) noexcept { base_policy::interrupt(h); }
  static bool is_nonblocking(handle h) noexcept { return base_policy::is_nonblocking(h); }
  static constexpr bool connect_overlapped(int family) noexcept {
    return base_policy::connect_overlapped(family);
  }
  using pending_connect = base_policy::pending_connect;
  static bool start_connect(handle h, const void* sa, std::size_t len, pending_connect& p,
                            std::error_code& ec) noexcept {
    return base_policy::start_connect(h, sa, len, p, ec);
  }
  static vmsock::wait_result wait_connect(handle h, pending_connect& p,
                                          const vmsock::deadline& when,
                                          std::error_code& ec) noexcept {
    return base_policy::wait_connect(h, p, when, ec);
  }
  static void abort_connect(handle h, pending_connect& p) noexcept {
    base_policy::abort_connect(h, p);
  }
  static void finish_connect(handle h, pending_connect& p, std::error_code& ec) noexcept {
    base_policy::finish_connect(h, p, ec);
  }
  static vmsock::credentials peer_credentials(handle h, std::error_code& ec) noexcept {
    return base_policy::peer_credentials(h, ec);
  }
  // Hand-off and socket activation (handoff.hpp, systemd.hpp): no faults.
  static std::size_t send_handle(handle channel, handle h, vmsock::message_flags flags,
                                 std::error_code& ec) noexcept {
    return base_policy::send_handle(channel, h, flags, ec);
  }
  static constexpr std::size_t max_received_handles = base_policy::max_received_handles;
  static std::size_t receive_handle(handle channel, handle& out, std::size_t& count,
                                    bool& truncated, vmsock::message_flags flags,
                                    std::error_code& ec) noexcept {
    return base_policy::receive_handle(channel, out, count, truncated, flags, ec);
  }
  static void socket_identity(handle h, int& family, vmsock::socket_type& type, bool& listening,
                              std::error_code& ec) noexcept {
    base_policy::socket_identity(h, family, type, listening, ec);
  }
  static void set_inheritable(handle h, bool on, std::error_code& ec) noexcept {
    base_policy::set_inheritable(h, on, ec);
  }
  static std::int64_t current_process_id() noexcept { return base_policy::current_process_id(); }
  static const char* environment(const char* name) noexcept {
    return base_policy::environment(name);
  }
  static void unset_environment(const char* name) noexcept { base_policy::unset_environment(name); }
  static vmsock::timeout blocking_timeout(handle h, vmsock::wait_type what) noexcept {
    return base_policy::blocking_timeout(h, what);
  }
  static void prepare_connect(handle h, int family, const vmsock::deadline& when,
                              std::error_code& ec) noexcept {
    base_policy::prepare_connect(h, family, when, ec);
  }
  static bool socket_file(const char* path, file_id& id) noexcept {
    return base_policy::socket_file(path, id);
  }
  static void remove_file(const char* path, std::error_code& ec) noexcept {
    base_policy::remove_file(path, ec);
  }

  static handle open(int family, vmsock::socket_type type, int protocol,
                     std::error_code& ec) noexcept {
    const auto d = decide(call::open, any_handle);
    if (d.fail) {
      ec = d.error;
      return invalid_handle;
    }
    const in_call g(d.storm);
    return base_policy::open(family, type, protocol, ec);
  }

  static void close(handle h, std::error_code& ec) noexcept {
    const auto d = decide(call::close, h);
    {
      const in_call g(d.storm);
      base_policy::close(h, ec);
    }
    if (d.fail) ec = d.error;  // the descriptor is gone all the same
  }

  static void bind(handle h, const void* sa, std::size_t len, std::error_code& ec) noexcept {
    simple(call::bind, h, ec, [&] { base_policy::bind(h, sa, len, ec); });
  }

  static void listen(handle h, int backlog, std::error_code& ec) noexcept {
    simple(call::listen, h, ec, [&] { base_policy::listen(h, backlog, ec); });
  }

  static handle accept(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    const auto d = decide(call::accept, h);
    if (d.fail) {
      ec = d.error;
      return invalid_handle;
    }
    const in_call g(d.storm);
    return base_policy::accept(h, sa, len, ec);
  }

  static void connect(handle h, const void* sa, std::size_t len, std::error_code& ec) noexcept {
    simple(call::connect, h, ec, [&] { base_policy::connect(h, sa, len, ec); });
  }

  static void pending_error(handle h, std::error_code& ec) noexcept {
    simple(call::pending_error, h, ec, [&] { base_policy::pending_error(h, ec); });
  }

  static std::size_t send(handle h, const vmsock::const_buffer* bufs, std::size_t count,
                          vmsock::message_flags flags, std::error_code& ec) noexcept {
    return send_to(h, bufs, count, flags, nullptr, 0, ec);
  }

  static std::size_t send_to(handle h, const vmsock::const_buffer* bufs, std::size_t count,
                             vmsock::message_flags flags, const void* sa, std::size_t len,
                             std::error_code& ec) noexcept {
    return transfer(call::send, h, bufs, count, ec,
                    [&](const vmsock::const_buffer* b, std::size_t n) {
                      return base_policy::send_to(h, b, n, flags, sa, len, ec);
                    });
  }

  static std::size_t receive(handle h, const vmsock::mutable_buffer* bufs, std::size_t count,
                             vmsock::message_flags flags, std::error_code& ec) noexcept {
    std::size_t none = 0;
    return receive_from(h, bufs, count, flags, nullptr, none, ec);
  }

  static std::size_t receive_from(handle h, const vmsock::mutable_buffer* bufs, std::size_t count,
                                  vmsock::message_flags flags, void* sa, std::size_t& len,
                                  std::error_code& ec) noexcept {
    return transfer(call::receive, h, bufs, count, ec,
                    [&](const vmsock::mutable_buffer* b, std::size_t n) {
                      return base_policy::receive_from(h, b, n, flags, sa, len, ec);
                    });
  }

  static void shutdown(handle h, vmsock::shutdown_type how, std::error_code& ec) noexcept {
    simple(call::shutdown, h, ec, [&] { base_policy::shutdown(h, how, ec); });
  }

  static void set_option(handle h, vmsock::option_id id, const vmsock::option_value& v,
                         std::error_code& ec) noexcept {
    simple(call::set_option, h, ec, [&] { base_policy::set_option(h, id, v, ec); });
  }

  static void get_option(handle h, vmsock::option_id id, vmsock::option_value& v,
                         std::error_code& ec) noexcept {
    simple(call::get_option, h, ec, [&] { base_policy::get_option(h, id, v, ec); });
  }

  static int ioctl(handle h, unsigned long request, void* arg, std::error_code& ec) noexcept {
    int r = -1;
    simple(call::ioctl, h, ec, [&] { r = base_policy::ioctl(h, request, arg, ec); });
    return r;
  }

  static vmsock::wait_result poll(handle h, vmsock::wait_type what, wake_handle wake,
                                  const vmsock::deadline& when, std::error_code& ec) noexcept {
    auto r = vmsock::wait_result::ready;
    simple(call::poll, h, ec, [&] { r = base_policy::poll(h, what, wake, when, ec); });
    return r;
  }
  static vmsock::wait_result poll_any(const handle* hs, std::size_t count, std::size_t start,
                                      wake_handle wake, const vmsock::deadline& when,
                                      std::size_t& ready, std::error_code& ec) noexcept {
    auto r = vmsock::wait_result::ready;
    simple(call::poll, any_handle, ec,
           [&] { r = base_policy::poll_any(hs, count, start, wake, when, ready, ec); });
    return r;
  }

  static void local_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    simple(call::local_name, h, ec, [&] { base_policy::local_name(h, sa, len, ec); });
  }

  static void peer_name(handle h, void* sa, std::size_t& len, std::error_code& ec) noexcept {
    simple(call::peer_name, h, ec, [&] { base_policy::peer_name(h, sa, len, ec); });
  }

  static void set_nonblocking(handle h, bool on, std::error_code& ec) noexcept {
    simple(call::set_nonblocking, h, ec, [&] { base_policy::set_nonblocking(h, on, ec); });
  }

  static std::uint32_t local_vsock_cid(std::error_code& ec) noexcept {
    return base_policy::local_vsock_cid(ec);
  }
  static vmsock::port_reservation acquire_port_reservation(handle h, std::uint16_t start,
                                                           std::uint16_t n,
                                                           std::error_code& ec) noexcept {
    return base_policy::acquire_port_reservation(h, start, n, ec);
  }
  static void associate_port_reservation(handle h, std::uint64_t token,
                                         std::error_code& ec) noexcept {
    base_policy::associate_port_reservation(h, token, ec);
  }
  static void release_port_reservation(handle h, std::uint64_t token,
                                       std::error_code& ec) noexcept {
    base_policy::release_port_reservation(h, token, ec);
  }

 private:
  struct rule {
    enum class kind { fail, short_io, reset, interrupt } what = kind::fail;
    call c = call::send;
    handle on = any_handle;
    // fail
    std::error_code error;
    int times = 1;
    int skip = 0;
    // short_io
    std::size_t max_chunk = 1;
    std::uint64_t rng = 1;
    // reset
    std::size_t limit = 0;
    std::size_t delivered = 0;
  };

  struct script {
    std::mutex m;
    std::vector<std::shared_ptr<rule>> rules;
    std::array<std::function<void()>, call_kinds> hooks;
    std::array<std::atomic<std::size_t>, call_kinds> calls{};
    std::array<std::atomic<std::size_t>, call_kinds> injected{};
    std::array<std::atomic<std::size_t>, call_kinds> bytes{};
  };
  static script& state() noexcept {
    static script s;
    return s;
  }
  static std::size_t index(call c) noexcept { return static_cast<std::size_t>(c); }

  static void add(std::shared_ptr<rule> r) {
    std::lock_guard<std::mutex> lock(state().m);
    state().rules.push_back(std::move(r));
  }

  // What to do with one call.
  struct decision {
    bool fail = false;
    std::error_code error;
    bool storm = false;
    std::size_t cap = SIZE_MAX;   // bytes the OS may move
    std::shared_ptr<rule> reset;  // whose `delivered` to advance
  };

  static std::uint64_t next_random(std::uint64_t& x) noexcept {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }

  static decision decide(call c, handle h) noexcept {
    auto& s = state();
    ++s.calls[index(c)];
    std::function<void()> hook;
    decision d;
    {
      std::lock_guard<std::mutex> lock(s.m);
      hook = s.hooks[index(c)];
      for (auto& r : s.rules) {
        if (r->c != c || (r->on != any_handle && r->on != h)) continue;
        switch (r->what) {
        case rule::kind::fail:
          if (d.fail || r->times == 0) break;
          if (r->skip > 0) {
            --r->skip;
            break;
          }
          if (r->times > 0) --r->times;
          d.fail = true;
          d.error = r->error;
          break;
        case rule::kind::short_io:
          d.cap = std::min<std::size_t>(
              d.cap, 1 + static_cast<std::size_t>(next_random(r->rng) % r->max_chunk));
          break;
        case rule::kind::reset:
          if (r->delivered >= r->limit) {
            d.fail = true;
            d.error = std::make_error_code(std::errc::connection_reset);
          } else {
            d.cap = std::min(d.cap, r->limit - r->delivered);
            d.reset = r;
          }
          break;
        case rule::kind::interrupt: d.storm = true; break;
        }
      }
    }
    if (d.fail) ++s.injected[index(c)];
    if (hook) hook();
    return d;
  }

  template <class F>
  static void simple(call c, handle h, std::error_code& ec, F&& forward) noexcept {
    const auto d = decide(c, h);
    if (d.fail) {
      ec = d.error;
      return;
    }
    const in_call g(d.storm);
    forward();
  }

  // Send or receive, with at most d.cap bytes handed to the OS.
  template <class Buffer, class F>
  static std::size_t transfer(call c, handle h, const Buffer* bufs, std::size_t count,
                              std::error_code& ec, F&& forward) noexcept {
    const auto d = decide(c, h);
    if (d.fail) {
      ec = d.error;
      return 0;
    }
    std::size_t n = 0;
    {
      const in_call g(d.storm);
      if (d.cap == SIZE_MAX || vmsock::total_size(bufs, count) <= d.cap) {
        n = forward(bufs, count);
      } else {
        Buffer trimmed[max_buffers];
        std::size_t m = 0;
        std::size_t total = 0;
        for (std::size_t i = 0; i < count && m < max_buffers && total < d.cap; ++i) {
          Buffer b = bufs[i];
          if (b.size > d.cap - total) b.size = d.cap - total;
          total += b.size;
          trimmed[m++] = b;
        }
        n = forward(trimmed, m);
      }
    }
    if (!ec) {
      state().bytes[index(c)] += n;
      if (d.reset) {
        std::lock_guard<std::mutex> lock(state().m);
        d.reset->delivered += n;
      }
    }
    return n;
  }

  // ---- the signal storm ----------------------------------------------------

  static std::atomic<std::size_t>& storm_handled() noexcept {
    static std::atomic<std::size_t> n{0};
    return n;
  }
  static void on_signal(int) noexcept { ++storm_handled(); }

  struct signal_storm {
    std::mutex m;                    // guards targets, running, worker
    std::vector<pthread_t> targets;  // threads now inside a stormed call
    bool running = false;
    std::thread worker;
    struct sigaction previous {};
    std::atomic<std::size_t> sent{0};
    std::atomic<bool> stop_flag{false};

    void start(std::chrono::microseconds period) {
      std::lock_guard<std::mutex> lock(m);
      if (running) return;
      struct sigaction sa {};
      sa.sa_handler = &fault_policy::on_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = 0;  // no SA_RESTART: sleeping system calls return EINTR
      ::sigaction(SIGUSR1, &sa, &previous);
      stop_flag = false;
      running = true;
      worker = std::thread([this, period] {
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(period.count() / 1000000);
        ts.tv_nsec = static_cast<long>((period.count() % 1000000) * 1000);
        while (!stop_flag.load()) {
          {
            std::lock_guard<std::mutex> l(m);
            for (const pthread_t t : targets) {
              if (::pthread_kill(t, SIGUSR1) == 0) ++sent;
            }
          }
          ::nanosleep(&ts, nullptr);
        }
      });
    }

    void stop() {
      std::thread w;
      {
        std::lock_guard<std::mutex> lock(m);
        if (!running) return;
        stop_flag = true;
        w = std::move(worker);
      }
      w.join();
      std::lock_guard<std::mutex> lock(m);
      running = false;
      targets.clear();
      ::sigaction(SIGUSR1, &previous, nullptr);
    }

    void enter(pthread_t t) noexcept {
      std::lock_guard<std::mutex> lock(m);
      targets.push_back(t);
    }
    void leave(pthread_t t) noexcept {
      std::lock_guard<std::mutex> lock(m);
      for (auto it = targets.begin(); it != targets.end(); ++it) {
        if (::pthread_equal(*it, t)) {
          targets.erase(it);
          return;
        }
      }
    }
  };
  static signal_storm& storm() noexcept {
    static signal_storm s;
    return s;
  }

  // Marks the calling thread as inside a stormed call for its lifetime.
  class in_call {
   public:
    explicit in_call(bool storm_on) noexcept : on_(storm_on) {
      if (on_) storm().enter(::pthread_self());
    }
    ~in_call() {
      if (on_) storm().leave(::pthread_self());
    }
    in_call(const in_call&) = delete;
    in_call& operator=(const in_call&) = delete;

   private:
    bool on_;
  };
};

}  // namespace vmsock_test
