// The scale tests' machinery (tests/scale/test_scale.cpp: 10,000 TCP
// connections here; tests/vm/test_vsock_peer.cpp: 1,000 VSOCK connections in
// the test guest): one vmsock listener accepts every connection, then an echo
// loop serves all of them at once (epoll for readiness, vmsock's
// non-blocking receive and send_all for the bytes).  The clients are child
// processes (fork), as many as the descriptor limit asks for: a TCP client
// connection costs one descriptor, a VSOCK one two (a VSOCK socket whose
// connect waited keeps its cancel() wake-up, an eventfd, until it closes:
// shutdown does not end a poll on AF_VSOCK, see policy/posix.hpp).  Every
// connection sends a message naming itself and reads it back, three rounds,
// all of them open throughout; then they reset (SO_LINGER 0: no TIME_WAIT).
//
// Figures, printed and recorded as test properties (never asserted): the
// accept rate (connections per second, from the first connect to the last
// accept), the server's resident memory per connection (RSS before
// listening and with every connection accepted, vmsock's sockets and the
// vector that holds them included, and the code first run; the marginal
// figure is the second half's: RSS with half and with all of them
// accepted), the kernel's slab memory of the sockets
// (both ends), TCP's sockstat pages, the echo rounds.  Bounded: every wait
// has a deadline; a client process that hangs is killed.
#pragma once

#include <vmsock/socket/options.hpp>
#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#include "descriptors.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace vmsock_scale {

using namespace std::chrono_literals;
using namespace vmsock;
using clock_type = std::chrono::steady_clock;
using vmsock_test::open_descriptors;

constexpr int rounds = 3;
constexpr std::size_t message_size = 32;

// `fallback`, or VMSOCK_SCALE_CONNECTIONS when set.
inline std::size_t connections(std::size_t fallback) {
  if (const char* n = std::getenv("VMSOCK_SCALE_CONNECTIONS")) return std::strtoul(n, nullptr, 10);
  return fallback;
}

// Resident memory of this process, in KiB: "Rss:" of /proc/self/smaps_rollup
// (counted from the page tables; VmRSS of /proc/self/status lags on kernels
// before 6.2, by up to 64 page faults per thread), else VmRSS.
inline long rss_kib() {
  for (const char* file : {"/proc/self/smaps_rollup", "/proc/self/status"}) {
    std::ifstream in(file);
    std::string key;
    while (in >> key) {
      if (key == "Rss:" || key == "VmRSS:") {
        long v = 0;
        in >> v;
        return v;
      }
      std::getline(in, key);
    }
  }
  return -1;
}

// Kernel memory of the sockets: the active objects of the slab caches `a`
// ("TCP", "AF_VSOCK") and "sock_inode_cache" (bytes, both ends of every
// connection), from /proc/slabinfo (root only; -1 without it).
inline long slab_bytes(const char* a) {
  std::ifstream in("/proc/slabinfo");
  std::string line;
  long total = -1;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string name;
    long active = 0, objects = 0, size = 0;
    if (!(words >> name >> active >> objects >> size)) continue;
    if (name == a || name == "sock_inode_cache") total = (total < 0 ? 0 : total) + active * size;
  }
  return total;
}

// The kernel's TCP socket memory (pages), /proc/net/sockstat "TCP: ... mem N".
inline long tcp_mem_pages() {
  std::ifstream in("/proc/net/sockstat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("TCP:", 0) != 0) continue;
    const auto at = line.find(" mem ");
    if (at != std::string::npos) return std::strtol(line.c_str() + at + 5, nullptr, 10);
  }
  return -1;
}

// Raises RLIMIT_NOFILE to `want` if it can (root may raise the hard limit),
// else as far as the hard limit; false when that is less than `need`.
inline bool raise_nofile(rlim_t need, rlim_t want, std::string& why) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur >= want) return true;
  rlimit wider{want, want > r.rlim_max ? want : r.rlim_max};
  if (::setrlimit(RLIMIT_NOFILE, &wider) == 0) return true;
  r.rlim_cur = r.rlim_max;
  if (r.rlim_max >= need && ::setrlimit(RLIMIT_NOFILE, &r) == 0) return true;
  why = "RLIMIT_NOFILE's hard limit is " + std::to_string(r.rlim_max) + ", " +
        std::to_string(need) + " needed, and it cannot be raised: " + std::strerror(errno);
  return false;
}

inline void message_for(std::size_t i, int round, char* out) {
  std::memset(out, '.', message_size);
  char text[64];
  const int n = std::snprintf(text, sizeof text, "conn %08zu round %d ", i % 100000000, round % 10);
  std::memcpy(
      out, text,
      static_cast<std::size_t>(n) < message_size ? static_cast<std::size_t>(n) : message_size);
  out[message_size - 1] = '\n';
}

// One client process: connects connections first..first+n-1 with
// connect(i, deadline, ec), waits for the word, echoes `rounds` times,
// writes one line of figures to `report_fd`.
template <class Connect>
int clients(Connect& connect, std::size_t first, std::size_t n, int report_fd, int go_fd) {
  using socket =
      decltype(connect(std::size_t{0}, vmsock::deadline{}, std::declval<std::error_code&>()));
  std::vector<socket> socks;
  socks.reserve(n);
  const auto until = clock_type::now() + 60s;
  const auto t0 = clock_type::now();
  for (std::size_t i = 0; i < n; ++i) {
    std::error_code ec;
    socks.push_back(connect(first + i, until, ec));
    if (ec) {
      std::fprintf(stderr, "client %zu: connect: %s\n", i, ec.message().c_str());
      return 3;
    }
  }
  const double connected = std::chrono::duration<double>(clock_type::now() - t0).count();
  const std::size_t descriptors = open_descriptors();
  // Wait until the server has accepted every one.
  char go = 0;
  if (::read(go_fd, &go, 1) != 1) return 4;
  std::string times;
  for (int round = 0; round < rounds; ++round) {
    const auto r0 = clock_type::now();
    char msg[message_size];
    for (std::size_t i = 0; i < n; ++i) {
      message_for(first + i, round, msg);
      std::error_code ec;
      socks[i].send_all(const_buffer{msg, message_size}, until, ec);
      if (ec) {
        std::fprintf(stderr, "client %zu: send: %s\n", i, ec.message().c_str());
        return 5;
      }
    }
    char back[message_size];
    for (std::size_t i = 0; i < n; ++i) {
      std::error_code ec;
      socks[i].receive_exact(mutable_buffer{back, message_size}, until, ec);
      message_for(first + i, round, msg);
      if (ec || std::memcmp(back, msg, message_size) != 0) {
        std::fprintf(stderr, "client %zu round %d: echo: %s\n", i, round,
                     ec ? ec.message().c_str() : "wrong bytes");
        return 6;
      }
    }
    if (!times.empty()) times += ',';
    times += std::to_string(std::chrono::duration<double>(clock_type::now() - r0).count());
  }
  const std::string line = std::to_string(n) + " connected in " + std::to_string(connected) +
                           " s, echo rounds " + times + " s, descriptors " +
                           std::to_string(descriptors) + "\n";
  if (::write(report_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 7;
  for (auto& s : socks) {
    std::error_code ec;
    s.set_option(vmsock::linger{true, std::chrono::seconds(0)}, ec);  // reset: no TIME_WAIT
  }
  socks.clear();
  return 0;
}

inline void record(const std::string& key, const std::string& value) {
  ::testing::Test::RecordProperty(key, value);
  std::printf("[   info   ] %s = %s\n", key.c_str(), value.c_str());
}

// Accepts `n` connections on `l` from client processes that make them with
// connect(i, deadline, ec), echoes, records the figures.  `slab` names the
// kernel's slab cache of the family; `rss_before` was read before `l` was made.
template <class Listener, class Connect>
void run(Listener& l, std::size_t n, Connect connect, const char* slab, long rss_before) {
  using socket = typename Listener::socket_type_t;
  const long tcp_before = tcp_mem_pages();
  const long slab_before = slab_bytes(slab);
  std::vector<socket> conns;
  conns.reserve(n);

  // Client processes: each connection costs a client one descriptor, or two
  // where the socket keeps a wake-up handle.
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  const std::size_t per_connection =
      vmsock::detail::shutdown_wakes_poll<typename socket::policy_type>(socket::native_family) ? 1
                                                                                               : 2;
  const std::size_t per_process = (static_cast<std::size_t>(lim.rlim_cur) - 256) / per_connection;
  const std::size_t processes = (n + per_process - 1) / per_process;
  int report[2];
  int go[2];
  ASSERT_EQ(::pipe(report), 0);
  ASSERT_EQ(::pipe(go), 0);
  struct reaper {
    std::vector<pid_t> pids;
    ~reaper() {
      for (const pid_t pid : pids) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reap;
  const auto t0 = clock_type::now();
  for (std::size_t k = 0; k < processes; ++k) {
    const std::size_t first = k * n / processes;
    const std::size_t last = (k + 1) * n / processes;
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(report[0]);
      ::close(go[1]);
      ::_exit(clients(connect, first, last - first, report[1], go[0]));
    }
    ASSERT_GT(child, 0);
    reap.pids.push_back(child);
  }
  ::close(report[1]);
  ::close(go[0]);
  const auto any_exited = [&] {
    for (const pid_t pid : reap.pids) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) != 0) return true;
    }
    return false;
  };

  const deadline until = clock_type::now() + 90s;
  long rss_half = -1;  // with half of them accepted: the second half's cost is the marginal one
  for (std::size_t i = 0; i < n; ++i) {
    std::error_code ec;
    auto c = l.accept(1s, ec);
    if (ec == std::errc::timed_out && !until.expired()) {
      ASSERT_FALSE(any_exited()) << "a client process exited after " << i << " connections";
      --i;
      continue;
    }
    ASSERT_FALSE(ec) << "accept " << i << ": " << ec.message();
    conns.push_back(std::move(c));
    if (i + 1 == n / 2) rss_half = rss_kib();
  }
  const double accept_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  const long rss_accepted = rss_kib();
  const long tcp_accepted = tcp_mem_pages();
  const long slab_accepted = slab_bytes(slab);

  // The echo loop: epoll over every connection, vmsock moves the bytes.
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  for (std::size_t i = 0; i < n; ++i) {
    conns[i].set_nonblocking(true);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].native_handle(), &ev), 0);
  }
  const std::string word(processes, 'g');
  ASSERT_EQ(::write(go[1], word.data(), processes), static_cast<ssize_t>(processes));
  std::size_t open = n;
  std::size_t echoed = 0;
  std::vector<epoll_event> events(1024);
  char buf[4096];
  while (open > 0 && !until.expired()) {
    const int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    ASSERT_GE(k, 0) << std::strerror(errno);
    for (int e = 0; e < k; ++e) {
      auto& s = conns[events[static_cast<std::size_t>(e)].data.u64];
      for (;;) {
        std::error_code ec;
        const std::size_t got = s.receive(mutable_buffer{buf, sizeof buf}, ec);
        if (ec && (ec == std::errc::operation_would_block ||
                   ec == std::errc::resource_unavailable_try_again))
          break;
        if (ec || got == 0) {  // reset or closed: the client is done
          ::epoll_ctl(ep, EPOLL_CTL_DEL, s.native_handle(), nullptr);
          s.close(ec);
          --open;
          break;
        }
        s.send_all(const_buffer{buf, got}, deadline(5s), ec);
        ASSERT_FALSE(ec) << ec.message();
        echoed += got;
      }
    }
  }
  ::close(ep);
  EXPECT_EQ(open, 0u) << "every client closed by the deadline";
  EXPECT_EQ(echoed, n * rounds * message_size);

  std::string lines;
  char chunk[512];
  for (;;) {
    const ssize_t got = ::read(report[0], chunk, sizeof chunk);
    if (got <= 0) break;
    lines.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(report[0]);
  ::close(go[1]);
  for (const pid_t pid : reap.pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "a client process was killed by a signal";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "a client process failed: see its stderr";
  }
  reap.pids.clear();

  char figures[512];
  const double per_conn =
      static_cast<double>(rss_accepted - rss_before) * 1024.0 / static_cast<double>(n);
  std::snprintf(figures, sizeof figures, "%zu", n);
  record("connections", figures);
  std::snprintf(figures, sizeof figures, "%.0f", static_cast<double>(n) / accept_s);
  record("accept_rate_per_s", figures);
  std::snprintf(figures, sizeof figures, "%.3f", accept_s);
  record("connect_and_accept_s", figures);
  std::snprintf(figures, sizeof figures, "%.0f", per_conn);
  record("server_rss_bytes_per_connection", figures);
  std::snprintf(figures, sizeof figures, "%ld -> %ld (%ld with half of them)", rss_before,
                rss_accepted, rss_half);
  record("server_rss_kib", figures);
  std::snprintf(
      figures, sizeof figures, "%.0f",
      static_cast<double>(rss_accepted - rss_half) * 1024.0 / static_cast<double>(n - n / 2));
  record("server_rss_bytes_per_connection_marginal", figures);
  if (tcp_before >= 0 && tcp_accepted >= 0 && std::string(slab) == "TCP") {
    std::snprintf(figures, sizeof figures, "%ld -> %ld pages", tcp_before, tcp_accepted);
    record("kernel_tcp_mem", figures);
  }
  if (slab_before >= 0 && slab_accepted >= 0) {
    std::snprintf(figures, sizeof figures, "%.0f",
                  static_cast<double>(slab_accepted - slab_before) / static_cast<double>(n));
    record("kernel_slab_bytes_per_connection_both_ends", figures);
  }
  record("client_processes", std::to_string(processes));
  std::size_t start = 0;
  for (std::size_t k = 0; start < lines.size(); ++k) {
    const std::size_t end = lines.find('\n', start);
    record("clients_" + std::to_string(k), lines.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

}  // namespace vmsock_scale
