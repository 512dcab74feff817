// vmsock against raw system calls over virtio-vsock (tests/vm/nested): the
// measured side is the host (the outer test guest, vhost_vsock), its peer the
// guest (CID 3), one raw-syscall thread per connection there, the same for
// every variant.  The cases of tests/vm/bench_vsock.cpp:
//
//   pingpong/1, pingpong/64   send N bytes, wait for the echo (one round trip)
//   send/65536                64 KiB to a peer that reads and discards
//   receive/65536             receive_exact of 64 KiB from a peer that sends
//                             without pause
//
// Paired, as in bench_vsock's paired cases: three connections at once, raw,
// vmsock and a second raw one (the A/A control, which shows how far two
// identical variants differ on this machine), one step of each per iteration
// in every order in turn, each step timed.  A run's ratios are those of the medians
// of its step times, of the minima, and of the totals (for send and receive
// the totals are the throughput: a step that finds room or data queued is
// quick and one that waits for the peer is slow, and the median sees only one
// kind); each workload runs three times on fresh connections.  The figures go to stdout ("ratio"
// lines) and into the test's properties; tests/vm/RESULTS.md records them.  Everything runs under
// TCG emulation (the guest under TCG inside TCG), so only the ratios carry over.
#include "nested/nested_support.hpp"

#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <linux/vm_sockets.h>
#include <sys/socket.h>

#include "raw_io.hpp"

namespace {

using namespace vmsock;
using namespace vmsock_nested;

class Throughput : public paired_test {};

enum class workload { pingpong, send, receive };

struct bench_case {
  workload w;
  std::size_t size;
  int steps;  // per variant and run
  const char* name;
};

constexpr int variants = 3;  // raw, vmsock, raw again (A/A)
constexpr int runs = 3;

// ---- the guest: raw peers ------------------------------------------------------

void serve(int fd, workload w) noexcept {
  std::vector<char> buf(256 * 1024, 'p');
  for (;;) {
    const ssize_t n = w == workload::receive ? ::send(fd, buf.data(), 64 * 1024, MSG_NOSIGNAL)
                                             : ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (w == workload::pingpong) {
      try {
        raw_io::send_all(fd, buf.data(), static_cast<std::size_t>(n));
      } catch (...) {
        return;
      }
    }
  }
}

void guest_peers(const bench_case& c, unsigned run) {
  std::vector<vsock_listener> listeners;
  for (unsigned v = 0; v < variants; ++v)
    listeners.push_back(vsock_listener::listen(any_port(port(run * variants + v))));
  sync("peers ready");
  std::vector<vsock_stream_socket> conns;
  std::vector<std::thread> threads;
  for (auto& l : listeners) conns.push_back(l.accept(60s));
  for (auto& s : conns) threads.emplace_back([&s, w = c.w] { serve(s.native_handle(), w); });
  for (auto& t : threads) t.join();
  sync("run done");
}

// ---- the host: the measured side ---------------------------------------------------

class raw_conn {
 public:
  explicit raw_conn(std::uint32_t p) : fd_(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_.get() < 0) raw_io::fail_errno("socket(AF_VSOCK)");
    sockaddr_vm a{};
    a.svm_family = AF_VSOCK;
    a.svm_cid = guest_cid;
    a.svm_port = p;
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      raw_io::fail_errno("connect");
  }
  void send_all(const void* p, std::size_t n) { raw_io::send_all(fd_.get(), p, n); }
  void receive_exact(void* p, std::size_t n) { raw_io::receive_exact(fd_.get(), p, n); }

 private:
  raw_io::fd_guard fd_;
};

class vmsock_conn {
 public:
  explicit vmsock_conn(std::uint32_t p) : s_(vsock_stream_socket::connect({guest_cid, p})) {}
  void send_all(const void* p, std::size_t n) { s_.send_all(p, n); }
  void receive_exact(void* p, std::size_t n) { s_.receive_exact(p, n); }

 private:
  vsock_stream_socket s_;
};

template <class Conn> void step(Conn& c, workload w, std::vector<char>& buf) {
  if (w != workload::receive) c.send_all(buf.data(), buf.size());
  if (w != workload::send) c.receive_exact(buf.data(), buf.size());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct run_result {
  double median_us[variants];
  double min_us[variants];
  double total_us[variants];
};

run_result host_run(const bench_case& c, unsigned run) {
  using clock = std::chrono::steady_clock;
  sync("peers ready");
  run_result r{};
  {
    // Which of the guest's three peers (connected first, second, third) serves
    // which variant changes from run to run, so that no variant keeps a slot.
    const auto slot = [&](unsigned v) { return port(run * variants + (v + run) % variants); };
    raw_conn raw(slot(0));
    vmsock_conn vm(slot(1));
    raw_conn raw2(slot(2));
    std::vector<char> buf(c.size, 'm');
    std::vector<double> us[variants];
    // Every order of the three in turn, so that each variant comes first,
    // second and third, and after each of the others, equally often (the step
    // before leaves the peer busy with its bytes).
    static constexpr int orders[6][variants] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1},
                                                {0, 2, 1}, {2, 1, 0}, {1, 0, 2}};
    for (int i = 0; i < c.steps; ++i) {
      for (int k = 0; k < variants; ++k) {
        const int v = orders[i % 6][k];
        const auto t0 = clock::now();
        if (v == 0)
          step(raw, c.w, buf);
        else if (v == 1)
          step(vm, c.w, buf);
        else
          step(raw2, c.w, buf);
        us[v].push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
      }
    }
    for (int v = 0; v < variants; ++v) {
      r.median_us[v] = median(us[v]);
      r.min_us[v] = *std::min_element(us[v].begin(), us[v].end());
      for (double x : us[v]) r.total_us[v] += x;
    }
  }  // closed: the peers see EOF (or EPIPE) and end
  sync("run done");
  return r;
}

std::string list(const std::vector<double>& v) {
  std::string s;
  char buf[32];
  for (double x : v) {
    std::snprintf(buf, sizeof buf, "%s%.3f", s.empty() ? "" : " ", x);
    s += buf;
  }
  return s;
}

void measure(const bench_case& c) {
  if (on_guest()) {
    for (unsigned run = 0; run < runs; ++run) guest_peers(c, run);
    return;
  }
  std::vector<double> ratio, min_ratio, total_ratio, aa, aa_total, raw_us, raw_mbps;
  for (unsigned run = 0; run < runs; ++run) {
    const run_result r = host_run(c, run);
    ratio.push_back(r.median_us[1] / r.median_us[0]);
    min_ratio.push_back(r.min_us[1] / r.min_us[0]);
    total_ratio.push_back(r.total_us[1] / r.total_us[0]);
    aa.push_back(r.median_us[2] / r.median_us[0]);
    aa_total.push_back(r.total_us[2] / r.total_us[0]);
    raw_us.push_back(r.median_us[0]);
    // bytes per microsecond = MB/s (of one direction: not for ping-pong)
    if (c.w != workload::pingpong)
      raw_mbps.push_back(static_cast<double>(c.size) * c.steps / r.total_us[0]);
  }
  std::printf(
      "ratio %-14s vmsock/raw: medians %s | minima %s | totals %s || raw/raw (A/A): "
      "medians %s | totals %s || raw: median step %s us, %s MB/s\n",
      c.name, list(ratio).c_str(), list(min_ratio).c_str(), list(total_ratio).c_str(),
      list(aa).c_str(), list(aa_total).c_str(), list(raw_us).c_str(), list(raw_mbps).c_str());
  std::fflush(stdout);
  const std::string key = c.name;
  vmsock_vm::record(key + "_vmsock_over_raw_medians", list(ratio));
  vmsock_vm::record(key + "_vmsock_over_raw_minima", list(min_ratio));
  vmsock_vm::record(key + "_vmsock_over_raw_totals", list(total_ratio));
  vmsock_vm::record(key + "_raw_over_raw_medians", list(aa));
  vmsock_vm::record(key + "_raw_over_raw_totals", list(aa_total));
  if (!raw_mbps.empty()) vmsock_vm::record(key + "_raw_MBps", list(raw_mbps));
  for (double x : ratio) EXPECT_GT(x, 0.0);
}

TEST_F(Throughput, PingPong1) { measure({workload::pingpong, 1, 198, "pingpong/1"}); }
TEST_F(Throughput, PingPong64) { measure({workload::pingpong, 64, 198, "pingpong/64"}); }
TEST_F(Throughput, Send64K) { measure({workload::send, 64 * 1024, 150, "send/65536"}); }
TEST_F(Throughput, Receive64K) { measure({workload::receive, 64 * 1024, 150, "receive/65536"}); }

}  // namespace
