// vmsock against raw syscalls over AF_VSOCK stream sockets on CID 1, in one
// Google Benchmark binary that runs inside vmsock's test guest (vsock_loopback).
// The same cases as benchmarks/bench_loopback.cpp, on the transport that
// cannot be measured on the development machine:
//
//   vsock/pingpong/1, vsock/pingpong/64   the measured side sends N bytes and
//                                         waits for the echo; one item = one
//                                         round trip
//   vsock/send/65536                      64 KiB per iteration to a peer that
//                                         reads and discards
//   vsock/receive/65536                   receive_exact of 64 KiB per iteration
//                                         from a peer that sends without pause
//
// Variants of the measured side, the only thing that differs:
//   raw     send(MSG_NOSIGNAL) / recv loops over short transfers, EINTR retried
//   vmsock  vsock_stream_socket::send_all / receive_exact (throwing overloads)
// The peer is one raw-syscall thread per connection, the same for both.
//
//   vsock/paired/<workload>/<size>        both variants in one case, one step
//                                         of each per iteration, each timed:
//                                         counters raw_us, vmsock_us and
//                                         vmsock/raw
//
// After the runs it prints the vmsock/raw ratios ("ratio" lines): from the
// paired cases, which hold still under a loaded host, and from the separate
// ones for comparison.  tests/vm/RESULTS.md records them.  The guest runs
// under TCG emulation on the development machines, so absolute figures are
// those of an emulated CPU; the ratios are what carry over.
//
// Like every program in tests/vm it refuses to run outside the test guest.
#include "guest_support.hpp"

#include <vmsock/config.hpp>
#include <vmsock/socket/aliases.hpp>

#include <benchmark/benchmark.h>

#include <linux/vm_sockets.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "raw_io.hpp"

namespace {

using raw_io::fail_errno;
using raw_io::fd_guard;

sockaddr_vm vsock_address(unsigned cid, unsigned port) {
  sockaddr_vm a{};
  a.svm_family = AF_VSOCK;
  a.svm_cid = cid;
  a.svm_port = port;
  return a;
}

enum class workload { pingpong, send, receive };

const char* workload_name(workload w) {
  return w == workload::pingpong ? "pingpong" : w == workload::send ? "send" : "receive";
}

// The other end: accepts one connection and echoes, discards or sends until
// the measured side closes.
class peer {
 public:
  peer(int listen_fd, workload w) : listen_fd_(listen_fd), thread_([this, w] { run(w); }) {}
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;
  ~peer() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes an accept that never got its connection
    thread_.join();
  }

 private:
  void run(workload w) noexcept {
    const fd_guard c(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC));
    if (c.get() < 0) return;
    std::vector<char> buf(256 * 1024, 'p');
    for (;;) {
      ssize_t n;
      if (w == workload::receive)
        n = ::send(c.get(), buf.data(), 64 * 1024, MSG_NOSIGNAL);
      else
        n = ::recv(c.get(), buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      if (w == workload::pingpong) {
        try {
          raw_io::send_all(c.get(), buf.data(), static_cast<std::size_t>(n));
        } catch (...) {
          return;
        }
      }
    }
  }

  int listen_fd_;
  std::thread thread_;
};

// A raw listener on any:P, P fresh per case.
struct vsock_transport {
  std::uint32_t port = vmsock_vm::next_port();
  fd_guard listener{::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)};

  vsock_transport() {
    if (listener.get() < 0) fail_errno("socket(AF_VSOCK)");
    const sockaddr_vm a = vsock_address(VMADDR_CID_ANY, port);
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      fail_errno("bind");
    if (::listen(listener.get(), 4) != 0) fail_errno("listen");
  }
};

class raw_client {
 public:
  static constexpr const char* name = "raw";
  explicit raw_client(const vsock_transport& t)
      : fd_(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_.get() < 0) fail_errno("socket(AF_VSOCK)");
    const sockaddr_vm a = vsock_address(VMADDR_CID_LOCAL, t.port);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      fail_errno("connect");
  }
  void send_all(const void* p, std::size_t n) { raw_io::send_all(fd_.get(), p, n); }
  void receive_exact(void* p, std::size_t n) { raw_io::receive_exact(fd_.get(), p, n); }

 private:
  fd_guard fd_;
};

class vmsock_client {
 public:
  static constexpr const char* name = "vmsock";
  explicit vmsock_client(const vsock_transport& t)
      : s_(vmsock::vsock_stream_socket::connect(vmsock_vm::local(t.port))) {}
  void send_all(const void* p, std::size_t n) { s_.send_all(p, n); }
  void receive_exact(void* p, std::size_t n) { s_.receive_exact(p, n); }

 private:
  vmsock::vsock_stream_socket s_;
};

template <class Client> void run_case(benchmark::State& state, workload w, std::size_t size) {
  try {
    vsock_transport t;
    const peer other(t.listener.get(), w);
    {
      Client c(t);
      std::vector<char> buf(size, 'm');
      switch (w) {
      case workload::pingpong:
        for (auto _ : state) {
          c.send_all(buf.data(), size);
          c.receive_exact(buf.data(), size);
        }
        break;
      case workload::send:
        for (auto _ : state) c.send_all(buf.data(), size);
        break;
      case workload::receive:
        for (auto _ : state) c.receive_exact(buf.data(), size);
        break;
      }
      benchmark::DoNotOptimize(buf.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

template <class Client> void register_case(workload w, std::size_t size) {
  const std::string name =
      std::string("vsock/") + workload_name(w) + "/" + std::to_string(size) + "/" + Client::name;
  benchmark::RegisterBenchmark(name.c_str(),
                               [w, size](benchmark::State& s) { run_case<Client>(s, w, size); })
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

// One step of a workload on one client.
template <class Client> void step(Client& c, workload w, std::vector<char>& buf) {
  switch (w) {
  case workload::pingpong:
    c.send_all(buf.data(), buf.size());
    c.receive_exact(buf.data(), buf.size());
    break;
  case workload::send: c.send_all(buf.data(), buf.size()); break;
  case workload::receive: c.receive_exact(buf.data(), buf.size()); break;
  }
}

// The median of a sample (0 for none).
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double minimum(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

// The paired case: a raw and a vmsock connection, each with its own peer;
// every iteration does one step on each, in alternating order, and times both
// steps.  Under TCG on a shared host the load changes from one millisecond to
// the next and a step now and then stalls for many (the vCPU thread was
// preempted); pairing step by step lets both variants see the same load, and
// the medians of the step times (counters raw_us, vmsock_us; vmsock/raw is
// their ratio) ignore the stalls that make means and totals swing.  The
// fastest steps (raw_min_us, vmsock_min_us, min_ratio) are the path with no
// waiting at all: for receive, where each step either finds its 64 KiB
// already queued or waits for the peer thread to be scheduled, the medians
// can land on either mode and only the minima compare like with like.
void run_paired(benchmark::State& state, workload w, std::size_t size) {
  using clock = std::chrono::steady_clock;
  try {
    vsock_transport raw_t, vm_t;
    const peer raw_peer(raw_t.listener.get(), w), vm_peer(vm_t.listener.get(), w);
    {
      raw_client raw(raw_t);
      vmsock_client vm(vm_t);
      std::vector<char> buf(size, 'm');
      std::vector<double> raw_us, vm_us;
      raw_us.reserve(4096);
      vm_us.reserve(4096);
      bool raw_first = true;
      for (auto _ : state) {
        for (int k = 0; k < 2; ++k) {
          const bool do_raw = (k == 0) == raw_first;
          const auto t0 = clock::now();
          if (do_raw)
            step(raw, w, buf);
          else
            step(vm, w, buf);
          const double us = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
          (do_raw ? raw_us : vm_us).push_back(us);
        }
        raw_first = !raw_first;
      }
      benchmark::DoNotOptimize(buf.data());
      const double raw_median = median(raw_us), vm_median = median(vm_us);
      const double raw_min = minimum(raw_us), vm_min = minimum(vm_us);
      state.counters["raw_us"] = raw_median;
      state.counters["vmsock_us"] = vm_median;
      state.counters["vmsock/raw"] = raw_median > 0 ? vm_median / raw_median : 0;
      state.counters["raw_min_us"] = raw_min;
      state.counters["vmsock_min_us"] = vm_min;
      state.counters["min_ratio"] = raw_min > 0 ? vm_min / raw_min : 0;
    }
    state.SetItemsProcessed(state.iterations());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void register_paired(workload w, std::size_t size) {
  const std::string name =
      std::string("vsock/paired/") + workload_name(w) + "/" + std::to_string(size);
  benchmark::RegisterBenchmark(name.c_str(),
                               [w, size](benchmark::State& s) { run_paired(s, w, size); })
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

// The console output as usual, then the vmsock/raw ratios: from the paired
// cases (median over repetitions of the counter), and for comparison from the
// separate cases (ratio of the medians of their real times).
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      if (r.error_occurred) {
        errors_ = true;
        continue;
      }
      const std::string& name = r.run_name.function_name;
      if (const auto c = r.counters.find("vmsock/raw"); c != r.counters.end()) {
        paired_[name].push_back(c->second.value);
        paired_raw_us_[name].push_back(r.counters.at("raw_us").value);
        paired_vm_us_[name].push_back(r.counters.at("vmsock_us").value);
        paired_min_[name].push_back(r.counters.at("min_ratio").value);
        paired_raw_min_[name].push_back(r.counters.at("raw_min_us").value);
        paired_vm_min_[name].push_back(r.counters.at("vmsock_min_us").value);
      } else {
        separate_[name].push_back(r.GetAdjustedRealTime());
      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf(
        "\nvmsock/raw over AF_VSOCK CID 1 (the guest's CPU is emulated by TCG on the\n"
        "development machines: absolute times are not those of hardware)\n");
    for (const auto& [name, ratios] : paired_) {
      const auto& mins = paired_min_[name];
      std::printf(
          "ratio %-28s paired median: raw %8.1f us vmsock %8.1f us vmsock/raw %.3f "
          "(%zu runs, %.3f-%.3f)\n",
          name.c_str(), median(paired_raw_us_[name]), median(paired_vm_us_[name]), median(ratios),
          ratios.size(), minimum(ratios), *std::max_element(ratios.begin(), ratios.end()));
      std::printf(
          "ratio %-28s paired minimum: raw %7.1f us vmsock %8.1f us vmsock/raw %.3f "
          "(%zu runs, %.3f-%.3f)\n",
          name.c_str(), median(paired_raw_min_[name]), median(paired_vm_min_[name]), median(mins),
          mins.size(), minimum(mins), *std::max_element(mins.begin(), mins.end()));
    }
    for (const auto& [name, raw_times] : separate_) {
      const auto slash = name.rfind("/raw");
      if (slash == std::string::npos || slash + 4 != name.size()) continue;
      const std::string base = name.substr(0, slash);
      const auto v = separate_.find(base + "/vmsock");
      if (v == separate_.end()) continue;
      const double raw = median(raw_times), vm = median(v->second);
      std::printf("ratio %-28s separate: raw %9.1f us vmsock %9.1f us  vmsock/raw %.3f\n",
                  base.c_str(), raw, vm, vm / raw);
    }
    std::fflush(stdout);
  }
  bool errors() const { return errors_; }

 private:
  std::map<std::string, std::vector<double>> paired_, paired_raw_us_, paired_vm_us_, paired_min_,
      paired_raw_min_, paired_vm_min_, separate_;
  bool errors_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!vmsock_vm::in_test_guest()) {
    std::fprintf(stderr,
                 "bench_vsock: refusing to run: not inside vmsock's test guest (no "
                 "vmsock_test_guest=1 on the kernel command line); run it with ctest -L vm\n");
    return 2;
  }
  ::alarm(200);
  // Every thread (measured side, peers) on vCPU 0: the loopback transport's
  // worker then runs there too, and a round trip takes no cross-CPU wake-up,
  // whose cost under TCG swings by an order of magnitude from one to the next.
  // --no-pin measures with the scheduler's placement instead.
  bool pin = true;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--no-pin") {
      pin = false;
    } else {
      std::fprintf(stderr,
                   "bench_vsock: unknown argument %s (Google Benchmark's flags and --no-pin)\n",
                   argv[i]);
      return 1;
    }
  }
  if (pin) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) {
      std::perror("bench_vsock: sched_setaffinity");
      return 1;
    }
  }
  benchmark::AddCustomContext("placement", pin ? "every thread on CPU 0" : "the scheduler's");
  benchmark::AddCustomContext("vmsock_version", std::to_string(VMSOCK_VERSION_MAJOR) + "." +
                                                    std::to_string(VMSOCK_VERSION_MINOR) + "." +
                                                    std::to_string(VMSOCK_VERSION_PATCH));
#if defined(__OPTIMIZE__)
  benchmark::AddCustomContext("vmsock_bench_build", "optimized");
#else
  benchmark::AddCustomContext("vmsock_bench_build", "NOT OPTIMIZED: figures are meaningless");
#endif
  benchmark::AddCustomContext("transport",
                              "AF_VSOCK stream, CID 1 (vsock_loopback) in the test guest");
  benchmark::AddCustomContext("peer",
                              "one raw-syscall thread per case, the same for both variants");
  const struct {
    workload w;
    std::size_t size;
  } cases[] = {{workload::pingpong, 1},
               {workload::pingpong, 64},
               {workload::send, 64 * 1024},
               {workload::receive, 64 * 1024}};
  for (const auto& c : cases) {
    register_case<raw_client>(c.w, c.size);
    register_case<vmsock_client>(c.w, c.size);
  }
  for (const auto& c : cases) register_paired(c.w, c.size);
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.errors() ? 1 : 0;
}
